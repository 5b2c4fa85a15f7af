# shellcheck shell=bash
# Shared helpers for the provisioning steps. Sourced, never run.
# Not part of any recipe: it only logs and hashes, it defines no result.

UMDEV_IT_CACHE="${UMDEV_IT_CACHE:-$HOME/.cache/umdev/it}"
PROVISION_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[provision %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Hash of everything that defines a step's result: the files given (by content, named relative to the
# provisioning dir so that moving the checkout keeps the hash) and literal values given as key=value.
recipe_hash() {
  local arg
  for arg in "$@"; do
    if [[ -f "$arg" ]]; then
      printf 'file %s\n' "${arg#"$PROVISION_DIR"/}"
      cat "$arg"
    else
      printf 'value %s\n' "$arg"
    fi
  done | sha256sum | cut -d' ' -f1
}

# True when the recipe stored in $1 equals $2.
recipe_matches() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# Installs Debian packages on the host when a command they provide is missing.
ensure_host_command() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  log "host: installing $package (for $command)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$package" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$package" >/dev/null; }
}
