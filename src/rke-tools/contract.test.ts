import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RKE_TOOLS_BINARY,
  decodeKey,
  decodeStdBase64,
  parseGoDuration,
  parseRkeToolsArgs,
  rkeToolsSaveInvocation,
  secretForms,
  type RkeToolsSaveSpec,
} from './contract.js';
import { logrusLine } from './logrus.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** RKE's command line for `rke etcd snapshot-save` (rancher/rke services/etcd.go RunEtcdSnapshotSave, once). */
const RKE_ARGS = [
  'etcd-backup', 'save',
  '--cacert', '/etc/kubernetes/ssl/kube-ca.pem',
  '--cert', '/etc/kubernetes/ssl/kube-node.pem',
  '--key', '/etc/kubernetes/ssl/kube-node-key.pem',
  '--name', 'rke_etcd_snapshot_2024-05-01T14:03:07+02:00',
  '--endpoints=10.0.0.1:2379',
  '--once',
];

const spec: RkeToolsSaveSpec = {
  name: 'before-upgrade',
  internalAddress: '10.0.0.1',
  cacert: '/etc/kubernetes/ssl/kube-ca.pem',
  cert: '/etc/kubernetes/ssl/kube-node.pem',
  key: '/etc/kubernetes/ssl/kube-node-key.pem',
  extraEnv: ['HTTPS_PROXY='],
};

test("RKE's one-time command line maps onto a save of that node's member", () => {
  assert.deepEqual(parseRkeToolsArgs(RKE_ARGS, {}), {
    name: 'rke_etcd_snapshot_2024-05-01T14:03:07+02:00',
    endpoint: 'https://10.0.0.1:2379',
    cacert: '/etc/kubernetes/ssl/kube-ca.pem',
    cert: '/etc/kubernetes/ssl/kube-node.pem',
    key: '/etc/kubernetes/ssl/kube-node-key.pem',
    debug: false,
    ignored: [],
  });
});

test('what the CLI writes is what the agent reads (round trip, with S3)', () => {
  const withS3: RkeToolsSaveSpec = {
    ...spec,
    s3: {
      endpoint: 'minio.internal:9000',
      bucket: 'etcd',
      region: 'eu-west-1',
      folder: 'prod/a',
      customCaPem: CA,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 's3cr3t/+=key' },
    },
  };
  const { cmd, env } = rkeToolsSaveInvocation(withS3);
  assert.equal(cmd[0], RKE_TOOLS_BINARY);
  assert.ok(cmd.includes('--once') && cmd.includes('--endpoints=10.0.0.1:2379') && cmd.includes('--s3-backup=true'));
  assert.deepEqual(env, ['HTTPS_PROXY=', `S3_ACCESS_KEY=${b64('AKIAEXAMPLE')}`, `S3_SECRET_KEY=${b64('s3cr3t/+=key')}`]);
  assert.ok(!cmd.some((arg) => arg.includes('s3cr3t') || arg.includes(b64('s3cr3t/+=key'))), 'no key in the arguments');

  const envRecord = Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  const parsed = parseRkeToolsArgs(cmd.slice(1), envRecord);
  assert.deepEqual(parsed.s3, {
    endpoint: 'minio.internal:9000',
    bucket: 'etcd',
    region: 'eu-west-1',
    folder: 'prod/a',
    accessKeyId: 'AKIAEXAMPLE',
    secretAccessKey: 's3cr3t/+=key',
    customCa: { pem: CA },
  });
  assert.equal(parsed.endpoint, 'https://10.0.0.1:2379');
});

test('without S3 settings: no S3 flags, no keys in the environment; IPv6 gets brackets', () => {
  const { cmd, env } = rkeToolsSaveInvocation({ ...spec, internalAddress: 'fd00::1' });
  assert.ok(!cmd.some((arg) => arg.startsWith('--s3')));
  assert.deepEqual(env, ['HTTPS_PROXY=']);
  assert.ok(cmd.includes('--endpoints=[fd00::1]:2379'));
  assert.equal(parseRkeToolsArgs(cmd.slice(1), {}).endpoint, 'https://[fd00::1]:2379');
});

test('IAM role: no keys; empty region and no folder as RKE passes them', () => {
  const { cmd, env } = rkeToolsSaveInvocation({ ...spec, s3: { endpoint: 's3.amazonaws.com', bucket: 'b', folder: '' } });
  assert.ok(cmd.includes('--s3-region='));
  assert.ok(!cmd.some((arg) => arg.startsWith('--s3-folder')));
  assert.deepEqual(env, ['HTTPS_PROXY=']);
  assert.deepEqual(parseRkeToolsArgs(cmd.slice(1), {}).s3, { endpoint: 's3.amazonaws.com', bucket: 'b', folder: '' });
});

test('Go flag syntax: single dash, --flag value, --flag=value, booleans with =BOOL; flags override env', () => {
  const parsed = parseRkeToolsArgs(
    ['etcd-backup', 'save', '-name=n', '-cacert', 'a', '--cert=b', '--key', 'c', '-once=true', '--s3-backup=false', '--debug'],
    { ETCD_KEY: 'from-env', S3_BUCKET_NAME: 'b' },
  );
  assert.equal(parsed.name, 'n');
  assert.equal(parsed.key, 'c');
  assert.equal(parsed.debug, true);
  assert.equal(parsed.s3, undefined);
  assert.equal(parsed.endpoint, 'https://127.0.0.1:2379', "rke-tools' default endpoint");
});

test('the environment supplies what flags leave out (ETCD_*, S3_*)', () => {
  const parsed = parseRkeToolsArgs(['etcd-backup', 'save', '--once', '--name', 'n'], {
    ETCD_CACERT: 'a', ETCD_CERT: 'b', ETCD_KEY: 'c',
    S3_BACKUP: 'true', S3_ENDPOINT: 'e:1', S3_BUCKET_NAME: 'bk', S3_FOLDER: 'f',
    S3_ACCESS_KEY: 'plain key', S3_SECRET_KEY: 'not/base64!',
  });
  assert.deepEqual(parsed.s3, { endpoint: 'e:1', bucket: 'bk', folder: 'f', accessKeyId: 'plain key', secretAccessKey: 'not/base64!' });
});

test('accepted and ignored: --creation, --retention, --backup-retries, --s3-retries, --local-endpoint', () => {
  const parsed = parseRkeToolsArgs([...RKE_ARGS, '--creation=12h', '--retention=72h', '--backup-retries', '2', '--s3-retries=1'], {});
  assert.deepEqual(parsed.ignored, ['--creation', '--retention', '--backup-retries', '--s3-retries']);
});

test("refusals, in rke-tools' words where it has them", () => {
  const refuses = (argv: string[], pattern: RegExp, env: Record<string, string> = {}) =>
    assert.throws(() => parseRkeToolsArgs(argv, env), (error: Error) => pattern.test(error.message) && !error.message.includes('\n'));
  refuses(['etcd-backup', 'save', '--once', '--name', 'n', '--cert', 'b', '--key', 'c'], /^Failed to find etcd cert or key paths$/);
  refuses(['etcd-backup', 'save', '--name', 'n', '--cacert', 'a', '--cert', 'b', '--key', 'c'], /without --once\) are not supported/);
  refuses([...RKE_ARGS, '--creation=0s'], /^Creation period and\/or retention are not set$/);
  refuses([...RKE_ARGS, '--creation=12'], /invalid value "12" for flag -creation/);
  refuses([...RKE_ARGS, '--bogus'], /^flag provided but not defined: -bogus/);
  refuses([...RKE_ARGS, 'extra'], /unexpected argument "extra"/);
  refuses([...RKE_ARGS, '--once=maybe'], /invalid boolean value "maybe" for -once/);
  refuses([...RKE_ARGS.slice(0, -2), '--endpoints=a:2379,b:2379', '--once'], /one selected node, not multiple/);
  refuses([...RKE_ARGS.slice(0, -2), '--endpoints=http://a:2379', '--once'], /only https:\/\//);
  refuses(['etcd-backup', 'save', '--once', '--cacert', 'a', '--cert', 'b', '--key', 'c', '--name', '../x'], /--name "\.\.\/x": a snapshot name must not contain "\/"/);
  refuses([...RKE_ARGS, '--s3-backup'], /--s3-bucketName \(S3_BUCKET_NAME\) is required/);
  refuses([...RKE_ARGS, '--s3-backup', '--s3-bucketName=b'], /must be given together/, { S3_ACCESS_KEY: b64('k') });
  refuses(['etcd-backup', 'download', '--name', 'n'], /answers only "etcd-backup save --once"/);
  refuses(['rolling-backup'], /answers only "etcd-backup save"/);
});

test('a secret given as a flag is never echoed in an error', () => {
  assert.throws(
    () => parseRkeToolsArgs([...RKE_ARGS, '--s3-secretKey'], {}),
    (error: Error) => /flag needs an argument: -s3-secretKey/.test(error.message),
  );
});

test("keys and the CA: base64 when it decodes (Go's StdEncoding), else taken as is", () => {
  assert.equal(decodeKey(b64('AKIA/EXAMPLE+key')), 'AKIA/EXAMPLE+key');
  assert.equal(decodeKey('not base64!'), 'not base64!');
  assert.equal(decodeKey('abc'), 'abc', 'unpadded length: not base64');
  assert.deepEqual(decodeStdBase64('YQ=='), Buffer.from('a'));
  assert.equal(decodeStdBase64('YQ='), undefined);
  assert.deepEqual(parseRkeToolsArgs([...RKE_ARGS, '--s3-backup', '--s3-bucketName=b', '--s3-endpoint-ca=/etc/ssl/ca.pem'], {}).s3?.customCa, {
    file: '/etc/ssl/ca.pem',
  });
});

test("Go durations as rke-tools' --creation/--retention take them", () => {
  assert.equal(parseGoDuration('creation', '12h'), 12 * 3600e3);
  assert.equal(parseGoDuration('creation', '1h30m'), 5400e3);
  assert.equal(parseGoDuration('creation', '5m0s'), 300e3);
  assert.equal(parseGoDuration('creation', '0'), 0);
  assert.throws(() => parseGoDuration('creation', 'h'));
});

test('secretForms: the raw keys and their base64, for redacting the container output', () => {
  assert.deepEqual(secretForms({ accessKeyId: 'AK', secretAccessKey: 'SK' }), ['AK', b64('AK'), 'SK', b64('SK')]);
  assert.deepEqual(secretForms(undefined), []);
});

test("logrus' text format: quoted time and message, sorted fields, quotes only where needed", () => {
  assert.equal(
    logrusLine(new Date('2024-05-01T12:03:07.123Z'), 'info', 'Created local backup', { runtime: '1.2s', name: 'a b' }),
    'time="2024-05-01T12:03:07Z" level=info msg="Created local backup" name="a b" runtime=1.2s',
  );
});
