#!/usr/bin/env bash
# scripts/guest-image.sh [CACHE_DIR]       (default: <repo>/.cache/guest)
#
# Builds, on first use, a tiny Linux test guest for netfd and reuses it
# afterwards (a run whose outputs are complete exits at once). Needs root the
# first time: it installs what is missing with apt-get (qemu-system-x86,
# busybox-static, iperf3, ethtool), `apt-get download`s the newest Debian
# linux-image-6.1.*-amd64 into the cache (never installs it), and makes:
#
#   CACHE_DIR/vmlinux            uncompressed ELF kernel, boots through PVH
#                                (falls back to CACHE_DIR/vmlinuz, said so)
#   CACHE_DIR/initramfs.cpio.gz  busybox, /dev/console, virtio-net + e1000
#                                modules, iperf3 and ethtool with their libs,
#                                /init = scripts/guest-init.sh
#   CACHE_DIR/stamp              written last; KEY=VALUE lines: kernel=,
#                                initrd=, kernel_version=, kernel_package=,
#                                boot=pvh|bzimage, iperf3=yes|no, ethtool=...
#   CACHE_DIR/README             this protocol and an example command line
#
# Boot it (KVM does not work on our machines; use TCG):
#   qemu-system-x86_64 -accel tcg -m 256 -nodefaults -no-reboot -nographic \
#     -serial stdio -kernel CACHE_DIR/vmlinux -initrd CACHE_DIR/initramfs.cpio.gz \
#     -netdev tap,id=n0,ifname=TAP,script=no,downscript=no,vhost=off \
#     -device virtio-net-pci,netdev=n0,romfile= \
#     -append 'console=ttyS0 quiet panic=-1 netfd.ip=10.0.0.2/24 netfd.peer=10.0.0.1'
#
# Protocol. Kernel parameters (N = interface number; for eth0 the plain name
# works too, e.g. netfd.ip = netfd.ip0):
#   netfd.ipN=ADDR/LEN    address for ethN (links are always brought up)
#   netfd.peerN=ADDR[,ADDR...]  ping these peers from ethN, in order, ...
#   netfd.pingN=COUNT     ... COUNT times each (default 3; 0 = don't ping).
#                         For each peer the guest first retries single pings
#                         until one answers (link-up, ARP, a peer still
#                         booting), for at most netfd.wait seconds. iperf3
#                         uses the first peer of eth0.
#   netfd.queuesN=Q       `ethtool -L ethN combined Q` (virtio-net mq)
#   netfd.nics=K          wait until K ethX interfaces exist
#   netfd.wait=SECS       time limit for netfd.nics and each peer's first
#                         ping (default 20)
#   netfd.iperf3=server   run `iperf3 -s` (port 5201); implies netfd.hold=1
#   netfd.iperf3=client|reverse   iperf3 -c <eth0 peer> [-R] for
#   netfd.iperf3_time=SECS        seconds (default 5)
#   netfd.hold=1          stay up after NETFD-READY: configure and ping NICs
#                         that are hot-plugged later (by their ipN/peerN)
#   netfd.shell=1         also start a shell on the console
# Without hold the guest powers off (use -no-reboot so qemu then exits; with
# panic=-1 a crashed /init ends qemu too).
# Marker lines on the console (each at the start of a line; t= is the guest's
# uptime in seconds; more fields may be added at the end of a line):
#   NETFD-BOOT t=T kernel=VERSION            /init started
#   NETFD-MODULE-FAIL NAME                   insmod failed
#   NETFD-MODULES t=T                        modules loaded
#   NETFD-NICS-FAIL have=H want=K
#   NETFD-IP ethN ADDR/LEN mac=MAC   |  NETFD-IP-FAIL ethN ADDR/LEN
#   NETFD-QUEUES ethN rx=R tx=T              real queue counts (sysfs)
#   NETFD-QUEUES-FAIL ethN ...
#   NETFD-PING-OK ethN PEER recv=C/C rtt=MIN/AVG/MAXms t=T
#   NETFD-PING-FAIL ethN PEER recv=R/C ...   (one of the two per peer)
#   NETFD-IPERF3-SERVER port=5201
#   NETFD-IPERF3 client|reverse PEER sender=XMbit/s receiver=YMbit/s
#   NETFD-IPERF3-FAIL ...
#   NETFD-READY t=T                          start-up work done
#   NETFD-HOTPLUG ethN t=T ... NETFD-HOTPLUG-DONE ethN   (hold only)
#   NETFD-UNPLUG ethN t=T                    (hold only)
#   NETFD-POWEROFF t=T
# Interface numbering: drivers load virtio first, then e1000, so virtio NICs
# are eth0.. in PCI order and e1000 NICs follow them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${1:-$repo/.cache/guest}
INIT_SRC=$repo/scripts/guest-init.sh
# Modules the guest loads, with everything they depend on (from depends=).
ROOT_MODULES=(virtio_net virtio_pci e1000)
FORMAT=1 # bump when the initramfs layout changes

say() { echo "guest image: $*"; }
die() { echo "guest image: ERROR: $*" >&2; exit 1; }
t0=$(date +%s)
took() { echo "$(( $(date +%s) - $1 ))s"; }

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
want_hash=$( { echo "format=$FORMAT modules=${ROOT_MODULES[*]}"; cat "$INIT_SRC"; } | sha256sum | cut -c1-16)

stamp_ok() {
  local f=$CACHE/stamp k i h
  [ -s "$f" ] || return 1
  k=$(sed -n 's/^kernel=//p' "$f"); i=$(sed -n 's/^initrd=//p' "$f"); h=$(sed -n 's/^init_hash=//p' "$f")
  [ -n "$k" ] && [ -s "$CACHE/$k" ] && [ -n "$i" ] && [ -s "$CACHE/$i" ] && [ "$h" = "$want_hash" ] &&
    command -v qemu-system-x86_64 >/dev/null 2>&1
}
if stamp_ok; then
  say "ready in $CACHE ($(sed -n 's/^kernel_version=//p' "$CACHE/stamp"), $(sed -n 's/^kernel=//p' "$CACHE/stamp"))"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "the first build needs root (apt-get, mknod /dev/console)"
exec 9>"$CACHE/.lock"
flock 9
if stamp_ok; then say "ready in $CACHE (built by a concurrent run)"; exit 0; fi
log=$CACHE/.log
export DEBIAN_FRONTEND=noninteractive

# --- host packages -----------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
need=()
for p in qemu-system-x86 busybox-static iperf3 ethtool; do installed "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  t=$(date +%s)
  say "installing ${need[*]} (apt-get, --no-install-recommends)…"
  if ! apt-get install -y -q --no-install-recommends "${need[@]}" >"$log" 2>&1; then
    say "install failed; running apt-get update and retrying…"
    apt-get update -q >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
    apt-get install -y -q --no-install-recommends "${need[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "apt-get install ${need[*]} failed"; }
  fi
  say "installed in $(took "$t")"
fi
BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
[ -n "$BUSYBOX" ] || die "no busybox after installing busybox-static"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || die "$BUSYBOX is not static (busybox-static needed)"

# --- kernel package ------------------------------------------------------------
KDIR=$CACHE/kernel # vmlinuz, config, modules/*.ko, modules/order, .done
pick_kernel() {
  local p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -nE 's/^ *Depends: (linux-image-6\.1\.[0-9]+-[0-9]+-amd64)$/\1/p' | head -n 1)
  if [ -z "$p" ]; then
    p=$(apt-cache pkgnames linux-image-6.1. 2>/dev/null | grep -E '^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V |
      while read -r c; do apt-cache policy "$c" | grep -q 'Candidate: (none)' || echo "$c"; done | tail -n 1)
  fi
  echo "$p"
}
if [ ! -f "$KDIR/.done" ]; then
  pkg=${NETFD_GUEST_KERNEL_PKG:-$(pick_kernel)}
  if [ -z "$pkg" ]; then
    say "no linux-image-6.1.*-amd64 in the apt lists; running apt-get update…"
    apt-get update -q >"$log" 2>&1 || { cat "$log" >&2; die "apt-get update failed"; }
    pkg=$(pick_kernel)
  fi
  [ -n "$pkg" ] || die "no linux-image-6.1.*-amd64 package found by apt-cache"
  ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
  mkdir -p "$CACHE/debs"
  deb=$(ls "$CACHE/debs/${pkg}_"*_amd64.deb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$deb" ]; then
    t=$(date +%s)
    size=$(apt-cache show "$pkg=$ver" 2>/dev/null | sed -n 's/^Size: //p' | head -n 1)
    say "downloading $pkg $ver ($(( ${size:-0} / 1048576 )) MiB, apt-get download)…"
    tmp=$CACHE/debs/.dl
    rm -rf "$tmp"; mkdir -p "$tmp"; chmod 755 "$tmp"
    (cd "$tmp" && apt-get download "$pkg=$ver" >"$log" 2>&1) || { cat "$log" >&2; die "apt-get download $pkg failed"; }
    f=$(ls "$tmp"/*.deb)
    dpkg-deb --info "$f" >/dev/null || die "downloaded $f is not a .deb"
    mv "$f" "$CACHE/debs/"; rm -rf "$tmp"
    deb=$CACHE/debs/$(basename "$f")
    say "downloaded in $(took "$t")"
  fi

  t=$(date +%s)
  say "unpacking $(basename "$deb") (dpkg-deb -x, not installed)…"
  x=$CACHE/.unpack
  rm -rf "$x" "$KDIR"; mkdir -p "$x"
  dpkg-deb -x "$deb" "$x"
  vmlinuz=$(ls "$x"/boot/vmlinuz-* | head -n 1)
  kver=${vmlinuz##*/vmlinuz-}
  mdir=$x/lib/modules/$kver
  [ -d "$mdir" ] || die "no lib/modules/$kver in $deb"
  mkdir -p "$KDIR/modules"
  cp "$vmlinuz" "$KDIR/vmlinuz"
  cp "$x/boot/config-$kver" "$KDIR/config" 2>/dev/null || true

  # Resolve the modules' dependencies from their depends= (no modules.dep).
  declare -A kopath=() visited=()
  while IFS= read -r f; do
    b=${f##*/}; b=${b%%.ko*}; kopath[${b//-/_}]=$f
  done < <(find "$mdir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
  order=()
  ko_cat() {
    case $1 in
      *.xz) xz -dc "$1" ;; *.zst) zstd -qdc "$1" ;; *.gz) gzip -dc "$1" ;; *) cat "$1" ;;
    esac
  }
  visit() {
    local m=${1//-/_} d deps
    [ -n "${visited[$m]-}" ] && return 0
    visited[$m]=1
    [ -n "${kopath[$m]-}" ] || die "module $m not in $pkg (built in? then drop it from ROOT_MODULES)"
    deps=$(ko_cat "${kopath[$m]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1)
    for d in ${deps//,/ }; do visit "$d"; done
    ko_cat "${kopath[$m]}" >"$KDIR/modules/$m.ko"
    order+=("$m")
  }
  for m in "${ROOT_MODULES[@]}"; do visit "$m"; done
  printf '%s\n' "${order[@]}" >"$KDIR/modules/order"
  echo "$pkg" >"$KDIR/package"; echo "$ver" >"$KDIR/package-version"; echo "$kver" >"$KDIR/version"
  rm -rf "$x"

  # vmlinux: the ELF inside vmlinuz's compressed payload (PVH boot needs it).
  rm -f "$KDIR/vmlinux"
  for spec in 'xz:\xFD7zXZ\x00:xz -dc --single-stream' 'zstd:\x28\xB5\x2F\xFD:zstd -qdc' 'gzip:\x1F\x8B\x08:gzip -dc'; do
    name=${spec%%:*}; rest=${spec#*:}; magic=${rest%%:*}; cmd=${rest#*:}
    for off in $(LC_ALL=C grep -obUaP "$magic" "$KDIR/vmlinuz" 2>/dev/null | cut -d: -f1 | head -n 4); do
      tail -c +$((off + 1)) "$KDIR/vmlinuz" | $cmd >"$KDIR/vmlinux.tmp" 2>/dev/null || true
      if [ "$(head -c 4 "$KDIR/vmlinux.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] &&
        readelf -h "$KDIR/vmlinux.tmp" >/dev/null 2>&1; then
        if readelf -n "$KDIR/vmlinux.tmp" 2>/dev/null | grep -A0 '^ *Xen' | grep -Eq '0x00000012|PHYS32'; then
          mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
          echo "$name" >"$KDIR/vmlinux.compression"
          break 2
        fi
      fi
    done
  done
  rm -f "$KDIR/vmlinux.tmp"
  touch "$KDIR/.done"
  say "kernel $kver unpacked in $(took "$t"): modules ${order[*]}"
fi
kver=$(cat "$KDIR/version")

# --- outputs -------------------------------------------------------------------
rm -f "$CACHE/stamp"
if [ -s "$KDIR/vmlinux" ]; then
  ln -f "$KDIR/vmlinux" "$CACHE/vmlinux" 2>/dev/null || cp "$KDIR/vmlinux" "$CACHE/vmlinux"
  kernel=vmlinux boot=pvh
  say "vmlinux: $(cat "$KDIR/vmlinux.compression") payload of vmlinuz, ELF with a PVH entry note"
else
  rm -f "$CACHE/vmlinux"
  kernel=vmlinuz boot=bzimage
  say "could not extract an ELF vmlinux with a PVH note from vmlinuz; using vmlinuz (boots ~2x slower under TCG)"
fi
ln -f "$KDIR/vmlinuz" "$CACHE/vmlinuz" 2>/dev/null || cp "$KDIR/vmlinuz" "$CACHE/vmlinuz"

t=$(date +%s)
say "building initramfs (busybox, modules, iperf3, ethtool)…"
r=$CACHE/.root
rm -rf "$r"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules,root}
chmod 1777 "$r/tmp"
mknod -m 600 "$r/dev/console" c 5 1
mknod -m 666 "$r/dev/null" c 1 3
cp "$BUSYBOX" "$r/bin/busybox"
for l in $("$BUSYBOX" --list-full); do
  [ -e "$r/$l" ] || ln -s /bin/busybox "$r/$l"
done
cp "$KDIR"/modules/*.ko "$KDIR/modules/order" "$r/lib/modules/"
install -m 755 "$INIT_SRC" "$r/init"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\n' >"$r/etc/group"
printf '127.0.0.1 localhost\n' >"$r/etc/hosts"
# Dynamically linked host binaries with the libraries ldd names.
add_bin() { # PATH-ON-HOST DEST-DIR
  local b=$1 lib
  [ -x "$b" ] || return 1
  rm -f "$r$2/${b##*/}"
  cp "$b" "$r$2/"
  for lib in $(ldd "$b" | grep -oE '/[^ ]+'); do
    mkdir -p "$r$(dirname "$lib")"
    [ -e "$r$lib" ] || cp -L "$lib" "$r$lib"
  done
}
iperf3=no ethtool=no
add_bin "$(command -v iperf3 || echo /nonexistent)" /usr/bin && iperf3=yes
add_bin "$(command -v ethtool || PATH=$PATH:/usr/sbin:/sbin command -v ethtool || echo /nonexistent)" /usr/sbin && ethtool=yes
echo "netfd-guest kernel=$kver" >"$r/etc/netfd-guest"
(cd "$r" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -6 >"$CACHE/initramfs.cpio.gz.tmp")
mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
rm -rf "$r"
say "initramfs $(( $(stat -c %s "$CACHE/initramfs.cpio.gz") / 1024 )) KiB in $(took "$t") (iperf3=$iperf3 ethtool=$ethtool)"

sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' | sed -e 's/^# \{0,1\}//' -e "s|CACHE_DIR/|$CACHE/|g" >"$CACHE/README"
cat >"$CACHE/stamp.tmp" <<EOF
kernel=$kernel
initrd=initramfs.cpio.gz
boot=$boot
kernel_version=$kver
kernel_package=$(cat "$KDIR/package") $(cat "$KDIR/package-version")
modules=$(tr '\n' ' ' <"$KDIR/modules/order" | sed 's/ $//')
iperf3=$iperf3
ethtool=$ethtool
init_hash=$want_hash
EOF
mv "$CACHE/stamp.tmp" "$CACHE/stamp"
rm -f "$log"
say "ready in $CACHE ($kver, $kernel) after $(took "$t0")"
