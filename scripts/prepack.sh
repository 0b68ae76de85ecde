#!/usr/bin/env bash
# npm pack / npm publish run this first (package.json "prepack"): everything the installed
# package needs, built from the sources, so that a fresh clone after `npm ci` packs a tarball
# that installs and runs with only Node on the operator's machine: the compiled CLI, etcd.proto
# beside its loader, and the agent images for linux/amd64 and linux/arm64.
# package.json's "files" keeps tests, lab, bench, sources and source maps out.
set -euo pipefail
cd "$(dirname "$0")/.."

# Stale modules of an earlier build must not ship: compile into an empty dist/src.
rm -rf dist/src
npm run --silent build
install -m 0644 src/etcd/etcd.proto dist/src/etcd/etcd.proto
bash agent-image/build.sh
