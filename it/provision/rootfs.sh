#!/usr/bin/env bash
# Step "rootfs": a Debian trixie minbase root filesystem holding QEMU 11.1 (trixie-backports) and the
# guest's ingredients (the trixie kernel with its modules, busybox-static). Both the peer image and the
# guest are cut from it. Result: $UMDEV_IT_CACHE/rootfs, recipe in $UMDEV_IT_CACHE/rootfs.recipe.
# Prints the recipe hash on stdout.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

readonly SUITE=trixie
readonly MIRROR=http://deb.debian.org/debian
readonly GUEST_PACKAGES="linux-image-amd64 busybox-static kmod cpio zstd"
readonly QEMU_PACKAGES="qemu-system-x86 qemu-utils"

rootfs="$UMDEV_IT_CACHE/rootfs"
recipe_file="$UMDEV_IT_CACHE/rootfs.recipe"
recipe="$(recipe_hash "$PROVISION_DIR/rootfs.sh" "suite=$SUITE" "mirror=$MIRROR")"

if recipe_matches "$recipe_file" "$recipe" && [[ -x "$rootfs/usr/bin/qemu-system-x86_64" ]]; then
  log "rootfs: up to date (${recipe:0:12}), skipping"
  echo "$recipe"
  exit 0
fi

ensure_host_command debootstrap debootstrap
mkdir -p "$UMDEV_IT_CACHE"
staging="$rootfs.staging"
rm -rf "$staging" "$recipe_file"

log "rootfs: debootstrap --variant=minbase $SUITE"
debootstrap --variant=minbase "$SUITE" "$staging" "$MIRROR" >"$UMDEV_IT_CACHE/debootstrap.log" 2>&1 \
  || { tail -n 20 "$UMDEV_IT_CACHE/debootstrap.log" >&2; die "rootfs: debootstrap failed"; }

rm -f "$staging/etc/apt/sources.list"
cat >"$staging/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates $SUITE-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

log "rootfs: apt-get install $GUEST_PACKAGES; -t $SUITE-backports $QEMU_PACKAGES"
# A private mount namespace: /proc, /sys and /dev for the chroot vanish with it, whatever happens.
# /dev is a fresh tmpfs with the few nodes dpkg needs, never the host's /dev.
unshare --mount --propagation private -- bash -euo pipefail -c '
  root="$1"; guest_packages="$2"; qemu_packages="$3"; suite="$4"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount -t tmpfs -o mode=0755 dev "$root/dev"
  for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
  done
  # INITRD=No: the rootfs is never booted, the guest brings its own initramfs; skip building one.
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C INITRD=No
  install=(apt-get install -y --no-install-recommends)
  chroot "$root" apt-get update
  chroot "$root" "${install[@]}" $guest_packages
  chroot "$root" "${install[@]}" -t "$suite-backports" $qemu_packages
  chroot "$root" apt-get clean
' rootfs-chroot "$staging" "$GUEST_PACKAGES" "$QEMU_PACKAGES" "$SUITE" >"$UMDEV_IT_CACHE/rootfs-apt.log" 2>&1 \
  || { tail -n 30 "$UMDEV_IT_CACHE/rootfs-apt.log" >&2; die "rootfs: package installation failed"; }

rm -rf "$rootfs"
mv "$staging" "$rootfs"
echo "$recipe" >"$recipe_file"
log "rootfs: built ($(du -sh "$rootfs" | cut -f1)), QEMU $(dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f '${Version}' qemu-system-x86)"
echo "$recipe"
