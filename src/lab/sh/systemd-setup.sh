#!/bin/bash
# leafcert-lab-setup.service of a systemd lab node (oneshot, before sshd, nginx, the containers):
# what NixOS's activation would have put in place — users and groups, the deployment's secrets and
# data, the container configs, the borg repository with its NixOS-named wrapper. Idempotent.
# Env CONTAINERS: lines "NAME N" (from /etc/leafcert-lab/containers.list).
set -euo pipefail
rnd() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

getent group nginx >/dev/null || groupadd -r nginx
getent passwd nginx >/dev/null || useradd -r -M -d /var/empty -s /usr/sbin/nologin -g nginx nginx
getent group alchemist >/dev/null || groupadd -r alchemist
chown -R root:nginx /etc/nginx/ssl
chmod -R g+rX,o-rwx /etc/nginx/ssl
mkdir -p /var/log/nginx /var/log/containers /etc/alchemist /var/lib/alchemist /var/lib/nixos-containers /etc/nixos-containers

if [ ! -e /etc/alchemist/secrets.env ]; then
  umask 027
  cat > /etc/alchemist/secrets.env <<SECRETS
POSTGRES_PASSWORD=$(rnd)
JWT_SECRET=$(rnd)
API_KEY=$(rnd)
NATS_TOKEN=$(rnd)
REDIS_PASSWORD=$(rnd)
SECRETS
  umask 022
fi
chown root:alchemist /etc/alchemist/secrets.env
chmod 0640 /etc/alchemist/secrets.env
printf '[alchemist]\nlisten = "0.0.0.0:8080"\ndatabase = "postgresql://alchemist@10.233.1.2:5432/alchemist"\n' > /etc/alchemist/config.toml
[ -e /var/lib/alchemist/README ] || echo "leafcert lab data of $(hostname)" > /var/lib/alchemist/README
[ -e /var/lib/alchemist/state.bin ] || head -c 65536 /dev/urandom > /var/lib/alchemist/state.bin

while read -r name n; do
  [ -n "$name" ] || continue
  cat > "/etc/nixos-containers/$name.conf" <<CONF
SYSTEM_PATH=/nix/var/nix/profiles/per-container/$name/system
PRIVATE_NETWORK=1
HOST_BRIDGE=
HOST_PORT=
HOST_ADDRESS=10.233.$n.1
LOCAL_ADDRESS=10.233.$n.2
PRIVATE_USERS=no
INTERFACES=""
MACVLANS=""
AUTO_START=1
EXTRA_NSPAWN_FLAGS="--drop-capability=CAP_SYS_ADMIN"
CONF
  grep -q " $name.containers" /etc/hosts || echo "10.233.$n.2 $name.containers $name" >> /etc/hosts
done < /etc/leafcert-lab/containers.list

# borg: repokey repo and root-only passphrase (the wrapper and the job script come with the node)
mkdir -p /etc/borg /var/lib/borgbackup
[ -e /etc/borg/passphrase ] || ( umask 077; rnd > /etc/borg/passphrase )
[ -e /var/lib/borgbackup/alchemist/config ] || borg-job-alchemist init --encryption=repokey >/dev/null
echo LAB-SETUP-DONE
