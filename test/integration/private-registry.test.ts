/**
 * `--backup-image` from a private registry with `private_registries` credentials, on the
 * lab: a real registry (lab/registry.sh: Debian's docker-registry, HTTPS with its own CA,
 * htpasswd bcrypt auth) that this file starts and stops, holding our agent image, pulled
 * by each node's own engine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { assertNoAgentContainers, clusterFile, escapeRegExp, removeNodeSnapshots, tableRow } from '../support/cli-run.js';
import { copyFromNode, labFacts, startCli, tempDir, type CliOutcome, type LabFacts } from '../support/lab.js';
import { imagePresent, nodeEngines, pushAgentImage, removeImage, startRegistry, stopRegistry, type RegistryLab } from '../support/registry-lab.js';
import { etcdctlSnapshotStatus, extractEntry, zipEntryNames } from '../support/snapshot-check.js';

const REPOSITORY = 'rke/rke-snapshot-agent';
const TAG = 'it';

let lab: LabFacts;
let engines: Docker[];
let registry: RegistryLab | undefined;
let image: string;
let work: string;

before(async () => {
  lab = await labFacts();
  engines = await nodeEngines(lab.dir);
  await removeNodeSnapshots(lab, 'it-reg-*');
  work = tempDir('rke-it-reg-');
  registry = await startRegistry(lab.dir);
  image = `${registry.addr}/${REPOSITORY}:${TAG}`;
  await pushAgentImage(engines[0]!, registry, image);
});

after(async () => {
  try {
    if (image !== undefined) for (const engine of engines ?? []) await removeImage(engine, image);
    if (lab !== undefined) await removeNodeSnapshots(lab, 'it-reg-*');
  } finally {
    await stopRegistry(registry, lab?.dir ?? '');
    if (work !== undefined) await rm(work, { recursive: true, force: true });
    for (const dir of configDirs) await rm(dir, { recursive: true, force: true });
  }
});

// Every test starts with the image on no node, so that each node's engine must pull it.
beforeEach(async () => {
  for (const engine of engines) await removeImage(engine, image);
});

function reg(): RegistryLab {
  assert.ok(registry, 'the registry is up');
  return registry;
}

/** A cluster.yml of the lab with these private_registries (and, optionally, fewer etcd nodes). */
const configDirs: string[] = [];

function withRegistries(name: string, registries: Array<Record<string, unknown>>, etcdNodes?: number): string {
  return remember(clusterFile(lab, name, (config) => {
    config.private_registries = registries;
    if (etcdNodes !== undefined) {
      (config.nodes as Array<Record<string, unknown>>).forEach((node, i) => {
        if (i >= etcdNodes) node.role = ['worker'];
      });
    }
  }));
}

/** These files hold the registry's password: removed after the file's tests. */
function remember(file: string): string {
  configDirs.push(path.dirname(file));
  return file;
}

/** The password, and the forms it travels in (base64 of itself, the X-Registry-Auth header). */
function secretForms(user: string, password: string, addr: string): string[] {
  const header = Buffer.from(JSON.stringify({ username: user, password, serveraddress: addr }));
  return [password, Buffer.from(password).toString('base64'), header.toString('base64'), header.toString('base64url')];
}

function assertNoSecret(text: string, forms: string[], where: string): void {
  for (const form of forms) assert.ok(!text.includes(form), `the registry password (or its encoding) appears in ${where}`);
}

interface Observed {
  outcome: CliOutcome;
  /** `docker inspect` of every snapshot container seen on a node while the CLI ran. */
  inspected: string[];
  /** /proc/PID/cmdline of the CLI, sampled while it ran. */
  cmdlines: string[];
}

/**
 * Run the CLI and, while it runs, read its process arguments and `docker inspect` every
 * snapshot container on the nodes, to check later that no credential is in either.
 */
async function runWatched(args: string[]): Promise<Observed> {
  const { child, outcome } = startCli(['etcd', 'snapshot-save', ...args]);
  let done = false;
  const finished = outcome.finally(() => (done = true));
  const inspected: string[] = [];
  const cmdlines: string[] = [];
  while (!done) {
    try {
      cmdlines.push(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // exited meanwhile
    }
    for (const engine of engines) {
      const containers = await engine.listContainers({ all: true, filters: { name: ['etcd-snapshot-once'] } }).catch(() => []);
      for (const container of containers) {
        const details = await engine.getContainer(container.Id).inspect().catch(() => undefined);
        if (details) inspected.push(JSON.stringify(details));
      }
    }
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  return { outcome: await outcome, inspected, cmdlines };
}

const decoy = { url: 'registry.invalid:5000', user: 'decoy', password: 'not-this-one' };

describe('--backup-image from a private registry (private_registries)', () => {
  test('each node pulls the image with the matching login; snapshots are valid; the password is nowhere', async () => {
    const r = reg();
    const config = withRegistries('reg-ok', [decoy, { url: r.addr, user: r.user, password: r.password }]);
    const { outcome, inspected, cmdlines } = await runWatched(['--config', config, '--name', 'it-reg-ok', '--backup-image', image, '--debug']);
    assert.equal(outcome.code, 0, outcome.stderr);

    for (const [index, address] of lab.addresses.entries()) {
      const node = index + 1;
      assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      assert.ok(await imagePresent(engines[index]!, image), `node ${node} pulled ${image}`);
      const zip = path.join(work, `node${node}-it-reg-ok.zip`);
      await copyFromNode(node, '/opt/rke/etcd-snapshots/it-reg-ok.zip', zip);
      assert.deepEqual((await zipEntryNames(zip)).sort(), ['/backup/it-reg-ok', '/etc/kubernetes/it-reg-ok.rkestate']);
      const snapshot = path.join(work, `node${node}-it-reg-ok.db`);
      await extractEntry(zip, '/backup/it-reg-ok', snapshot);
      const status = await etcdctlSnapshotStatus(snapshot);
      assert.ok(status.totalKey > 0, `snapshot status on node ${node}: ${JSON.stringify(status)}`);
    }
    assert.match(outcome.stderr, new RegExp(`pulling image ${escapeRegExp(image)} from registry ${escapeRegExp(r.addr)} with the login of private_registries\\[1\\]`));
    // The registry saw authorized manifest requests for the image (one per node at least).
    const authorized = readFileSync(r.log, 'utf8')
      .split('\n')
      .filter((line) => line.includes('msg="authorized request"') && line.includes(`/v2/${REPOSITORY}/manifests/${TAG}`));
    assert.ok(authorized.length >= lab.addresses.length, `authorized manifest requests in the registry log: ${authorized.length}`);

    const forms = secretForms(r.user, r.password, r.addr);
    assertNoSecret(outcome.stdout, forms, 'stdout');
    assertNoSecret(outcome.stderr, forms, 'stderr (--debug)');
    assert.ok(cmdlines.length > 0, 'the CLI process arguments were read');
    for (const cmdline of cmdlines) assertNoSecret(cmdline, forms, 'the CLI process arguments');
    assert.ok(inspected.length > 0, 'a snapshot container was inspected while it existed');
    for (const details of inspected) assertNoSecret(details, forms, 'docker inspect of a snapshot container');
    for (let node = 1; node <= lab.addresses.length; node++) {
      assertNoSecret(readFileSync(path.join(lab.dir, 'nodes', `node${node}`, 'logs', 'dockerd.log'), 'utf8'), forms, `node ${node}'s dockerd log`);
    }
    await assertNoAgentContainers(lab);
  });

  test('an image named without a registry host comes from the is_default registry, as RKE does', async () => {
    const r = reg();
    const config = withRegistries('reg-default', [decoy, { url: r.addr, user: r.user, password: r.password, is_default: true }], 1);
    const short = `${REPOSITORY}:${TAG}`;
    const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-default', '--backup-image', short]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, new RegExp(`INFO --backup-image ${escapeRegExp(short)} names no registry: using ${escapeRegExp(image)} from the default registry \\(private_registries\\[1\\]\\)`));
    assert.match(tableRow(outcome.stdout, lab.addresses[0]!), /\sok\s/);
    assert.ok(await imagePresent(engines[0]!, image), `node 1 pulled ${image}`);
    await assertNoAgentContainers(lab);
  });

  test('a wrong password fails every node with one clear line, exit 1, no container, and no password shown', async () => {
    const r = reg();
    const wrong = `wrong-${r.password.slice(0, 8)}-pw`;
    const config = withRegistries('reg-badpw', [decoy, { url: r.addr, user: r.user, password: wrong }]);
    const { outcome, cmdlines } = await runWatched(['--config', config, '--name', 'it-reg-badpw', '--backup-image', image, '--debug']);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const [index, address] of lab.addresses.entries()) {
      const line =
        `${address}: pulling image ${image} on host ${address} failed: registry ${r.addr} did not accept the credentials of private_registries[1] ` +
        `(unauthorized: authentication required); check private_registries[1].user/password in cluster.yml`;
      assert.ok(outcome.stdout.split('\n').some((l) => l.trim() === line), `no error line for ${address}:\n${outcome.stdout}`);
      assert.match(tableRow(outcome.stdout, address), /\sFAILED\s/);
      assert.equal(await imagePresent(engines[index]!, image), false);
    }
    assert.match(outcome.stderr, /^ERROR no etcd node produced a snapshot \(3 failed\)$/m);
    for (const forms of [secretForms(r.user, wrong, r.addr), secretForms(r.user, r.password, r.addr)]) {
      assertNoSecret(outcome.stdout, forms, 'stdout');
      assertNoSecret(outcome.stderr, forms, 'stderr (--debug)');
      for (const cmdline of cmdlines) assertNoSecret(cmdline, forms, 'the CLI process arguments');
    }
    await assertNoAgentContainers(lab);
  });

  test('an image that is not in the registry: clear per-node error, exit 1, no container', async () => {
    const r = reg();
    const missing = `${r.addr}/${REPOSITORY}:no-such-tag`;
    const config = withRegistries('reg-missing', [{ url: r.addr, user: r.user, password: r.password }]);
    const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-missing', '--backup-image', missing]);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of lab.addresses) {
      assert.match(
        outcome.stdout,
        new RegExp(
          `^  ${escapeRegExp(address)}: pulling image ${escapeRegExp(missing)} on host ${escapeRegExp(address)} failed: the image is not in registry ${escapeRegExp(r.addr)} ` +
            `\\(manifest for .* not found: manifest unknown.*\\); check the name and tag given to --backup-image$`,
          'm',
        ),
      );
    }
    await assertNoAgentContainers(lab);
  });

  test('a registry that cannot be reached: clear per-node error, exit 1, no container', async () => {
    const r = reg();
    const [ip, port] = r.addr.split(':') as [string, string];
    const nowhere = `${ip}:${Number(port) + 1}`; // the registry's address, a port nothing listens on
    const unreachable = `${nowhere}/${REPOSITORY}:${TAG}`;
    const config = withRegistries('reg-unreachable', [{ url: nowhere, user: r.user, password: r.password }]);
    const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-unreachable', '--backup-image', unreachable]);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of lab.addresses) {
      assert.match(
        outcome.stdout,
        new RegExp(
          `^  ${escapeRegExp(address)}: pulling image ${escapeRegExp(unreachable)} on host ${escapeRegExp(address)} failed: registry ${escapeRegExp(nowhere)} cannot be reached from the node ` +
            `\\(.*connection refused\\); check the registry address and that the node can reach it$`,
          'm',
        ),
      );
    }
    await assertNoAgentContainers(lab);
  });

  test('a registry that accepts connections but never answers: the pull times out (--image-timeout), exit 1, no container', async () => {
    const r = reg();
    const [ip, port] = r.addr.split(':') as [string, string];
    // Accepts TCP and says nothing: Docker itself would give up only after about 25 s.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => silent.once('error', reject).listen(Number(port) + 2, ip, resolve));
    const hanging = `${ip}:${Number(port) + 2}`;
    try {
      const target = `${hanging}/${REPOSITORY}:${TAG}`;
      const config = withRegistries('reg-hang', [{ url: hanging, user: r.user, password: r.password }]);
      const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-hang', '--backup-image', target, '--image-timeout', '3']);
      assert.equal(outcome.code, 1, outcome.stderr);
      for (const address of lab.addresses) {
        const line =
          `  ${address}: pulling image ${target} from registry ${hanging} on host ${address} did not finish within 3 s; ` +
          `check that the node reaches registry ${hanging}, or allow more time with --image-timeout`;
        assert.ok(outcome.stdout.split('\n').includes(line), `no timeout line for ${address}:\n${outcome.stdout}`);
      }
      assertNoSecret(outcome.stdout + outcome.stderr, secretForms(r.user, r.password, hanging), 'the output');
      await assertNoAgentContainers(lab);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('refused before any node is touched: an invalid image reference, an ECR-plugin-only entry', async () => {
    const config = withRegistries('reg-refused', [{ url: '123.dkr.ecr.eu-west-1.amazonaws.com', ecr_credential_plugin: { aws_access_key_id: 'AKIAEXAMPLE' } }]);
    const invalid = await runWatched(['--config', config, '--name', 'it-reg-refused', '--backup-image', 'Rke/Agent:1']);
    assert.equal(invalid.outcome.code, 1, invalid.outcome.stderr);
    assert.equal(
      invalid.outcome.stderr.trim(),
      'ERROR --backup-image: "Rke/Agent:1" is not a valid image reference: "Agent" is not a valid repository name component (lower-case letters, digits, and . _ - between them)',
    );
    const ecr = await runWatched(['--config', config, '--name', 'it-reg-refused', '--backup-image', '123.dkr.ecr.eu-west-1.amazonaws.com/rke/agent:1']);
    assert.equal(ecr.outcome.code, 1, ecr.outcome.stderr);
    assert.equal(
      ecr.outcome.stderr.trim(),
      'ERROR private_registries[0].ecr_credential_plugin: ECR logins are not supported by this version (needed for --backup-image 123.dkr.ecr.eu-west-1.amazonaws.com/rke/agent:1); ' +
        'give private_registries[0].user: AWS and password: the output of "aws ecr get-login-password" instead',
    );
    assert.equal(ecr.outcome.stdout, '');
    await assertNoAgentContainers(lab);
  });

  test('no private_registries entry for a registry that needs a login: clear per-node error, exit 1, no container', async () => {
    const config = withRegistries('reg-nologin', [decoy]);
    const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-nologin', '--backup-image', image]);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of lab.addresses) {
      // Docker treats registries on 127.0.0.0/8 as "insecure": after HTTPS said 401 it retries
      // over plain HTTP, so the engine's last word here is about that, not about the login.
      assert.match(
        outcome.stdout,
        new RegExp(`^  ${escapeRegExp(address)}: pulling image ${escapeRegExp(image)} on host ${escapeRegExp(address)} failed: .*; no private_registries entry matches registry ${escapeRegExp(reg().addr)}$`, 'm'),
      );
    }
    await assertNoAgentContainers(lab);
  });
});
