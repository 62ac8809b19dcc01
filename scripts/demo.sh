#!/usr/bin/env bash
# The demo, from a fresh clone on Debian 12 as root (the README's first
# command): scripts/setup.sh installs what is missing and builds netfd, then
# scripts/demo.js boots a tiny Linux guest twice with `netfd launch` inside a
# scratch network namespace (a tap on a bridge, then a macvtap), shows what
# netfd created and recorded, stops the guests and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "the demo creates devices in a scratch network namespace: run it as root" >&2; exit 1; fi
NETFD_DEMO_START=$(date +%s%3N)
export NETFD_DEMO_START
cat <<'TEXT'
netfd demo. What it does, and how long it takes on 2 cores:
  1. setup: Debian packages if missing (qemu-system-x86, build tools), npm ci
     with the native addon build, tsc: about a minute the first time
  2. the test guest image (.cache/guest), first time only, ~10-30 s:
     apt-get download of a Debian kernel package (unpacked, not installed),
     busybox-static, iperf3, ethtool
  3. a scratch network namespace netfd-demo-*; the host's own interfaces are
     never touched
  4. two guest boots under TCG (no KVM needed), ~5-10 s each: `netfd launch`
     with a virtio NIC on a tap in bridge br0, then on a macvtap over v0
     (mode bridge); the guest pings its peer; netfd list, netfd dumpxml and
     ip -d link show what netfd made
  5. the guests are stopped; the tap, macvtap, live XML and namespace are gone
TEXT
echo
echo "netfd demo: setup"
bash scripts/setup.sh
exec node scripts/demo.js
