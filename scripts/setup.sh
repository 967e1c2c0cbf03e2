#!/usr/bin/env bash
# One-time set-up for `npm start`, `npm test` and `npm run bench` on Debian 12 + Node 20.
# Installs the Debian packages castpool drives (as root) and runs `npm ci` when node_modules is
# missing or older than package-lock.json. Quiet when nothing is to do.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
# The test suite makes a self-signed certificate for its bad-certificate page.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The network tests put viewers in namespaces behind nft firewalls and relay them through coturn.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ] || need+=(coturn)
# The alerting rules are checked and unit-tested with promtool (Debian's prometheus package ships it).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)

if [ ${#need[@]} -gt 0 ]; then
  line="apt-get update && apt-get install -y --no-install-recommends ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "castpool set-up: missing Debian packages: ${need[*]}" >&2
    echo "run as root:  $line" >&2
    exit 1
  fi
  echo "castpool set-up: installing ${need[*]} (apt-get)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Chromium runs as this unprivileged user when castpool runs as root (its sandbox needs a non-root user).
if [ "$(id -u)" -eq 0 ] && ! id castpool-chromium >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin castpool-chromium
fi

# node_modules is stale when the lock changed since the last install (npm writes its own copy).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "castpool set-up: npm ci…" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
