import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentArgs } from './args.js';
import { agentRemoveArgs } from './protocol/files.js';
import { agentS3Args } from './protocol/s3.js';
import { agentSaveArgs, type AgentSaveRequest } from './protocol/save.js';
import { agentUploadArgs } from './protocol/upload.js';
import type { UploadRequest } from '../s3/upload/upload.js';

const request: AgentSaveRequest = {
  name: 'rke_etcd_snapshot_2024-05-01T14:03:07+02:00',
  endpoint: 'https://10.0.0.1:2379',
  cacert: '/etc/kubernetes/ssl/kube-ca.pem',
  cert: '/etc/kubernetes/ssl/kube-node.pem',
  key: '/etc/kubernetes/ssl/kube-node-key.pem',
  overwrite: false,
  healthTimeoutSeconds: 30,
};

test('parses exactly what the CLI sends (round trip through agentSaveArgs)', () => {
  assert.deepEqual(parseAgentArgs(agentSaveArgs(request)), { command: 'save', request });
  const overwriting = { ...request, overwrite: true, healthTimeoutSeconds: 2.5 };
  assert.deepEqual(parseAgentArgs(agentSaveArgs(overwriting)), { command: 'save', request: overwriting });
});

test('accepts --flag=value and defaults the health timeout', () => {
  const parsed = parseAgentArgs([
    'save', '--name=n', '--endpoint=https://e:2379', '--cacert=a', '--cert=b', '--key=c',
  ]);
  assert.deepEqual(parsed, {
    command: 'save',
    request: { name: 'n', endpoint: 'https://e:2379', cacert: 'a', cert: 'b', key: 'c', overwrite: false, healthTimeoutSeconds: 30 },
  });
});

test('version', () => {
  assert.deepEqual(parseAgentArgs(['version']), { command: 'version' });
});

test('refuses unknown commands and arguments, missing or repeated options, bad timeouts', () => {
  const base = agentSaveArgs(request);
  assert.throws(() => parseAgentArgs([]), /unknown agent command ""/);
  assert.throws(() => parseAgentArgs(['restore']), /unknown agent command "restore"/);
  assert.throws(() => parseAgentArgs([...base, '--s3']), /unknown argument "--s3"/);
  assert.throws(() => parseAgentArgs([...base, 'extra']), /unknown argument "extra"/);
  assert.throws(() => parseAgentArgs(['save', '--name', 'n']), /--endpoint is required/);
  assert.throws(() => parseAgentArgs([...base, '--name', 'other']), /--name is given twice/);
  assert.throws(() => parseAgentArgs([...base.slice(0, -2), '--health-timeout', '0']), /positive number/);
  assert.throws(() => parseAgentArgs([...base.slice(0, -2), '--health-timeout', '5s']), /positive number/);
  assert.throws(() => parseAgentArgs(['save', '--cacert']), /--cacert needs a value/);
});

test('refuses names that are unsafe as a file name', () => {
  for (const name of ['../etc/passwd', 'a/b', '..', 'bad\nname']) {
    assert.throws(() => parseAgentArgs(agentSaveArgs({ ...request, name })), /a snapshot name/);
  }
});

const upload: UploadRequest = {
  name: 'rke_etcd_snapshot_2024-05-01T14:03:07+02:00',
  endpoint: '127.0.3.1:7480',
  bucket: 'snapshots',
  folder: 'clusters/prod',
  overwrite: false,
};

test('upload: parses exactly what the CLI sends (round trip through agentUploadArgs)', () => {
  assert.deepEqual(parseAgentArgs(agentUploadArgs(upload)), { command: 'upload', request: upload });
  const full = { ...upload, region: 'eu-west-1', overwrite: true, folder: '' };
  assert.deepEqual(parseAgentArgs(agentUploadArgs(full)), { command: 'upload', request: full });
  const aws = { ...upload, endpoint: 's3.amazonaws.com' };
  assert.deepEqual(parseAgentArgs(agentUploadArgs(aws)), { command: 'upload', request: aws });
  const saved = { ...upload, sha256: 'ab'.repeat(32) };
  assert.deepEqual(parseAgentArgs(agentUploadArgs(saved)), { command: 'upload', request: saved });
  assert.throws(() => parseAgentArgs([...agentUploadArgs(upload), '--sha256', 'AB'.repeat(32)]), /--sha256 must be 64 lower-case hex digits/);
});

test('upload: an empty --folder means none; --folder itself is required', () => {
  const parsed = parseAgentArgs(['upload', '--name=n', '--endpoint=h:1', '--bucket=b', '--folder=']);
  assert.deepEqual(parsed, { command: 'upload', request: { name: 'n', endpoint: 'h:1', bucket: 'b', folder: '', overwrite: false } });
  assert.throws(() => parseAgentArgs(['upload', '--name=n', '--endpoint=h:1', '--bucket=b']), /--folder is required \(empty for none\)/);
});

test('upload: refuses what the CLI would have normalized or refused', () => {
  const base = agentUploadArgs(upload);
  const withValue = (option: string, value: string) => {
    const args = [...base];
    args[args.indexOf(option) + 1] = value;
    return args;
  };
  assert.throws(() => parseAgentArgs(withValue('--endpoint', 'https://h:1')), /--endpoint "https:\/\/h:1" must be host\[:port\], without a scheme/);
  assert.throws(() => parseAgentArgs(withValue('--endpoint', 'h:1/path')), /has a path/);
  assert.throws(() => parseAgentArgs(withValue('--folder', '/a//b/')), /--folder "\/a\/\/b\/" must have no leading, trailing or double slashes/);
  assert.throws(() => parseAgentArgs(withValue('--folder', 'a/../b')), /folder parts must not be/);
  assert.throws(() => parseAgentArgs(withValue('--bucket', '')), /agent upload: --bucket is required/);
  assert.throws(() => parseAgentArgs(withValue('--name', '../x')), /a snapshot name/);
  assert.throws(() => parseAgentArgs([...base, '--region', '']), /--region must not be empty/);
  assert.throws(() => parseAgentArgs([...base, '--cacert', 'x']), /agent upload: unknown argument "--cacert"/);
  assert.throws(() => parseAgentArgs([...base, '--access-key', 'AKIA']), /agent upload: unknown argument "--access-key"/);
});

test('--pki-bundle: save and upload carry it; absent means no bundle', () => {
  const bundling = { ...request, pkiBundle: true };
  assert.deepEqual(agentSaveArgs(bundling).slice(-1), ['--pki-bundle']);
  assert.deepEqual(parseAgentArgs(agentSaveArgs(bundling)), { command: 'save', request: bundling });
  assert.ok(!agentSaveArgs({ ...request, pkiBundle: false }).includes('--pki-bundle'));
  const uploading = { ...upload, pkiBundle: true };
  assert.deepEqual(parseAgentArgs(agentUploadArgs(uploading)), { command: 'upload', request: uploading });
  assert.throws(() => parseAgentArgs([...agentSaveArgs(request), '--pki-bundle=yes']), /unknown argument "--pki-bundle=yes"/);
});

test('--compression: save carries the mode; absent means the default; an unknown mode is refused', () => {
  for (const compression of ['auto', 'fast', 'standard', 'none'] as const) {
    const compressing = { ...request, compression };
    assert.deepEqual(agentSaveArgs(compressing).slice(-2), ['--compression', compression]);
    assert.deepEqual(parseAgentArgs(agentSaveArgs(compressing)), { command: 'save', request: compressing });
  }
  assert.ok(!agentSaveArgs(request).includes('--compression'));
  assert.throws(() => parseAgentArgs([...agentSaveArgs(request), '--compression', 'max']), /--compression must be one of auto, fast, standard, none/);
});

test('s3-list/-remove/-verify: round trip through agentS3Args; names checked; the number of names each takes', () => {
  const target = { endpoint: 's3.example:7480', bucket: 'b', folder: 'prod/etcd', region: 'eu-west-1' };
  assert.deepEqual(parseAgentArgs(agentS3Args('s3-list', target)), { command: 's3-list', target, names: [] });
  assert.deepEqual(parseAgentArgs(agentS3Args('s3-remove', target, ['a', 'b'])), { command: 's3-remove', target, names: ['a', 'b'] });
  const noRegion = { endpoint: 's3.amazonaws.com', bucket: 'b', folder: '' };
  assert.deepEqual(parseAgentArgs(agentS3Args('s3-verify', noRegion, ['a'])), { command: 's3-verify', target: noRegion, names: ['a'] });
  assert.throws(() => parseAgentArgs(agentS3Args('s3-verify', noRegion, ['a', 'b'])), /s3-verify needs exactly one --name/);
  assert.throws(() => parseAgentArgs(agentS3Args('s3-remove', noRegion)), /s3-remove needs at least one --name/);
  assert.throws(() => parseAgentArgs(agentS3Args('s3-list', noRegion, ['a'])), /s3-list takes no --name/);
  assert.throws(() => parseAgentArgs(agentS3Args('s3-remove', noRegion, ['../x'])), /must not contain "\/"/);
  assert.throws(() => parseAgentArgs(agentS3Args('s3-list', { ...noRegion, folder: '/x/' })), /--folder "\/x\/" must have no leading/);
  assert.throws(() => parseAgentArgs(agentS3Args('s3-list', { ...noRegion, endpoint: 'https://x' })), /without a scheme/);
  assert.throws(() => parseAgentArgs(['s3-list', '--endpoint', 'x', '--bucket', 'b']), /--folder is required/);
  assert.throws(() => parseAgentArgs(['s3-list', '--endpoint', 'x', '--bucket', 'b', '--folder', '', '--secret', 's']), /unknown argument "--secret"/);
});

test('agent remove arguments round-trip and refuse bad names', () => {
  assert.deepEqual(parseAgentArgs(agentRemoveArgs({ names: ['a', 'b c'] })), { command: 'remove', request: { names: ['a', 'b c'] } });
  assert.deepEqual(parseAgentArgs(['list']), { command: 'list' });
  assert.throws(() => parseAgentArgs(['remove']), /--name is required/);
  assert.throws(() => parseAgentArgs(['remove', '--name', '../etc/passwd']), /must not contain "\/"/);
  assert.throws(() => parseAgentArgs(['remove', '--force']), /unknown argument/);
  assert.throws(() => parseAgentArgs(['list', '--x']), /unknown agent command/);
});

test('agent verify takes exactly one plain name', () => {
  assert.deepEqual(parseAgentArgs(['verify', '--name', 'a']), { command: 'verify', name: 'a' });
  assert.throws(() => parseAgentArgs(['verify']), /agent verify: --name is required/);
  assert.throws(() => parseAgentArgs(['verify', '--name', 'a', '--name', 'b']), /exactly one/);
  assert.throws(() => parseAgentArgs(['verify', '--name', 'a.zip']), /without "\.zip"/);
});

test('agent sweep takes exactly one plain name', () => {
  assert.deepEqual(parseAgentArgs(['sweep', '--name', 'a']), { command: 'sweep', name: 'a' });
  assert.throws(() => parseAgentArgs(['sweep']), /agent sweep: --name is required/);
  assert.throws(() => parseAgentArgs(['sweep', '--name', '../a']), /must not contain "\/"/);
});
