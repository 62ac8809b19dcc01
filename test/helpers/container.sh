#!/bin/sh
# Runs inside `unshare --mount --propagation private`: builds what a
# privileged CI container looks like (a small /dev tmpfs with only null, zero
# and net/tun; no /run/netns; /sys read-only), then runs container-run.js
# against a namespace held by a process (/proc/PID/ns/net).
set -eu
node_bin=$1; script=$2; native=$3
mount -t tmpfs -o size=64k,mode=0755 netfd-dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mkdir /dev/net
mknod -m 666 /dev/net/tun c 10 200
mount -t tmpfs -o size=64k netfd-run /run
mount -o remount,bind,ro /sys
unshare --net sleep 120 &
holder=$!
trap 'kill $holder 2>/dev/null || true' EXIT
sleep 0.2
nsenter --net=/proc/$holder/ns/net ip link add v0 type veth peer name v1
nsenter --net=/proc/$holder/ns/net ip link set v0 up
NETFD_NATIVE=$native "$node_bin" "$script" "/proc/$holder/ns/net"
echo "DEV: $(cd /dev && find . | sort | tr '\n' ' ')"
# /run/mount is util-linux's utab, written by the mount calls above.
echo "RUN: $(ls -A /run | grep -vx mount | tr '\n' ' ')"
