#!/usr/bin/env bash
# npm run bench: installs and builds what it needs, brings up the bench's own 3-node lab
# (etcd with an 8 GiB quota) and S3 server on addresses of their own (the test suite's
# labs can stay up), runs bench/bench.ts, and always tears both down.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

readonly BENCH_ROOT=${BENCH_ROOT:-/tmp/rke-bench}
export LAB_DIR=$BENCH_ROOT/lab S3_LAB_DIR=$BENCH_ROOT/s3
readonly LAB_SUBNET=127.0.61 S3_SUBNET=127.0.63
readonly QUOTA_BYTES=$((8 * 1024 * 1024 * 1024))
lab_log=$BENCH_ROOT/lab.log
mkdir -p "$BENCH_ROOT"

teardown() {
  bash lab/s3.sh down --dir "$S3_LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN bench S3 lab down failed, see $lab_log" >&2
  bash lab/lab.sh down --dir "$LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN bench lab down failed, see $lab_log" >&2
}
trap teardown EXIT

echo "bench: bringing up the lab in $LAB_DIR ($LAB_SUBNET.x) and the S3 server in $S3_LAB_DIR ($S3_SUBNET.1) (log: $lab_log)"
# The S3 server holds objects in RAM: room for a 1 GiB snapshot's zip twice (ours and aws s3 cp's).
if ! { bash lab/lab.sh up --nodes 3 --subnet "$LAB_SUBNET" --dir "$LAB_DIR" --etcd-arg "--quota-backend-bytes=$QUOTA_BYTES" &&
  S3_LAB_SUBNET=$S3_SUBNET S3_LAB_MEMSTORE_MIB=6144 S3_LAB_QUOTA_MIB=4096 bash lab/s3.sh up --dir "$S3_LAB_DIR"; } >"$lab_log" 2>&1; then
  tail -n 30 "$lab_log" >&2
  echo "ERROR the bench lab did not come up; see $lab_log" >&2
  exit 1
fi

node dist/bench/bench.js
