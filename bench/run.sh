#!/usr/bin/env bash
# npm run bench: installs and builds what it needs, brings up the bench's own lab (etcd with
# a 9 GiB quota: room for the `big` part's 8 GiB) and, for the classic part, S3 server on
# addresses of their own (the test suite's labs can stay up), runs bench/bench.ts, and always
# tears both down.
#
# BENCH_PARTS (classic,datasets by default; big), BENCH_NODES (3), BENCH_ROOT, and the
# other BENCH_* variables of bench/bench.ts. BENCH_LAB_SUBNET / BENCH_S3_SUBNET move the
# lab off 127.0.61 / 127.0.63 (two benches on one machine).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

readonly BENCH_ROOT=${BENCH_ROOT:-/tmp/rke-bench}
export LAB_DIR=$BENCH_ROOT/lab S3_LAB_DIR=$BENCH_ROOT/s3
readonly LAB_SUBNET=${BENCH_LAB_SUBNET:-127.0.61} S3_SUBNET=${BENCH_S3_SUBNET:-127.0.63}
readonly NODES=${BENCH_NODES:-3}
readonly QUOTA_BYTES=$((9 * 1024 * 1024 * 1024))
parts=${BENCH_PARTS:-classic,datasets}
lab_log=$BENCH_ROOT/lab.log
mkdir -p "$BENCH_ROOT"

# RKE's reference (bench/rke-zip): a few lines of Go, standard library only, built with
# Debian's Go. It is a bench tool; nothing of it ships in the product.
if [[ ,$parts, == *,datasets,* ]]; then
  if ! command -v go >/dev/null; then
    echo "bench: installing Debian's golang-go for the RKE reference (bench/rke-zip)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go >>"$lab_log" 2>&1
  fi
  (cd bench/rke-zip && GOFLAGS=-mod=mod GOCACHE=$BENCH_ROOT/go-cache go build -o "$BENCH_ROOT/rke-zip" .)
  export BENCH_RKE_ZIP=$BENCH_ROOT/rke-zip
fi

teardown() {
  bash lab/s3.sh down --dir "$S3_LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN bench S3 lab down failed, see $lab_log" >&2
  bash lab/lab.sh down --dir "$LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN bench lab down failed, see $lab_log" >&2
}
trap teardown EXIT

echo "bench: bringing up $NODES lab node(s) in $LAB_DIR ($LAB_SUBNET.x) (log: $lab_log)"
bring_up() {
  bash lab/lab.sh up --nodes "$NODES" --subnet "$LAB_SUBNET" --dir "$LAB_DIR" --etcd-arg "--quota-backend-bytes=$QUOTA_BYTES" || return 1
  [[ ,$parts, == *,classic,* ]] || return 0
  echo "bench: the S3 server in $S3_LAB_DIR ($S3_SUBNET.1)"
  # The S3 server holds objects in RAM: room for a 1 GiB snapshot's zip twice (ours and aws s3 cp's).
  S3_LAB_SUBNET=$S3_SUBNET S3_LAB_MEMSTORE_MIB=6144 S3_LAB_QUOTA_MIB=4096 bash lab/s3.sh up --dir "$S3_LAB_DIR"
}
if ! bring_up >"$lab_log" 2>&1; then
  tail -n 30 "$lab_log" >&2
  echo "ERROR the bench lab did not come up; see $lab_log" >&2
  exit 1
fi

node dist/bench/bench.js
