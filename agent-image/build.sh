#!/usr/bin/env bash
# Builds the backup agent image (rke-snapshot-agent) as a `docker load` tarball, with
# no Docker engine: one layer holding this machine's node binary, the libraries it
# links, the bundled agent and what it loads at run time. Reproducible: the same
# inputs give the same bytes, so the same image ID and tag.
#
#   dist/agent-image/rke-snapshot-agent.tar   docker-save format (manifest.json)
#   dist/agent-image/image.json               {"tag", "id", "tar"}
#
# Run after `npm run build` (it reads the entrypoint from dist/src/agent/protocol/image.js).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=dist/agent-image
image_name=rke-snapshot-agent
agent_dir=/opt/rke-snapshot-agent

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
image="$work/image"
mkdir -p "$rootfs" "$image"

version=$(node -p "require('./package.json').version")
entrypoint=$(node --input-type=module -e \
  "const p = await import('./dist/src/agent/protocol/image.js'); process.stdout.write(JSON.stringify(p.AGENT_IMAGE_ENTRYPOINT))")
case "$(node -p process.arch)" in
  x64) arch=amd64 ;;
  arm64) arch=arm64 ;;
  *) echo "agent-image: unsupported architecture $(node -p process.arch)" >&2; exit 1 ;;
esac

# The agent: one ESM file. grpc-js and protobufjs are CommonJS and call require() for
# Node's built-in modules, hence the createRequire banner.
npx --no-install esbuild src/agent/main.ts \
  --bundle --platform=node --target=node20 --format=esm \
  --outfile="$rootfs$agent_dir/agent.mjs" \
  --banner:js="import { createRequire as __agentCreateRequire } from 'node:module'; const require = __agentCreateRequire(import.meta.url);" \
  --define:__RKE_SNAPSHOT_AGENT_VERSION__="\"$version\"" \
  --legal-comments=none --log-level=warning
chmod 0644 "$rootfs$agent_dir/agent.mjs"
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

# Node and the shared libraries it loads (ldd: "name => /path (addr)" and "/path (addr)"),
# each at the path the loader looks for it.
node_bin=$(readlink -f "$(command -v node)")
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
ldd "$node_bin" | grep -o '/[^ ]*' | while read -r lib; do
  install -D -m "$(stat -L -c %a "$lib")" "$(readlink -f "$lib")" "$rootfs$lib"
done

# CA bundle (for S3 over HTTPS), name service basics, and a /tmp.
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
mkdir -p "$rootfs/tmp"
find "$rootfs" -type d -exec chmod 0755 {} +
chmod 1777 "$rootfs/tmp"

reproducible_tar() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu "$@"
}

reproducible_tar -C "$rootfs" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$image/$diff_id"
mv "$work/layer.tar" "$image/$diff_id/layer.tar"

CONTRACT_LABEL="$contract_label" ENTRYPOINT="$entrypoint" ARCH="$arch" DIFF_ID="$diff_id" VERSION="$version" node -e '
  const config = {
    architecture: process.env.ARCH,
    os: "linux",
    created: "1970-01-01T00:00:00Z",
    config: {
      Entrypoint: JSON.parse(process.env.ENTRYPOINT),
      Env: ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      WorkingDir: "/",
      Labels: {
        "org.opencontainers.image.title": "rke-snapshot-agent",
        "org.opencontainers.image.version": process.env.VERSION,
        [process.env.CONTRACT_LABEL]: "native",
      },
    },
    rootfs: { type: "layers", diff_ids: ["sha256:" + process.env.DIFF_ID] },
    history: [{ created: "1970-01-01T00:00:00Z", created_by: "agent-image/build.sh" }],
  };
  process.stdout.write(JSON.stringify(config));
' >"$image/config.json"
config_digest=$(sha256sum "$image/config.json" | cut -d' ' -f1)
mv "$image/config.json" "$image/$config_digest.json"
tag="$image_name:$version-${config_digest:0:12}"

TAG="$tag" CONFIG="$config_digest.json" LAYER="$diff_id/layer.tar" node -e '
  const { TAG, CONFIG, LAYER } = process.env;
  process.stdout.write(JSON.stringify([{ Config: CONFIG, RepoTags: [TAG], Layers: [LAYER] }]));
' >"$image/manifest.json"

mkdir -p "$out_dir"
reproducible_tar -C "$image" -cf "$out_dir/$image_name.tar.tmp" manifest.json "$config_digest.json" "$diff_id"
mv "$out_dir/$image_name.tar.tmp" "$out_dir/$image_name.tar"
TAG="$tag" ID="sha256:$config_digest" TAR="$image_name.tar" node -e '
  const { TAG, ID, TAR } = process.env;
  process.stdout.write(JSON.stringify({ tag: TAG, id: ID, tar: TAR }) + "\n");
' >"$out_dir/image.json"

echo "agent-image: $tag ($(du -h "$out_dir/$image_name.tar" | cut -f1)) in $out_dir"
