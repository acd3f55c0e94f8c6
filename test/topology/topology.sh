#!/usr/bin/env bash
# The reference's two-Pi network, built on this machine with network namespaces and veth
# pairs (root; iproute2, util-linux, frr). Every name starts with nstopo-; every address
# exists only inside these namespaces.
#
#   test/topology/topology.sh up   [RUNDIR]   namespaces, links, wlan0 addresses, forwarding, FRR
#   test/topology/topology.sh down [RUNDIR]   stop FRR, delete the namespaces and FRR's run dirs
#
#   nstopo-pi1: wlan0 192.168.0.1-.7/24 (set here: the host's access point config),
#               eth1, eth2, eth3 (addressed by zebra from config/pi/frr/pi1/frr.conf)
#   nstopo-pi2: eth1, eth2, eth3 (config/pi/frr/pi2/frr.conf)
#   clients:    nstopo-c0 on pi1 wlan0, nstopo-c1 on pi1 eth1, nstopo-c2 on pi1 eth2,
#               nstopo-c4 on pi2 eth1, nstopo-c5 on pi2 eth2 (each with interface eth0)
#   pi1 eth3 <-> pi2 eth3: the point-to-point link, OSPF area 0.0.0.1
#
# FRR runs as the routing container would: zebra and ospfd with the capability bounding set
# of compose.yaml's routing service (setpriv), the committed frr.conf applied by `vtysh -b`.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
cmd=${1:-}
RUN=${2:-/tmp/nstopo-run}
FRR_RUN=/var/run/frr

# routing's cap_add in compose.yaml, as a setpriv bounding set (-all,+net_admin,…)
frr_caps() {
  node --input-type=module -e "
    import { readFileSync } from 'node:fs'; import { parse } from 'yaml';
    const c = parse(readFileSync('compose.yaml', 'utf8'), { merge: true }).services.routing;
    console.log(['-all', ...c.cap_add.map((x) => '+' + x.toLowerCase())].join(','));"
}

veth() { # veth NS_A IF_A NS_B IF_B
  ip link add nstopo-tmpa type veth peer name nstopo-tmpb
  ip link set nstopo-tmpa netns "$1"
  ip link set nstopo-tmpb netns "$3"
  ip -n "$1" link set nstopo-tmpa name "$2"
  ip -n "$3" link set nstopo-tmpb name "$4"
  ip -n "$1" link set "$2" up
  ip -n "$3" link set "$4" up
}

up() {
  command -v ip >/dev/null && command -v setpriv >/dev/null && [ -x /usr/lib/frr/zebra ] \
    || { echo "needs iproute2, util-linux and frr" >&2; exit 2; }
  down >/dev/null 2>&1 || true
  mkdir -p "$RUN/frr"
  [ -e "$FRR_RUN/ospfd-gr.json" ] || touch "$RUN/frr/created-ospfd-gr"
  for ns in pi1 pi2 c0 c1 c2 c4 c5; do
    ip netns add "nstopo-$ns"
    ip -n "nstopo-$ns" link set lo up
  done
  veth nstopo-pi1 wlan0 nstopo-c0 eth0
  veth nstopo-pi1 eth1 nstopo-c1 eth0
  veth nstopo-pi1 eth2 nstopo-c2 eth0
  veth nstopo-pi2 eth1 nstopo-c4 eth0
  veth nstopo-pi2 eth2 nstopo-c5 eth0
  veth nstopo-pi1 eth3 nstopo-pi2 eth3
  for a in 1 2 3 4 5 6 7; do ip -n nstopo-pi1 addr add "192.168.0.$a/24" dev wlan0; done
  for pi in pi1 pi2; do ip netns exec "nstopo-$pi" sysctl -qw net.ipv4.ip_forward=1; done

  local caps; caps=$(frr_caps)
  chown frr:frr "$RUN/frr"
  for pi in pi1 pi2; do
    install -d -o frr -g frr -m 755 "$FRR_RUN/nstopo-$pi"
    for d in zebra ospfd; do
      extra=(); [ "$d" = zebra ] && extra=(-s 90000000)
      ip netns exec "nstopo-$pi" setpriv --bounding-set="$caps" --inh-caps=-all \
        "/usr/lib/frr/$d" -d -N "nstopo-$pi" -P 0 "${extra[@]}" \
        --log "file:$RUN/frr/$pi-$d.log" -i "$RUN/frr/$pi-$d.pid"
    done
  done
  for pi in pi1 pi2; do
    for _ in $(seq 50); do [ -S "$FRR_RUN/nstopo-$pi/ospfd.vty" ] && break; sleep 0.1; done
    ip netns exec "nstopo-$pi" vtysh --vty_socket "$FRR_RUN/nstopo-$pi" \
      --config_dir "$REPO/config/pi/frr/$pi" -b >"$RUN/frr/$pi-vtysh-b.log" 2>&1
  done
  echo "topology up (run dir $RUN)"
}

down() {
  for f in "$RUN"/frr/*.pid; do
    [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 0.3
  for ns in $(ip netns list | awk '{print $1}' | grep '^nstopo-' || true); do
    # anything still running inside (a client's udhcpc, a stray server) goes with it
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns"
  done
  rm -rf "$FRR_RUN"/nstopo-* /etc/netns/nstopo-*
  [ -e "$RUN/frr/created-ospfd-gr" ] && rm -f "$FRR_RUN/ospfd-gr.json"
  rm -rf "$RUN/frr"
  echo "topology down"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down [RUNDIR]" >&2; exit 2 ;;
esac
