import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * For tests only: real etcd snapshots (bbolt database + etcd's 32-byte SHA-256 trailer) in
 * src/etcd/testdata, made by scripts/make-bolt-fixtures.sh, and the revision
 * `etcdctl snapshot status` printed for each.
 */
const TESTDATA = fileURLToPath(new URL('../../../src/etcd/testdata/', import.meta.url));

export const BOLT_FIXTURE_REVISIONS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(`${TESTDATA}expected.json`, 'utf8')) as Record<string, number>).filter(([name]) => name !== '_'),
);

/** The snapshot as etcd streams it (with its trailer). */
export function loadBoltFixture(name: string): Buffer {
  return gunzipSync(readFileSync(`${TESTDATA}${name}.db.gz`));
}
