// config.cert-names: a TLS virtual host served with a shared ACME certificate (useACMEHost) is
// named by it. enableACME asks for a certificate with the vhost's own names; useACMEHost serves
// security.acme.certs.<X> as it is, so a name missing from its domain/extraDomainNames is a
// certificate error for every client (caught live by tls.names; here before the deploy).
import { optionPath, sections, type Manifest, type NodeSection } from '../../src/core/manifest.js';
import { prefix, type Finding } from './finding.js';

/** Whether a certificate name (possibly `*.example.org`) covers host `h`. */
export function covers(name: string, h: string): boolean {
  const [n, host] = [name.toLowerCase(), h.toLowerCase()];
  if (n === host) return true;
  return n.startsWith('*.') && host.endsWith(n.slice(1)) && !host.slice(0, host.length - n.length + 1).includes('.');
}

/** The certificates a node declares, with those enableACME virtual hosts ask for (NixOS adds them). */
function certsOf(node: NodeSection): Map<string, { names: string[]; path: string; server: string | null }> {
  const out = new Map<string, { names: string[]; path: string; server: string | null }>();
  const dflt = node.acme?.defaultServer ?? null;
  for (const c of node.acme?.certs ?? []) out.set(c.name, { names: [c.domain, ...c.extraDomainNames], path: c.path, server: c.server ?? dflt });
  for (const v of node.nginx.virtualHosts.filter((x) => x.enableACME)) {
    const own = [v.serverName ?? v.name, ...v.serverAliases];
    const had = out.get(v.name);
    out.set(v.name, { names: [...new Set([...(had?.names ?? []), ...own])], path: had?.path ?? optionPath(v.path, 'enableACME'), server: had?.server ?? dflt });
  }
  return out;
}

// Names no public CA issues for: special-use and private-use suffixes (RFC 6762 .local, 8375 .home.arpa, ICANN's .internal, the usual LAN ones) and single labels; .example and .test are left to documentation.
const PRIVATE_NAME = /(^[^.]+$)|\.(local|localhost|internal|lan|home\.arpa|intranet|corp|private)\.?$/i;

/** Names an ACME certificate asks a public CA (Let's Encrypt, the default) for that it will never issue. */
export function unissuable(names: string[], server: string | null): string[] {
  if (server !== null && !/letsencrypt\.org|zerossl\.com|pki\.goog|buypass\.com/i.test(server)) return [];
  return names.filter((n) => PRIVATE_NAME.test(n.replace(/^\*\./, '')));
}

export function certNameFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    if (!node.nginx.enable) continue;
    const certs = certsOf(node);
    for (const v of node.nginx.virtualHosts.filter((x) => (x.forceSSL || x.onlySSL || x.addSSL) && (x.useACMEHost || x.enableACME))) {
      const subject = `${prefix(where)}nginx ${v.name} certificate`;
      const want = [v.serverName ?? v.name, ...v.serverAliases];
      const certName = v.useACMEHost ?? v.name;
      const path = v.useACMEHost ? optionPath(v.path, 'useACMEHost') : optionPath(v.path, 'enableACME');
      const cert = certs.get(certName);
      if (!cert) {
        out.push({ subject, pass: false, optionPath: path, observed: `no security.acme.certs.${certName}`, expected: `security.acme.certs.${certName} declared`,
          message: `${path} = "${certName}", but no certificate of that name is declared (security.acme.certs."${certName}", or a virtual host "${certName}" with enableACME): nothing issues it, so nginx has no certificate to serve for ${v.name}. Declare security.acme.certs."${certName}" with domain/extraDomainNames covering ${want.join(', ')}, or set enableACME = true on this host instead.` });
        continue;
      }
      const missing = want.filter((h) => !cert.names.some((n) => covers(n, h)));
      const never = unissuable(cert.names, cert.server);
      if (never.length) {
        out.push({ subject, pass: false, optionPath: cert.path, observed: { certificate: certName, names: cert.names, server: cert.server ?? "Let's Encrypt (the default)" }, expected: 'names a public ACME CA can issue, or a private ACME server',
          message: `${v.name} gets certificate ${certName} from ${cert.server ?? "Let's Encrypt (security.acme.defaults.server unset)"}, which never issues ${never.join(', ')} (not a public DNS name): the order fails and nginx keeps serving the self-signed placeholder NixOS puts there until it succeeds. Use a public name, or point security.acme.defaults.server (or certs."${certName}".server) at a private ACME CA, or give the host sslCertificate/sslCertificateKey.` });
        continue;
      }
      out.push(missing.length
        ? { subject, pass: false, optionPath: path, observed: { certificate: certName, names: cert.names, missing }, expected: `the certificate names ${want.join(', ')}`,
            message: `${v.name} is served with certificate ${certName} (${path}), which names ${cert.names.join(', ')} but not ${missing.join(', ')}: clients asking for ${missing.join(', ')} get a name mismatch. Add ${missing.map((x) => `"${x}"`).join(' ')} to ${cert.path.endsWith('.enableACME') ? optionPath(cert.path.replace(/\.enableACME$/, ''), 'serverAliases') : optionPath(cert.path, 'extraDomainNames')}, or use enableACME on this host.` }
        : { subject, pass: true, optionPath: path, observed: { certificate: certName, names: cert.names }, expected: `the certificate names ${want.join(', ')}`, message: `${v.name}'s certificate ${certName} names ${want.join(', ')}` });
    }
  }
  return out;
}

// config.tls-protocols: nginx offers no protocol below TLS 1.2 (services.nginx.sslProtocols, or an
// ssl_protocols line in the http-level or a virtual host's extraConfig).
const WEAK = /\b(SSLv2|SSLv3|TLSv1|TLSv1\.1)(?![.\d])/g;

export function tlsProtocolFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  for (const { where, node } of sections(m)) {
    const ngx = node.nginx;
    if (!ngx.enable || !ngx.virtualHosts.some((v) => v.forceSSL || v.onlySSL || v.addSSL)) continue;
    const places: { path: string; text: string }[] = [
      { path: optionPath(ngx.path, 'sslProtocols'), text: ngx.sslProtocols ?? 'TLSv1.2 TLSv1.3' },
      ...(['commonHttpConfig', 'appendHttpConfig'] as const).map((k) => ({ path: optionPath(ngx.path, k), text: (/ssl_protocols([^;]*);/.exec(ngx[k]) ?? [])[1] ?? '' })),
      ...ngx.virtualHosts.map((v) => ({ path: optionPath(v.path, 'extraConfig'), text: (/ssl_protocols([^;]*);/.exec(v.extraConfig) ?? [])[1] ?? '' })),
    ];
    for (const p of places) {
      const weak = [...new Set(p.text.match(WEAK) ?? [])];
      if (weak.length) out.push({ subject: `${prefix(where)}nginx ssl_protocols`, pass: false, optionPath: p.path, observed: p.text.trim(), expected: 'TLSv1.2 TLSv1.3',
        message: `${p.path} offers ${weak.join(', ')}: protocols below TLS 1.2 are deprecated (RFC 8996) and open to downgrade attacks. Set it to "TLSv1.2 TLSv1.3" (nixpkgs' default), or remove the override.` });
    }
    if (!out.some((f) => f.subject === `${prefix(where)}nginx ssl_protocols`)) {
      out.push({ subject: `${prefix(where)}nginx ssl_protocols`, pass: true, optionPath: places[0].path, observed: places[0].text, expected: 'TLSv1.2 TLSv1.3', message: `nginx offers ${places[0].text}` });
    }
  }
  return out;
}
