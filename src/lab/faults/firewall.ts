// Firewall faults: real rule changes in the node's netns, healed by re-running the node's
// NixOS-shaped firewall start script (/etc/leafcert-lab/firewall-start.sh), as a reload would.
import type { Fault, FaultContext } from './types.js';

const EXTRA_PORT = 6379;
const start = async (ctx: FaultContext, ports: string): Promise<void> => { await ctx.exec(`FW_TCP_PORTS="${ports}" bash /etc/leafcert-lab/firewall-start.sh`); };
const restore = (ctx: FaultContext) => start(ctx, '22 80 443');

// A port forward to a container address past nixos-fw (no container needs to be there: the rules are judged).
const FWD = 'tcp dport 15432 dnat to 10.233.1.2:5432';
const IPT_FWD = '-i eth0 -p tcp --dport 15432 -j DNAT --to-destination 10.233.1.2:5432';
/** A native nft table with a nat prerouting chain: the forward in it, or in a chain it jumps to. */
const nftNat = (table: string, viaChain: boolean) => `nft -f - <<'NFT'
table ip ${table} {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ${viaChain ? 'jump fwd-pg' : `iifname "eth0" ${FWD}`}
  }
${viaChain ? `  chain fwd-pg {\n    iifname "eth0" ${FWD}\n  }\n` : ''}}
NFT`;
/** The same forward in an iptables nat chain jumped to from PREROUTING. */
const iptNat = (chain: string) => `iptables -w -t nat -N ${chain} && iptables -w -t nat -A PREROUTING -j ${chain} && iptables -w -t nat -A ${chain} ${IPT_FWD}`;
const unNat = (ctx: FaultContext, chain: string, table: string) => ctx.exec(ctx.node.firewall === 'nftables'
  ? `nft delete table ip ${table} 2>/dev/null; true`
  : `while iptables -w -t nat -D PREROUTING -j ${chain} 2>/dev/null; do :; done; iptables -w -t nat -F ${chain} 2>/dev/null; iptables -w -t nat -X ${chain} 2>/dev/null; true`);

export const faults: Fault[] = [
  {
    name: 'firewall-extra-port',
    area: 'firewall',
    breaks: `TCP ${EXTRA_PORT} (redis) is accepted by the firewall (a rule like nixos-firewall-tool's) and something listens on it`,
    catches: ['firewall.port-closed', 'firewall.allowed-ports', 'firewall.drift'],
    async apply(ctx) {
      const rule = ctx.node.firewall === 'nftables'
        ? `nft add element inet nixos-fw temp-ports '{ tcp . ${EXTRA_PORT} }'`
        : `iptables -w -I nixos-fw -p tcp --dport ${EXTRA_PORT} -j nixos-fw-accept && ip6tables -w -I nixos-fw -p tcp --dport ${EXTRA_PORT} -j nixos-fw-accept`;
      await ctx.exec(`${rule} && lab-backend-start fault-redis 0.0.0.0 ${EXTRA_PORT}`);
    },
    async heal(ctx) {
      await ctx.exec(`[ -f /run/lab-backend-fault-redis.pid ] && kill $(cat /run/lab-backend-fault-redis.pid) 2>/dev/null; rm -f /run/lab-backend-fault-redis.pid /etc/lab-backend/fault-redis.conf; true`);
      await restore(ctx);
    },
  },
  {
    name: 'firewall-direct-accept',
    area: 'firewall',
    breaks: `TCP ${EXTRA_PORT} is accepted straight inside nixos-fw (-j ACCEPT, not nixos-fw-accept; IPv6 only on iptables, so an IPv4 probe sees nothing): only the rules show it`,
    catches: ['firewall.allowed-ports', 'firewall.drift'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? `nft insert rule inet nixos-fw input tcp dport ${EXTRA_PORT} accept`
        : `ip6tables -w -I nixos-fw -p tcp --dport ${EXTRA_PORT} -j ACCEPT`);
    },
    async heal(ctx) {
      await restore(ctx);
    },
  },
  {
    name: 'firewall-flushed',
    area: 'firewall',
    breaks: 'the firewall is flushed: no nixos-fw chains, every port reachable (input policy accept)',
    catches: ['firewall.enabled', 'firewall.port-closed', 'firewall.default-drop', 'firewall.allowed-ports', 'firewall.drift'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? 'nft flush ruleset'
        : 'for t in iptables ip6tables; do $t -w -P INPUT ACCEPT; $t -w -F; $t -w -X; done');
    },
    heal: restore,
  },
  {
    name: 'firewall-policy-accept',
    area: 'firewall',
    breaks: 'refused packets are accepted instead of dropped (the chains are there, the default is open)',
    catches: ['firewall.default-drop', 'firewall.port-closed'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? `nft 'chain inet nixos-fw input { policy accept; }'`
        : 'iptables -w -R nixos-fw-refuse 1 -j ACCEPT && ip6tables -w -R nixos-fw-refuse 1 -j ACCEPT');
    },
    heal: restore,
  },
  {
    name: 'firewall-port-blocked',
    area: 'firewall',
    breaks: 'TCP 443 is no longer allowed (dropped from allowedTCPPorts, firewall reloaded): HTTPS is filtered',
    catches: ['firewall.port-open', 'firewall.allowed-ports'],
    apply: (ctx) => start(ctx, '22 80'),
    heal: restore,
  },
  {
    name: 'firewall-uplink-accept',
    area: 'firewall',
    breaks: 'everything arriving on the uplink eth0 is accepted before NixOS\'s rules judge it (iptables -I INPUT -i eth0 -j ACCEPT, v4 and v6; nft: iifname "eth0" accept in chain input): the firewall is off on that interface',
    // Not drift on nftables: `iifname "eth0" accept` is NixOS's trusted-interface form (allowed-ports compares those).
    catches: ['firewall.enabled', 'firewall.default-drop', 'firewall.port-closed'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? `nft insert rule inet nixos-fw input iifname "eth0" accept`
        : 'iptables -w -I INPUT -i eth0 -j ACCEPT && ip6tables -w -I INPUT -i eth0 -j ACCEPT');
    },
    async heal(ctx) {
      // The start script only re-creates the nixos-fw chains: the INPUT rule is removed by hand.
      if (ctx.node.firewall !== 'nftables') await ctx.exec('for t in iptables ip6tables; do while $t -w -D INPUT -i eth0 -j ACCEPT 2>/dev/null; do :; done; done');
      await restore(ctx);
    },
  },
  {
    name: 'firewall-conntrack-new',
    area: 'firewall',
    breaks: 'the established-traffic rule is widened to NEW connections (--ctstate NEW,RELATED,ESTABLISHED; nft: ct state established,related,new accept): every port is accepted',
    catches: ['firewall.enabled', 'firewall.default-drop', 'firewall.port-closed', 'firewall.drift'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? 'nft insert rule inet nixos-fw input ct state established,related,new accept'
        : 'for t in iptables ip6tables; do $t -w -R nixos-fw 2 -m conntrack --ctstate NEW,RELATED,ESTABLISHED -j nixos-fw-accept; done');
    },
    heal: restore,
  },
  {
    name: 'firewall-refuse-accept',
    area: 'firewall',
    breaks: 'the refuse path accepts TCP (iptables -I nixos-fw-log-refuse 1 -p tcp -j ACCEPT; nft: meta l4proto tcp accept at the end of chain input): what no rule allows is let through',
    catches: ['firewall.default-drop', 'firewall.port-closed', 'firewall.drift'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? 'nft add rule inet nixos-fw input meta l4proto tcp accept'
        : 'iptables -w -I nixos-fw-log-refuse 1 -p tcp -j ACCEPT');
    },
    heal: restore,
  },
  {
    name: 'firewall-set-accept',
    area: 'firewall',
    breaks: `TCP ${EXTRA_PORT} and 4222 are accepted by an nft rule with a set in the firewall chain (iptables-save prints it "-p tcp -j ACCEPT": every TCP port; nft: tcp dport ${EXTRA_PORT} counter accept in input-allow)`,
    catches: ['firewall.allowed-ports', 'firewall.drift', 'firewall.port-closed'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? `nft add rule inet nixos-fw input-allow tcp dport ${EXTRA_PORT} counter accept`
        : `nft insert rule ip filter nixos-fw tcp dport '{ ${EXTRA_PORT}, 4222 }' accept`);
    },
    heal: restore,
  },
  {
    name: 'firewall-ipv6-open',
    area: 'firewall',
    breaks: 'IPv6 is up (link-local on eth0) but nothing filters it: the IPv6 filter table is deleted (iptables backend: nft delete table ip6 filter; nftables: meta nfproto ipv6 accept ahead of chain input\'s rules)',
    catches: ['firewall.enabled', 'firewall.default-drop'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? 'nft insert rule inet nixos-fw input meta nfproto ipv6 accept'
        : 'nft delete table ip6 filter');
    },
    heal: restore,
  },
  {
    name: 'firewall-dnat-chain',
    area: 'firewall',
    breaks: "TCP 15432 is forwarded to a container's PostgreSQL by a DNAT in a hand-made nat chain PREROUTING jumps to (Docker's layout; nft: a chain the prerouting nat chain jumps to): it bypasses nixos-fw",
    catches: ['firewall.drift'],
    apply: (ctx) => ctx.exec(ctx.node.firewall === 'nftables' ? nftNat('lcfwd', true) : iptNat('fwd-pg')).then(() => undefined),
    heal: (ctx) => unNat(ctx, 'fwd-pg', 'lcfwd').then(() => undefined),
  },
  {
    name: 'firewall-dnat-nat-pre',
    area: 'firewall',
    breaks: "TCP 15432 is forwarded by a DNAT in NixOS's own nat chain (nixos-nat-pre; nft: table ip nixos-nat) that the expectation's forwardPorts do not declare",
    catches: ['firewall.drift'],
    apply: (ctx) => ctx.exec(ctx.node.firewall === 'nftables' ? nftNat('nixos-nat', false) : iptNat('nixos-nat-pre')).then(() => undefined),
    heal: (ctx) => unNat(ctx, 'nixos-nat-pre', 'nixos-nat').then(() => undefined),
  },
  {
    name: 'firewall-dnat-nft-table',
    area: 'firewall',
    breaks: 'TCP 15432 is forwarded by a native nft table with a nat prerouting chain (table ip lcfwd), beside the iptables rules on an iptables node',
    catches: ['firewall.drift'],
    apply: (ctx) => ctx.exec(nftNat('lcfwd', false)).then(() => undefined),
    heal: (ctx) => ctx.exec('nft delete table ip lcfwd 2>/dev/null; true').then(() => undefined),
  },
  {
    name: 'firewall-vmap-accept',
    area: 'firewall',
    breaks: `TCP ${EXTRA_PORT} is accepted through a verdict map in the firewall chain (tcp dport vmap { ${EXTRA_PORT} : accept }): iptables-save prints it "-A nixos-fw -p tcp" with no target, only nft's JSON names the port`,
    catches: ['firewall.allowed-ports', 'firewall.drift', 'firewall.port-closed'],
    async apply(ctx) {
      await ctx.exec(ctx.node.firewall === 'nftables'
        ? `nft add rule inet nixos-fw input-allow tcp dport vmap '{ ${EXTRA_PORT} : accept }'`
        : `nft insert rule ip filter nixos-fw tcp dport vmap '{ ${EXTRA_PORT} : accept }'`);
    },
    heal: restore,
  },
];
