#!/usr/bin/env bash
# Builds the perfd container image (OCI) FROM scratch: perfd, perfctl and
# exactly the shared libraries `ldd` lists for them, copied from this Debian
# machine's packages. Nothing is pulled from a registry. Reproducible: every
# file and the image's creation time are stamped SOURCE_DATE_EPOCH (default
# 0) and files are added in sorted order, so the same binaries give the same
# image digest.
#
#   deploy/image/build.sh [TAG]          (default TAG: localhost/perfd:dev)
#
# Environment:
#   BUILD_DIR    CMake build dir holding daemon/perfd and cli/perfctl
#                (default <repo>/build; configured and built if needed)
#   PERFD_BIN, PERFCTL_BIN   use these binaries instead (nothing is built)
#   OCI_ARCHIVE  also write the image as an OCI archive to this path
#                (for `ctr images import` / `kind load image-archive`)
# Needs: buildah (Debian package), binutils (strip), ldd; run as root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tag="${1:-localhost/perfd:dev}"
epoch="${SOURCE_DATE_EPOCH:-0}"

if [ -z "${PERFD_BIN:-}" ] || [ -z "${PERFCTL_BIN:-}" ]; then
  build="${BUILD_DIR:-$repo/build}"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target perfd perfctl -j"$(nproc)" >/dev/null
  PERFD_BIN="$build/daemon/perfd"
  PERFCTL_BIN="$build/cli/perfctl"
fi

stage="$(mktemp -d /tmp/perfd-image.XXXXXX)"
trap 'rm -rf "$stage"' EXIT
root="$stage/rootfs"
mkdir -p "$root"/usr/bin "$root"/usr/lib/x86_64-linux-gnu "$root"/usr/lib64 "$root"/etc/perfd \
  "$root"/run/perfd "$root"/tmp "$root"/proc "$root"/sys "$root"/dev
# Debian's merged /usr layout, so the loader and libraries sit where ldd saw them.
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s usr/bin "$root/bin"
chmod 1777 "$root/tmp"

strip --strip-unneeded -o "$root/usr/bin/perfd" "$PERFD_BIN"
strip --strip-unneeded -o "$root/usr/bin/perfctl" "$PERFCTL_BIN"

# Every library either binary loads, at the path the loader resolves it to,
# plus libgcc_s (glibc dlopens it to unwind at thread cancellation; ldd
# lists it already because of libstdc++, added explicitly in case that
# changes). glibc 2.36 has the files/dns NSS modules built in, so name
# lookups need no dlopen'ed module.
libs="$( (ldd "$PERFD_BIN"; ldd "$PERFCTL_BIN") | awk '/=> \// {print $3} $1 ~ /^\// {print $1}';
  echo /lib/x86_64-linux-gnu/libgcc_s.so.1)"
for lib in $(echo "$libs" | sort -u); do
  real="$(readlink -f "$lib")"
  # /lib is /usr/lib on Debian 12; keep every path under usr/.
  dest="/usr${lib#/usr}"
  real_dest="/usr${real#/usr}"
  install -m 0755 "$real" "$root$real_dest"
  if [ "$dest" != "$real_dest" ]; then
    ln -sf "$(realpath -m --relative-to="$(dirname "$dest")" "$real_dest")" "$root$dest"
  fi
done

# Name lookups (gRPC's resolver, getaddrinfo for listen addresses) and
# listen.grpc_socket_group read these; root only.
printf 'root:x:0:0:root:/:/usr/bin/perfd\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
cp "$repo/deploy/perfd.example.yaml" "$root/etc/perfd/perfd.example.yaml"

# Fixed owners, modes and times, so the layer's bytes depend on content only.
chown -R 0:0 "$root"
find "$root" -exec touch -h -d "@$epoch" {} +

cat >"$stage/Containerfile" <<'CF'
FROM scratch
COPY rootfs/ /
USER 0:0
ENTRYPOINT ["/usr/bin/perfd"]
CMD ["--config", "/etc/perfd/config/perfd.yaml"]
CF

SOURCE_DATE_EPOCH="$epoch" buildah build --quiet --timestamp "$epoch" --layers=false \
  --label org.opencontainers.image.title=perfd \
  --label org.opencontainers.image.source=deploy/image/build.sh \
  -f "$stage/Containerfile" -t "$tag" "$stage" >/dev/null
if [ -n "${OCI_ARCHIVE:-}" ]; then
  buildah push --quiet "$tag" "oci-archive:$OCI_ARCHIVE:$tag" >/dev/null
fi
echo "$tag $(podman image inspect --format '{{.Id}}' "$tag")"
