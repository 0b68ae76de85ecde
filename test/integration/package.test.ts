/**
 * SPEC §9 on the lab: the package packed from a fresh copy installs with `npm install -g`
 * and runs from another directory with only `node` on PATH; both agent images carry their
 * architecture (manifest, config, ELF); the arm64 agent takes a real snapshot on a lab
 * engine under qemu (binfmt_misc, scripts/setup.sh); the CLI's own image, run with
 * `docker run` on a lab engine, snapshots the lab.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { removeNodeSnapshots } from '../support/cli-run.js';
import { copyFromNode, labEtcdctl, labFacts, nodeDocker, tempDir, type LabFacts } from '../support/lab.js';
import { imageTarFacts, installGlobally, nodeOnlyPath, packFreshCopy, type Packed } from '../support/package.js';
import { etcdctlSnapshotStatus, extractEntry, sha256File } from '../support/snapshot-check.js';

const run = promisify(execFile);

interface SaveDocument {
  nodes: Array<{ address: string; ok: boolean; file?: string; sha256?: string; error?: string }>;
}

let lab: LabFacts;
let packed: Packed;
let rke: string;
let prefix: string;
let nodeOnly: string;
let work: string;
let knownHosts: string;

/** The installed `rke` with PATH holding only node, from a directory that is not the checkout. */
function installedRke(args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(rke, args, { cwd: work, env: { PATH: nodeOnly, HOME: work }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof error.code === 'number' ? error.code : -1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
}

async function agentImagesOnNode(node: number): Promise<string[]> {
  const out = await nodeDocker(node, 'images', '--format', '{{.Repository}}:{{.Tag}}', 'rke-snapshot-agent');
  return out.split('\n').filter(Boolean);
}

/** Checks a node's copy independently: the zip is the one reported, and etcdctl reads its snapshot (checking etcd's hash). */
async function checkNodeCopy(node: number, file: string, sha256: string | undefined, name: string): Promise<void> {
  const zip = path.join(work, `${name}-node${node}.zip`);
  await copyFromNode(node, file, zip);
  assert.equal(sha256File(zip), sha256, `node ${node}'s zip is the one reported`);
  const db = path.join(work, `${name}-node${node}.db`);
  await extractEntry(zip, `/backup/${name}`, db);
  const status = await etcdctlSnapshotStatus(db);
  assert.ok(status.revision > 0, `etcdctl snapshot status of node ${node}'s copy`);
}

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-pkg-*');
  await labEtcdctl('put', 'rke-snapshot-test/package', `value-${Date.now()}`);
  work = tempDir('rke-operator-');
  nodeOnly = nodeOnlyPath();
  packed = await packFreshCopy();
  ({ rke, prefix } = await installGlobally(packed.tarball, nodeOnly).then((installed) => {
    console.log(`# package ${packed.bytes} bytes, packed in ${packed.packMs} ms, installed in ${installed.installMs} ms`);
    return installed;
  }));
  // The lab's cluster.yml and SSH key as an operator keeps them, in the working directory.
  const config = YAML.parse(readFileSync(lab.clusterYml, 'utf8')) as Record<string, any>;
  copyFileSync(lab.sshKey, path.join(work, 'id_ed25519'));
  config.ssh_key_path = './id_ed25519';
  for (const node of config.nodes as Array<Record<string, unknown>>) if ('ssh_key_path' in node) node.ssh_key_path = './id_ed25519';
  writeFileSync(path.join(work, 'cluster.yml'), YAML.stringify(config));
  knownHosts = path.join(work, 'known_hosts');
});

after(() => {
  for (const dir of [packed?.copy, packed && path.dirname(packed.tarball), prefix, work, nodeOnly]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the package as operators install it', () => {
  test('npm pack ships the compiled CLI, etcd.proto and both images; no tests, lab, bench, sources or maps', async () => {
    const { stdout } = await run('tar', ['-tzf', packed.tarball], { maxBuffer: 16 * 1024 * 1024 });
    const files = stdout.split('\n').filter(Boolean);
    for (const needed of ['package/dist/src/cli/main.js', 'package/dist/src/etcd/etcd.proto', 'package/dist/agent-image/image.json', 'package/dist/agent-image/rke-snapshot-agent-amd64.tar', 'package/dist/agent-image/rke-snapshot-agent-arm64.tar']) {
      assert.ok(files.includes(needed), `${needed} is not in the tarball`);
    }
    const unwanted = files.filter((file) => /\.test\.js$|\.map$|\.ts$|^package\/(test|lab|bench|src|scripts)\/|^package\/dist\/(test|bench)\//.test(file));
    assert.deepEqual(unwanted, []);
  });

  test('rke --version and -v, with only node on PATH', async () => {
    const version = (JSON.parse(readFileSync(path.join(prefix, 'lib/node_modules/rke-etcd-snapshot/package.json'), 'utf8')) as { version: string }).version;
    assert.equal((await installedRke(['--version'])).stdout, `rke version v${version}\n`);
    assert.equal((await installedRke(['-v'])).stdout, `rke version v${version}\n`);
    assert.deepEqual(JSON.parse((await installedRke(['--version', '--output', 'json'])).stdout), { version });
  });

  test('both images carry their architecture: manifest, config, ELF headers of node and its loader; gzipped layers', async () => {
    const dir = path.join(prefix, 'lib/node_modules/rke-etcd-snapshot/dist/agent-image');
    const listed = JSON.parse(readFileSync(path.join(dir, 'image.json'), 'utf8')) as { images: Record<string, { tag: string; tar: string; platform: string }> };
    const expected = { amd64: { machine: 0x3e, loader: '/lib64/ld-linux-x86-64.so.2' }, arm64: { machine: 0xb7, loader: '/lib/ld-linux-aarch64.so.1' } };
    for (const [arch, { machine, loader }] of Object.entries(expected)) {
      const image = listed.images[arch];
      assert.ok(image, `image.json lists no ${arch} image`);
      assert.equal(image.platform, `linux/${arch}`);
      const facts = await imageTarFacts(path.join(dir, image.tar), loader);
      assert.deepEqual(facts.repoTags, [image.tag]);
      assert.equal(facts.architecture, arch);
      assert.equal(facts.os, 'linux');
      assert.equal(facts.nodeElfMachine, machine, `${arch}: node's ELF e_machine`);
      assert.equal(facts.loaderElfMachine, machine, `${arch}: the loader's ELF e_machine`);
      assert.ok(facts.layerIsGzip, `${arch}: the layer is gzipped`);
    }
  });

  test('the installed rke snapshots the lab from another directory with only node on PATH, loading the amd64 image on x86_64 engines', async () => {
    const listed = JSON.parse(readFileSync(path.join(prefix, 'lib/node_modules/rke-etcd-snapshot/dist/agent-image/image.json'), 'utf8')) as { images: Record<string, { tag: string; tar: string }> };
    const amd64 = listed.images.amd64!;
    // A first run: no agent image on any node.
    for (let node = 1; node <= lab.addresses.length; node++) {
      const images = await agentImagesOnNode(node);
      if (images.length > 0) await nodeDocker(node, 'rmi', ...images);
    }
    const outcome = await installedRke(['etcd', 'snapshot-save', '--config', 'cluster.yml', '--name', 'it-pkg-installed', '--known-hosts', knownHosts, '--output', 'json', '--progress', 'none', '--debug']);
    assert.equal(outcome.code, 0, outcome.stderr);
    const document = JSON.parse(outcome.stdout) as SaveDocument;
    for (const [index, address] of lab.addresses.entries()) {
      const node = document.nodes.find((n) => n.address === address);
      assert.ok(node?.ok, `${address}: ${node?.error}`);
      assert.match(outcome.stderr, new RegExp(`host ${address.replace(/\./g, '\\.')}: engine architecture x86_64: bundled image ${amd64.tag} \\(linux/amd64\\)`));
      assert.deepEqual(await agentImagesOnNode(index + 1), [amd64.tag], 'only the amd64 image was loaded');
      await checkNodeCopy(index + 1, node.file!, node.sha256, 'it-pkg-installed');
    }
    const loads = [...outcome.stderr.matchAll(/\[(\S+)\] took \d+ ms: .*image (\d+) ms/g)].map((m) => `${m[1]} ${m[2]} ms`);
    console.log(`# first run: ${statSync(path.join(prefix, 'lib/node_modules/rke-etcd-snapshot/dist/agent-image', amd64.tar)).size} bytes per node; image load ${loads.join(', ')}`);
  });

  test('the arm64 agent image takes a verified snapshot on a lab engine, emulated (linux/arm64 under qemu)', async () => {
    assert.ok(existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64'), 'qemu-aarch64 is not registered with binfmt_misc (scripts/setup.sh does it)');
    const dir = path.join(prefix, 'lib/node_modules/rke-etcd-snapshot/dist/agent-image');
    const arm64 = (JSON.parse(readFileSync(path.join(dir, 'image.json'), 'utf8')) as { images: Record<string, { tag: string; tar: string }> }).images.arm64!;
    for (let node = 1; node <= lab.addresses.length; node++) await nodeDocker(node, 'load', '-i', path.join(dir, arm64.tar));
    const inspected = await nodeDocker(1, 'image', 'inspect', '--format', '{{.Architecture}}', arm64.tag);
    assert.equal(inspected.trim(), 'arm64');
    const outcome = await installedRke(
      ['etcd', 'snapshot-save', '--config', 'cluster.yml', '--name', 'it-pkg-arm64', '--known-hosts', knownHosts, '--backup-image', arm64.tag, '--backup-image-contract', 'native', '--output', 'json', '--progress', 'none'],
      600_000,
    );
    assert.equal(outcome.code, 0, outcome.stderr);
    const document = JSON.parse(outcome.stdout) as SaveDocument;
    for (const [index, address] of lab.addresses.entries()) {
      const node = document.nodes.find((n) => n.address === address);
      assert.ok(node?.ok, `${address}: ${node?.error}`);
      await checkNodeCopy(index + 1, node.file!, node.sha256, 'it-pkg-arm64');
    }
    for (let node = 1; node <= lab.addresses.length; node++) await nodeDocker(node, 'rmi', arm64.tag);
  });

  test("the CLI's own image: docker run on a lab engine (host network) snapshots the lab, known_hosts pinned", async () => {
    await run('bash', [path.join(packed.copy, 'agent-image/build-cli.sh'), packed.tarball], { env: { ...process.env, CLI_IMAGE_ARCHS: 'amd64' }, maxBuffer: 16 * 1024 * 1024 });
    const cliImages = JSON.parse(readFileSync(path.join(packed.copy, 'dist/cli-image/image.json'), 'utf8')) as { images: Record<string, { tag: string; tar: string }> };
    const cli = cliImages.images.amd64!;
    const tar = path.join(packed.copy, 'dist/cli-image', cli.tar);
    const facts = await imageTarFacts(tar, '/lib64/ld-linux-x86-64.so.2');
    assert.equal(facts.architecture, 'amd64');
    // What a Secret would hold: cluster.yml, the key, and known_hosts (recorded by the runs above).
    const secret = tempDir('rke-secret-');
    const config = YAML.parse(readFileSync(path.join(work, 'cluster.yml'), 'utf8')) as Record<string, any>;
    config.ssh_key_path = '/secret/id_ed25519';
    for (const node of config.nodes as Array<Record<string, unknown>>) if ('ssh_key_path' in node) node.ssh_key_path = '/secret/id_ed25519';
    writeFileSync(path.join(secret, 'cluster.yml'), YAML.stringify(config));
    copyFileSync(lab.sshKey, path.join(secret, 'id_ed25519'));
    copyFileSync(knownHosts, path.join(secret, 'known_hosts'));
    mkdirSync(path.join(secret, 'unused'), { recursive: true });
    try {
      await nodeDocker(1, 'load', '-i', tar);
      const stdout = await nodeDocker(
        1,
        'run', '--rm', '--network', 'host', '-v', `${secret}:/secret:ro`, cli.tag,
        'etcd', 'snapshot-save', '--config', '/secret/cluster.yml', '--known-hosts', '/secret/known_hosts', '--ssh-host-key-policy', 'strict',
        '--name', 'it-pkg-container', '--output', 'json', '--progress', 'none',
      );
      const document = JSON.parse(stdout) as SaveDocument;
      for (const [index, address] of lab.addresses.entries()) {
        const node = document.nodes.find((n) => n.address === address);
        assert.ok(node?.ok, `${address}: ${node?.error}`);
        await checkNodeCopy(index + 1, node.file!, node.sha256, 'it-pkg-container');
      }
    } finally {
      await nodeDocker(1, 'rmi', cli.tag).catch(() => undefined);
      rmSync(secret, { recursive: true, force: true });
    }
  });
});
