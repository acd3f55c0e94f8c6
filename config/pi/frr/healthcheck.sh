#!/bin/sh
# Healthcheck of the routing container (compose.yaml mounts it read-only): healthy when
# zebra and ospfd answer vtysh and every address that frr.conf puts on an interface is on
# it. DHCP on eth1/eth2 waits for this (depends_on: service_healthy), as the reference's
# DHCP containers had to wait for the routing container to configure their interface.
# VTYSH and FRR_CONF let test/topology/ run this same script against its namespaces.
set -u
VTYSH=${VTYSH:-vtysh}
FRR_CONF=${FRR_CONF:-/etc/frr/frr.conf}
$VTYSH -c 'show ip ospf' >/dev/null 2>&1 || { echo 'ospfd does not answer'; exit 1; }
addrs=$(ip -4 -o addr show) || exit 1
for a in $(sed -n 's/^ *ip address \([0-9./]*\).*/\1/p' "$FRR_CONF"); do
  case "$addrs" in
    *"inet $a "*) ;;
    *) echo "address $a not configured yet"; exit 1 ;;
  esac
done
echo ok
