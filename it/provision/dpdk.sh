#!/usr/bin/env bash
# Step "dpdk": the DPDK peer image for the vhost-user ITs: Debian trixie minbase with Debian's `dpdk`
# (dpdk-testpmd from dpdk-dev, the virtio_user and vhost PMDs), imported with `docker import` (nothing is
# pulled). A rootfs of its own, so the QEMU image and the guest never change because of it.
# Result: image umdev/dpdk-peer:<dpdk>-<recipe12>. Prints the tag on stdout.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

readonly SUITE=trixie
readonly MIRROR=http://deb.debian.org/debian
# dpdk-dev ships dpdk-testpmd; the PMDs the tests use are only recommended, so named.
readonly PACKAGES="dpdk dpdk-dev librte-net-virtio25 librte-net-vhost25 librte-mempool-ring25"
readonly REPOSITORY=umdev/dpdk-peer
readonly RECIPE_LABEL=io.umdev.recipe

recipe="$(recipe_hash "$PROVISION_DIR/dpdk.sh" "suite=$SUITE" "mirror=$MIRROR")"
existing="$(docker image ls --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY" | head -n 1)"
if [[ -n "$existing" && "$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$existing")" == "$recipe" ]]; then
  log "dpdk: $existing up to date, skipping"
  echo "$existing"
  exit 0
fi

ensure_host_command debootstrap debootstrap
staging="$UMDEV_IT_CACHE/dpdk-rootfs.staging"
rm -rf "$staging"
log "dpdk: debootstrap --variant=minbase $SUITE"
debootstrap --variant=minbase "$SUITE" "$staging" "$MIRROR" >"$UMDEV_IT_CACHE/dpdk-debootstrap.log" 2>&1 \
  || { tail -n 20 "$UMDEV_IT_CACHE/dpdk-debootstrap.log" >&2; die "dpdk: debootstrap failed"; }

log "dpdk: apt-get install $PACKAGES"
# As in rootfs.sh: a private mount namespace and a minimal /dev for the chroot.
unshare --mount --propagation private -- bash -euo pipefail -c '
  root="$1"; packages="$2"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount -t tmpfs -o mode=0755 dev "$root/dev"
  for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
    IFS=: read -r name major minor <<<"$node"
    mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
  done
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  chroot "$root" apt-get update
  chroot "$root" apt-get install -y --no-install-recommends $packages
  chroot "$root" apt-get clean
' dpdk-chroot "$staging" "$PACKAGES" >"$UMDEV_IT_CACHE/dpdk-apt.log" 2>&1 \
  || { tail -n 30 "$UMDEV_IT_CACHE/dpdk-apt.log" >&2; die "dpdk: package installation failed"; }

version="$(dpkg-query --admindir="$staging/var/lib/dpkg" -W -f '${Version}' dpdk)"
tag="$REPOSITORY:$(sed -e 's/^[0-9]*://' -e 's/[^A-Za-z0-9_.-]/-/g' <<<"$version")-${recipe:0:12}"
log "dpdk: importing $tag"
tar -C "$staging" -c \
  --exclude=./boot --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
  --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/info --exclude=./usr/share/locale \
  . | docker import \
    --change "LABEL $RECIPE_LABEL=$recipe" \
    --change "LABEL io.umdev.dpdk-version=$version" \
    --change 'CMD ["dpdk-testpmd", "--version"]' \
    - "$tag" >/dev/null
rm -rf "$staging"

for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY"); do
  [[ "$old" == "$tag" ]] && continue
  log "dpdk: removing superseded $old"
  docker image rm "$old" >/dev/null || log "dpdk: could not remove $old (in use?), keeping it"
done
log "dpdk: $tag imported ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=iec))"
echo "$tag"
