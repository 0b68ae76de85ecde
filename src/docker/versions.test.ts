import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDockerVersion, DEFAULT_KUBERNETES_VERSION, SUPPORTED_DOCKER_VERSIONS, supportedDockerVersions } from './versions.js';

function messageOf(serverVersion: string, kubernetesVersion: string | undefined): string {
  const check = checkDockerVersion(serverVersion, kubernetesVersion);
  assert.equal(check.supported, false, `${serverVersion} with ${kubernetesVersion} should be unsupported`);
  return check.supported ? '' : check.message;
}

describe('checkDockerVersion', () => {
  it('accepts any patch release of a listed major.minor', () => {
    assert.deepEqual(checkDockerVersion('20.10.24', 'v1.20.15-rancher2-2'), { supported: true });
    assert.deepEqual(checkDockerVersion('20.10.0', 'v1.22.17-rancher1-2'), { supported: true });
    assert.deepEqual(checkDockerVersion('27.2.1', 'v1.30.4-rancher1-1'), { supported: true });
    assert.deepEqual(checkDockerVersion('1.13.1', 'v1.17.17-rancher2-4'), { supported: true });
  });

  it('accepts distribution builds and Docker CE suffixes', () => {
    assert.deepEqual(checkDockerVersion('20.10.24+dfsg1', 'v1.26.15-rancher1-1'), { supported: true });
    assert.deepEqual(checkDockerVersion('18.09.9-ce', 'v1.18.20-rancher1-3'), { supported: true });
    assert.deepEqual(checkDockerVersion('24.0.7-0ubuntu2~22.04.1', 'v1.24.17-rancher1-1'), { supported: true });
  });

  it('reads leading zeros as decimal, as Go does', () => {
    assert.deepEqual(checkDockerVersion('18.9.1', 'v1.16.15-rancher1-4'), { supported: true });
  });

  it('rejects versions newer than the table allows for that minor, in RKE words', () => {
    assert.equal(
      messageOf('24.0.9', 'v1.22.17-rancher1-2'),
      'Unsupported Docker version found [24.0.9], supported versions are [1.13.x 17.03.x 17.06.x 17.09.x 18.06.x 18.09.x 19.03.x 20.10.x]',
    );
    assert.match(messageOf('26.1.4', 'v1.26.15-rancher1-1'), /supported versions are \[.* 25\.0\.x\]$/);
    assert.match(messageOf('28.0.1', 'v1.31.1-rancher1-1'), /^Unsupported Docker version found \[28\.0\.1\]/);
  });

  it('rejects versions too old for the minor', () => {
    assert.match(messageOf('1.12.6', 'v1.14.10-rancher1-1'), /Unsupported Docker version found \[1\.12\.6\]/);
    assert.deepEqual(checkDockerVersion('1.12.6', 'v1.13.12-rancher1-1'), { supported: true });
  });

  it('uses RKE default Kubernetes version when kubernetes_version is absent or empty', () => {
    assert.equal(DEFAULT_KUBERNETES_VERSION, 'v1.31.1-rancher1-1');
    assert.deepEqual(checkDockerVersion('27.2.0', undefined), { supported: true });
    assert.deepEqual(checkDockerVersion('27.2.0', ''), { supported: true });
    assert.match(messageOf('27.3.1', undefined), /supported versions are \[1\.13\.x .* 27\.2\.x\]$/);
  });

  it('finds no supported version for a minor the table does not list, as RKE does', () => {
    assert.equal(
      messageOf('27.2.0', 'v1.32.0-rancher1-1'),
      'Unsupported Docker version found [27.2.0], supported versions are []; no Docker versions are listed for Kubernetes 1.32',
    );
  });

  it('reports a kubernetes_version that is not a version', () => {
    assert.match(messageOf('20.10.24', '1.28'), /^Error while parsing cluster version \[1\.28\]/);
  });

  it('reports a Docker version it cannot read', () => {
    assert.match(messageOf('20.10', 'v1.20.15-rancher2-2'), /^Error while determining supported Docker version \[20\.10\]/);
    assert.match(messageOf('', 'v1.20.15-rancher2-2'), /^Error while determining supported Docker version \[\]/);
    assert.match(messageOf('dev', 'v1.20.15-rancher2-2'), /\[dev\]/);
  });
});

describe('SUPPORTED_DOCKER_VERSIONS', () => {
  it('lists every minor from 1.8 to 1.31 with patterns of the form N.N.x', () => {
    const minors = Object.keys(SUPPORTED_DOCKER_VERSIONS);
    assert.equal(minors.length, 24);
    for (let minor = 8; minor <= 31; minor++) assert.ok(minors.includes(`1.${minor}`), `1.${minor}`);
    for (const patterns of Object.values(SUPPORTED_DOCKER_VERSIONS)) {
      for (const pattern of patterns) assert.match(pattern, /^\d+\.\d+\.x$/);
    }
  });

  it('matches the data for a few minors', () => {
    assert.deepEqual(SUPPORTED_DOCKER_VERSIONS['1.8'], ['1.11.x', '1.12.x', '1.13.x', '17.03.x']);
    assert.deepEqual(supportedDockerVersions('v1.24.17-rancher1-1').slice(-3), ['20.10.x', '23.0.x', '24.0.x']);
    assert.deepEqual(supportedDockerVersions('v1.99.0'), []);
  });
});
