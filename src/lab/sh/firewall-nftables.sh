#!/bin/bash
# The lab's copy of NixOS's firewall-nftables.nix ruleset (installed on a node as
# /etc/leafcert-lab/firewall-start.sh): one table `inet nixos-fw`, input policy drop,
# allowed TCP ports in one anonymous set in chain input-allow.
set -eu
ports=$(echo ${FW_TCP_PORTS:-22 80 443} | tr ' ' ',')
nft delete table inet nixos-fw 2>/dev/null || true
nft -f - <<NFT
table inet nixos-fw {
  set temp-ports {
    comment "Temporarily opened ports"
    type inet_proto . inet_service
    flags interval
    auto-merge
  }

  chain rpfilter {
    type filter hook prerouting priority mangle + 10; policy drop;
    meta nfproto ipv4 udp sport . udp dport { 67 . 68, 68 . 67 } accept comment "DHCPv4 client/server"
    fib saddr . mark . iif oif exists accept
    jump rpfilter-allow
  }

  chain rpfilter-allow {
  }

  chain input {
    type filter hook input priority filter; policy drop;
    iifname { "lo" } accept comment "trusted interfaces"
    ct state vmap { invalid : drop, established : accept, related : accept, new : jump input-allow, untracked : jump input-allow }
    tcp flags syn / fin,syn,rst,ack log level info prefix "refused connection: "
  }

  chain input-allow {
    tcp dport { $ports } accept
    meta l4proto . th dport @temp-ports accept
    icmp type echo-request accept comment "allow ping"
    icmpv6 type != { nd-redirect, 139 } accept comment "Accept all ICMPv6 messages except redirects and node information queries (type 139).  See RFC 4890, section 4.4."
    ip6 daddr fe80::/64 udp dport 546 accept comment "DHCPv6 client"
  }
}
NFT
