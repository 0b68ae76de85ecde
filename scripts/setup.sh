#!/usr/bin/env bash
# Everything the demo and the tests need on a fresh Debian bookworm machine (as root):
# the lab's Debian packages (nodes, the S3 server and the private registry), the npm dependencies, the build, and the backup agent image.
set -euo pipefail
cd "$(dirname "$0")/.."

bash lab/lab.sh install
bash lab/s3.sh install
bash lab/registry.sh install
# Debian's age (the reference implementation): the tests check that it decrypts the S3 copies (SPEC §7).
install_age() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends age; }
command -v age >/dev/null || install_age || { apt-get update && install_age; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build:agent-image
