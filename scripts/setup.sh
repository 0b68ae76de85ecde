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

# The agent images are built for linux/amd64 and linux/arm64 from pinned Debian packages of
# both architectures (agent-image/pins.sh): apt must know arm64. qemu-user-static with
# binfmt_misc runs arm64 binaries here (the arm64 agent's test, the images' smoke checks);
# its F flag (fix_binary) makes that work inside containers too.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -q=2
fi
missing=$(for p in qemu-user-static binfmt-support; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q=2 --no-install-recommends $missing >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build:agent-image
