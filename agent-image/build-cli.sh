#!/usr/bin/env bash
# Builds an image of the CLI itself (rke-etcd-snapshot), for schedules and fleets
# (docs/scheduling.md), the same engine-less way as the agent image: one gzipped layer with
# the pinned Node binary and libraries of each architecture (agent-image/lib.sh) and the
# packed package installed with its production dependencies (pure JavaScript: no install
# script is run, so one install serves both architectures). The package carries the agent
# images, so the containerised CLI loads them onto the nodes as the installed one does.
#
#   bash agent-image/build-cli.sh PACKAGE.tgz     (the tarball `npm pack` made)
#   dist/cli-image/rke-etcd-snapshot-<arch>.tar   docker-save format
#   dist/cli-image/image.json                     {"images": {"amd64": {tag,id,tar,platform}, ...}}
#
# CLI_IMAGE_ARCHS (default "amd64 arm64") limits the architectures built.
set -euo pipefail
tarball=$(readlink -f "${1:?usage: build-cli.sh PACKAGE.tgz}")
cd "$(dirname "$0")/.."
# shellcheck source=agent-image/lib.sh
. agent-image/lib.sh

out_dir=dist/cli-image
image_name=rke-etcd-snapshot
app_dir=/opt/rke-etcd-snapshot
version=$(tar -xzOf "$tarball" package/package.json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).version))')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The package and its dependencies, as `npm install` lays them out, without install scripts
# (ssh2's optional native addons stay unbuilt: it uses its JavaScript fallback).
mkdir -p "$work/common$app_dir"
(cd "$work/common$app_dir" && npm install --silent --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock "$tarball" >/dev/null)
rm -f "$work/common$app_dir/package.json"
find "$work/common$app_dir" -type f -exec chmod a+r {} +
mkdir -p "$work/common/root/.ssh" "$work/common/work"

image_config=$(APP="$app_dir" VERSION="$version" node -e '
  process.stdout.write(JSON.stringify({
    Entrypoint: ["/usr/local/bin/node", process.env.APP + "/node_modules/rke-etcd-snapshot/dist/src/cli/main.js"],
    Cmd: ["--help"],
    Env: ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
    WorkingDir: "/work",
    Labels: {
      "org.opencontainers.image.title": "rke-etcd-snapshot",
      "org.opencontainers.image.version": process.env.VERSION,
    },
  }));
')
mkdir -p "$out_dir"
rm -f "$out_dir/$image_name"-*.tar "$out_dir/image.json"
images='{'
for arch in ${CLI_IMAGE_ARCHS:-amd64 arm64}; do
  cp -a "$work/common" "$work/rootfs-$arch"
  node_rootfs "$arch" "$work/rootfs-$arch"
  described=$(IMAGE_CONFIG="$image_config" pack_image "$work/rootfs-$arch" "$out_dir/$image_name-$arch.tar" "$image_name" "$version" "$arch")
  [ "$images" = '{' ] || images="$images, "
  images="$images\"$arch\": $described"
  echo "cli-image: linux/$arch $(node -p "JSON.parse(process.argv[1]).tag" "$described") ($(du -h "$out_dir/$image_name-$arch.tar" | cut -f1))" >&2
done
IMAGES="$images}" node -e 'process.stdout.write(JSON.stringify({ images: JSON.parse(process.env.IMAGES) }, null, 2) + "\n")' >"$out_dir/image.json"
