import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drillSpaceNeeded, drillUrls, etcdErrorLine, etcdVersionLabel, memberCommand, restoreCommand } from './restore-drill.js';

const ports = { client: 40001, peer: 40002 };

test('the restore is a one-member cluster of its own, on 127.0.0.1, with etcdutl or etcdctl', () => {
  const utl = restoreCommand('etcdutl', ports, 'rke-restore-drill-ab12');
  assert.deepEqual(utl.entrypoint, ['/usr/local/bin/etcdutl']);
  assert.deepEqual(utl.cmd, [
    'snapshot',
    'restore',
    '/drill/snapshot.db',
    '--data-dir=/drill/data',
    '--name=restore-drill',
    '--initial-cluster=restore-drill=http://127.0.0.1:40002',
    '--initial-cluster-token=rke-restore-drill-ab12',
    '--initial-advertise-peer-urls=http://127.0.0.1:40002',
  ]);
  assert.deepEqual(utl.env, []);
  const ctl = restoreCommand('etcdctl', ports, 't');
  assert.deepEqual(ctl.entrypoint, ['/usr/local/bin/etcdctl']);
  assert.deepEqual(ctl.env, ['ETCDCTL_API=3']);
});

test('the member listens only on 127.0.0.1 and knows no other peer', () => {
  const member = memberCommand(ports, 'tok');
  assert.deepEqual(member.entrypoint, ['/usr/local/bin/etcd']);
  const urls = member.cmd.filter((arg) => /urls=|initial-cluster=/.test(arg));
  assert.ok(urls.every((arg) => /=(restore-drill=)?http:\/\/127\.0\.0\.1:4000[12]$/.test(arg)), urls.join(' '));
  assert.ok(member.cmd.includes('--initial-cluster-state=new'));
  assert.ok(member.cmd.includes('--initial-cluster-token=tok'));
  assert.ok(member.cmd.includes('--data-dir=/drill/data'));
});

test('ports: two distinct TCP ports', () => {
  assert.deepEqual(drillUrls(ports), { client: 'http://127.0.0.1:40001', peer: 'http://127.0.0.1:40002' });
  assert.throws(() => drillUrls({ client: 2379, peer: 2379 }), /must differ/);
  assert.throws(() => drillUrls({ client: 0, peer: 2380 }), /not a TCP port/);
  assert.throws(() => drillUrls({ client: 70000, peer: 2380 }), /not a TCP port/);
});

test("etcd's own error line: etcdctl/etcdutl's Error:, 3.5's JSON log, 3.4's text log, else the last line", () => {
  assert.equal(
    etcdErrorLine('{"level":"info","msg":"restoring snapshot"}\nError: expected sha256 [1 2], got [3 4]\n'),
    'Error: expected sha256 [1 2], got [3 4]',
  );
  assert.equal(
    etcdErrorLine('{"level":"info","msg":"x"}\n{"level":"fatal","ts":1,"msg":"discovery failed","error":"member count is unequal"}\n'),
    'discovery failed: member count is unequal',
  );
  assert.equal(
    etcdErrorLine('2026-12-04 23:40:58.030612 I | etcdmain: etcd Version: 3.4.23\n2026-12-04 23:40:58.1 C | etcdmain: open /drill/data/member/snap/db: no such file\n'),
    'etcdmain: open /drill/data/member/snap/db: no such file',
  );
  assert.equal(etcdErrorLine('something odd\nlast words\n'), 'last words');
  assert.equal(etcdErrorLine('\n  \n'), undefined);
});

test('the version as the report shows it', () => {
  assert.equal(etcdVersionLabel('3.4.23'), 'v3.4.23');
  assert.equal(etcdVersionLabel('v3.5.9'), 'v3.5.9');
});

test('space: the snapshot twice (extracted, restored) and 128 MiB for the WAL and margin', () => {
  assert.equal(drillSpaceNeeded(0), 128 * 1024 * 1024);
  assert.equal(drillSpaceNeeded(1024 ** 3), 2 * 1024 ** 3 + 128 * 1024 * 1024);
});
