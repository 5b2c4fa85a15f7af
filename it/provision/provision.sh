#!/usr/bin/env bash
# Provisions everything the it/ suite needs, in ${UMDEV_IT_CACHE:-$HOME/.cache/umdev/it}:
#   engine  a Docker engine (Debian's docker.io, no bridge, no iptables) unless one answers
#   rootfs  a Debian trixie minbase rootfs with QEMU 11.1 from trixie-backports and the trixie kernel
#   image   the QEMU peer image, docker-imported from the rootfs: umdev/qemu-peer:<qemu>-<recipe>
#   guest   the guest kernel and a busybox initramfs with the virtio modules, /init and umdev-probe
#   dpdk    the DPDK peer image (Debian's dpdk: testpmd, virtio_user, vhost) from a rootfs of its own
# Each step is skipped when its result exists with the same recipe hash (the hash of the files and
# versions that define it). Ends by writing it.properties, which the Java fixture (io.umdev.it) reads:
# the one place that says which image and guest the tests use. Needs root (debootstrap, chroot).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot, dockerd)"
mkdir -p "$UMDEV_IT_CACHE"
exec 9>"$UMDEV_IT_CACHE/.lock"
flock 9 # one provisioning at a time per cache

started=$SECONDS
log "cache: $UMDEV_IT_CACHE"
"$PROVISION_DIR/engine.sh"
rootfs_recipe="$("$PROVISION_DIR/rootfs.sh")"
image="$("$PROVISION_DIR/image.sh" "$rootfs_recipe")"
guest="$("$PROVISION_DIR/guest.sh" "$rootfs_recipe")"
dpdk_image="$("$PROVISION_DIR/dpdk.sh")"

properties="$UMDEV_IT_CACHE/it.properties"
cat >"$properties.tmp" <<PROPERTIES
# Written by it/provision/provision.sh, read by io.umdev.it.Provisioning. Regenerated on every run.
image=$image
qemu.version=$(docker image inspect -f '{{index .Config.Labels "io.umdev.qemu-version"}}' "$image")
guest.kernel=$guest/vmlinuz
guest.initrd=$guest/initramfs.cpio.gz
guest.kernel.release=$(cat "$guest/kernel.release")
dpdk.image=$dpdk_image
dpdk.version=$(docker image inspect -f '{{index .Config.Labels "io.umdev.dpdk-version"}}' "$dpdk_image")
PROPERTIES
mv "$properties.tmp" "$properties"
log "done in $((SECONDS - started))s: $properties"
