#!/usr/bin/env bash
# Regenerates test/fixtures/etcd/testdata/*.db.gz: real etcd snapshots (bbolt databases with etcd's
# SHA-256 trailer) for the unit tests of src/etcd/bolt-revision.ts, each with the revision
# `etcdctl snapshot status -w json` reports, in expected.json, and the live keys
# `etcdctl get "" --prefix --keys-only` lists (the census's truth), in live-keys.json. Needs Debian's etcd-server and
# etcd-client; runs a throwaway single-member etcd on ADDR (default 127.0.41.250), ports 23790/23800.
set -euo pipefail
addr=${BOLT_FIXTURE_ADDR:-127.0.41.250}
out=$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/etcd/testdata
work=$(mktemp -d /tmp/bolt-fixtures.XXXXXX)
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
export ETCDCTL_API=3
ctl() { etcdctl --endpoints "http://$addr:23790" "$@"; }

start() {
  etcd --name fixture --data-dir "$work/data" --listen-client-urls "http://$addr:23790" --advertise-client-urls "http://$addr:23790" \
    --listen-peer-urls "http://$addr:23800" --initial-advertise-peer-urls "http://$addr:23800" \
    --initial-cluster "fixture=http://$addr:23800" >"$work/etcd.log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 100); do ctl endpoint health >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "etcd did not start: $(tail -5 "$work/etcd.log")" >&2; exit 1
}
save() { # NAME: snapshot the member into NAME.db.gz and record its revision
  ctl snapshot save "$work/$1.db" >/dev/null 2>&1
  local rev; rev=$(ctl snapshot status "$work/$1.db" -w json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
  gzip -9n <"$work/$1.db" >"$out/$1.db.gz"
  printf '  "%s": %s,\n' "$1" "$rev" >>"$work/expected"
  ctl get "" --prefix --keys-only | python3 -c 'import json,sys; print(" \"%s\": %s," % (sys.argv[1], json.dumps(sorted(l for l in sys.stdin.read().split("\n") if l))))' "$1" >>"$work/live-keys"
}
value() { head -c "$1" /dev/urandom | base64 -w0; }

start
save empty                      # a fresh member: no key yet, the key bucket is empty
ctl put a 1 >/dev/null; ctl put b 2 >/dev/null
save inline                     # two keys: the key bucket fits inline in the root bucket's leaf
ctl del b >/dev/null
save tombstone                  # the last key is a tombstone (18 bytes, 't')
for i in $(seq 1 1500); do ctl put "k$((i % 300))" "value-$i" >/dev/null; done
save multilevel                 # 1500 more revisions: branch pages over many leaves
head -c 60000 /dev/zero | tr '\0' x | ctl put big >/dev/null
save overflow                   # the last key's value spans several pages (a leaf with overflow)
# A Kubernetes-shaped history for the census: resources, other keys, deletes, a re-creation,
# updates, a compaction (freed pages keep stale revisions), then more changes after it.
for i in $(seq 1 240); do ctl put "/registry/pods/ns-$((i % 5))/pod-$i" "$(value 300)" >/dev/null; done
for i in $(seq 1 120); do ctl put "/registry/secrets/ns/s-$i" "$(value 900)" >/dev/null; done
for i in $(seq 1 30); do ctl put "/registry/configmaps/ns/cm-$i" "$(value 200)" >/dev/null; done
ctl put /registry/services/specs/default/kubernetes x >/dev/null
ctl put /registry/services/endpoints/default/kubernetes x >/dev/null
ctl put /registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com x >/dev/null
ctl put /registry/example.com/widgets/ns/w-1 x >/dev/null
ctl put /registry/health x >/dev/null
for i in $(seq 1 3 240); do ctl del "/registry/pods/ns-$((i % 5))/pod-$i" >/dev/null; done
for i in $(seq 1 40); do ctl put /registry/pods/ns-2/pod-2 "$(value 300)" >/dev/null; done
ctl del /registry/secrets/ns/s-5 >/dev/null; ctl put /registry/secrets/ns/s-5 again >/dev/null
for i in $(seq 1 10); do ctl del "/registry/configmaps/ns/cm-$i" >/dev/null; done
rev=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
ctl compaction "$rev" >/dev/null
for i in $(seq 1 20); do ctl put "/registry/pods/ns-3/pod-$((i * 5 + 3))" "$(value 300)" >/dev/null; done
ctl del /registry/secrets/ns/s-7 >/dev/null
ctl put /registry/configmaps/ns/cm-1 back >/dev/null
value 70000 | ctl put /registry/configmaps/ns/big >/dev/null
save census                     # a compacted history: deletes, re-creates, stale pages, overflow
{ echo '{'; cat "$work/expected"; echo '  "_": 0'; echo '}'; } >"$out/expected.json"
{ echo '{'; cat "$work/live-keys"; echo '  "_": []'; echo '}'; } >"$out/live-keys.json"
cat "$out/expected.json"
