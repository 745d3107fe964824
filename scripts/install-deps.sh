#!/usr/bin/env bash
# Installs the Debian 12 packages (and npm tools) treeserve needs to build, run and test.
# Idempotent: installs only what is missing. Needs root or sudo for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and run.
PKGS_BUILD="gcc make pkg-config libmicrohttpd-dev libjsmn-dev"
# Tests, fuzzers, benchmarks and the local stack.
PKGS_TEST="libcmocka-dev clang libclang-rt-14-dev llvm python3 python3-yaml curl jq wrk nginx-light prometheus procps iproute2 yamllint shellcheck"

want="$PKGS_BUILD"
[ "${1:-}" = "--build-only" ] || want="$want $PKGS_TEST"

missing=""
# Node.js may come from elsewhere with its own npm; only ask Debian for it when absent.
if [ "${1:-}" != "--build-only" ] && ! command -v npm >/dev/null 2>&1; then want="$want nodejs npm"; fi
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d stops package scripts from starting nginx/prometheus as system services.
  if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$SUDO" ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi

# npm tools for offline validation (OpenAPI, JSON schemas), installed into tools/node_modules.
if [ "${1:-}" != "--build-only" ] && [ -f tools/package.json ]; then
  if [ ! -d tools/node_modules ] || [ tools/package.json -nt tools/node_modules ]; then
    (cd tools && npm install --no-audit --no-fund --loglevel=error >&2) && touch tools/node_modules
  fi
fi
