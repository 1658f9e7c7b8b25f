// The manifest's shape (what nix/lib/manifest.nix exports from a NixOS configuration) and its option
// paths: the ground floor, because the suites plan from it (fromManifest) and src/nix loads it.
export const MANIFEST_VERSION = 1;

export type Scalar = string | number | boolean | null;
export type Value = Scalar | Scalar[];
export type DeepValue = Scalar | DeepValue[] | { [k: string]: DeepValue };

export interface PortRange { from: number; to: number }
export interface PortOptions {
  allowedTCPPorts: number[];
  allowedUDPPorts: number[];
  allowedTCPPortRanges: PortRange[];
  allowedUDPPortRanges: PortRange[];
}
export interface Firewall extends PortOptions {
  path: string;
  enable: boolean;
  backend: 'iptables' | 'nftables' | 'firewalld';
  trustedInterfaces: string[];
  rejectPackets: boolean;
  allowPing: boolean;
  logRefusedConnections: boolean | null;
  extraCommands: string;
  extraStopCommands: string;
  interfaces: (PortOptions & { name: string; path: string })[];
}
export interface Networking {
  path: string;
  hostName: string | null;
  domain: string | null;
  bridges: { name: string; path: string; interfaces: string[] }[];
  nat: { path: string; enable: boolean; internalInterfaces: string[]; internalIPs: string[]; externalInterface: string | null; forwardPorts: Record<string, DeepValue>[] };
  nftables: { path: string; enable: boolean };
}
export type ServiceConfig = Partial<Record<
  'MemoryMax' | 'MemoryHigh' | 'CPUQuota' | 'TasksMax' | 'Slice' | 'Environment' | 'EnvironmentFile' | 'LoadCredential' | 'StateDirectory' | 'RuntimeDirectory' | 'ReadWritePaths',
  Value
>>;
export interface Unit { name: string; path: string; environment: Record<string, Scalar>; serviceConfig: ServiceConfig }
export interface Slice { name: string; path: string; sliceConfig: Record<string, Value>; usedBy: string[] }
export interface Location {
  name: string;
  path: string;
  proxyPass: string | null;
  basicAuth: Record<string, string>;
  root: string | null;
  alias: string | null;
  return: string | number | null;
  extraConfig: string;
}
export interface VirtualHost {
  name: string;
  path: string;
  serverName: string | null;
  serverAliases: string[];
  forceSSL: boolean;
  addSSL: boolean;
  onlySSL: boolean;
  enableACME: boolean;
  useACMEHost: string | null;
  sslCertificate: string | null;
  sslCertificateKey: string | null;
  basicAuth: Record<string, string>;
  basicAuthFile: string | null;
  listen: Record<string, unknown>[];
  listenAddresses: string[];
  root: string | null;
  globalRedirect: string | null;
  extraConfig: string;
  locations: Location[];
}
export interface Nginx {
  path: string;
  enable: boolean;
  defaultListenAddresses: string[];
  defaultHTTPListenPort: number;
  defaultSSLListenPort: number;
  recommendedTlsSettings: boolean;
  sslProtocols: string | null;
  commonHttpConfig: string;
  appendHttpConfig: string;
  virtualHosts: VirtualHost[];
}
export interface Postgresql {
  path: string;
  enable: boolean;
  enableTCPIP: boolean;
  dataDir: string | null;
  settings: Record<string, Value>;
  authentication: string;
  identMap: string;
  initialScript: string | null;
  ensureDatabases: string[];
  ensureUsers: { name: string | null; ensureDBOwnership: boolean }[];
}
export interface PostgresqlBackup { path: string; enable: boolean; location: string; databases: string[]; backupAll: boolean | null; startAt: string | string[] | null }
export interface Redis { name: string; path: string; enable: boolean; unit: string; stateDir: string; port: number; bind: string | null; requirePass: string | null; requirePassFile: string | null; settings: Record<string, Value> }
export interface Grafana { path: string; enable: boolean; settings: { server: Record<string, Scalar>; security: Record<string, Scalar> } }
export interface BorgJob {
  name: string;
  path: string;
  paths: string[] | null;
  dumpCommand: string | null;
  repo: string | null;
  encryption: { mode: string | null; passphrase: string | null; passCommand: string | null };
  startAt: string | string[];
  exclude: string[];
  readWritePaths: string[];
  preHook: string;
  doInit: boolean;
  environment: Record<string, string>;
  prune: { keep: Record<string, number | string> };
}
export interface EtcEntry { name: string; path: string; enable: boolean; mode: string; user: string; group: string; text: string }
export interface Security {
  audit: { path: string; enable: boolean | 'lock'; rules: string[]; backlogLimit: number | null; failureMode: string | null };
  auditd: { path: string; enable: boolean };
  apparmor: { path: string; enable: boolean; policies: string[]; killUnconfinedConfinables: boolean };
}
export interface SystemSection { path: string; stateVersion: string | null; stateVersionExplicit: boolean }
export interface Users { path: string; users: string[]; groups: string[] }
/** age.secrets (agenix) / sops.secrets entry: `target` is where the file appears on the node. */
export interface SecretFile { name: string; path: string; provider: 'agenix' | 'sops'; file: string | null; target: string; owner: string; group: string; mode: string }
export interface Tmpfiles { path: string; rules: string[]; settings: { name: string; path: string; type: string; user: string; group: string; mode: string }[] }
export interface Prometheus {
  path: string;
  enable: boolean;
  listenAddress: string;
  port: number;
  webExternalUrl: string | null;
  extraFlags: string[];
  ruleFiles: string[];
  rules: string[];
  alertmanagers: Record<string, DeepValue>[];
  alertmanagerEnable: boolean;
  scrapeConfigs: { job: string | null; targets: string[] }[];
}
/** What a real evaluation would reject (failed assertions, options used without a value), with option paths. */
export interface Evaluation { path: string; problems: { path: string; message: string }[] }
export interface Listener { service: string; enable: boolean; address: string; port: number; path: string }
export interface NodeSection {
  networking: Networking;
  firewall: Firewall;
  units: Unit[];
  slices: Slice[];
  nginx: Nginx;
  postgresql: Postgresql;
  postgresqlBackup: PostgresqlBackup;
  redis: Redis[];
  grafana: Grafana;
  borg: BorgJob[];
  etc: EtcEntry[];
  security: Security;
  listeners: Listener[];
  system: SystemSection;
  users: Users;
  secretFiles: SecretFile[];
  tmpfiles: Tmpfiles;
  prometheus: Prometheus;
  evaluation: Evaluation;
  /** security.acme.certs (absent in manifests written before it); defaultServer null: Let's Encrypt. */
  acme?: { path: string; certs: AcmeCert[]; defaultServer?: string | null };
}
/** server: the ACME directory it is ordered from (null: the default, Let's Encrypt; absent in older manifests). */
export interface AcmeCert { name: string; path: string; domain: string; extraDomainNames: string[]; server?: string | null }
export interface Container {
  name: string;
  path: string;
  autoStart: boolean;
  privateNetwork: boolean;
  hostAddress: string | null;
  localAddress: string | null;
  hostBridge: string | null;
  hostAddress6: string | null;
  localAddress6: string | null;
  enableTun: boolean;
  extraVeths: string[];
  macvlans: string[];
  interfaces: string[];
  privateUsers: 'no' | 'identity' | 'pick' | number;
  extraFlags: string[];
  additionalCapabilities: string[];
  forwardPorts: Record<string, DeepValue>[];
  bindMounts: { name: string; path: string; mountPoint: string; hostPath: string | null; isReadOnly: boolean }[];
  unit: { path: string; serviceConfig: ServiceConfig };
  config: NodeSection;
}
export interface Manifest {
  version: 1;
  generator: string;
  system: { path: string; stateVersion: string | null; containerStateDirectory: string };
  host: NodeSection;
  containers: Container[];
}

// ── tuning and hardening region: boot.kernel.sysctl, units' LimitNOFILE, services.openssh.settings ──
export interface SysctlSection { path: string; values: Record<string, Scalar> }
export interface NofileUnit { unit: string; path: string; value: number | string }
export interface ManifestTuning {
  host: { sysctl: SysctlSection; nofile: NofileUnit[] };
  containers: { name: string; path: string; sysctl: SysctlSection }[];
}
/** services.openssh: enable and the settings the hardening suite plans from. */
export interface ManifestSshd { path: string; enable: boolean; settings: Record<string, Value> }
export interface Manifest {
  /** Absent from manifests written before it was exported. */
  tuning?: ManifestTuning;
  sshd?: ManifestSshd;
}
// ── end tuning ──

/** The manifest cannot be used. `field` names the offending field (`host.firewall.allowedTCPPorts[2]`). */
export class ManifestError extends Error {
  constructor(
    public readonly file: string,
    public readonly problems: { field: string; message: string }[],
  ) {
    super(problems.map((p) => `${file}: ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n'));
    this.name = 'ManifestError';
  }
}

/** Renders a NixOS attribute name the way lib.showOption does. */
export function showAttr(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) ? name : JSON.stringify(name);
}

/** Option path of `keys` below an object whose option path is `base`. */
export function optionPath(base: string, ...keys: string[]): string {
  return [base, ...keys.map(showAttr)].filter(Boolean).join('.');
}

/** Every node section with where it lives: the host, then each container's inner config. */
export function sections(m: Manifest): { where: string; container?: Container; node: NodeSection }[] {
  return [{ where: 'host', node: m.host }, ...m.containers.map((c) => ({ where: `container ${c.name}`, container: c, node: c.config }))];
}

/** Records that the expectation value at `at` (path below `expectations.<name>`) came from `optionPath`. */
export type Cite = (at: (string | number)[], optionPath: string) => void;

/**
 * The TCP ports a firewall opens to the outside: its own lists and those of every interface but lo
 * (a container's eth0, an extra veth), small ranges spelled out; with the option paths they came from.
 */
export function openTcpPorts(fw: Firewall): { ports: number[]; paths: string[] } {
  const expand = (ranges: PortRange[]) => ranges.filter((r) => r.to - r.from < 64).flatMap((r) => Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i));
  const ifs = fw.interfaces.filter((i) => i.name !== 'lo' && (i.allowedTCPPorts.length || i.allowedTCPPortRanges.length));
  const ports = [fw, ...ifs].flatMap((o) => [...o.allowedTCPPorts, ...expand(o.allowedTCPPortRanges)]);
  return { ports: [...new Set(ports)].sort((a, b) => a - b), paths: [optionPath(fw.path, 'allowedTCPPorts'), ...ifs.map((i) => optionPath(i.path, 'allowedTCPPorts'))] };
}
