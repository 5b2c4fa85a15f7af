#!/usr/bin/env bash
# Step "guest": the guest the peer QEMU boots: the trixie kernel from the rootfs and a busybox initramfs
# holding the virtio modules, /init and the umdev-probe helper. Usage: guest.sh ROOTFS_RECIPE.
# Result: $UMDEV_IT_CACHE/guest/<recipe12>/{vmlinuz,initramfs.cpio.gz,kernel.release,recipe}.
# Prints the result directory on stdout.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

rootfs_recipe="$1"
rootfs="$UMDEV_IT_CACHE/rootfs"
sources="$PROVISION_DIR/guest"
gcc_version="$(gcc -dumpfullversion 2>/dev/null || echo none)"
recipe="$(recipe_hash "$PROVISION_DIR/guest.sh" "$sources/init" "$sources/umdev-probe.c" "$sources/modules.list" \
  "rootfs=$rootfs_recipe" "gcc=$gcc_version")"
guest_root="$UMDEV_IT_CACHE/guest"
out="$guest_root/${recipe:0:12}"

if recipe_matches "$out/recipe" "$recipe" && [[ -s "$out/vmlinuz" && -s "$out/initramfs.cpio.gz" ]]; then
  log "guest: ${recipe:0:12} up to date, skipping"
  echo "$out"
  exit 0
fi

ensure_host_command gcc gcc
busybox="$rootfs/usr/bin/busybox" # static: runs on the host too (its cpio builds the archive)
kernels=("$rootfs"/usr/lib/modules/*)
[[ ${#kernels[@]} -eq 1 ]] || die "guest: expected one kernel in the rootfs, found ${#kernels[@]}"
release="$(basename "${kernels[0]}")"
moddir="${kernels[0]}"

mkdir -p "$guest_root"
staging="$(mktemp -d "$guest_root.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
tree="$staging/tree"
mkdir -p "$tree"/{bin,dev,proc,sys,tmp,etc/umdev,lib/modules}

log "guest: kernel $release, compiling umdev-probe (gcc $gcc_version, static)"
gcc -static -O2 -Wall -Wextra -Werror -o "$tree/bin/umdev-probe" "$sources/umdev-probe.c"
cp "$busybox" "$tree/bin/busybox"
install -m 0755 "$sources/init" "$tree/init"

# Modules and their dependencies from modules.dep, each after everything it depends on.
declare -A placed=()
load_order=()
place_module() { # path relative to $moddir, as modules.dep names it
  local module="$1" dep deps
  [[ -n "${placed[$module]:-}" ]] && return 0
  placed[$module]=1
  deps="$(awk -v m="$module:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep")"
  for dep in $deps; do place_module "$dep"; done
  local plain="${module%.xz}"; plain="${plain%.zst}"
  mkdir -p "$tree/lib/modules/$(dirname "$plain")"
  case "$module" in
    *.xz) xz -dc "$moddir/$module" ;;
    *.zst) zstd -qdc "$moddir/$module" ;;
    *) cat "$moddir/$module" ;;
  esac >"$tree/lib/modules/$plain"
  load_order+=("$plain")
}
for name in $(grep -v '^#' "$sources/modules.list"); do
  path="$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.xz|\.zst)?$/, "", f); gsub(/-/, "_", f) } f == n { print $1; exit }' "$moddir/modules.dep")"
  [[ -n "$path" ]] || die "guest: module $name not in $moddir/modules.dep"
  place_module "$path"
done
printf '%s\n' "${load_order[@]}" >"$tree/etc/umdev/modules.load"
log "guest: modules ${load_order[*]##*/}"

mkdir -p "$staging/out"
cp "$rootfs/boot/vmlinuz-$release" "$staging/out/vmlinuz"
(cd "$tree" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) \
  | gzip -9n >"$staging/out/initramfs.cpio.gz"
echo "$release" >"$staging/out/kernel.release"
echo "$recipe" >"$staging/out/recipe"

rm -rf "$out"
mv "$staging/out" "$out"
for old in "$guest_root"/*/; do
  [[ "${old%/}" == "$out" ]] || { log "guest: removing superseded ${old%/}"; rm -rf "${old%/}"; }
done
log "guest: built $out (initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1))"
echo "$out"
