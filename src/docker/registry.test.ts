import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import type { PrivateRegistry } from '../config/cluster.js';
import { OperatorError } from '../errors.js';
import {
  RegistryCredentials,
  classifyPullFailure,
  describePullFailure,
  parseImageReference,
  resolveRegistryImage,
  scrub,
} from './registry.js';

const registry = (url: string, extra: Partial<PrivateRegistry> = {}): PrivateRegistry => ({ url, isDefault: false, ecrCredentialPlugin: false, ...extra });

describe('parseImageReference', () => {
  it('reads the registry host as Docker does', () => {
    assert.deepEqual(parseImageReference('rancher/rke-tools:v0.1.96'), { domain: 'docker.io', explicitDomain: false, path: 'rancher/rke-tools' });
    assert.deepEqual(parseImageReference('agent'), { domain: 'docker.io', explicitDomain: false, path: 'agent' });
    assert.deepEqual(parseImageReference('reg.example.com/team/agent:1'), { domain: 'reg.example.com', explicitDomain: true, path: 'team/agent' });
    assert.deepEqual(parseImageReference('127.0.8.1:5000/rke/agent:x'), { domain: '127.0.8.1:5000', explicitDomain: true, path: 'rke/agent' });
    assert.deepEqual(parseImageReference('localhost/agent'), { domain: 'localhost', explicitDomain: true, path: 'agent' });
    assert.deepEqual(parseImageReference('registry:5000/agent'), { domain: 'registry:5000', explicitDomain: true, path: 'agent' });
    assert.equal(parseImageReference(`reg.example.com/agent@sha256:${'a'.repeat(64)}`).path, 'agent');
  });

  it('refuses what Docker refuses', () => {
    for (const bad of ['', 'Agent:1', 'a b', 'reg.example.com//agent', 'agent:', 'agent@sha256:xyz', 'reg.example.com/Agent', 'a/-b']) {
      assert.throws(() => parseImageReference(bad), Error, bad);
    }
  });
});

describe('resolveRegistryImage', () => {
  it('matches the registry by host, with the login of that entry', () => {
    const image = resolveRegistryImage('reg.example.com:5000/rke/agent:1', [
      registry('other.example.com', { user: 'o', password: 'op' }),
      registry('reg.example.com:5000', { user: 'puller', password: 's3cret' }),
    ]);
    assert.equal(image.reference, 'reg.example.com:5000/rke/agent:1');
    assert.equal(image.registryHost, 'reg.example.com:5000');
    assert.equal(image.registry?.field, 'private_registries[1]');
    assert.deepEqual(image.registry?.credentials?.authconfig(), { username: 'puller', password: 's3cret', serveraddress: 'reg.example.com:5000' });
    assert.equal(image.prefixedWith, undefined);
  });

  it('puts an image without a registry host under the is_default registry, as RKE does for system images', () => {
    const image = resolveRegistryImage('rke/agent:1', [registry('a.example.com'), registry('mirror.example.com', { isDefault: true, user: 'u', password: 'p' })]);
    assert.equal(image.reference, 'mirror.example.com/rke/agent:1');
    assert.equal(image.prefixedWith, 'mirror.example.com');
    assert.equal(image.registryHost, 'mirror.example.com');
    assert.equal(image.registry?.field, 'private_registries[1]');
  });

  it('takes the first is_default registry, as RKE does', () => {
    const image = resolveRegistryImage('agent', [registry('one.example.com', { isDefault: true }), registry('two.example.com', { isDefault: true })]);
    assert.equal(image.reference, 'one.example.com/agent');
  });

  it('keeps an image with a registry host as it is, even with a default registry', () => {
    const image = resolveRegistryImage('other.example.com/agent:1', [registry('mirror.example.com', { isDefault: true })]);
    assert.equal(image.reference, 'other.example.com/agent:1');
    assert.equal(image.registry, undefined);
  });

  it('leaves Docker Hub images alone without a default registry, and matches a docker.io entry', () => {
    const image = resolveRegistryImage('rancher/rke-tools:v0.1.96', [registry('docker.io', { user: 'hub', password: 'pw' })]);
    assert.equal(image.reference, 'rancher/rke-tools:v0.1.96');
    assert.equal(image.registryHost, 'docker.io');
    assert.equal(image.registry?.field, 'private_registries[0]');
    assert.equal(resolveRegistryImage('index.docker.io/rancher/rke-tools', [registry('docker.io')]).registry?.field, 'private_registries[0]');
  });

  it('matches a url with a path as a repository prefix; the longest url wins', () => {
    const registries = [registry('reg.example.com', { user: 'all', password: 'a' }), registry('reg.example.com/team', { user: 'team', password: 't' })];
    assert.equal(resolveRegistryImage('reg.example.com/team/agent:1', registries).registry?.field, 'private_registries[1]');
    assert.equal(resolveRegistryImage('reg.example.com/other/agent:1', registries).registry?.field, 'private_registries[0]');
    assert.equal(resolveRegistryImage('reg.example.com/teamx/agent:1', registries).registry?.field, 'private_registries[0]');
  });

  it('of two entries with the same url takes the later one, as RKE keeps the last', () => {
    const image = resolveRegistryImage('reg.example.com/agent', [registry('reg.example.com', { user: 'old' }), registry('reg.example.com', { user: 'new' })]);
    assert.equal(image.registry?.field, 'private_registries[1]');
  });

  it('prefixes with a default url that has a path', () => {
    const image = resolveRegistryImage('agent:1', [registry('reg.example.com/mirror', { isDefault: true, user: 'u', password: 'p' })]);
    assert.equal(image.reference, 'reg.example.com/mirror/agent:1');
    assert.equal(image.registryHost, 'reg.example.com');
    assert.equal(image.registry?.field, 'private_registries[0]');
  });

  it('drops a scheme from a url, with a warning', () => {
    const image = resolveRegistryImage('agent:1', [registry('https://reg.example.com/', { isDefault: true })]);
    assert.equal(image.reference, 'reg.example.com/agent:1');
    assert.match(image.warnings[0] ?? '', /^private_registries\[0\]\.url: "https:\/\/reg\.example\.com\/" is used as "reg\.example\.com"/);
  });

  it('pulls anonymously with an entry that has no user or password', () => {
    const image = resolveRegistryImage('reg.example.com/agent', [registry('reg.example.com')]);
    assert.equal(image.registry?.field, 'private_registries[0]');
    assert.equal(image.registry?.credentials, undefined);
  });

  it('refuses an entry that only has an ECR credential plugin (not supported), naming the field', () => {
    assert.throws(
      () => resolveRegistryImage('123.dkr.ecr.eu-west-1.amazonaws.com/agent:1', [registry('123.dkr.ecr.eu-west-1.amazonaws.com', { ecrCredentialPlugin: true })]),
      (error: unknown) => error instanceof OperatorError && /^private_registries\[0\]\.ecr_credential_plugin: ECR logins are not supported by this version/.test(error.message),
    );
  });

  it('names the flag for a bad reference', () => {
    assert.throws(
      () => resolveRegistryImage('Bad/Image', []),
      (error: unknown) => error instanceof OperatorError && /^--backup-image: "Bad\/Image" is not a valid image reference: /.test(error.message),
    );
  });
});

describe('RegistryCredentials', () => {
  it('never shows the password when logged, stringified or inspected', () => {
    const credentials = new RegistryCredentials('puller', 'p4ssw0rd-xyz', 'reg.example.com');
    const image = resolveRegistryImage('reg.example.com/a', [registry('reg.example.com', { user: 'puller', password: 'p4ssw0rd-xyz' })]);
    for (const shown of [JSON.stringify(credentials), String(credentials), inspect(credentials), inspect(image, { depth: 10 }), JSON.stringify(image), `${credentials}`]) {
      assert.ok(!shown.includes('p4ssw0rd-xyz'), shown);
    }
  });
});

describe('pull failures', () => {
  const credentials = new RegistryCredentials('puller', 'hunter2hunter2', '127.0.8.1:5000');
  const withLogin = { host: '10.0.0.1', image: '127.0.8.1:5000/rke/agent:1', registryHost: '127.0.8.1:5000', registry: { field: 'private_registries[0]', url: '127.0.8.1:5000', credentials } };

  it('classifies the engine messages of Docker 20.10 and distribution 2.8', () => {
    assert.equal(classifyPullFailure('unauthorized: authentication required'), 'unauthorized');
    assert.equal(classifyPullFailure('Get "https://r/v2/": no basic auth credentials'), 'unauthorized');
    assert.equal(classifyPullFailure('manifest for r/a:x not found: manifest unknown: manifest unknown', 404), 'not-found');
    assert.equal(classifyPullFailure("pull access denied for a, repository does not exist or may require 'docker login'"), 'not-found');
    assert.equal(classifyPullFailure('denied: requested access to the resource is denied'), 'denied');
    assert.equal(classifyPullFailure('Get "http://127.0.5.251:5000/v2/": dial tcp 127.0.5.251:5000: connect: connection refused'), 'unreachable');
    assert.equal(classifyPullFailure('Get "https://r/v2/": dial tcp: lookup r: no such host'), 'unreachable');
    assert.equal(classifyPullFailure('Get "http://r/v2/": net/http: request canceled (Client.Timeout exceeded while awaiting headers)'), 'unreachable');
    assert.equal(classifyPullFailure('Get "https://r/v2/": x509: certificate signed by unknown authority'), 'untrusted-certificate');
    assert.equal(classifyPullFailure('something else'), 'other');
  });

  it('a wrong password names the node, the image, the registry and the fields to check', () => {
    assert.equal(
      describePullFailure('unauthorized: authentication required', withLogin),
      'pulling image 127.0.8.1:5000/rke/agent:1 on host 10.0.0.1 failed: registry 127.0.8.1:5000 did not accept the credentials of private_registries[0] ' +
        '(unauthorized: authentication required); check private_registries[0].user/password in cluster.yml',
    );
  });

  it('without a login it says to add one', () => {
    const { registry: _ignored, ...anonymous } = withLogin;
    assert.match(describePullFailure('no basic auth credentials', anonymous), /requires a login .*; add it to private_registries in cluster\.yml \(url: 127\.0\.8\.1:5000, user, password\)$/);
  });

  it('unreachable, not found and untrusted say so', () => {
    assert.match(describePullFailure('dial tcp 127.0.8.1:5000: connect: connection refused', withLogin), /registry 127\.0\.8\.1:5000 cannot be reached from the node/);
    assert.match(describePullFailure('manifest unknown', withLogin, 404), /the image is not in registry 127\.0\.8\.1:5000 .*check the name and tag given to --backup-image$/);
    assert.match(describePullFailure('x509: certificate signed by unknown authority', withLogin), /\/etc\/docker\/certs\.d\/127\.0\.8\.1:5000\/ca\.crt on the node$/);
  });

  it('scrubs the password and its base64 from whatever the engine said', () => {
    const b64 = Buffer.from('hunter2hunter2').toString('base64');
    assert.equal(scrub(`bad hunter2hunter2 and ${b64}`, credentials), 'bad <hidden> and <hidden>');
    assert.ok(!describePullFailure('odd: hunter2hunter2', withLogin).includes('hunter2hunter2'));
  });
});
