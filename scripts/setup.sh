#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: system packages, npm dependencies,
# the Temporal CLI built from source (cached outside the repo), and the lab images.
# Both README commands call this; a warm run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------
# chromium: the browser the Web UI test drives with playwright-core (no browser download).
packages=(docker.io docker-compose etcd-server etcd-client openssh-server sudo openssl haproxy iproute2 iptables curl chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages that would start services at install time (sshd, haproxy, etcd, docker) must not:
  # the lab starts its own copies inside network namespaces.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
fi

# --- npm ----------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Temporal CLI (built from source; the module proxy is the only source here) ---
: "${API7HA_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/api7-ha}"
temporal_bin="$API7HA_CACHE/bin/temporal"
if [ ! -x "$temporal_bin" ]; then
  mkdir -p "$API7HA_CACHE/bin"
  for tag in v1.5.1 v1.4.1 v1.3.0; do
    log "building the Temporal CLI $tag with go install (a cold build takes several minutes)"
    if GOBIN="$API7HA_CACHE/bin" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$tag"; then
      echo "$tag" >"$API7HA_CACHE/bin/temporal.version"
      break
    fi
    log "go install of $tag failed; trying the next tag"
  done
  [ -x "$temporal_bin" ] || { log "could not build the Temporal CLI"; exit 1; }
fi

# --- Built JS and lab images ---------------------------------------------------
log "building TypeScript and the stand-in bundles"
npm run --silent build
node dist/src/client.js codec keygen --if-missing
log "building lab artifacts (images, bundles) if missing"
node dist/src/client.js lab build
log "ready"
