import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeEndpoint, normalizeFolder, resolveS3Settings } from './settings.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const noWarn = () => undefined;
const files: Record<string, string> = { '/ca.pem': CA, '/not-pem': 'hello', '/secret': 'from-file\n', '/empty': '\n' };
const readText = async (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
  return text;
};
const resolve = (flags: object, fromFile?: object, warn = noWarn) =>
  resolveS3Settings({ flags, fromFile, clusterFile: 'cluster.yml', warn, readText });

test('--bucket-name is required with --s3', async () => {
  await assert.rejects(resolve({}), /--s3 needs a bucket: pass --bucket-name/);
});

test('flags override cluster.yml field by field', async () => {
  const settings = await resolve(
    { bucketName: 'flag-bucket', accessKey: 'AK', secretKeyFile: '/secret' },
    { bucketName: 'file-bucket', region: 'eu-west-1', folder: '/backups//rke/', endpoint: 'minio:9000', secretKey: 'file-secret' },
  );
  assert.deepEqual(settings, {
    endpoint: 'minio:9000',
    bucketName: 'flag-bucket',
    region: 'eu-west-1',
    folder: 'backups/rke',
    credentials: { accessKeyId: 'AK', secretAccessKey: 'from-file' },
  });
});

test('no keys at all means the IAM role', async () => {
  const settings = await resolve({ bucketName: 'b' });
  assert.equal(settings.credentials, undefined);
  assert.equal(settings.endpoint, 's3.amazonaws.com');
});

test('half a key pair is refused', async () => {
  await assert.rejects(resolve({ bucketName: 'b', accessKey: 'AK' }), /--access-key is given without a secret key/);
  await assert.rejects(resolve({ bucketName: 'b', secretKey: 'S' }), /a secret key is given without --access-key/);
  await assert.rejects(resolve({ bucketName: 'b', secretKey: 'S', secretKeyFile: '/secret' }), /give only one/);
  await assert.rejects(resolve({ bucketName: 'b', accessKey: 'A', secretKeyFile: '/empty' }), /\/empty is empty/);
});

test('the CA must be a readable PEM certificate (RKE only warns)', async () => {
  assert.equal((await resolve({ bucketName: 'b', s3EndpointCa: '/ca.pem' })).customCa, CA);
  await assert.rejects(resolve({ bucketName: 'b', s3EndpointCa: '/missing.pem' }), /--s3-endpoint-ca: cannot read \/missing\.pem/);
  await assert.rejects(resolve({ bucketName: 'b', s3EndpointCa: '/not-pem' }), /--s3-endpoint-ca \/not-pem: is not a PEM certificate/);
  await assert.rejects(
    resolve({ bucketName: 'b' }, { customCa: 'garbage' }),
    /cluster\.yml: services\.etcd\.backup_config\.s3backupconfig\.custom_ca: is not a PEM/,
  );
});

test('endpoints are host[:port]: a scheme is stripped with a warning, a path refused', () => {
  const warnings: string[] = [];
  assert.equal(normalizeEndpoint('https://minio.local:9000/', '--s3-endpoint', (w) => warnings.push(w)), 'minio.local:9000');
  assert.match(warnings[0]!, /--s3-endpoint: ignoring "https:\/\/"/);
  assert.equal(normalizeEndpoint('[::1]:9000', '--s3-endpoint', noWarn), '[::1]:9000');
  assert.throws(() => normalizeEndpoint('minio.local/bucket', '--s3-endpoint', noWarn), /has a path/);
  assert.throws(() => normalizeEndpoint('minio.local:99999', '--s3-endpoint', noWarn), /is not host\[:port\]/);
  assert.throws(() => normalizeEndpoint('  ', '--s3-endpoint', noWarn), /is empty/);
});

test('folders never produce empty or parent segments', () => {
  assert.equal(normalizeFolder(''), '');
  assert.equal(normalizeFolder('/a//b/'), 'a/b');
  assert.throws(() => normalizeFolder('a/../b'), /must not be/);
  assert.throws(() => normalizeFolder('a\nb'), /control characters/);
});
