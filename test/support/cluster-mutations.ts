/**
 * Seeded mutations of a cluster.yml, for the fuzz tests (src/config/cluster-fuzz.test.ts on
 * the parser, test/integration/hostile-input.test.ts on the CLI). The same seed gives the
 * same mutation on every machine.
 */
import YAML from 'yaml';

/** Mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 65536, 1.5, 1e308, '', ' ', 'x'.repeat(100_000), '../../etc', 'a\u0000b', 'line\nbreak',
  '\u202e', [], [null], {}, { nested: { deeper: [1, 2, 3] } }, ['etcd', 42], 'etcd', '127.0.2.1',
];

/** Every path (list of keys/indexes) to a value inside `value`. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...prefix, i])));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) out.push(...paths(item, [...prefix, key]));
  }
  return out;
}

function parentOf(root: any, path: Array<string | number>): [any, string | number] | undefined {
  if (path.length === 0) return undefined;
  let node = root;
  for (const key of path.slice(0, -1)) node = node?.[key];
  return node !== null && typeof node === 'object' ? [node, path[path.length - 1]!] : undefined;
}

export function mutateStructure(config: any, random: () => number): void {
  const all = paths(config);
  const target = parentOf(config, all[Math.floor(random() * all.length)]!);
  if (!target) return;
  const [parent, key] = target;
  const choice = random();
  if (choice < 0.3) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else if (choice < 0.8) {
    parent[key] = structuredClone(ODD_VALUES[Math.floor(random() * ODD_VALUES.length)]);
  } else if (Array.isArray(parent)) {
    parent.push(structuredClone(parent[Number(key)])); // a duplicate (e.g. a node twice)
  } else {
    parent[`unknown_${Math.floor(random() * 1000)}`] = structuredClone(parent[key]);
  }
}

export function mutateText(text: string, random: () => number): string {
  const lines = text.split('\n');
  const at = Math.floor(random() * lines.length);
  const choice = random();
  if (choice < 0.25) lines.splice(at, 1);
  else if (choice < 0.5) lines.splice(at, 0, lines[at] ?? '');
  else if (choice < 0.7) lines[at] = ' ' + (lines[at] ?? '');
  else if (choice < 0.85) return text.slice(0, Math.floor(random() * text.length));
  else lines[at] = (lines[at] ?? '') + ['\t', ': :', ' [', ' {', ' &a', ' *a', ' !!binary x', ' %'][Math.floor(random() * 8)];
  return lines.join('\n');
}

/** The `seed`-th mutation of `base`: structural for even seeds, textual for odd ones. */
export function mutatedClusterYml(base: object, seed: number): string {
  const random = prng(seed);
  const rounds = 1 + Math.floor(random() * 3);
  if (seed % 2 === 0) {
    const config = structuredClone(base);
    for (let i = 0; i < rounds; i++) mutateStructure(config, random);
    return YAML.stringify(config);
  }
  let text = YAML.stringify(base);
  for (let i = 0; i < rounds; i++) text = mutateText(text, random);
  return text;
}
