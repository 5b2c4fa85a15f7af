#!/usr/bin/env bash
# Step "engine": make a Docker engine answer on the default socket.
# Uses whatever engine already answers; otherwise installs Debian's docker.io and starts dockerd with
# no bridge and no iptables/forwarding/masquerading, so containers can only have network none or host.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"

readonly ENGINE_WAIT_SECONDS=60

if docker info >/dev/null 2>&1; then
  log "engine: a Docker engine answers, skipping ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

mkdir -p "$UMDEV_IT_CACHE"
ensure_host_command dockerd docker.io

log_file="$UMDEV_IT_CACHE/dockerd.log"
log "engine: starting dockerd (log: $log_file)"
# setsid: the daemon outlives this script and the CI step that runs it. It must inherit no descriptor
# but its log: holding provision.sh's lock would block every later provisioning.
# shellcheck disable=SC2016 # expanded by the inner shell
setsid bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-"; fi; done; exec "$@"' \
  dockerd dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
  >>"$log_file" 2>&1 </dev/null &
echo $! >"$UMDEV_IT_CACHE/dockerd.pid"

for ((i = 0; i < ENGINE_WAIT_SECONDS; i++)); do
  if docker info >/dev/null 2>&1; then
    log "engine: dockerd $(docker version -f '{{.Server.Version}}') answers after ${i}s"
    exit 0
  fi
  sleep 1
done
tail -n 20 "$log_file" >&2 || true
die "engine: dockerd did not answer within ${ENGINE_WAIT_SECONDS}s"
