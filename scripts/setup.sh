#!/usr/bin/env bash
# Installs what netfd needs on Debian 12 (as root) and builds it: Debian
# packages when missing, npm packages (npm ci), the addon with node-gyp (and
# with cmake-js when NETFD_CMAKE=1), TypeScript. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# libnss-extrausers: a second NSS source for test/privileged/agent-accounts.ts
# (installing it leaves /etc/nsswitch.conf alone; only that test's private
# mount namespace uses it). containernetworking-plugins: the reference CNI
# plugins in /usr/lib/cni (static IPAM, tuning) that test/privileged/cni.ts
# chains with netfd's.
for pkg in iproute2 python3 make g++ cmake util-linux qemu-system-x86 libnss-extrausers containernetworking-plugins; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "netfd setup: missing Debian packages: ${need[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "netfd setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "netfd setup: npm ci (builds the addon with node-gyp)"
  npm ci --no-audit --no-fund --loglevel=error
elif [ ! -f build/Release/netfd.node ] || [ -n "$(find native binding.gyp -newer build/Release/netfd.node 2>/dev/null | head -n 1)" ]; then
  npx --no-install node-gyp rebuild >/dev/null
fi
npx --no-install tsc -p tsconfig.json
if [ "${NETFD_CMAKE:-0}" = 1 ]; then
  echo "netfd setup: building the addon with cmake-js too"
  npm run --silent build:cmake >/dev/null
fi
