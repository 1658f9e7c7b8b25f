# An Alchemist leaf node written from the deployment guide (TheCowboyAI/alchemist
# deployment/nixos) with its flaws fixed, so that `leafcert check-config` passes on its manifest
# and `leafcert run` passes against it (vm-tests/). What changed against the guide, and why:
# - firewall opens 22/80/443 only; the API and Grafana are reached through nginx (TLS), never by
#   a DNAT in extraCommands; no unused bridge/NAT;
# - every container runs with user namespacing (privateUsers = "pick"), so root and CAP_SYS_ADMIN
#   inside are not root on the host; limits sit on systemd.services."container@NAME" (nspawn runs
#   with --keep-unit, so the unit's cgroup is the container's);
# - secrets never enter the Nix store: they are generated on the node under
#   /var/lib/alchemist-secrets (root, 0700) and reach services as files (EnvironmentFile,
#   requirePassFile, LoadCredential, borg passCommand);
# - nginx certificates are files under /var/lib/alchemist-tls (a self-signed pair is created on
#   first boot; replace it or switch the vhosts to enableACME in production);
# - PostgreSQL uses peer/scram authentication (no trust), a nightly dump, and borg backs up the
#   data where it really lives: under the containers' roots.
# The API services are a small stand-in (Python http.server with /health and /metrics): pkgs has
# no `alchemist` package. Replace `apiCommand` with the real binary.
{ config, lib, pkgs, ... }:
let
  cfg = config.alchemist.leafExample;
  hostStateVersion = config.system.stateVersion;
  secretsDir = "/var/lib/alchemist-secrets";
  tlsDir = "/var/lib/alchemist-tls";
  hsts = ''
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
  '';

  apiScript = pkgs.writeText "alchemist-api-standin.py" ''
    import json, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    NAME = os.environ.get("SERVICE_NAME", "alchemist")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                body, ctype = ("alchemist_up{service=\"%s\"} 1\n" % NAME).encode(), "text/plain"
            else:
                body, ctype = json.dumps({"status": "ok", "service": NAME}).encode(), "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer((os.environ["API_LISTEN"], int(os.environ["API_PORT"])), Handler).serve_forever()
  '';
  apiCommand = "${pkgs.python3}/bin/python3 ${apiScript}";

  # name → network number, API port, container limits.
  containerSpecs = {
    alchemist = {
      n = 1; port = 8080; memoryMax = "8G"; memoryHigh = "7G"; cpuQuota = "400%";
      # The API inside gets its own ceiling below the container's, leaving room for PostgreSQL.
      apiLimits = { MemoryHigh = "3G"; MemoryMax = "4G"; CPUQuota = "300%"; };
    };
    graph = { n = 2; port = 8081; memoryMax = "2G"; memoryHigh = "1792M"; cpuQuota = "200%"; };
    workflow = { n = 3; port = 8082; memoryMax = "1G"; memoryHigh = "896M"; cpuQuota = "200%"; };
    agent = { n = 4; port = 8083; memoryMax = "4G"; memoryHigh = "3584M"; cpuQuota = "400%"; };
    monitoring = { n = 6; port = 3000; memoryMax = "2G"; memoryHigh = "1792M"; cpuQuota = "100%"; };
  };
  localAddress = name: "10.233.${toString containerSpecs.${name}.n}.2";

  # The API stand-in as a unit inside a container, bound to the container's own address.
  apiUnit = name: spec: {
    description = "Alchemist ${name} service";
    wantedBy = [ "multi-user.target" ];
    after = [ "network-online.target" ] ++ lib.optional (name == "alchemist") "postgresql.service";
    wants = [ "network-online.target" ];
    environment = {
      SERVICE_NAME = name;
      API_LISTEN = localAddress name;
      API_PORT = toString spec.port;
    };
    serviceConfig = {
      ExecStart = apiCommand;
      User = "alchemist";
      Group = "alchemist";
      # API keys and the JWT secret: a file on the node, never the store.
      EnvironmentFile = "-/run/secrets/alchemist.env";
      Restart = "always";
      RestartSec = 5;
      StateDirectory = "alchemist";
      NoNewPrivileges = true;
      PrivateTmp = true;
      ProtectSystem = "strict";
      ProtectHome = true;
    } // (spec.apiLimits or { });
  };

  commonInner = name: spec: { ... }: {
    system.stateVersion = hostStateVersion;
    networking.firewall.enable = true;
    networking.firewall.allowedTCPPorts = [ spec.port ];
    users.users.alchemist = { isSystemUser = true; group = "alchemist"; home = "/var/lib/alchemist"; };
    users.groups.alchemist = { };
  };

  alchemistInner = { pkgs, ... }: {
    systemd.services.alchemist = apiUnit "alchemist" containerSpecs.alchemist;
    services.postgresql = {
      enable = true;
      package = pkgs.postgresql_16;
      settings = {
        shared_buffers = "512MB";
        effective_cache_size = "2GB";
        maintenance_work_mem = "128MB";
        work_mem = "10MB";
        wal_buffers = "16MB";
        max_connections = 100;
        random_page_cost = 1.1;
        checkpoint_completion_target = 0.9;
      };
      # Replaces the module's defaults: peer for local sockets, scram over TCP, never trust.
      authentication = lib.mkForce ''
        local all all peer
        host  all all 127.0.0.1/32 scram-sha-256
        host  all all ::1/128      scram-sha-256
      '';
      ensureDatabases = [ "alchemist" ];
      ensureUsers = [ { name = "alchemist"; ensureDBOwnership = true; } ];
    };
    services.postgresqlBackup = {
      enable = true;
      databases = [ "alchemist" ];
      location = "/var/backup/postgresql";
      startAt = "*-*-* 01:15:00";
    };
    services.redis.servers.alchemist = {
      enable = true;
      port = 6379;
      bind = "127.0.0.1";
      requirePassFile = "/run/secrets/redis-password";
    };
  };

  monitoringInner = { ... }: {
    # On the container's own address: the host (leafcert's monitoring suite) reaches it there;
    # nothing routes to 10.233.0.0/16 from outside (no NAT, no forwarding on the host).
    services.prometheus = {
      enable = true;
      listenAddress = localAddress "monitoring";
      port = 9090;
      scrapeConfigs = [
        { job_name = "prometheus"; static_configs = [ { targets = [ "${localAddress "monitoring"}:9090" ]; } ]; }
      ];
      # "Alerting active" (the guide's checklist): rules, and an Alertmanager to send them to.
      rules = [ (builtins.toJSON {
        groups = [ {
          name = "leaf";
          rules = [
            { alert = "TargetDown"; expr = "up == 0"; "for" = "5m"; }
            { alert = "PrometheusRuleFailures"; expr = "increase(prometheus_rule_evaluation_failures_total[5m]) > 0"; }
          ];
        } ];
      }) ];
      alertmanagers = [ { static_configs = [ { targets = [ "127.0.0.1:9093" ]; } ]; } ];
      alertmanager = {
        enable = true;
        listenAddress = "127.0.0.1";
        port = 9093;
        # Replace the receiver with your paging/e-mail route.
        configuration = { route.receiver = "default"; receivers = [ { name = "default"; } ]; };
      };
    };
    networking.firewall.allowedTCPPorts = [ 9090 ];
    services.grafana = {
      enable = true;
      settings = {
        server = {
          http_addr = localAddress "monitoring";
          http_port = 3000;
          domain = "monitoring.alchemist.local";
          root_url = "https://monitoring.alchemist.local/";
        };
        # Grafana reads $__file{…} itself; the credentials come from the host via LoadCredential.
        security = {
          admin_user = "admin";
          admin_password = "$__file{/run/credentials/grafana.service/admin-password}";
          secret_key = "$__file{/run/credentials/grafana.service/secret-key}";
        };
        analytics.reporting_enabled = false;
      };
    };
    systemd.services.grafana.serviceConfig.LoadCredential = [
      "admin-password:/run/secrets/grafana-admin-password"
      "secret-key:/run/secrets/grafana-secret-key"
    ];
  };

  innerFor = name: if name == "alchemist" then alchemistInner
    else if name == "monitoring" then monitoringInner
    else { ... }: { systemd.services."alchemist-${name}" = apiUnit name containerSpecs.${name}; };

  isolationFlags =
    if cfg.isolation == "private-users" then { privateUsers = "pick"; }
    else { extraFlags = [ "--drop-capability=CAP_SYS_ADMIN" ]; };
  # With user namespacing the host's root-owned secret files need an idmapped bind to be
  # readable by the container's root; bindMounts has no mount options, so extraFlags it is.
  secretsBind = name:
    "--bind-ro=${secretsDir}/${name}:/run/secrets" + lib.optionalString (cfg.isolation == "private-users") ":idmap";
in
{
  options.alchemist.leafExample.backupRepo = lib.mkOption {
    type = lib.types.str;
    default = "ssh://borg@backup.alchemist.local/./alchemist-leaf-node";
    description = "Borg repository of the example's backup job: on another machine (the config gate fails a local path).";
  };
  options.alchemist.leafExample.isolation = lib.mkOption {
    type = lib.types.enum [ "private-users" "drop-sys-admin" ];
    default = "private-users";
    description = ''
      How containers lose host root: "private-users" (user namespace, recommended) or
      "drop-sys-admin" (--drop-capability=CAP_SYS_ADMIN, for kernels or filesystems without
      idmapped mounts; leafcert's config.container-private-users check then fails and needs a waiver).
    '';
  };

  config = lib.mkMerge [ {
    networking.hostName = lib.mkDefault "alchemist-leaf-node";
    networking.domain = lib.mkDefault "local";
    system.stateVersion = lib.mkDefault "25.05";

    networking.firewall = {
      enable = true;
      allowedTCPPorts = [ 22 80 443 ];
      logRefusedConnections = true;
    };

    services.openssh = {
      enable = true;
      ports = [ 22 ];
      settings = {
        PermitRootLogin = "prohibit-password";
        PasswordAuthentication = false;
        KbdInteractiveAuthentication = false;
        # leafcert hardening.ssh-limits / ssh-forwarding (NixOS's default algorithms already pass
        # ssh-crypto). TCP forwarding stays local: leafcert's postgres checks ride direct-tcpip.
        MaxAuthTries = 3;
        LoginGraceTime = 30;
        X11Forwarding = false;
        AllowAgentForwarding = false;
        AllowTcpForwarding = "local";
        IgnoreUserKnownHosts = true;
      };
    };

    # Kernel parameters leafcert's hardening suite expects (DevSec linux-baseline items that fit a
    # container host), and the guide's Performance Tuning (checked by leafcert's tuning suite in the
    # network namespace that holds each: the node's; containers have their own).
    boot.kernel.sysctl = {
      "net.ipv4.conf.all.rp_filter" = 1;
      "net.ipv4.conf.default.rp_filter" = 1;
      "net.ipv4.conf.all.accept_redirects" = 0;
      "net.ipv4.conf.default.accept_redirects" = 0;
      "net.ipv6.conf.all.accept_redirects" = 0;
      "net.ipv6.conf.default.accept_redirects" = 0;
      "net.ipv4.conf.all.secure_redirects" = 0;
      "net.ipv4.conf.default.secure_redirects" = 0;
      "net.ipv4.conf.all.send_redirects" = 0;
      "net.ipv4.conf.default.send_redirects" = 0;
      "net.ipv4.conf.all.accept_source_route" = 0;
      "net.ipv4.conf.default.accept_source_route" = 0;
      "net.ipv6.conf.all.accept_source_route" = 0;
      "net.ipv6.conf.default.accept_source_route" = 0;
      "net.ipv4.conf.all.log_martians" = 1;
      "net.ipv4.conf.default.log_martians" = 1;
      "net.ipv4.tcp_syncookies" = 1;
      "net.ipv4.tcp_rfc1337" = 1;
      "kernel.kptr_restrict" = 2;
      "kernel.dmesg_restrict" = 1;
      "fs.protected_fifos" = 1;
      "fs.protected_regular" = 2;
      # Performance Tuning
      "net.core.somaxconn" = 65535;
      "net.ipv4.tcp_max_syn_backlog" = 65535;
      "vm.swappiness" = 10;
    };

    # Secrets and the bootstrap TLS pair are created on the node, never in the store.
    systemd.tmpfiles.rules = [
      "d ${secretsDir} 0700 root root -"
      "d ${tlsDir} 0750 root nginx -"
    ] ++ map (n: "d ${secretsDir}/${n} 0700 root root -") (lib.attrNames containerSpecs);

    systemd.services.alchemist-secrets-init = {
      description = "Create Alchemist secrets on first boot";
      wantedBy = [ "multi-user.target" ];
      before = map (n: "container@${n}.service") (lib.attrNames containerSpecs) ++ [ "borgbackup-job-alchemist.service" ];
      after = [ "systemd-tmpfiles-setup.service" ];
      path = [ pkgs.coreutils ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; UMask = "0077"; };
      script = ''
        gen() { [ -s "$1" ] || head -c 32 /dev/urandom | base64 > "$1"; }
        gen ${secretsDir}/borg-passphrase
        gen ${secretsDir}/alchemist/redis-password
        gen ${secretsDir}/monitoring/grafana-admin-password
        gen ${secretsDir}/monitoring/grafana-secret-key
        for n in ${lib.concatStringsSep " " (lib.attrNames containerSpecs)}; do
          f=${secretsDir}/$n/alchemist.env
          [ -s "$f" ] || printf 'ALCHEMIST_API_KEY=%s\nALCHEMIST_JWT_SECRET=%s\n' \
            "$(head -c 32 /dev/urandom | base64)" "$(head -c 32 /dev/urandom | base64)" > "$f"
        done
      '';
    };

    systemd.services.alchemist-tls-selfsigned = {
      description = "Bootstrap a self-signed TLS pair for nginx";
      wantedBy = [ "nginx.service" ];
      before = [ "nginx.service" ];
      after = [ "systemd-tmpfiles-setup.service" ];
      path = [ pkgs.openssl pkgs.coreutils ];
      serviceConfig = { Type = "oneshot"; RemainAfterExit = true; UMask = "0027"; };
      script = ''
        [ -s ${tlsDir}/key.pem ] && exit 0
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 90 \
          -subj /CN=api.alchemist.local \
          -addext "subjectAltName=DNS:api.alchemist.local,DNS:monitoring.alchemist.local" \
          -keyout ${tlsDir}/key.pem -out ${tlsDir}/fullchain.pem
        chown root:nginx ${tlsDir}/key.pem ${tlsDir}/fullchain.pem
        chmod 0640 ${tlsDir}/key.pem
        chmod 0644 ${tlsDir}/fullchain.pem
      '';
    };

    services.nginx = {
      enable = true;
      recommendedProxySettings = true;
      recommendedTlsSettings = true;
      recommendedOptimisation = true;
      recommendedGzipSettings = true;
      virtualHosts = {
        "api.alchemist.local" = {
          forceSSL = true;
          # HSTS in the server block: no location sets its own add_header, so all inherit it.
          extraConfig = hsts;
          sslCertificate = "${tlsDir}/fullchain.pem";
          sslCertificateKey = "${tlsDir}/key.pem";
          locations."/".proxyPass = "http://${localAddress "alchemist"}:8080";
        };
        "monitoring.alchemist.local" = {
          forceSSL = true;
          extraConfig = hsts;
          sslCertificate = "${tlsDir}/fullchain.pem";
          sslCertificateKey = "${tlsDir}/key.pem";
          locations."/" = {
            proxyPass = "http://${localAddress "monitoring"}:3000";
            proxyWebsockets = true;
          };
        };
      };
    };

    containers = lib.mapAttrs (name: spec: {
      autoStart = true;
      privateNetwork = true;
      hostAddress = "10.233.${toString spec.n}.1";
      localAddress = localAddress name;
      extraFlags = [ (secretsBind name) ] ++ (isolationFlags.extraFlags or [ ]);
      config = { imports = [ (commonInner name spec) (innerFor name) ]; };
    } // lib.optionalAttrs (isolationFlags ? privateUsers) { inherit (isolationFlags) privateUsers; }) containerSpecs;

  } {
    # Limits on the unit nspawn runs in (--keep-unit): this cgroup is the container's.
    systemd.services = lib.mapAttrs' (name: spec: lib.nameValuePair "container@${name}" {
      requires = [ "alchemist-secrets-init.service" ];
      after = [ "alchemist-secrets-init.service" ];
      serviceConfig = {
        MemoryMax = spec.memoryMax;
        MemoryHigh = spec.memoryHigh;
        CPUQuota = spec.cpuQuota;
        TasksMax = 4096;
      };
    }) containerSpecs;
  } {
    services.borgbackup.jobs.alchemist = {
      # The data lives under the containers' roots, not on the host's /var/lib.
      paths = [
        "/var/lib/nixos-containers/alchemist/var/backup/postgresql"
        "/var/lib/nixos-containers/alchemist/var/lib/alchemist"
        "/var/lib/nixos-containers/alchemist/var/lib/redis-alchemist"
        "/var/lib/nixos-containers/monitoring/var/lib/grafana"
      ];
      # Off the node (config.backup-offsite); a VM test without a backup machine sets a local path.
      repo = cfg.backupRepo;
      encryption = {
        mode = "repokey-blake2";
        passCommand = "cat ${secretsDir}/borg-passphrase";
      };
      compression = "auto,zstd";
      startAt = "daily";
      persistentTimer = true;
      prune.keep = { daily = 7; weekly = 4; monthly = 6; };
    };

    security.audit = {
      enable = true;
      rules = [
        "-w ${secretsDir} -p rwa -k alchemist-secrets"
        "-w /etc/nixos-containers -p wa -k nixos-containers"
      ];
    };
    security.auditd.enable = true;
  } ];
}
