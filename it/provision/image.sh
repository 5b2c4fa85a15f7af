#!/usr/bin/env bash
# Step "image": the QEMU peer image, imported from the rootfs with `docker import` (nothing is pulled).
# Usage: image.sh ROOTFS_RECIPE. Prints the image tag on stdout.
# The tag is versioned by the QEMU package version and the recipe: umdev/qemu-peer:<qemu>-<recipe12>.
# The kernel, its modules and /boot stay out: the guest is bind-mounted at run time, so guest changes
# never rebuild the image.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

readonly REPOSITORY=umdev/qemu-peer
readonly RECIPE_LABEL=io.umdev.recipe

rootfs_recipe="$1"
rootfs="$UMDEV_IT_CACHE/rootfs"
recipe="$(recipe_hash "$PROVISION_DIR/image.sh" "rootfs=$rootfs_recipe")"
qemu_version="$(dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f '${Version}' qemu-system-x86)"
# Docker tags allow [A-Za-z0-9_.-]: 1:11.1.3+ds-1~bpo13+1 becomes 11.1.3-ds-1-bpo13-1.
tag="$REPOSITORY:$(sed -e 's/^[0-9]*://' -e 's/[^A-Za-z0-9_.-]/-/g' <<<"$qemu_version")-${recipe:0:12}"

if [[ "$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$tag" 2>/dev/null)" == "$recipe" ]]; then
  log "image: $tag up to date, skipping"
  echo "$tag"
  exit 0
fi

log "image: importing $tag"
tar -C "$rootfs" -c \
  --exclude=./boot --exclude=./usr/lib/modules --exclude=./usr/lib/firmware \
  --exclude='./var/cache/apt/*' --exclude='./var/lib/apt/lists/*' \
  --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/info --exclude=./usr/share/locale \
  . | docker import \
    --change "LABEL $RECIPE_LABEL=$recipe" \
    --change "LABEL io.umdev.qemu-version=$qemu_version" \
    --change 'CMD ["qemu-system-x86_64", "--version"]' \
    - "$tag" >/dev/null

# Older recipes of this image are dead weight (~320 MB each).
for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY"); do
  [[ "$old" == "$tag" ]] && continue
  log "image: removing superseded $old"
  docker image rm "$old" >/dev/null || log "image: could not remove $old (in use?), keeping it"
done

log "image: $tag imported ($(docker image inspect -f '{{.Size}}' "$tag" | numfmt --to=iec))"
echo "$tag"
