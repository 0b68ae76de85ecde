/**
 * snapshot-save's live progress on the lab: under a real pseudo-terminal (util-linux
 * `script`), the per-node block is redrawn in place on stderr and log lines land whole above
 * it; without a terminal, plain log lines; `--output json` keeps stdout one JSON document.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { assertNoAgentContainers, escapeRegExp, removeNodeSnapshots, save } from '../support/cli-run.js';
import { REPO_ROOT, TEST_KNOWN_HOSTS, labFacts, runCli, tempDir, type LabFacts } from '../support/lab.js';
import { s3LabFacts, writeSecretKeyFile } from '../support/s3-lab.js';

const run = promisify(execFile);
let lab: LabFacts;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-prog-*');
});

after(async () => {
  await removeNodeSnapshots(lab, 'it-prog-*');
});

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
const ESC = '\x1b';

/** Runs snapshot-save with stderr on a pseudo-terminal and stdout to a file; returns what the terminal got and the file. */
async function underPty(args: string[], subcommand = 'snapshot-save'): Promise<{ terminal: string; stdout: string; code: number }> {
  const dir = tempDir('it-prog-pty-');
  const stdoutFile = path.join(dir, 'stdout');
  const command = [process.execPath, path.join(REPO_ROOT, 'dist/src/cli/main.js'), 'etcd', subcommand, ...args].map(shellQuote).join(' ');
  // script runs the command on a new pty (stdin, stdout, stderr); its own stdout is what the terminal showed.
  const { stdout } = await run('script', ['-qec', `${command} > ${shellQuote(stdoutFile)}; echo "exit=$?"`, '/dev/null'], {
    env: { ...process.env, RKE_SSH_KNOWN_HOSTS: TEST_KNOWN_HOSTS },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  const code = Number(/exit=(\d+)/.exec(stdout)?.[1] ?? NaN);
  return { terminal: stdout.replace(/exit=\d+\r?\n?$/, ''), stdout: readFileSync(stdoutFile, 'utf8'), code };
}

describe('snapshot-save progress', () => {
  test('on a terminal: the block is redrawn in place, log lines land whole above it, stdout stays one JSON document', async () => {
    const { terminal, stdout, code } = await underPty(['--config', lab.clusterYml, '--name', 'it-prog-tty', '--output', 'json']);
    assert.equal(code, 0, terminal);
    const doc = JSON.parse(stdout) as { nodes: Array<{ ok: boolean }> };
    assert.deepEqual(doc.nodes.map((node) => node.ok), [true, true, true]);
    const blockLines = lab.addresses.length + 1;
    // Redrawn in place: cursor up to the block's first line, erase to the end of the screen.
    assert.ok(terminal.includes(`${ESC}[${blockLines}F${ESC}[J`), terminal);
    // Every line the terminal got, once the redraw prefix is taken off, is a whole log line or a block line.
    const lines = terminal.split(/\r?\n/).map((line) => line.split(`${ESC}[${blockLines}F${ESC}[J`).pop() as string).filter(Boolean);
    const node = lab.addresses.map(escapeRegExp).join('|');
    const blockLine = new RegExp(`^(NODE\\s+PHASE(\\s+BYTES\\s+RATE\\s+TIME)?|(${node})\\s+(waiting|connecting|image|snapshot|verify|upload|done|failed)\\b.*)$`);
    for (const line of lines) assert.match(line, new RegExp(`^(INFO |WARN )|${blockLine.source}`), `a mixed-up line: ${JSON.stringify(line)}`);
    for (const address of lab.addresses) {
      assert.ok(lines.includes(`INFO [${address}] taking snapshot it-prog-tty`), `the log line for ${address}`);
      assert.ok(lines.some((line) => new RegExp(`^${escapeRegExp(address)}\\s+snapshot\\b`).test(line)), `${address} seen in its snapshot phase`);
    }
    // The final block: every node done, with the bytes etcd sent.
    const last = lines.filter((line) => blockLine.test(line)).slice(-lab.addresses.length);
    for (const [index, address] of lab.addresses.entries()) {
      assert.match(last[index] ?? '', new RegExp(`^${escapeRegExp(address)}\\s+done\\s+\\d+(\\.\\d)? (B|KiB|MiB)\\s`), last.join('\n'));
    }
    assert.doesNotMatch(terminal, /progress: /, 'no plain progress lines on a terminal');
    await assertNoAgentContainers(lab);
  });

  test('without a terminal: plain lines, one per node per phase and a byte count; --progress none: none; stdout is the JSON', async () => {
    const outcome = await save(['--config', lab.clusterYml, '--name', 'it-prog-plain', '--output', 'json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal((JSON.parse(outcome.stdout) as { command: string }).command, 'snapshot-save');
    assert.doesNotMatch(outcome.stderr, /\x1b\[/, 'no terminal control sequences');
    for (const address of lab.addresses) {
      const mine = outcome.stderr.split('\n').filter((line) => line.startsWith(`INFO [${address}] progress: `));
      const phases = mine.map((line) => /progress: (\w+)/.exec(line)?.[1]);
      assert.deepEqual([...new Set(phases)], ['connecting', 'image', 'snapshot', 'verify', 'done'], mine.join('\n'));
      assert.ok(
        mine.some((line) => /progress: snapshot \d+(\.\d)? (B|KiB|MiB)( at .+\/s)?$/.test(line)),
        `a byte count for ${address}:\n${mine.join('\n')}`,
      );
      assert.equal(mine.filter((line) => /progress: (connecting|image|verify|done)\b/.test(line)).length, 4, 'one line per phase change');
    }
    const quiet = await save(['--config', lab.clusterYml, '--name', 'it-prog-plain', '--overwrite', '--progress', 'none']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /progress: /);
    const bad = await save(['--config', lab.clusterYml, '--name', 'it-prog-plain', '--progress', 'fancy']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--progress.*fancy.*(tty|plain)/);
    await assertNoAgentContainers(lab);
  });

  test('with --s3: the uploading node goes through the upload phase with the bytes it sent (plain lines)', async () => {
    const s3 = await s3LabFacts();
    const secretFile = writeSecretKeyFile(s3, tempDir('it-prog-s3-'));
    const outcome = await save([
      '--config', lab.clusterYml, '--name', 'it-prog-s3', '--s3', '--s3-endpoint', s3.endpoint, '--s3-endpoint-ca', s3.ca,
      '--bucket-name', s3.bucket, '--folder', `it/prog-${Date.now()}`, '--access-key', s3.accessKey, '--secret-key-file', secretFile,
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    const uploader = /^S3: s3:\/\/\S+ uploaded from (\S+):/m.exec(outcome.stdout)?.[1];
    assert.ok(uploader, outcome.stdout);
    const mine = outcome.stderr.split('\n').filter((line) => line.startsWith(`INFO [${uploader}] progress: `));
    assert.deepEqual(
      mine.map((line) => /progress: (\w+)/.exec(line)?.[1]).filter((phase, index, all) => phase !== all[index - 1]),
      ['connecting', 'image', 'snapshot', 'verify', 'done', 'upload', 'done'],
      mine.join('\n'),
    );
    assert.ok(mine.some((line) => /progress: upload \d+(\.\d)? (B|KiB|MiB)( at .+\/s)?$/.test(line)), mine.join('\n'));
    assert.ok(mine.some((line) => /progress: done \(upload: \d+(\.\d)? (B|KiB|MiB)/.test(line)), mine.join('\n'));
    await assertNoAgentContainers(lab);
  });
});

describe('progress of snapshot-verify and snapshot-ls', () => {
  test('verify without a terminal: each node goes verify, then done; stdout is the JSON', async () => {
    const saved = await save(['--config', lab.clusterYml, '--name', 'it-prog-manage', '--progress', 'none']);
    assert.equal(saved.code, 0, saved.stderr);
    const outcome = await runCli(['etcd', 'snapshot-verify', '--config', lab.clusterYml, '--name', 'it-prog-manage', '--output', 'json']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.equal((JSON.parse(outcome.stdout) as { command: string }).command, 'snapshot-verify');
    for (const address of lab.addresses) {
      const phases = outcome.stderr.split('\n').flatMap((line) => (line.startsWith(`INFO [${address}] progress: `) ? [/progress: (\w+)/.exec(line)?.[1]] : []));
      assert.deepEqual(phases, ['verify', 'done'], outcome.stderr);
    }
    await assertNoAgentContainers(lab);
  });

  test('ls on a terminal: the block ends with every node done, and the table goes to stdout after it', async () => {
    const { terminal, stdout, code } = await underPty(['--config', lab.clusterYml], 'snapshot-ls');
    assert.equal(code, 0, terminal);
    assert.match(stdout, /^NAME\s+KIND\s+MODIFIED/m);
    assert.match(stdout, /it-prog-manage/);
    const lines = terminal.split(/\r?\n/).map((line) => line.split(`${ESC}[J`).pop() as string);
    for (const address of lab.addresses) assert.ok(lines.some((line) => new RegExp(`^${escapeRegExp(address)}\\s+done\\b`).test(line)), terminal);
    assert.doesNotMatch(terminal, /progress: /);
    await assertNoAgentContainers(lab);
  });
});
