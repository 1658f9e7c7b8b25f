# config → leafcert manifest: the part of an evaluated NixOS configuration that leafcert checks,
# as a JSON-able attrset (`nix eval --json … --apply`). Only builtins are used, so the same file
# evaluates a full NixOS `config` and the stub configs in fixtures/nix/ (nix-instantiate, no nixpkgs).
#
# Option paths: every object that mirrors an option set carries `path` (its option path, rendered
# like lib.showOption: `systemd.services."container@alchemist"`). A value's option path is the
# `path` of its closest enclosing object followed by the keys leading to it, e.g.
# firewall.allowedTCPPorts → "networking.firewall.allowedTCPPorts",
# containers[0].unit.serviceConfig.MemoryMax → ''systemd.services."container@alchemist".serviceConfig.MemoryMax''.
# List entries that need their own path (vhosts, jobs, units, listeners) carry one.
#
# Conventions (docs/nix.md): a Nix path literal is emitted as "nix-path:/abs/source" (evaluation
# copies it to the world-readable store); an option that is declared but has no value is null.
# Secret values are copied as declared (the manifest is built locally); reports fingerprint them.
let
  version = 1;

  inherit (builtins)
    attrNames concatMap elem filter foldl' getAttr hasAttr isAttrs isList isPath isString
    isFunction listToAttrs map match removeAttrs tryEval;

  # ── option paths ────────────────────────────────────────────────────────────────────────
  showName = n: if match "[A-Za-z_][A-Za-z0-9_'-]*" n != null then n else "\"" + n + "\"";
  at = prefix: names: foldl' (p: n: if p == "" then showName n else p + "." + showName n) prefix names;

  # ── robust access: stub configs lack most options; NixOS throws for options without value ──
  try = v: default: let r = tryEval v; in if r.success then r.value else default;
  get = attrs: names: default:
    let v = try (foldl' (acc: n: if acc != null && isAttrs acc && hasAttr n acc then getAttr n acc else null) attrs names) null;
    in if v == null then default else v;
  pick = attrs: keys: listToAttrs (concatMap (k: if hasAttr k attrs then [ { name = k; value = plain (getAttr k attrs); } ] else [ ]) keys);

  # JSON-able copy: derivations → store path, path literals → marked string, functions → marker.
  plain = v:
    if isPath v then "nix-path:" + toString v
    else if isAttrs v then (if v ? outPath then toString v else builtins.mapAttrs (_: plain) (removeAttrs v [ "_module" ]))
    else if isList v then map plain v
    else if isFunction v then "<function>"
    else v;

  names = attrs: if isAttrs attrs then attrNames attrs else [ ];

  # ── sections (p = option-path prefix: "" on the host, "containers.NAME.config" inside) ──
  networking = c: p:
    let n = get c [ "networking" ] { }; base = at p [ "networking" ]; in {
      path = base;
      hostName = n.hostName or null;
      domain = n.domain or null;
      bridges = map (b: {
        name = b;
        path = at base [ "bridges" b ];
        interfaces = n.bridges.${b}.interfaces or [ ];
      }) (names (n.bridges or { }));
      nat = {
        path = at base [ "nat" ];
        enable = n.nat.enable or false;
        internalInterfaces = n.nat.internalInterfaces or [ ];
        internalIPs = n.nat.internalIPs or [ ];
        externalInterface = n.nat.externalInterface or null;
        forwardPorts = plain (n.nat.forwardPorts or [ ]);
      };
      nftables = { path = at base [ "nftables" ]; enable = n.nftables.enable or false; };
    };

  portOptions = fw: {
    allowedTCPPorts = fw.allowedTCPPorts or [ ];
    allowedUDPPorts = fw.allowedUDPPorts or [ ];
    allowedTCPPortRanges = plain (fw.allowedTCPPortRanges or [ ]);
    allowedUDPPortRanges = plain (fw.allowedUDPPortRanges or [ ]);
  };

  firewall = c: p:
    let fw = get c [ "networking" "firewall" ] { }; base = at p [ "networking" "firewall" ]; in
    {
      path = base;
      enable = fw.enable or true;
      # Older nixpkgs has no `backend`: nftables.enable decides.
      backend = fw.backend or (if get c [ "networking" "nftables" "enable" ] false then "nftables" else "iptables");
      trustedInterfaces = fw.trustedInterfaces or [ ];
      rejectPackets = fw.rejectPackets or false;
      allowPing = fw.allowPing or true;
      logRefusedConnections = fw.logRefusedConnections or null;
      extraCommands = fw.extraCommands or "";
      extraStopCommands = fw.extraStopCommands or "";
      interfaces = map (i: { name = i; path = at base [ "interfaces" i ]; } // portOptions fw.interfaces.${i})
        (names (fw.interfaces or { }));
    } // portOptions fw;

  # serviceConfig keys leafcert reads; everything else (ExecStart…) is left unforced so a
  # missing package elsewhere in a unit does not break the manifest.
  unitKeys = [ "MemoryMax" "MemoryHigh" "CPUQuota" "TasksMax" "Slice" "Environment" "EnvironmentFile"
    "LoadCredential" "StateDirectory" "RuntimeDirectory" "ReadWritePaths" ];
  # NixOS sets these in every unit's `environment`.
  defaultEnv = [ "PATH" "LOCALE_ARCHIVE" "TZDIR" ];

  units = c: p:
    let
      svcs = get c [ "systemd" "services" ] { };
      base = at p [ "systemd" "services" ];
      one = name:
        let s = svcs.${name}; in {
          inherit name;
          path = at base [ name ];
          environment = plain (removeAttrs (s.environment or { }) defaultEnv);
          serviceConfig = pick (s.serviceConfig or { }) unitKeys;
        };
    in filter (u: u.serviceConfig != { } || u.environment != { }) (map one (names svcs));

  slices = c: p:
    let
      sl = get c [ "systemd" "slices" ] { };
      svcs = get c [ "systemd" "services" ] { };
      base = at p [ "systemd" "slices" ];
      sliceOf = u: try (svcs.${u}.serviceConfig.Slice or null) null;
      # a-b.slice nests under a.slice, so a unit in a sub-slice uses the parent too.
      uses = s: u: let v = sliceOf u; in v != null && (v == "${s}.slice" || match "${s}-.*" v != null);
    in map (s: {
      name = s;
      path = at base [ s ];
      sliceConfig = plain (sl.${s}.sliceConfig or { });
      usedBy = filter (uses s) (names svcs);
    }) (names sl);

  nginx = c: p:
    let n = get c [ "services" "nginx" ] { }; base = at p [ "services" "nginx" ]; in {
      path = base;
      enable = n.enable or false;
      defaultListenAddresses = n.defaultListenAddresses or [ "0.0.0.0" ];
      defaultHTTPListenPort = n.defaultHTTPListenPort or 80;
      defaultSSLListenPort = n.defaultSSLListenPort or 443;
      recommendedTlsSettings = n.recommendedTlsSettings or false;
      sslProtocols = n.sslProtocols or null;
      # add_header at http level reaches a server only if the server sets none itself.
      commonHttpConfig = n.commonHttpConfig or "";
      appendHttpConfig = n.appendHttpConfig or "";
      virtualHosts = map (v:
        let h = n.virtualHosts.${v}; vb = at base [ "virtualHosts" v ]; in {
          name = v;
          path = vb;
          serverName = h.serverName or null;
          serverAliases = h.serverAliases or [ ];
          forceSSL = h.forceSSL or false;
          addSSL = h.addSSL or false;
          onlySSL = h.onlySSL or false;
          enableACME = h.enableACME or false;
          useACMEHost = h.useACMEHost or null;
          # No default in NixOS: reading it unset throws, which becomes null here.
          sslCertificate = plain (try (h.sslCertificate or null) null);
          sslCertificateKey = plain (try (h.sslCertificateKey or null) null);
          basicAuth = h.basicAuth or { };
          basicAuthFile = plain (h.basicAuthFile or null);
          listen = plain (h.listen or [ ]);
          listenAddresses = h.listenAddresses or [ ];
          root = plain (h.root or null);
          globalRedirect = h.globalRedirect or null;
          extraConfig = h.extraConfig or "";
          locations = map (l: let x = h.locations.${l}; in {
            name = l;
            path = at vb [ "locations" l ];
            proxyPass = x.proxyPass or null;
            basicAuth = x.basicAuth or { };
            root = plain (x.root or null);
            alias = plain (x.alias or null);
            return = x.return or null;
            extraConfig = x.extraConfig or "";
          }) (names (h.locations or { }));
        }) (names (n.virtualHosts or { }));
    };

  postgresql = c: p:
    let pg = get c [ "services" "postgresql" ] { }; base = at p [ "services" "postgresql" ]; in {
      path = base;
      enable = pg.enable or false;
      enableTCPIP = pg.enableTCPIP or false;
      dataDir = plain (pg.dataDir or null);
      settings = plain (pg.settings or { });
      authentication = pg.authentication or "";
      identMap = pg.identMap or "";
      initialScript = plain (pg.initialScript or null);
      ensureDatabases = pg.ensureDatabases or [ ];
      ensureUsers = map (u: { name = u.name or null; ensureDBOwnership = u.ensureDBOwnership or false; })
        (pg.ensureUsers or [ ]);
    };

  postgresqlBackup = c: p:
    let b = get c [ "services" "postgresqlBackup" ] { }; in {
      path = at p [ "services" "postgresqlBackup" ];
      enable = b.enable or false;
      location = b.location or "/var/backup/postgresql";
      databases = b.databases or [ ];
      backupAll = b.backupAll or null;
      startAt = b.startAt or null;
    };

  redis = c: p:
    let servers = get c [ "services" "redis" "servers" ] { }; base = at p [ "services" "redis" "servers" ]; in
    map (n: let r = servers.${n}; in {
      name = n;
      path = at base [ n ];
      enable = r.enable or false;
      port = r.port or (if n == "" then 6379 else 0);
      bind = r.bind or "127.0.0.1";
      unit = if n == "" then "redis" else "redis-${n}";
      stateDir = if n == "" then "/var/lib/redis" else "/var/lib/redis-${n}";
      requirePass = r.requirePass or null;
      requirePassFile = plain (r.requirePassFile or null);
      settings = pick (r.settings or { }) [ "bind" "port" "requirepass" "protected-mode" ];
    }) (names servers);

  grafana = c: p:
    let g = get c [ "services" "grafana" ] { }; in {
      path = at p [ "services" "grafana" ];
      enable = g.enable or false;
      settings = {
        server = pick (g.settings.server or { }) [ "http_addr" "http_port" "domain" "root_url" "protocol" ];
        security = listToAttrs (concatMap (k:
          let v = try (g.settings.security.${k} or null) null; in
          if v == null then [ ] else [ { name = k; value = plain v; } ]) [ "admin_user" "admin_password" "secret_key" ]);
      };
    };

  borg = c: p:
    let jobs = get c [ "services" "borgbackup" "jobs" ] { }; base = at p [ "services" "borgbackup" "jobs" ]; in
    map (n: let j = jobs.${n}; in {
      name = n;
      path = at base [ n ];
      # nixpkgs: coercedTo str singleton (listOf str), so a single path is a one-element list.
      paths = let v = plain (try (j.paths or null) null); in if isString v then [ v ] else v;
      dumpCommand = plain (j.dumpCommand or null);
      repo = try (j.repo or null) null;
      encryption = {
        mode = try (j.encryption.mode or null) null;
        passphrase = j.encryption.passphrase or null;
        passCommand = j.encryption.passCommand or null;
      };
      startAt = j.startAt or "daily";
      exclude = j.exclude or [ ];
      readWritePaths = plain (j.readWritePaths or [ ]);
      preHook = j.preHook or "";
      doInit = j.doInit or true;
      environment = j.environment or { };
      prune = { keep = j.prune.keep or { }; };
    }) (names jobs);

  etc = c: p:
    let
      e = get c [ "environment" "etc" ] { };
      base = at p [ "environment" "etc" ];
      # Generated by nixos-containers: forcing them would evaluate every container's toplevel.
      generated = n: match "(nixos-)?containers/.*\\.conf" n != null;
      one = n: let x = e.${n}; in {
        name = n;
        path = at base [ n ];
        enable = x.enable or true;
        mode = x.mode or "symlink";
        user = x.user or "+0";
        group = x.group or "+0";
        text = try (x.text or null) null;
      };
      owned = x: x.user != "+0" || x.group != "+0";
    in map (x: x // { text = if x.text == null then "" else x.text; })
      (filter (x: (x.text != null || owned x) && x.enable) (map one (filter (n: !generated n) (names e))));

  security = c: p:
    let s = get c [ "security" ] { }; base = at p [ "security" ]; in {
      audit = {
        path = at base [ "audit" ];
        enable = s.audit.enable or false;
        rules = s.audit.rules or [ ];
        backlogLimit = s.audit.backlogLimit or null;
        failureMode = s.audit.failureMode or null;
      };
      auditd = { path = at base [ "auditd" ]; enable = s.auditd.enable or false; };
      apparmor = {
        path = at base [ "apparmor" ];
        enable = s.apparmor.enable or false;
        policies = names (s.apparmor.policies or { });
        killUnconfinedConfinables = s.apparmor.killUnconfinedConfinables or false;
      };
    };

  # Where declared services listen. `address` is as declared (redis: space-separated list).
  listeners = c: p:
    let
      svc = names: get c ([ "services" ] ++ names) { };
      sp = names: at p ([ "services" ] ++ names);
      g = svc [ "grafana" ];
      prom = svc [ "prometheus" ];
      node = svc [ "prometheus" "exporters" "node" ];
      ollama = svc [ "ollama" ];
      pg = svc [ "postgresql" ];
      ssh = svc [ "openssh" ];
      ngx = svc [ "nginx" ];
      ngxOn = (ngx.enable or false) && (ngx.virtualHosts or { }) != { };
      nats = svc [ "nats" ];
      netdata = svc [ "netdata" ];
      qdrant = svc [ "qdrant" ];
      qsvc = qdrant.settings.service or { };
      portOf = v: if isString v && match "[0-9]+" v != null then builtins.fromJSON v else v;
      entry = service: enable: address: port: path: { inherit service enable address port path; };
    in filter (l: l.enable) ([
      (entry "grafana" (g.enable or false) (g.settings.server.http_addr or "127.0.0.1")
        (g.settings.server.http_port or 3000) (sp [ "grafana" "settings" "server" "http_addr" ]))
      (entry "prometheus" (prom.enable or false) (prom.listenAddress or "0.0.0.0") (prom.port or 9090)
        (sp [ "prometheus" "listenAddress" ]))
      (entry "prometheus-node-exporter" (node.enable or false) (node.listenAddress or "0.0.0.0")
        (node.port or 9100) (sp [ "prometheus" "exporters" "node" "listenAddress" ]))
      (entry "ollama" (ollama.enable or false) (ollama.host or "127.0.0.1") (ollama.port or 11434)
        (sp [ "ollama" "host" ]))
      # NATS and netdata listen on every address unless told otherwise.
      (entry "nats" (nats.enable or false) (nats.settings.host or nats.settings.listen or "0.0.0.0")
        (nats.port or nats.settings.port or 4222) (sp [ "nats" "settings" "host" ]))
      # Qdrant (the guide's vector store): nixpkgs defaults host 127.0.0.1, http 6333, grpc 6334.
      (entry "qdrant" (qdrant.enable or false) (qsvc.host or "127.0.0.1") (portOf (qsvc.http_port or 6333))
        (sp [ "qdrant" "settings" "service" "host" ]))
      (entry "qdrant-grpc" (qdrant.enable or false) (qsvc.host or "127.0.0.1") (portOf (qsvc.grpc_port or 6334))
        (sp [ "qdrant" "settings" "service" "host" ]))
      (entry "netdata" (netdata.enable or false) (netdata.config.web."bind to" or "*")
        (netdata.config.web."default port" or 19999) (sp [ "netdata" "config" "web" "bind to" ]))
      # nixpkgs sets settings.listen_addresses from enableTCPIP ("*" or "localhost"), so an evaluated
      # config always has it (a narrower bind is written with mkForce); a stub may only say enableTCPIP.
      (if pg ? settings.listen_addresses
       then entry "postgresql" (pg.enable or false) pg.settings.listen_addresses
         (pg.settings.port or 5432) (sp [ "postgresql" "settings" "listen_addresses" ])
       else if pg.enableTCPIP or false
       then entry "postgresql" (pg.enable or false) "*" (pg.settings.port or 5432) (sp [ "postgresql" "enableTCPIP" ])
       else entry "postgresql" (pg.enable or false) "localhost" (pg.settings.port or 5432)
         (sp [ "postgresql" "settings" "listen_addresses" ]))
    ]
    # Port 0 means no TCP listener (the default of named instances).
    ++ filter (l: l.port != 0) (map (n: let r = (svc [ "redis" "servers" ]).${n}; in
        entry (if n == "" then "redis" else "redis-${n}") (r.enable or false)
          (let b = r.bind or "127.0.0.1"; in if b == null then "*" else b) (r.port or (if n == "" then 6379 else 0))
          (sp [ "redis" "servers" n "bind" ])) (names (svc [ "redis" "servers" ])))
    ++ map (port: entry "sshd" (ssh.enable or false)
        (let la = ssh.listenAddresses or [ ]; in if la == [ ] then "0.0.0.0" else toString (map (a: a.addr or "0.0.0.0") la))
        port (sp [ "openssh" "ports" ])) (ssh.ports or [ 22 ])
    ++ map (port: entry "nginx" ngxOn (toString (ngx.defaultListenAddresses or [ "0.0.0.0" ])) port
        (sp [ "nginx" "defaultListenAddresses" ])) [ (ngx.defaultHTTPListenPort or 80) (ngx.defaultSSLListenPort or 443) ]);


  # ── issue 9: what the static gate needs besides the sections above ──────────────────────
  # system.stateVersion of this node; `explicit` is false when NixOS warns it fell back to its
  # default (the module system can tell: newer nixpkgs warns), null = cannot tell.
  systemSection = c: p:
    let
      sv = get c [ "system" "stateVersion" ] null;
      warns = filter isString (try (get c [ "warnings" ] [ ]) [ ]);
      defaulted = builtins.any (w: match "(.*[^A-Za-z])?system\\.stateVersion[^A-Za-z].*(not set|not specified|defaulting).*" (builtins.replaceStrings [ "\n" ] [ " " ] w) != null) warns;
    in {
      path = at p [ "system" ];
      stateVersion = sv;
      stateVersionExplicit = sv != null && !defaulted;
    };

  # Names only: who owns files is judged against who is declared.
  usersSection = c: p: {
    path = at p [ "users" ];
    users = names (get c [ "users" "users" ] { });
    groups = names (get c [ "users" "groups" ] { });
  };

  # age.secrets (agenix) and sops.secrets (sops-nix): where each lands and who may read it.
  secretFiles = c: p:
    let
      one = provider: base: dir: defOwner: set: n: let s = set.${n}; in {
        name = n;
        path = at base [ n ];
        inherit provider;
        file = plain (try (s.file or s.sopsFile or null) null);
        target = plain (s.path or "${dir}/${n}");
        owner = toString (s.owner or defOwner);
        group = toString (s.group or defOwner);
        mode = s.mode or "0400";
      };
      age = get c [ "age" "secrets" ] { };
      sops = get c [ "sops" "secrets" ] { };
    in map (one "agenix" (at p [ "age" "secrets" ]) "/run/agenix" "0" age) (names age)
      ++ map (one "sops" (at p [ "sops" "secrets" ]) "/run/secrets" "root" sops) (names sops);

  tmpfiles = c: p:
    let
      t = get c [ "systemd" "tmpfiles" ] { };
      base = at p [ "systemd" "tmpfiles" ];
      settings = t.settings or { };
    in {
      path = base;
      rules = filter isString (t.rules or [ ]);
      settings = concatMap (cfg: concatMap (file: map (type: let e = settings.${cfg}.${file}.${type}; in {
        name = file;
        path = at base [ "settings" cfg file type ];
        inherit type;
        user = toString (e.user or "-");
        group = toString (e.group or "-");
        mode = toString (e.mode or "-");
      }) (names settings.${cfg}.${file})) (names settings.${cfg})) (names settings);
    };

  prometheus = c: p:
    let pr = get c [ "services" "prometheus" ] { }; base = at p [ "services" "prometheus" ]; in {
      path = base;
      enable = pr.enable or false;
      listenAddress = pr.listenAddress or "0.0.0.0";
      port = pr.port or 9090;
      webExternalUrl = pr.webExternalUrl or null;
      extraFlags = filter isString (pr.extraFlags or [ ]);
      ruleFiles = plain (pr.ruleFiles or [ ]);
      rules = filter isString (pr.rules or [ ]);
      alertmanagers = plain (pr.alertmanagers or [ ]);
      alertmanagerEnable = pr.alertmanager.enable or false;
      scrapeConfigs = map (s: {
        job = s.job_name or null;
        targets = concatMap (sc: filter isString (sc.targets or [ ])) (s.static_configs or [ ]);
      }) (pr.scrapeConfigs or [ ]);
    };

  # What a real evaluation would reject, read without failing: assertions that do not hold, and
  # options NixOS uses but that have no value (they throw when read).
  evaluation = c: p:
    let
      failed = filter (a: !(try (a.assertion or true) false)) (try (get c [ "assertions" ] [ ]) [ ]);
      # Option paths named in an assertion's message (NixOS messages usually name the option).
      named = m: let r = match "(.*[^A-Za-z0-9_.\"@-])?((services|networking|systemd|security|users|boot|containers|age|sops)\\.[A-Za-z0-9_.\"@-]*[A-Za-z0-9_\"]).*" (builtins.replaceStrings [ "\n" ] [ " " ] m); in
        if r == null then null else builtins.elemAt r 1;
      # A stub config that leaves the option out (or null) is what NixOS reads as "used but not defined".
      unset = path: v: let r = tryEval v; in if r.success && r.value != null then [ ] else [ { inherit path; message = "used but not defined: the option has no default, so evaluation fails"; } ];
      borgJobs = get c [ "services" "borgbackup" "jobs" ] { };
      vhosts = get c [ "services" "nginx" "virtualHosts" ] { };
      ssl = h: (h.forceSSL or false) || (h.onlySSL or false) || (h.addSSL or false);
      acme = h: (h.enableACME or false) || (h.useACMEHost or null) != null;
    in {
      path = at p [ "assertions" ];
      problems =
        map (a: let m = try (toString (a.message or "assertion failed")) "assertion failed"; n = named m; in {
          path = if n == null then at p [ "assertions" ] else (if p == "" then n else "${p}.${n}");
          message = "assertion fails: " + m;
        }) failed
        ++ concatMap (n: let j = borgJobs.${n}; b = at p [ "services" "borgbackup" "jobs" n ]; in
          unset (at b [ "encryption" "mode" ]) (j.encryption.mode or null)
          ++ unset (at b [ "repo" ]) (j.repo or null)
          ++ unset (at b [ "paths" ]) (if (j.dumpCommand or null) != null then [ ] else j.paths or null)) (names borgJobs)
        ++ concatMap (n: let h = vhosts.${n}; in
          if ssl h && !acme h && (get c [ "services" "nginx" "enable" ] false)
          then unset (at p [ "services" "nginx" "virtualHosts" n "sslCertificate" ]) (h.sslCertificate or null)
          else [ ]) (names vhosts);
    };

  # security.acme.certs: the names each certificate carries (useACMEHost serves one of them).
  # The ACME server each certificate is ordered from (NixOS defaults it to defaults.server, Let's
  # Encrypt): a public CA cannot issue names under .local, .internal and the like.
  acme = c: p:
    let
      certs = get c [ "security" "acme" "certs" ] { };
      base = at p [ "security" "acme" ];
      str = v: if isString v then v else null;
      defaultServer = str (get c [ "security" "acme" "defaults" "server" ] null);
    in {
      path = base;
      inherit defaultServer;
      certs = map (n: let x = certs.${n}; in {
        name = n;
        path = at base [ "certs" n ];
        domain = let d = try (x.domain or n) n; in if isString d then d else n;
        extraDomainNames = filter isString (try (x.extraDomainNames or [ ]) [ ]);
        server = let v = str (try (x.server or null) null); in if v == null then defaultServer else v;
      }) (names certs);
    };

  node = c: p: {
    networking = networking c p;
    firewall = firewall c p;
    units = units c p;
    slices = slices c p;
    nginx = nginx c p;
    postgresql = postgresql c p;
    postgresqlBackup = postgresqlBackup c p;
    redis = redis c p;
    grafana = grafana c p;
    borg = borg c p;
    etc = etc c p;
    security = security c p;
    listeners = listeners c p;
    system = systemSection c p;
    users = usersSection c p;
    secretFiles = secretFiles c p;
    tmpfiles = tmpfiles c p;
    prometheus = prometheus c p;
    evaluation = evaluation c p;
    acme = acme c p;
  };

  containers = c:
    let
      cs = get c [ "containers" ] { };
      svcs = get c [ "systemd" "services" ] { };
    in map (n:
      let x = cs.${n}; base = at "" [ "containers" n ]; unit = "container@${n}"; in {
        name = n;
        path = base;
        autoStart = x.autoStart or false;
        privateNetwork = x.privateNetwork or false;
        hostAddress = x.hostAddress or null;
        localAddress = x.localAddress or null;
        hostBridge = x.hostBridge or null;
        # Other network paths into the container besides its veth/bridge.
        hostAddress6 = x.hostAddress6 or null;
        localAddress6 = x.localAddress6 or null;
        enableTun = x.enableTun or false;
        extraVeths = names (x.extraVeths or { });
        macvlans = x.macvlans or [ ];
        interfaces = x.interfaces or [ ];
        # Older nixpkgs has no privateUsers option: user namespacing then comes from extraFlags.
        privateUsers = x.privateUsers or "no";
        extraFlags = x.extraFlags or [ ];
        additionalCapabilities = x.additionalCapabilities or [ ];
        forwardPorts = plain (x.forwardPorts or [ ]);
        bindMounts = map (m: {
          name = m;
          path = at base [ "bindMounts" m ];
          mountPoint = x.bindMounts.${m}.mountPoint or m;
          hostPath = x.bindMounts.${m}.hostPath or null;
          isReadOnly = x.bindMounts.${m}.isReadOnly or true;
        }) (names (x.bindMounts or { }));
        unit = {
          path = at "" [ "systemd" "services" unit ];
          serviceConfig = pick (svcs.${unit}.serviceConfig or { }) [ "MemoryMax" "MemoryHigh" "CPUQuota" "TasksMax" "Slice" ];
        };
        # A container given by `path` (no `config`) throws when its config is read: empty then.
        config = node (try (x.config or { }) { }) (at base [ "config" ]);
      }) (names cs);

  stateVersion = c: get c [ "system" "stateVersion" ] null;

  # ── tuning and hardening region: boot.kernel.sysctl, units' LimitNOFILE, services.openssh.settings ──
  # null values in boot.kernel.sysctl mean "leave the kernel's value"; they are kept as null.
  sysctlOf = c: p: {
    path = at p [ "boot" "kernel" "sysctl" ];
    values = plain (get c [ "boot" "kernel" "sysctl" ] { });
  };
  nofileOf = c: p:
    let svcs = get c [ "systemd" "services" ] { }; base = at p [ "systemd" "services" ]; in
    concatMap (n:
      let v = try (svcs.${n}.serviceConfig.LimitNOFILE or null) null; in
      if v == null then [ ] else [ { unit = "${n}.service"; path = at base [ n "serviceConfig" "LimitNOFILE" ]; value = plain v; } ])
      (names svcs);
  tuningOf = c: {
    host = { sysctl = sysctlOf c ""; nofile = nofileOf c ""; };
    containers = map (n: {
      name = n;
      path = at "" [ "containers" n "config" ];
      sysctl = sysctlOf (try (c.containers.${n}.config or { }) { }) (at "" [ "containers" n "config" ]);
    }) (names (get c [ "containers" ] { }));
  };
  # sshd's declared settings the hardening suite plans from (services.openssh.settings).
  sshdOf = c: let s = get c [ "services" "openssh" ] { }; in {
    path = "services.openssh.settings";
    enable = s.enable or false;
    settings = pick (s.settings or { }) [ "PermitRootLogin" "PasswordAuthentication" "KbdInteractiveAuthentication"
      "X11Forwarding" "AllowAgentForwarding" "AllowTcpForwarding" "GatewayPorts" "PermitTunnel"
      "MaxAuthTries" "LoginGraceTime" "MaxSessions" "MaxStartups" "Ciphers" "Macs" "KexAlgorithms" ];
  };
  # ── end tuning ──
in
config: {
  inherit version;
  generator = "leafcert nix/lib/manifest.nix";
  system = {
    path = "system";
    stateVersion = stateVersion config;
    # nixos-containers.nix: "nixos-" prefix from stateVersion 22.05 on.
    containerStateDirectory =
      let v = stateVersion config; in
      if v != null && builtins.compareVersions v "22.05" < 0 then "/var/lib/containers" else "/var/lib/nixos-containers";
  };
  host = node config "";
  containers = containers config;
  tuning = tuningOf config;
  sshd = sshdOf config;
}
