// Text of the config files a lab node gets (sshd, nginx). Kept apart from the orchestration so
// faults can regenerate a file with one setting changed.
export interface NginxOptions {
  flavour: 'full' | 'light';
  /** ssl_protocols value. */
  protocols?: string;
  /** ssl_ciphers value. */
  ciphers?: string;
}

export const NGINX_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305';

export const CERT_DIR = '/etc/nginx/ssl/api.alchemist.local';

/** What both HTTPS vhosts send (NixOS: services.nginx.virtualHosts.<name>.extraConfig), judged by tls.hsts. */
export const HSTS_MAX_AGE = 63072000;
export const HSTS_LINE = `add_header Strict-Transport-Security "max-age=${HSTS_MAX_AGE}; includeSubDomains" always;`;

/** nginx.conf shaped like what NixOS's nginx module generates for forceSSL vhosts. */
export function nginxConf(o: NginxOptions): string {
  const health = o.flavour === 'full' ? 'http://10.233.1.2:8080/health' : 'http://127.0.0.1:8080/health';
  const monitoring = o.flavour === 'full'
    ? 'proxy_pass http://10.233.5.2:9090;'
    : `default_type text/plain; return 200 "monitoring\\n";`;
  return `# leafcert lab node nginx config (shape of NixOS services.nginx with forceSSL vhosts)
user nginx nginx;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /var/log/nginx/access.log;
  client_body_temp_path /run/nginx/body;
  proxy_temp_path /run/nginx/proxy;
  fastcgi_temp_path /run/nginx/fastcgi;
  uwsgi_temp_path /run/nginx/uwsgi;
  scgi_temp_path /run/nginx/scgi;
  server_tokens off;
  ssl_protocols ${o.protocols ?? 'TLSv1.2 TLSv1.3'};
  ssl_ciphers ${o.ciphers ?? NGINX_CIPHERS};
  ssl_session_cache shared:SSL:1m;
  ssl_session_timeout 1d;
  ssl_session_tickets off;
  ssl_prefer_server_ciphers off;

  server {
    listen 0.0.0.0:80 default_server;
    listen [::0]:80 default_server;
    server_name api.alchemist.local monitoring.alchemist.local;
    location /.well-known/acme-challenge { root /var/lib/acme/acme-challenge; }
    location / { return 301 https://$host$request_uri; }
  }

  server {
    listen 0.0.0.0:443 ssl default_server;
    listen [::0]:443 ssl default_server;
    server_name api.alchemist.local;
    ssl_certificate ${CERT_DIR}/fullchain.pem;
    ssl_certificate_key ${CERT_DIR}/key.pem;
    ${HSTS_LINE}
    location /health {
      proxy_pass ${health};
      proxy_read_timeout 30s;
    }
    location / { default_type application/json; return 200 '{"service":"alchemist-api"}'; }
  }

  server {
    listen 0.0.0.0:443 ssl;
    listen [::0]:443 ssl;
    server_name monitoring.alchemist.local;
    ssl_certificate ${CERT_DIR}/fullchain.pem;
    ssl_certificate_key ${CERT_DIR}/key.pem;
    ${HSTS_LINE}
    location / { ${monitoring} }
  }
}
`;
}

export function sshdConfig(): string {
  return `# leafcert lab node sshd: key-only, own ed25519 host key
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
UsePAM no
StrictModes no
PidFile /run/sshd.pid
MaxStartups 200:30:400
MaxSessions 64
# Hardened as services.openssh.settings on NixOS: its default algorithms, few tries, short grace,
# no X11/agent forwarding, no user known_hosts. TCP forwarding stays local: the harness's postgres checks ride direct-tcpip.
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com
MaxAuthTries 3
LoginGraceTime 30
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding local
IgnoreUserKnownHosts yes
Subsystem sftp /usr/lib/openssh/sftp-server
`;
}
