/**
 * RKE's Docker version check (rancher/rke hosts/tunnel.go checkDockerVersion and
 * docker/docker.go IsSupportedDockerVersion), with the table RKE reads from
 * kontainer-driver-metadata (pkg/rke/k8s_docker_info.go). See docs/compatibility.md.
 */

const UP_TO_20_10 = ['1.13.x', '17.03.x', '17.06.x', '17.09.x', '18.06.x', '18.09.x', '19.03.x', '20.10.x'];
const UP_TO_24_0 = [...UP_TO_20_10, '23.0.x', '24.0.x'];
const UP_TO_25_0 = [...UP_TO_24_0, '25.0.x'];
const UP_TO_27_2 = [...UP_TO_25_0, '26.0.x', '26.1.x', '27.0.x', '27.1.x', '27.2.x'];
const LEGACY_1_9 = ['1.11.x', '1.12.x', '1.13.x', '17.03.x', '18.06.x', '18.09.x', '19.03.x', '20.10.x'];
const LEGACY_1_12 = ['1.11.x', '1.12.x', '1.13.x', '17.03.x', '17.06.x', '17.09.x', '18.06.x', '18.09.x', '19.03.x', '20.10.x'];

/** Kubernetes "major.minor" → Docker versions RKE supports with it ("20.10.x" = any 20.10 release). */
export const SUPPORTED_DOCKER_VERSIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  '1.8': ['1.11.x', '1.12.x', '1.13.x', '17.03.x'],
  '1.9': LEGACY_1_9,
  '1.10': LEGACY_1_9,
  '1.11': LEGACY_1_9,
  '1.12': LEGACY_1_12,
  '1.13': LEGACY_1_12,
  '1.14': UP_TO_20_10,
  '1.15': UP_TO_20_10,
  '1.16': UP_TO_20_10,
  '1.17': UP_TO_20_10,
  '1.18': UP_TO_20_10,
  '1.19': UP_TO_20_10,
  '1.20': UP_TO_20_10,
  '1.21': UP_TO_20_10,
  '1.22': UP_TO_20_10,
  '1.23': UP_TO_24_0,
  '1.24': UP_TO_24_0,
  '1.25': UP_TO_25_0,
  '1.26': UP_TO_25_0,
  '1.27': UP_TO_27_2,
  '1.28': UP_TO_27_2,
  '1.29': UP_TO_27_2,
  '1.30': UP_TO_27_2,
  '1.31': UP_TO_27_2,
});

/**
 * What RKE checks against when cluster.yml has no kubernetes_version: it fills in its
 * built-in default first (KDM RKEDefaultK8sVersions["default"] of the newest data).
 */
export const DEFAULT_KUBERNETES_VERSION = 'v1.31.1-rancher1-1';

export type DockerVersionCheck = { supported: true } | { supported: false; message: string };

interface Version {
  major: number;
  minor: number;
}

/**
 * Is this Docker Engine (`docker info` ServerVersion) supported for the cluster's
 * kubernetes_version? Only major.minor are compared, as RKE does. The message is RKE's,
 * without its "on host [...]" part: the caller names the node.
 */
export function checkDockerVersion(serverVersion: string, kubernetesVersion: string | undefined): DockerVersionCheck {
  const clusterVersion = effectiveKubernetesVersion(kubernetesVersion);
  const minorKey = kubernetesMinor(clusterVersion);
  if (minorKey === undefined) {
    return unsupported(`Error while parsing cluster version [${clusterVersion}]: expected a version like v1.28.15-rancher1-1`);
  }
  const docker = parseVersion(serverVersion);
  if (docker === undefined) {
    return unsupported(`Error while determining supported Docker version [${serverVersion}]: expected MAJOR.MINOR.PATCH`);
  }
  const supported = SUPPORTED_DOCKER_VERSIONS[minorKey] ?? [];
  if (supported.some((pattern) => sameMinor(parseVersion(pattern), docker))) return { supported: true };
  const unlisted = supported.length === 0 ? `; no Docker versions are listed for Kubernetes ${minorKey}` : '';
  return unsupported(`Unsupported Docker version found [${serverVersion}], supported versions are ${goList(supported)}${unlisted}`);
}

/** The supported patterns for a kubernetes_version (RKE's default when absent); [] when its minor is not listed. */
export function supportedDockerVersions(kubernetesVersion: string | undefined): readonly string[] {
  const minorKey = kubernetesMinor(effectiveKubernetesVersion(kubernetesVersion));
  return minorKey === undefined ? [] : (SUPPORTED_DOCKER_VERSIONS[minorKey] ?? []);
}

function effectiveKubernetesVersion(kubernetesVersion: string | undefined): string {
  return kubernetesVersion?.trim() || DEFAULT_KUBERNETES_VERSION;
}

/** "v1.28.15-rancher1-1" → "1.28"; undefined when it is not a version. */
function kubernetesMinor(kubernetesVersion: string): string | undefined {
  const version = parseVersion(kubernetesVersion.replace(/^v/, ''));
  return version === undefined ? undefined : `${version.major}.${version.minor}`;
}

/**
 * MAJOR.MINOR.PATCH with an optional suffix after "-", "+" or "~" (Debian's "20.10.24+dfsg1").
 * The patch may be "x", as in the table's patterns. Leading zeros are decimal ("18.09" is 18.9),
 * as Go's strconv.ParseInt reads them.
 */
function parseVersion(text: string): Version | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+|x)(?:[-+~].*)?$/.exec(text.trim());
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

function sameMinor(pattern: Version | undefined, docker: Version): boolean {
  return pattern !== undefined && pattern.major === docker.major && pattern.minor === docker.minor;
}

/** Go's %v of a []string: "[a b c]". */
function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

function unsupported(message: string): DockerVersionCheck {
  return { supported: false, message };
}
