/**
 * The per-node settings of RKE's cluster.yml on the lab: a custom SSH `port`, an
 * `internal_address` for etcd that differs from the SSH `address`, a custom
 * `docker_socket`, `prefix_path` for `/etc/kubernetes`, and `services.etcd.extra_env`
 * reaching the snapshot container. Each case also shows that the setting is really used:
 * the same run without it (or with a wrong value) fails on that node, naming the cause.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertNoAgentContainers, clusterFile as clusterFile_, removeNodeSnapshots, save, snapshotFiles, tableRow } from '../support/cli-run.js';
import { containersNamed, followerNode, labFacts, nodeDocker, nodeExec, startCli, waitForHealthyCluster, type LabFacts } from '../support/lab.js';

let lab: LabFacts;

before(async () => {
  lab = await labFacts();
  await removeNodeSnapshots(lab, 'it-opt-*');
});

after(async () => {
  await removeNodeSnapshots(lab, 'it-opt-*');
});

const clusterFile = (name: string, edit: (config: Record<string, any>) => void) => clusterFile_(lab, name, edit);
const dotted = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('nodes as RKE describes them', () => {
  test('a custom SSH port is used; a port nothing listens on fails that node alone', async () => {
    const file = clusterFile('ssh-port', (config) => {
      for (const node of config.nodes) node.port = lab.altSshPort;
      config.nodes[2].port = lab.altSshPort + 1;
    });
    const outcome = await save(['--config', file, '--name', 'it-opt-port']);
    assert.equal(outcome.code, 0, outcome.stderr);
    for (const address of lab.addresses.slice(0, 2)) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.match(tableRow(outcome.stdout, lab.addresses[2]!), /FAILED/);
    assert.match(
      outcome.stdout,
      new RegExp(`cannot connect over SSH to host ${dotted(lab.addresses[2]!)} port ${lab.altSshPort + 1}: connection refused`),
    );
    await assertNoAgentContainers(lab);
  });

  test('etcd is reached at internal_address while SSH goes to address', async () => {
    const file = clusterFile('internal-address', (config) => {
      config.nodes.forEach((node: Record<string, unknown>, i: number) => {
        node.address = lab.sshOnlyAddresses[i];
        node.internal_address = lab.addresses[i];
      });
      delete config.nodes[2].internal_address; // so node 3 looks for etcd on its SSH-only address
    });
    const outcome = await save(['--config', file, '--name', 'it-opt-internal']);
    assert.equal(outcome.code, 0, outcome.stderr);
    for (const address of lab.sshOnlyAddresses.slice(0, 2)) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    assert.match(tableRow(outcome.stdout, lab.sshOnlyAddresses[2]!), /FAILED/);
    assert.match(outcome.stdout, new RegExp(`https://${dotted(lab.sshOnlyAddresses[2]!)}:2379`));
    for (const node of [1, 2]) assert.ok((await snapshotFiles(node)).includes('it-opt-internal.zip'));
    assert.equal((await snapshotFiles(3)).some((f) => f.includes('it-opt-internal')), false);
    await assertNoAgentContainers(lab);
  });

  test('a custom docker_socket is used; a socket that does not exist is a clear per-node error', async () => {
    const customSocket = '/var/run/rke-it-custom/docker.sock';
    await nodeExec(1, 'sh', '-c', `mkdir -p ${customSocket.replace(/\/[^/]*$/, '')} && ln -sfn /var/run/docker.sock ${customSocket}`);
    try {
      const file = clusterFile('docker-socket', (config) => {
        config.nodes[0].docker_socket = customSocket;
        config.nodes[1].docker_socket = '/var/run/rke-it-missing/docker.sock';
      });
      const outcome = await save(['--config', file, '--name', 'it-opt-socket']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(tableRow(outcome.stdout, lab.addresses[0]!), /\sok\s/);
      assert.match(tableRow(outcome.stdout, lab.addresses[2]!), /\sok\s/);
      assert.match(tableRow(outcome.stdout, lab.addresses[1]!), /FAILED/);
      assert.match(outcome.stdout, /\/var\/run\/rke-it-missing\/docker\.sock/);
      assert.match(outcome.stdout, /docker_socket/);
    } finally {
      await nodeExec(1, 'rm', '-rf', '/var/run/rke-it-custom');
    }
    await assertNoAgentContainers(lab);
  });

  test('prefix_path moves /etc/kubernetes: a node with its certificates under the prefix works, the others say what is missing', async () => {
    const prefix = '/opt/rke/it-prefix';
    await nodeExec(1, 'sh', '-c', `mkdir -p ${prefix}/etc && cp -a /etc/kubernetes ${prefix}/etc/`);
    try {
      const file = clusterFile('prefix-path', (config) => {
        config.prefix_path = prefix;
      });
      const outcome = await save(['--config', file, '--name', 'it-opt-prefix']);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.match(tableRow(outcome.stdout, lab.addresses[0]!), /\sok\s/);
      for (const address of lab.addresses.slice(1)) assert.match(tableRow(outcome.stdout, address), /FAILED/);
      assert.match(outcome.stdout, /kube-ca\.pem/);
      assert.match(outcome.stdout, new RegExp(dotted(`${prefix}/etc/kubernetes`)));
    } finally {
      await nodeExec(1, 'rm', '-rf', prefix);
    }
    await assertNoAgentContainers(lab);
  });

  test('services.etcd.extra_env reaches the snapshot container', async () => {
    // etcd paused on one node keeps that node's snapshot container alive long enough to inspect it.
    const pausedNode = await followerNode(lab.addresses);
    const file = clusterFile('extra-env', (config) => {
      config.services.etcd.extra_env = ['RKE_IT_MARKER=extra-env-reached', 'GODEBUG=x509ignoreCN=0'];
    });
    await nodeDocker(pausedNode, 'pause', 'etcd');
    let env: string[] = [];
    const run = startCli(['etcd', 'snapshot-save', '--config', file, '--name', 'it-opt-env']).outcome;
    try {
      for (let i = 0; i < 300 && env.length === 0; i++) {
        if ((await containersNamed(pausedNode, 'etcd-snapshot-once')).length > 0) {
          env = JSON.parse(await nodeDocker(pausedNode, 'inspect', '--format', '{{json .Config.Env}}', 'etcd-snapshot-once'));
        } else {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    } finally {
      await nodeDocker(pausedNode, 'unpause', 'etcd');
    }
    const outcome = await run;
    await waitForHealthyCluster();
    assert.ok(env.includes('RKE_IT_MARKER=extra-env-reached'), `container env: ${JSON.stringify(env)}`);
    assert.ok(env.includes('GODEBUG=x509ignoreCN=0'));
    assert.equal(outcome.code, 0, outcome.stderr);
    for (const address of lab.addresses) assert.match(tableRow(outcome.stdout, address), /\sok\s/);
    await assertNoAgentContainers(lab);
  });
});
