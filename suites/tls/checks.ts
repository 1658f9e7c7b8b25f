// The tls suite's checks (registry definitions), in the order of the suite's results.
import { defineChecks } from '../../src/core/checks.js';

const CL = ['tls'];

export const CHECKS = defineChecks('tls', {
  handshake: {
    title: 'TLS handshake with SNI succeeds', severity: 'critical', checklist: CL,
    description: 'A default Node/OpenSSL client on the harness completes a handshake with the endpoint, SNI = the endpoint\'s name (a refused port fails; a timeout is an error).',
    fix: 'Serve TLS on the port: services.nginx.virtualHosts.<name>.forceSSL/onlySSL/addSSL with sslCertificate and sslCertificateKey (or enableACME), and a key a default client accepts.',
  },
  chain: {
    title: 'Chain verifies to the given CA', severity: 'critical', checklist: CL,
    description: 'The served chain verifies, at the harness\'s time, to the given CA file and only to it.',
    fix: 'Serve a certificate issued by the expected CA, with its intermediates: services.nginx.virtualHosts.<name>.sslCertificate (full chain) or enableACME/useACMEHost.',
  },
  hostname: {
    title: 'Name is in a SAN', severity: 'high', checklist: CL,
    description: 'Every expected name (default: the endpoint\'s host) matches a subjectAltName of the leaf certificate; the CN is never used.',
    fix: 'Reissue the certificate with every name as a SAN (security.acme.certs.<name>.extraDomainNames, or services.nginx.virtualHosts.<name>.serverAliases with ACME).',
  },
  'not-expired': {
    title: 'Certificate not expired', severity: 'critical', checklist: CL,
    description: 'notAfter is in the future by the harness clock and by the node clock (an unknown node clock is an error).',
    fix: 'Renew the certificate (security.acme renewal, or replace services.nginx.virtualHosts.<name>.sslCertificate) and check both clocks (services.timesyncd / services.chrony).',
  },
  'not-yet-valid': {
    title: 'Certificate already valid', severity: 'high', checklist: CL,
    description: 'notBefore is in the past by the harness clock and by the node clock.',
    fix: 'Fix the clock that is behind (services.timesyncd / services.chrony on the node) or reissue the certificate with a correct notBefore.',
  },
  'min-days-left': {
    title: 'Days left before expiry', severity: 'medium', checklist: ['tls', 'tls-renewal'],
    description: 'At least minDaysLeft (default 21) days are left before the first notAfter of the served chain (the leaf, or an intermediate or root that ends before it), by both clocks.',
    fix: 'Renew now and make renewal automatic: enableACME (security.acme.certs.<name>) renews 30 days before expiry.',
  },
  'min-protocol': {
    title: 'Protocols below the minimum refused', severity: 'high', checklist: CL,
    description: 'Every TLS version below minProtocol (default TLSv1.2) is refused by the server, probed with a client that can offer it.',
    fix: 'Set services.nginx.sslProtocols (e.g. "TLSv1.2 TLSv1.3").',
  },
  ciphers: {
    title: 'Weak cipher suites refused', severity: 'high', checklist: CL,
    description: 'A client offering nothing but weak TLS 1.0–1.2 suites (anonymous aNULL, unencrypted eNULL, EXPORT, RC4, 3DES/DES, MD5: those the harness\'s OpenSSL still has, at @SECLEVEL=0) gets no handshake: the server answers with a TLS alert (handshake_failure, insufficient_security, or protocol_version from a TLS 1.3-only server, whose suites are all strong). No answer, a reset or a non-TLS answer is an error.',
    fix: 'Set services.nginx.sslCiphers to a modern list (NixOS\'s default, or e.g. "EECDH+AESGCM:EDH+AESGCM") with no NULL, aNULL, EXPORT, RC4, 3DES, DES or MD5 suite and no @SECLEVEL=0, and keep services.nginx.sslProtocols "TLSv1.2 TLSv1.3".',
  },
  'key-strength': {
    title: 'Key type and size', severity: 'high', checklist: CL,
    description: 'The leaf key is EC ≥ 256 bits, RSA (RSA-PSS included, judged by its modulus) ≥ 2048 bits (minKeyBits) or EdDSA, of a type in keyTypes when given.',
    fix: 'Reissue with a stronger key (security.acme.certs.<name>.keyType, e.g. "ec256"), or replace services.nginx.virtualHosts.<name>.sslCertificateKey.',
  },
  hsts: {
    title: 'HTTPS response sends Strict-Transport-Security', severity: 'medium', checklist: ['tls', 'hardening'],
    description: 'When the expectation has hsts (plan emits it for every virtual host whose configuration sends the header): a GET of hsts.path (default /) on the handshake\'s own connection answers with a Strict-Transport-Security header whose max-age is at least minMaxAge (and includeSubDomains when asked). A response nginx does not decorate without `always` (not 2xx/3xx) with no header is an error, not a fail, unless the header is declared `always`.',
    fix: 'Add `add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;` to services.nginx.virtualHosts.<name>.extraConfig (and to every location that sets its own add_header).',
  },
});
