#!/bin/bash
# The lab's copy of NixOS's firewall-iptables.nix start script (installed on a node as
# /etc/leafcert-lab/firewall-start.sh): same chains, same order, same rule spelling, so
# `iptables-save` on a lab node reads like on NixOS. Allowed TCP ports: $FW_TCP_PORTS (sorted).
set -eu
ports=${FW_TCP_PORTS:-22 80 443}
ip46tables() { iptables -w "$@"; ip6tables -w "$@"; }

# Flush the old firewall rules (as NixOS's reload does).
ip46tables -D INPUT -j nixos-fw 2>/dev/null || true
for chain in nixos-fw nixos-fw-accept nixos-fw-log-refuse nixos-fw-refuse; do
  ip46tables -F "$chain" 2>/dev/null || true
  ip46tables -X "$chain" 2>/dev/null || true
done

ip46tables -N nixos-fw-accept
ip46tables -A nixos-fw-accept -j ACCEPT

ip46tables -N nixos-fw-refuse
ip46tables -A nixos-fw-refuse -j DROP

ip46tables -N nixos-fw-log-refuse
ip46tables -A nixos-fw-log-refuse -p tcp --syn -j LOG --log-level info --log-prefix "refused connection: "
ip46tables -A nixos-fw-log-refuse -m pkttype ! --pkt-type unicast -j nixos-fw-refuse
ip46tables -A nixos-fw-log-refuse -j nixos-fw-refuse

ip46tables -N nixos-fw
# trusted interfaces (the module always appends lo)
ip46tables -A nixos-fw -i lo -j nixos-fw-accept
ip46tables -A nixos-fw -m conntrack --ctstate ESTABLISHED,RELATED -j nixos-fw-accept
for port in $ports; do
  ip46tables -A nixos-fw -p tcp --dport "$port" -j nixos-fw-accept
done
iptables -w -A nixos-fw -p icmp --icmp-type echo-request -j nixos-fw-accept
ip6tables -w -A nixos-fw -p icmpv6 --icmpv6-type redirect -j DROP
ip6tables -w -A nixos-fw -p icmpv6 --icmpv6-type 139 -j DROP
ip6tables -w -A nixos-fw -p icmpv6 -j nixos-fw-accept
ip46tables -A nixos-fw -j nixos-fw-log-refuse

ip46tables -A INPUT -j nixos-fw
