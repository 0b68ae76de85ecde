/**
 * What a snapshot holds, counted: its live keys and how many belong to each Kubernetes
 * resource. Read two ways that must agree: straight from the snapshot's bbolt file as
 * it streams (no restore), and back through etcd's API from a member restored from it
 * (`snapshot-verify --restore`). Copies of one snapshot whose censuses differ are not
 * the same snapshot.
 */
export interface Census {
  /** The etcd revision the snapshot holds. */
  revision: number;
  /** Live keys: the latest revision of each key is not a deletion. */
  keys: number;
  /**
   * Live keys per resource (resourceOf), sorted by name; keys outside the Kubernetes
   * registry are counted under OTHER_KEYS.
   */
  resources: Record<string, number>;
}

/** Whether a value (an agent's report, a JSON document) has a census's shape. */
export function isCensus(value: unknown): value is Census {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  const counts = record.resources;
  return (
    Number.isSafeInteger(record.revision) &&
    Number.isSafeInteger(record.keys) &&
    typeof counts === 'object' &&
    counts !== null &&
    Object.values(counts).every((count) => Number.isSafeInteger(count))
  );
}

/** The census bucket of keys that are not under `/registry/<resource>/`. */
export const OTHER_KEYS = '(other)';

const REGISTRY = '/registry/';

/**
 * The resource a key belongs to, as the API server lays out its storage:
 * `/registry/pods/ns/name` → `pods`; a resource of an API group, `/registry/<group>/<resource>/…`
 * (the group has a dot: `/registry/apiextensions.k8s.io/customresourcedefinitions/x`,
 * `/registry/cert-manager.io/certificates/ns/x`) → `<group>/<resource>`; services keep
 * their two kinds apart (`/registry/services/specs/…`, `/registry/services/endpoints/…`).
 * Anything else (not under /registry/, or with no name after the resource) → OTHER_KEYS.
 */
export function resourceOf(key: string | Uint8Array): string {
  const text = typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  if (!text.startsWith(REGISTRY)) return OTHER_KEYS;
  const segments = text.slice(REGISTRY.length).split('/');
  const [first, second] = segments;
  if (!first) return OTHER_KEYS;
  const twoLevels = first.includes('.') || first === 'services';
  const depth = twoLevels ? 2 : 1;
  // A resource needs at least one segment (a name, or a namespace and a name) after it.
  if (segments.length <= depth || (twoLevels && !second)) return OTHER_KEYS;
  return twoLevels ? `${first}/${second}` : first;
}

/** Counts keys into a census's `resources` (kept sorted when read with `sortedResources`). */
export function countKey(resources: Record<string, number>, key: string | Uint8Array): void {
  const resource = resourceOf(key);
  resources[resource] = (resources[resource] ?? 0) + 1;
}

/** The same counts, with the resources in name order (for stable tables and JSON). */
export function sortedResources(resources: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(resources).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * How two censuses of what should be one snapshot differ, as the operator reads it
 * ("revision 1203 vs 1210; keys 5003 vs 5004; secrets 120 vs 121"), or undefined when equal.
 */
export function censusDifference(a: Census, b: Census): string | undefined {
  const parts: string[] = [];
  if (a.revision !== b.revision) parts.push(`revision ${a.revision} vs ${b.revision}`);
  if (a.keys !== b.keys) parts.push(`keys ${a.keys} vs ${b.keys}`);
  const names = [...new Set([...Object.keys(a.resources), ...Object.keys(b.resources)])].sort();
  for (const name of names) {
    const left = a.resources[name] ?? 0;
    const right = b.resources[name] ?? 0;
    if (left !== right) parts.push(`${name} ${left} vs ${right}`);
  }
  return parts.length === 0 ? undefined : parts.join('; ');
}
