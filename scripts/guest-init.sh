#!/bin/sh
# /init of netfd's test guest (busybox sh). scripts/guest-image.sh packs it
# into the initramfs; the protocol (netfd.* kernel parameters in, NETFD-*
# marker lines out on the console) is documented at the top of that script.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mkdir -p /tmp /run /dev/pts

now() { read -r u _ </proc/uptime; echo "$u"; }
secs() { read -r u _ </proc/uptime; echo "${u%%.*}"; }

# netfd.KEY=VALUE -> P_KEY (KEY limited to [a-z0-9_]).
for w in $(cat /proc/cmdline); do
  case $w in
    netfd.*=*) ;;
    *) continue ;;
  esac
  k=${w%%=*}; k=${k#netfd.}; v=${w#*=}
  case $k in ''|*[!a-z0-9_]*) continue ;; esac
  eval "P_$k=\$v"
done
getp() { eval "echo \"\${P_$1-}\""; }
# Per-interface parameter: KEY<N> for ethN; for eth0 also plain KEY.
ifp() {
  v=$(getp "$1$2")
  [ -z "$v" ] && [ "$2" = 0 ] && v=$(getp "$1")
  echo "$v"
}

echo # the firmware's last line ("Booting from ROM..") has no newline
echo "NETFD-BOOT t=$(now) kernel=$(uname -r)"
ip link set lo up 2>/dev/null

if [ -f /lib/modules/order ]; then
  while read -r m; do
    [ -n "$m" ] || continue
    insmod "/lib/modules/$m.ko" 2>/dev/null || echo "NETFD-MODULE-FAIL $m"
  done </lib/modules/order
fi
echo "NETFD-MODULES t=$(now)"

WAIT=$(getp wait); WAIT=${WAIT:-20}

# netfd.nics=N: wait (up to netfd.wait seconds) until N ethX interfaces exist.
want=$(getp nics)
if [ -n "$want" ]; then
  end=$(( $(secs) + WAIT ))
  while :; do
    n=0; for d in /sys/class/net/eth*; do [ -e "$d" ] && n=$((n + 1)); done
    [ "$n" -ge "$want" ] && break
    if [ "$(secs)" -ge "$end" ]; then echo "NETFD-NICS-FAIL have=$n want=$want"; break; fi
    sleep 0.2
  done
fi

ping_peer() { # IFACE PEER COUNT
  pifc=$1 peer=$2 count=$3
  end=$(( $(secs) + WAIT ))
  until ping -c 1 -W 1 -I "$pifc" "$peer" >/dev/null 2>&1; do
    if [ "$(secs)" -ge "$end" ]; then
      echo "NETFD-PING-FAIL $pifc $peer recv=0/1 no reply within ${WAIT}s t=$(now)"
      return 1
    fi
  done
  out=$(ping -c "$count" -A -W 2 -I "$pifc" "$peer" 2>&1)
  recv=$(echo "$out" | sed -n 's/.* \([0-9][0-9]*\) packets received.*/\1/p')
  rtt=$(echo "$out" | sed -n 's/.*min\/avg\/max = \([^ ]*\) ms.*/\1/p')
  if [ "${recv:-0}" = "$count" ]; then
    echo "NETFD-PING-OK $pifc $peer recv=$recv/$count rtt=${rtt:-?}ms t=$(now)"
  else
    echo "NETFD-PING-FAIL $pifc $peer recv=${recv:-0}/$count t=$(now)"
    return 1
  fi
}

setup_if() { # IFACE
  ifc=$1; n=${ifc#eth}
  ip link set "$ifc" up
  addr=$(ifp ip "$n")
  if [ -n "$addr" ]; then
    if ip addr add "$addr" dev "$ifc"; then
      echo "NETFD-IP $ifc $addr mac=$(cat "/sys/class/net/$ifc/address")"
    else
      echo "NETFD-IP-FAIL $ifc $addr"
    fi
  fi
  q=$(ifp queues "$n")
  if [ -n "$q" ]; then
    if command -v ethtool >/dev/null 2>&1; then
      ethtool -L "$ifc" combined "$q" >/dev/null 2>&1 || echo "NETFD-QUEUES-FAIL $ifc combined=$q"
    else
      echo "NETFD-QUEUES-FAIL $ifc no ethtool in this guest"
    fi
  fi
  rx=0; for d in /sys/class/net/"$ifc"/queues/rx-*; do [ -e "$d" ] && rx=$((rx + 1)); done
  tx=0; for d in /sys/class/net/"$ifc"/queues/tx-*; do [ -e "$d" ] && tx=$((tx + 1)); done
  echo "NETFD-QUEUES $ifc rx=$rx tx=$tx"
  peers=$(ifp peer "$n")
  if [ -n "$peers" ]; then
    cnt=$(ifp ping "$n"); cnt=${cnt:-3}
    # A comma list: each peer in turn, each with its own netfd.wait.
    if [ "$cnt" -gt 0 ] 2>/dev/null; then
      for peer in $(echo "$peers" | tr ',' ' '); do ping_peer "$ifc" "$peer" "$cnt"; done
    fi
  fi
  return 0
}

seen=" "
for d in /sys/class/net/eth*; do
  [ -e "$d" ] || continue
  ifc=${d##*/}
  setup_if "$ifc"
  seen="$seen$ifc "
done

# iperf3 against eth0's peer (only when the image has iperf3).
mode=$(getp iperf3)
hold=$(getp hold)
if [ -n "$mode" ]; then
  if ! command -v iperf3 >/dev/null 2>&1; then
    echo "NETFD-IPERF3-FAIL no iperf3 in this guest"
  elif [ "$mode" = server ]; then
    iperf3 -s -D >/dev/null 2>&1 && echo "NETFD-IPERF3-SERVER port=5201" || echo "NETFD-IPERF3-FAIL server"
    hold=${hold:-1}
  else
    peer=$(ifp peer 0); peer=${peer%%,*}; t=$(getp iperf3_time); t=${t:-5}
    rev=""; [ "$mode" = reverse ] && rev=-R
    out=$(iperf3 -c "$peer" -t "$t" -f m $rev 2>&1)
    s=$(echo "$out" | awk '/sender$/ { for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") v = $i } END { print v }')
    r=$(echo "$out" | awk '/receiver$/ { for (i = 1; i < NF; i++) if ($(i+1) == "Mbits/sec") v = $i } END { print v }')
    if [ -n "$r" ]; then
      echo "NETFD-IPERF3 $mode $peer sender=${s}Mbit/s receiver=${r}Mbit/s"
    else
      echo "NETFD-IPERF3-FAIL $mode $peer: $(echo "$out" | tail -n 1)"
    fi
  fi
fi

if [ "$(getp shell)" = 1 ]; then
  setsid sh -c 'exec sh </dev/console >/dev/console 2>&1' &
fi

echo "NETFD-READY t=$(now)"

if [ "${hold:-0}" != 0 ]; then
  # Stay up; configure NICs that are hot-plugged later, report removed ones.
  while :; do
    sleep 0.5
    for d in /sys/class/net/eth*; do
      [ -e "$d" ] || continue
      ifc=${d##*/}
      case $seen in *" $ifc "*) continue ;; esac
      echo "NETFD-HOTPLUG $ifc t=$(now)"
      setup_if "$ifc"
      seen="$seen$ifc "
      echo "NETFD-HOTPLUG-DONE $ifc"
    done
    for ifc in $seen; do
      [ -e "/sys/class/net/$ifc" ] && continue
      echo "NETFD-UNPLUG $ifc t=$(now)"
      seen=$(echo "$seen" | sed "s/ $ifc / /")
      [ "${seen# }" = "$seen" ] && seen=" $seen"
    done
  done
fi

echo "NETFD-POWEROFF t=$(now)"
sync
poweroff -f
reboot -f
