/**
 * Hostile input through the real CLI: whatever the cluster file or the name, the process
 * ends with an exit status and one-line errors, never a stack trace or "unexpected failure".
 * The nodes in these files point at 127.0.9.x, where nothing listens, so a file that parses
 * fails fast at the SSH step without touching the lab.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { mutatedClusterYml } from '../support/cluster-mutations.js';
import { runCli, tempDir, type CliOutcome } from '../support/lab.js';

const dir = tempDir('rke-hostile-');

const BASE = {
  kubernetes_version: 'v1.26.15-rancher1-1',
  ssh_key_path: path.join(dir, 'no-such-key'),
  nodes: [
    { address: '127.0.9.11', port: 22, user: 'root', role: ['etcd', 'controlplane'] },
    { address: '127.0.9.12', user: 'root', role: ['etcd'], hostname_override: 'etcd-b' },
    { address: '127.0.9.13', user: 'rke', role: ['worker'] },
  ],
  services: { etcd: { backup_config: { timeout: 30 } } },
};

function write(name: string, text: string): string {
  const file = path.join(dir, `${name}.yml`);
  writeFileSync(file, text);
  return file;
}

function save(args: string[]): Promise<CliOutcome> {
  return runCli(['etcd', 'snapshot-save', ...args], { timeoutMs: 120_000 });
}

/** No crash: an exit status, ERROR lines of one line each, no stack frames, no "bug" message. */
function assertHandled(outcome: CliOutcome, what: string): void {
  const output = outcome.stdout + outcome.stderr;
  assert.notEqual(outcome.code, null, `${what}: killed by ${outcome.signal}`);
  assert.doesNotMatch(output, /^\s+at .+\(.+:\d+:\d+\)$/m, `${what}: a stack trace:\n${output}`);
  assert.doesNotMatch(output, /unexpected failure|this is a bug|unexpected error/i, `${what}:\n${output}`);
  assert.ok(outcome.stderr.length < 20_000, `${what}: ${outcome.stderr.length} bytes on stderr`);
}

describe('hostile input through the CLI', () => {
  test('30 seeded mutations of a cluster.yml: each ends with a clear error, never a crash', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const file = write(`mutation-${seed}`, mutatedClusterYml(BASE, seed));
      const outcome = await save(['--config', file, '--name', `it-hostile-${seed}`]);
      assertHandled(outcome, `seed ${seed}`);
      // Nothing listens on 127.0.9.x and the key does not exist: no run can succeed.
      assert.equal(outcome.code, 1, `seed ${seed}: exit ${outcome.code}\n${outcome.stderr}`);
      assert.match(outcome.stderr, /^ERROR /m, `seed ${seed}`);
    }
  });

  test('a cluster file of 10 000 nodes (3 etcd): only the etcd nodes are tried, each with a clear error', async () => {
    const config = structuredClone(BASE) as any;
    config.nodes = Array.from({ length: 10_000 }, (_, i) => ({
      address: i < 3 ? `127.0.9.${21 + i}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      user: 'root',
      role: i < 3 ? ['etcd'] : ['worker'],
    }));
    const outcome = await save(['--config', write('ten-thousand', YAML.stringify(config)), '--name', 'it-hostile-big']);
    assertHandled(outcome, '10 000 nodes');
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /Starting snapshot it-hostile-big on 3 etcd node\(s\)/);
    assert.doesNotMatch(outcome.stdout + outcome.stderr, /10\.0\.0\.\d+/, 'a worker node was contacted');
  });

  for (const [title, text] of [
    ['a list instead of a map', '- address: 127.0.9.11\n'],
    ['a plain string', 'hello\n'],
    ['invalid YAML', 'nodes: [\n'],
    ['wrong types everywhere', 'nodes: 42\nservices: []\n'],
    ['duplicate nodes', YAML.stringify({ ...BASE, nodes: [BASE.nodes[0], BASE.nodes[0]] })],
    ['a NUL in an address', 'nodes:\n  - address: "127.0.9.11\\0"\n    user: root\n    role: [etcd]\n'],
    ['binary noise', '\u0000\u0001\u0002\u00ff\ufffd'.repeat(100)],
  ] as Array<[string, string]>) {
    test(`a cluster file with ${title}: one ERROR line naming the file, exit 1`, async () => {
      const file = write(title.replace(/\W+/g, '-'), text);
      const outcome = await save(['--config', file, '--name', 'it-hostile']);
      assertHandled(outcome, title);
      assert.equal(outcome.code, 1);
      const errors = outcome.stderr.split('\n').filter((line) => line.startsWith('ERROR '));
      assert.equal(errors.length, 1, outcome.stderr);
      assert.ok(errors[0]!.includes(file), errors[0]);
    });
  }

  test('a name of 300 characters is refused before any node is touched', async () => {
    const outcome = await save(['--config', write('long-name', YAML.stringify(BASE)), '--name', 'a'.repeat(300)]);
    assertHandled(outcome, 'long name');
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /^ERROR --name .*(long|characters|bytes)/m);
    assert.doesNotMatch(outcome.stderr, /Starting snapshot/);
  });
});
