#!/usr/bin/env bash
# Builds the backup agent image (rke-snapshot-agent) for linux/amd64 and linux/arm64 as
# `docker load` tarballs, with no Docker engine and independent of the packing machine's
# architecture: one gzipped layer holding a pinned official Node binary, the Debian
# libraries it links (agent-image/pins.sh, lib.sh), the bundled agent and what it loads at
# run time. Reproducible: the same inputs give the same bytes, so the same image IDs and tags.
#
#   dist/agent-image/rke-snapshot-agent-amd64.tar   docker-save format (manifest.json)
#   dist/agent-image/rke-snapshot-agent-arm64.tar
#   dist/agent-image/image.json   {"images": {"amd64": {tag,id,tar,platform}, "arm64": {...}},
#                                  "tag","id","tar": the amd64 image's, for older readers}
#
# Run after `npm run build` (it reads the entrypoint from dist/src/agent/protocol/image.js).
# Needs on the packing machine: node/npm, apt-get with the arm64 architecture added
# (scripts/setup.sh), dpkg-deb, gzip, openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=agent-image/lib.sh
. agent-image/lib.sh

out_dir=dist/agent-image
image_name=rke-snapshot-agent
agent_dir=/opt/rke-snapshot-agent

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# What every architecture's image holds besides Node: built once, copied into each.
rootfs="$work/common"
mkdir -p "$rootfs"

version=$(node -p "require('./package.json').version")
entrypoint=$(node --input-type=module -e \
  "const p = await import('./dist/src/agent/protocol/image.js'); process.stdout.write(JSON.stringify(p.AGENT_IMAGE_ENTRYPOINT))")

# The agent: agent.mjs and, beside it, one ESM chunk per command and per shared part
# (--splitting), so that a command parses only the code it runs: one file of everything
# made Node parse the AWS SDK for every snapshot, 15 MiB more peak memory (docs/performance.md).
# grpc-js and protobufjs are CommonJS and call require() for Node's built-in modules, hence
# the createRequire banner (on every chunk).
npx --no-install esbuild src/agent/main.ts \
  --bundle --splitting --platform=node --target=node20 --format=esm \
  --outdir="$rootfs$agent_dir" --entry-names=agent --chunk-names='[name]-[hash]' --out-extension:.js=.mjs \
  --banner:js="import { createRequire as __agentCreateRequire } from 'node:module'; const require = __agentCreateRequire(import.meta.url);" \
  --define:__RKE_SNAPSHOT_AGENT_VERSION__="\"$version\"" \
  --legal-comments=none --log-level=warning
chmod 0644 "$rootfs$agent_dir"/*.mjs
install -m 0644 src/etcd/etcd.proto "$rootfs$agent_dir/etcd.proto"

# rke-tools' path for its backup tool, so that RKE (or anything speaking rke-tools'
# command line) can run this image: a node script (the kernel reads the #! line; the
# image has no shell) that hands its arguments to the agent behind the rke-tools marker.
rke_tools_binary=$(node --input-type=module -e \
  "const c = await import('./dist/src/rke-tools/contract.js'); process.stdout.write(c.RKE_TOOLS_BINARY)")
contract_label=$(node --input-type=module -e \
  "const c = await import('./dist/src/rke-tools/contract.js'); process.stdout.write(c.IMAGE_CONTRACT_LABEL)")
install -D -m 0755 /dev/stdin "$rootfs$rke_tools_binary" <<EOF_RKE_TOOLS
#!/usr/local/bin/node
// rke-tools' command line, answered by the backup agent (docs/agent.md).
process.argv.splice(2, 0, '$rke_tools_binary');
import('$agent_dir/agent.mjs');
EOF_RKE_TOOLS


mkdir -p "$out_dir"
rm -f "$out_dir"/"$image_name"*.tar "$out_dir/image.json"
# MALLOC_MMAP_THRESHOLD_: glibc raises its mmap threshold after each large free, so the agent's
# 1 MiB buffers (compression blocks, file writes, the read-back) end up in malloc's arenas and keep
# their pages; a fixed threshold maps and unmaps them (peak RSS 11 MiB lower, docs/performance.md).
image_config=$(CONTRACT_LABEL="$contract_label" ENTRYPOINT="$entrypoint" VERSION="$version" node -e '
  process.stdout.write(JSON.stringify({
    Entrypoint: JSON.parse(process.env.ENTRYPOINT),
    Env: ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "MALLOC_MMAP_THRESHOLD_=131072"],
    WorkingDir: "/",
    Labels: {
      "org.opencontainers.image.title": "rke-snapshot-agent",
      "org.opencontainers.image.version": process.env.VERSION,
      [process.env.CONTRACT_LABEL]: "native",
    },
  }));
')
images='{'
for arch in amd64 arm64; do
  cp -a "$work/common" "$work/rootfs-$arch"
  node_rootfs "$arch" "$work/rootfs-$arch"
  described=$(IMAGE_CONFIG="$image_config" pack_image "$work/rootfs-$arch" "$out_dir/$image_name-$arch.tar" "$image_name" "$version" "$arch")
  images="$images\"$arch\": $described"
  [ "$arch" = amd64 ] && images="$images, "
  echo "agent-image: linux/$arch $(node -p "JSON.parse(process.argv[1]).tag" "$described") ($(du -h "$out_dir/$image_name-$arch.tar" | cut -f1))" >&2
done
IMAGES="$images}" node -e '
  const images = JSON.parse(process.env.IMAGES);
  const { tag, id, tar } = images.amd64;
  process.stdout.write(JSON.stringify({ images, tag, id, tar }, null, 2) + "\n");
' >"$out_dir/image.json"
echo "agent-image: both images in $out_dir" >&2
