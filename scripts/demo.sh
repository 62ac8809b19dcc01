#!/usr/bin/env bash
# The demo, from a fresh clone on Debian 12 as root: installs and builds what
# it needs (about a minute the first time), then runs scripts/demo.js.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "the demo creates devices in a scratch namespace: run it as root" >&2; exit 1; fi
echo "netfd demo: setting up (first run: npm ci and a native build, about a minute)"
bash scripts/setup.sh
exec node scripts/demo.js
