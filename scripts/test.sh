#!/usr/bin/env bash
# The whole suite: unit tests, then integration tests on a 3-node lab and a real S3
# server (Ceph RGW) that this script brings up and always tears down. Ends with the
# node test runner's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob

bash scripts/setup.sh

# Two checkouts can run their suites side by side: give each its own RKE_LAB_SUBNET
# (127.X.Y for the nodes) and S3_LAB_SUBNET (for the S3 server); both default to the lab's.
# Short and per checkout: the lab keeps unix sockets under it (108-byte path limit).
export LAB_DIR="${LAB_DIR:-/tmp/rke-lab-$(printf %s "$PWD" | sha256sum | cut -c1-8)/test}"
mkdir -p "$LAB_DIR"
export S3_LAB_DIR="${S3_LAB_DIR:-${LAB_DIR%/*}/s3}"
lab_log="$LAB_DIR.log"
teardown() {
  bash lab/s3.sh down --dir "$S3_LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN S3 lab down failed, see $lab_log" >&2
  # The bastion tests bring lab/bastion.sh up and down themselves; this catches a killed run.
  bash lab/bastion.sh down --dir "$LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN bastion lab down failed, see $lab_log" >&2
  # Likewise the private-registry test's registry (its network namespace) in LAB_DIR/registry.
  bash lab/registry.sh down --dir "$LAB_DIR/registry" >>"$lab_log" 2>&1 || echo "WARN registry lab down failed, see $lab_log" >&2
  bash lab/lab.sh down --dir "$LAB_DIR" >>"$lab_log" 2>&1 || echo "WARN lab down failed, see $lab_log" >&2
}
trap teardown EXIT
echo "Bringing up the 3-node lab in $LAB_DIR and the S3 server in $S3_LAB_DIR (log: $lab_log)"
if ! { bash lab/lab.sh up --nodes 3 --dir "$LAB_DIR" --subnet "${RKE_LAB_SUBNET:-127.0.2}" && bash lab/s3.sh up --dir "$S3_LAB_DIR"; } >"$lab_log" 2>&1; then
  tail -n 30 "$lab_log" >&2
  echo "ERROR the lab did not come up; see $lab_log" >&2
  exit 1
fi

node --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec \
  dist/src/**/*.test.js dist/bench/**/*.test.js dist/test/**/*.test.js
