// The firewall expectation (expectations.<name>.firewall) and its schema.
import type { Port } from '../../src/probes/firewall-model.js';
import type { ForwardPort } from '../../src/probes/iptables.js';

export interface FirewallExpect {
  /** Pin the backend; default: whichever NixOS firewall is found. */
  backend?: 'iptables' | 'nftables';
  /** TCP ports (or "a-b" ranges) allowed on every interface; integer ports are also probed open from the harness. */
  open: Port[];
  /** TCP ports that must not answer from the harness (filtered or refused). */
  closed?: number[];
  /** UDP ports/ranges allowed on every interface (declared state only: UDP cannot be probed reliably). */
  udp?: Port[];
  /** Per-interface allowances (networking.firewall.interfaces.<if>). */
  interfaces?: Record<string, { tcp?: Port[]; udp?: Port[] }>;
  /** Trusted interfaces; `lo` is always added, as NixOS does. */
  trusted?: string[];
  /** How refused packets are handled (networking.firewall.rejectPackets). With `drop`, an
   *  expected-closed port that answers RST fails port-closed: the firewall did not stop it. */
  refuse?: 'drop' | 'reject';
  /** Declared extra rules (extraCommands / extraInputRules) that are not drift, as written in the config. */
  extraRules?: string[];
  /** Declared port forwards (networking.nat.forwardPorts): the DNATs NixOS writes in nixos-nat-pre / table nixos-nat. Any other DNAT reachable from prerouting is drift. */
  forwardPorts?: ForwardPort[];
  /** Outside-in connect timeout, e.g. "1.5s". */
  probeTimeout?: string;
}

const portItem = { oneOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', pattern: '^[0-9]{1,5}-[0-9]{1,5}$' }] };
const portList = { type: 'array', items: portItem };

export const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['open'],
  properties: {
    backend: { enum: ['iptables', 'nftables'] },
    open: portList,
    // `closed: []` would look like a checked promise and check nothing: omit the key instead.
    closed: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1, maximum: 65535 } },
    udp: portList,
    interfaces: {
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: false, properties: { tcp: portList, udp: portList } },
    },
    trusted: { type: 'array', items: { type: 'string', minLength: 1 } },
    refuse: { enum: ['drop', 'reject'] },
    extraRules: { type: 'array', items: { type: 'string', minLength: 1 } },
    forwardPorts: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['sourcePort', 'destination'],
        properties: { proto: { enum: ['tcp', 'udp'] }, sourcePort: portItem, destination: { type: 'string', minLength: 1 }, iface: { type: 'string', minLength: 1 } },
      },
    },
    probeTimeout: { type: 'string' },
  },
};
