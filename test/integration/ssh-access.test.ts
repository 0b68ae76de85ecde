/**
 * bastion_host and OpenSSH user certificates, end to end on the lab (lab/bastion.sh):
 * - the nodes' sshd behind the bastion live in a network namespace the test process
 *   cannot reach except through the bastion's sshd (over a veth pair);
 * - the nodes' certificate-only sshd (port CERT_PORT) authorize no key at all: only a
 *   certificate of the lab CA gets in.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bastionDown, bastionHostEntry, bastionUp, behindBastion as behindBastion_, type BastionLab } from '../support/bastion-lab.js';
import { assertNoAgentContainers, clusterFile as clusterFile_, escapeRegExp, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import {
  waitForRunningContainer,
  followerNode,
  labFacts,
  nodeDocker,
  startCli,
  tempDir,
  TEST_KNOWN_HOSTS,
  waitForHealthyCluster,
  type LabFacts,
} from '../support/lab.js';

let lab: LabFacts;
let bastion: BastionLab;
let keys: string;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-ssh-*');
  bastion = await bastionUp(lab);
  keys = tempDir('rke-ssh-keys-');
});

after(async () => {
  if (keys) rmSync(keys, { recursive: true, force: true });
  if (lab) await bastionDown(lab);
});

const clusterFile = (name: string, edit: (config: Record<string, any>) => void) => clusterFile_(lab, name, edit);

/** A new key pair in the test's key directory; returns the private key's path. */
function newKey(name: string, type = 'ed25519'): string {
  const key = path.join(keys, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', key]);
  return key;
}

/** `ssh-keygen -s` with the lab CA; returns the certificate's path (KEY-cert.pub). */
function certify(key: string, options: string[]): string {
  execFileSync('ssh-keygen', ['-q', '-s', bastion.certCa, '-I', path.basename(key), ...options, `${key}.pub`]);
  return `${key}-cert.pub`;
}

function countLines(file: string, pattern: RegExp): number {
  return readFileSync(file, 'utf8').split('\n').filter((line) => pattern.test(line)).length;
}

/** The lab's nodes, reached at their sshd behind the bastion; etcd still at their lab address. */
const behindBastion = (config: Record<string, any>) => behindBastion_(bastion, config);
const bastionHost = (extra: Record<string, unknown> = {}) => bastionHostEntry(bastion, extra);

async function assertFailedEverywhere(outcome: { code: number | null; stdout: string; stderr: string }, addresses: string[], error: (address: string) => RegExp) {
  assert.equal(outcome.code, 1, outcome.stderr);
  for (const address of addresses) {
    assert.match(tableRow(outcome.stdout, address), /\sFAILED\s/);
    assert.match(outcome.stdout, new RegExp(`^  ${escapeRegExp(address)}: ${error(address).source}$`, 'm'));
  }
  assert.ok(!/\n\s+at /.test(outcome.stderr + outcome.stdout), 'no stack trace');
  await assertNoAgentContainers(lab);
}

describe('bastion_host', () => {
  test('without it, the nodes behind the bastion cannot be reached at all', async () => {
    const outcome = await save(['--config', clusterFile('no-bastion', behindBastion), '--name', 'it-ssh-direct']);
    await assertFailedEverywhere(outcome, bastion.nodeAddresses, (address) =>
      new RegExp(`cannot connect over SSH to host ${escapeRegExp(address)} port 22: connection refused \\(is sshd running there\\?\\)`),
    );
  });

  test('with it, every node is snapshotted through one shared connection to the bastion', async () => {
    const bastionLog = path.join(bastion.logs, 'bastion.log');
    const acceptedBefore = countLines(bastionLog, /Accepted publickey for root/);
    const config = clusterFile('bastion', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost();
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion']);
    assert.equal(outcome.code, 0, outcome.stderr + outcome.stdout);
    assert.match(outcome.stderr, new RegExp(`through bastion host ${escapeRegExp(bastion.address)} port 22`));
    for (const [i, address] of bastion.nodeAddresses.entries()) {
      assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      assert.ok((await snapshotFiles(i + 1)).includes('it-ssh-bastion.zip'), `snapshot on node ${i + 1}`);
      // The node's sshd behind the bastion served it (the lab's own sshd cannot: wrong address).
      assert.ok(countLines(path.join(bastion.logs, `inner${i + 1}.log`), /Accepted publickey for root/) >= 1);
    }
    assert.equal(countLines(bastionLog, /Accepted publickey for root/) - acceptedBefore, 1, 'one bastion connection for all nodes');
    assert.ok(countLines(bastionLog, /Accepted publickey for root from 10\.254\./) >= 1, 'the bastion was reached over the veth pair');
    const knownHosts = readFileSync(TEST_KNOWN_HOSTS, 'utf8');
    assert.match(knownHosts, new RegExp(`^${escapeRegExp(bastion.address)} ssh-ed25519 `, 'm'), 'the bastion\'s host key is recorded like a node\'s');
    assert.match(knownHosts, new RegExp(`^${escapeRegExp(bastion.nodeAddresses[0]!)} ssh-ed25519 `, 'm'));
    await assertNoAgentContainers(lab);
  });

  test('a node the bastion cannot reach fails alone, naming the node and the bastion', async () => {
    const config = clusterFile('bastion-bad-node', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost();
      c.nodes.push({ ...c.nodes[0], address: '127.0.250.99', hostname_override: undefined });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-one-bad']);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(tableRow(outcome.stdout, '127.0.250.99'), /\sFAILED\s/);
    assert.match(
      outcome.stdout,
      new RegExp(`^  127\\.0\\.250\\.99: cannot reach host 127\\.0\\.250\\.99 port 22 from bastion host ${escapeRegExp(bastion.address)}: connection refused$`, 'm'),
    );
    for (const address of bastion.nodeAddresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.match(outcome.stderr, /1 of 4 etcd nodes failed: 127\.0\.250\.99/);
    await assertNoAgentContainers(lab);
  });

  test('SIGINT through the bastion removes the containers, closes the bastion connection and exits 130', async () => {
    const frozenNode = await followerNode(lab.addresses);
    await nodeDocker(frozenNode, 'pause', 'etcd');
    try {
      const config = clusterFile('bastion-sigint', (c) => {
        behindBastion(c);
        c.bastion_host = bastionHost();
      });
      const { child, outcome } = startCli(['etcd', 'snapshot-save', '--config', config, '--name', 'it-ssh-bastion-sigint'], { timeoutMs: 120_000 });
      await waitForRunningContainer(frozenNode, 'etcd-snapshot-once');
      child.kill('SIGINT');
      const result = await outcome;
      // The process ends by itself (exitCode, no process.exit): no SSH connection was left open.
      assert.equal(result.signal, null, 'not killed by the test\'s timeout');
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /SIGINT received/);
    } finally {
      await nodeDocker(frozenNode, 'unpause', 'etcd');
      await waitForHealthyCluster();
    }
    await assertNoAgentContainers(lab);
  });

  test('an unreachable bastion fails every node with the bastion\'s error', async () => {
    const config = clusterFile('bastion-down', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost({ port: 2299 });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-down']);
    await assertFailedEverywhere(outcome, bastion.nodeAddresses, () =>
      new RegExp(`cannot connect over SSH to bastion host ${escapeRegExp(bastion.address)} port 2299: connection refused \\(is sshd running there\\?\\)`),
    );
  });

  test('a bastion that accepts TCP but never answers times out, naming the bastion', async () => {
    // A silent listener: the TCP connection succeeds, the SSH handshake never comes.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, lab.addresses[0], resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const config = clusterFile('bastion-silent', (c) => {
        behindBastion(c);
        c.bastion_host = bastionHost({ address: lab.addresses[0], port });
      });
      const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-silent']);
      assert.ok(outcome.ms < 60_000, `gave up in ${outcome.ms} ms`);
      await assertFailedEverywhere(outcome, bastion.nodeAddresses, () =>
        new RegExp(`cannot connect over SSH to bastion host ${escapeRegExp(lab.addresses[0]!)} port ${port}: no answer within 15 s`),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('the bastion\'s host key is checked like a node\'s: strict refuses an unknown bastion', async () => {
    const knownHosts = path.join(tempDir('rke-kh-bastion-'), 'known_hosts');
    const config = clusterFile('bastion-strict', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost();
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-strict', '--ssh-host-key-policy', 'strict', '--known-hosts', knownHosts]);
    await assertFailedEverywhere(outcome, bastion.nodeAddresses, () =>
      new RegExp(`bastion_host: ${escapeRegExp(bastion.address)} is not in ${escapeRegExp(knownHosts)} \\(--ssh-host-key-policy strict\\); .*`),
    );
  });

  test('a bastion that refuses the key fails every node; without its own key the bastion uses the cluster\'s', async () => {
    const config = clusterFile('bastion-refuses', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost({ ssh_key_path: undefined });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-refused']);
    await assertFailedEverywhere(outcome, bastion.nodeAddresses, () =>
      new RegExp(
        `SSH authentication as root@${escapeRegExp(bastion.address)} failed with key ${escapeRegExp(lab.sshKey)} \\(ssh_key_path\\): ` +
          `the server refused it; check the user and ssh key of bastion_host in the cluster file`,
      ),
    );
  });
});

describe('OpenSSH user certificates', () => {
  /** The lab's nodes at their certificate-only sshd, with no key of their own. */
  const certificateOnly = (config: Record<string, any>) => {
    for (const node of config.nodes) {
      node.port = bastion.certPort;
      delete node.ssh_key_path;
    }
  };

  test('the plain key is refused, key + certificate (cluster-level ssh_key_path, ssh_cert_path) gets in', async () => {
    const key = newKey('cluster-ed25519');
    const plain = await save(['--config', clusterFile('cert-plain', (c) => (certificateOnly(c), (c.ssh_key_path = key))), '--name', 'it-ssh-cert-plain']);
    await assertFailedEverywhere(plain, lab.addresses, (address) =>
      new RegExp(`SSH authentication as root@${escapeRegExp(address)} failed with key ${escapeRegExp(key)} \\(ssh_key_path\\): the server refused it; .*`),
    );

    const certificate = certify(key, ['-n', 'root', '-V', '-5m:+1h']);
    const config = clusterFile('cert-cluster', (c) => {
      certificateOnly(c);
      c.ssh_key_path = key;
      c.ssh_cert_path = certificate;
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-cert']);
    assert.equal(outcome.code, 0, outcome.stderr + outcome.stdout);
    for (const [i, address] of lab.addresses.entries()) {
      assert.match(tableRow(outcome.stdout, address), /\sok\s/);
      assert.ok((await snapshotFiles(i + 1)).includes('it-ssh-cert.zip'));
      assert.match(readFileSync(path.join(bastion.logs, `cert${i + 1}.log`), 'utf8'), /Accepted publickey for root .*ED25519-CERT .*ID cluster-ed25519/);
    }
    await assertNoAgentContainers(lab);
  });

  test('ecdsa and rsa certificates, per node, from a file or inline', async () => {
    const ecdsa = newKey('node-ecdsa', 'ecdsa');
    const rsa = newKey('node-rsa', 'rsa');
    const ed25519 = newKey('node-ed25519');
    const config = clusterFile('cert-nodes', (c) => {
      certificateOnly(c);
      const [first, second, third] = c.nodes;
      Object.assign(first, { ssh_key_path: ecdsa, ssh_cert_path: certify(ecdsa, ['-n', 'root']) });
      Object.assign(second ?? {}, { ssh_key: readFileSync(rsa, 'utf8'), ssh_cert: readFileSync(certify(rsa, ['-n', 'root']), 'utf8') });
      Object.assign(third ?? {}, { ssh_key_path: ed25519, ssh_cert: readFileSync(certify(ed25519, ['-n', 'root,backup']), 'utf8') });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-cert-types']);
    assert.equal(outcome.code, 0, outcome.stderr + outcome.stdout);
    for (const address of lab.addresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.match(readFileSync(path.join(bastion.logs, 'cert1.log'), 'utf8'), /Accepted publickey for root .*ECDSA-CERT .*ID node-ecdsa/);
    if (lab.addresses.length > 1) assert.match(readFileSync(path.join(bastion.logs, 'cert2.log'), 'utf8'), /Accepted publickey for root .*RSA-CERT .*ID node-rsa/);
    await assertNoAgentContainers(lab);
  });

  test('an expired certificate, one for another principal, one for another key: each node says why, the others go on', async () => {
    assert.ok(lab.addresses.length >= 3, 'needs 3 lab nodes');
    const expiredKey = newKey('expired');
    const expired = certify(expiredKey, ['-n', 'root', '-V', '20200101000000Z:20200102000000Z']);
    const aliceKey = newKey('alice');
    const alice = certify(aliceKey, ['-n', 'alice', '-V', '-5m:+1h']);
    const otherKey = newKey('other');
    const config = clusterFile('cert-bad', (c) => {
      certificateOnly(c);
      Object.assign(c.nodes[0], { ssh_key_path: expiredKey, ssh_cert_path: expired });
      Object.assign(c.nodes[1], { ssh_key_path: aliceKey, ssh_cert_path: alice });
      Object.assign(c.nodes[2], { ssh_key_path: otherKey, ssh_cert_path: expired });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-cert-bad']);
    await assertFailedEverywhere(outcome, lab.addresses, (address) => {
      const index = lab.addresses.indexOf(address);
      if (index === 0) {
        return new RegExp(
          `ssh certificate ${escapeRegExp(expired)} \\(nodes\\[0\\]\\.ssh_cert_path\\) expired on 2020-01-02T00:00:00Z; have the key signed again ` +
            `\\(key: key ${escapeRegExp(expiredKey)} \\(nodes\\[0\\]\\.ssh_key_path\\)\\)`,
        );
      }
      if (index === 1) {
        return new RegExp(
          `SSH authentication as root@${escapeRegExp(address)} failed with certificate ${escapeRegExp(alice)} \\(nodes\\[1\\]\\.ssh_cert_path\\) ` +
            `\\(id "alice", principals alice, valid until [0-9T:-]+Z\\) and key ${escapeRegExp(aliceKey)} \\(nodes\\[1\\]\\.ssh_key_path\\): ` +
            `the server refused it; the certificate is not for user root \\(its principals: alice\\); .*`,
        );
      }
      return new RegExp(`ssh certificate ${escapeRegExp(expired)} \\(nodes\\[2\\]\\.ssh_cert_path\\) does not certify this private key .*`);
    });
  });

  test('the bastion authenticates with its own certificate too', async () => {
    const key = newKey('bastion-cert-user');
    const config = clusterFile('bastion-cert', (c) => {
      behindBastion(c);
      c.bastion_host = bastionHost({ ssh_key_path: key, ssh_cert_path: certify(key, ['-n', 'root', '-V', '-5m:+1h']) });
    });
    const outcome = await save(['--config', config, '--name', 'it-ssh-bastion-cert']);
    assert.equal(outcome.code, 0, outcome.stderr + outcome.stdout);
    for (const address of bastion.nodeAddresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.match(readFileSync(path.join(bastion.logs, 'bastion.log'), 'utf8'), /Accepted publickey for root .*ED25519-CERT .*ID bastion-cert-user/);
    await assertNoAgentContainers(lab);
  });
});
