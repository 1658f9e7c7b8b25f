#!/bin/bash
# acme-DOMAIN.service of a systemd lab node (installed as /usr/local/lib/leafcert-lab/systemd-acme.sh):
# a stand-in for NixOS's security.acme renewal. Like lego's `renew`, it does nothing until the served
# certificate is inside its 30-day window; then it installs the certificate the lab CA issued for the
# node (staged in /var/lib/acme/DOMAIN by `lab up`: the CA key never reaches the node) and reloads nginx.
# Args: DOMAIN CERT_DIR
set -euo pipefail
domain=$1 dir=$2
staged=/var/lib/acme/$domain
if openssl x509 -checkend $((30 * 86400)) -noout -in "$dir/fullchain.pem" >/dev/null 2>&1; then
  echo "$domain: $(openssl x509 -enddate -noout -in "$dir/fullchain.pem"); not due for renewal"
  exit 0
fi
[ -r "$staged/fullchain.pem" ] && [ -r "$staged/key.pem" ] || { echo "$domain: due, but no certificate staged in $staged" >&2; exit 1; }
openssl x509 -checkend $((30 * 86400)) -noout -in "$staged/fullchain.pem" >/dev/null || { echo "$domain: the staged certificate is due too" >&2; exit 1; }
install -m 0644 -o root -g nginx "$staged/fullchain.pem" "$dir/fullchain.pem"
install -m 0640 -o root -g nginx "$staged/key.pem" "$dir/key.pem"
systemctl reload nginx.service
echo "$domain: renewed ($(openssl x509 -enddate -noout -in "$dir/fullchain.pem"))"
