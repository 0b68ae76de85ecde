/**
 * `--backup-image` from a private registry with `private_registries` credentials, on the
 * lab: a real registry (lab/registry.sh: Debian's docker-registry, HTTPS with its own CA,
 * htpasswd bcrypt auth, in a network namespace of its own on a non-loopback address so that
 * the engines verify its certificate) that this file starts and stops, holding our agent
 * image, pulled by each node's own engine.
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
import { imagePresent, nodeEngines, pushAgentImage, removeImage, setNodeTrust, startRegistry, stopRegistry, type RegistryLab } from '../support/registry-lab.js';
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
  registry = await startRegistry(lab);
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

function registryLogSince(r: RegistryLab, offset: number): string {
  return readFileSync(r.log, 'utf8').slice(offset);
}

const decoy = { url: 'registry.invalid:5000', user: 'decoy', password: 'not-this-one' };

describe('--backup-image from a private registry (private_registries)', () => {
  test('each node pulls the image with the matching login; snapshots are valid; the password is nowhere', async () => {
    const r = reg();
    const config = withRegistries('reg-ok', [decoy, { url: r.addr, user: r.user, password: r.password }]);
    const logStart = readFileSync(r.log, 'utf8').length;
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
    // Over a verified connection: the engines do verify this registry's certificate (the
    // untrusted-certificate test shows a node without the CA refused), and none refused it here.
    assert.ok(!/TLS handshake error/.test(registryLogSince(r, logStart)), 'a node rejected the registry certificate');

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
    const port = r.addr.split(':')[1]!;
    // Accepts TCP and says nothing: Docker itself would give up only after about 25 s. It
    // listens on the host's end of the registry's veth pair (the registry's own address is
    // inside its namespace); the node engines reach it there like any non-loopback address.
    const ip = r.hostSide;
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
    const r = reg();
    const config = withRegistries('reg-nologin', [decoy]);
    const { outcome } = await runWatched(['--config', config, '--name', 'it-reg-nologin', '--backup-image', image]);
    assert.equal(outcome.code, 1, outcome.stderr);
    for (const address of lab.addresses) {
      // A registry Docker treats as secure (not on 127.0.0.0/8): its 401 is the engine's last word.
      assert.match(
        outcome.stdout,
        new RegExp(
          `^  ${escapeRegExp(address)}: pulling image ${escapeRegExp(image)} on host ${escapeRegExp(address)} failed: registry ${escapeRegExp(r.addr)} requires a login ` +
            `\\(.*(no basic auth credentials|unauthorized|authentication required).*\\); add it to private_registries in cluster.yml \\(url: ${escapeRegExp(r.addr)}, user, password\\)$`,
          'm',
        ),
      );
    }
    await assertNoAgentContainers(lab);
  });

  test('a node whose engine lacks the registry CA fails with the untrusted-certificate line, the others pull it; with the CA back it pulls, no dockerd restart', async () => {
    const r = reg();
    const untrusted = 2;
    const address = lab.addresses[untrusted - 1]!;
    const logStart = readFileSync(r.log, 'utf8').length;
    // certs.d is read on every pull: no dockerd restart either way.
    const dockerdPidFile = path.join(lab.dir, 'nodes', `node${untrusted}`, 'dockerd.pid');
    const dockerdPid = readFileSync(dockerdPidFile, 'utf8');
    await setNodeTrust(r, lab.dir, untrusted, false);
    try {
      const config = withRegistries('reg-untrusted', [decoy, { url: r.addr, user: r.user, password: r.password }]);
      const { outcome, cmdlines } = await runWatched(['--config', config, '--name', 'it-reg-untrusted', '--backup-image', image, '--debug']);
      assert.equal(outcome.code, 0, outcome.stderr); // as RKE: only when every node failed is it an error
      assert.match(outcome.stderr, new RegExp(`1 of ${lab.addresses.length} etcd nodes failed: ${escapeRegExp(address)} `));
      const lines = outcome.stdout.split('\n').filter((l) => l.includes(`${address}: pulling image`));
      assert.equal(lines.length, 1, `one error line for ${address}:\n${outcome.stdout}`);
      assert.match(
        lines[0]!,
        new RegExp(
          `^  ${escapeRegExp(address)}: pulling image ${escapeRegExp(image)} on host ${escapeRegExp(address)} failed: the node's Docker does not trust the TLS certificate of registry ${escapeRegExp(r.addr)} ` +
            `\\(.*x509: certificate signed by unknown authority.*\\); put the registry's CA certificate in /etc/docker/certs\\.d/${escapeRegExp(r.addr)}/ca\\.crt on the node$`,
        ),
      );
      assert.match(tableRow(outcome.stdout, address), /\sFAILED\s/);
      assert.equal(await imagePresent(engines[untrusted - 1]!, image), false, `node ${untrusted} has no ${image}`);
      for (const [index, other] of lab.addresses.entries()) {
        if (index === untrusted - 1) continue;
        assert.match(tableRow(outcome.stdout, other), /\sok\s/);
        assert.ok(await imagePresent(engines[index]!, image), `node ${index + 1} pulled ${image}`);
      }
      // The refusal is the engine's verification: the registry saw the client reject its certificate.
      assert.match(registryLogSince(r, logStart), new RegExp(`TLS handshake error from ${escapeRegExp(r.hostSide)}:\\d+: remote error: tls: bad certificate`));
      const forms = secretForms(r.user, r.password, r.addr);
      assertNoSecret(outcome.stdout, forms, 'stdout');
      assertNoSecret(outcome.stderr, forms, 'stderr (--debug)');
      for (const cmdline of cmdlines) assertNoSecret(cmdline, forms, 'the CLI process arguments');
      await assertNoAgentContainers(lab);

      // The CA back in certs.d: the same engine (not restarted) now verifies and pulls.
      await setNodeTrust(r, lab.dir, untrusted, true);
      const retrusted = withRegistries('reg-retrusted', [{ url: r.addr, user: r.user, password: r.password }]);
      const again = await runWatched(['--config', retrusted, '--name', 'it-reg-retrusted', '--backup-image', image]);
      assert.equal(again.outcome.code, 0, again.outcome.stderr);
      assert.match(tableRow(again.outcome.stdout, address), /\sok\s/);
      assert.ok(await imagePresent(engines[untrusted - 1]!, image), `node ${untrusted} pulled ${image}`);
      assert.equal(readFileSync(dockerdPidFile, 'utf8'), dockerdPid, `node ${untrusted}'s dockerd was not restarted`);
      await assertNoAgentContainers(lab);
    } finally {
      await setNodeTrust(r, lab.dir, untrusted, true);
    }
  });
});
