"""The firewall+TLS+health subset of leafcert, written for testinfra (Debian's python3-testinfra),
for `npm run bench -- --peers`: the same node, the same expectation (LEAFCERT_PEER_EXPECT, the lab
inventory's firewall/tls/health blocks as JSON), the same things checked: the node's firewall rules
and listeners over ssh (ControlMaster, from --ssh-config), the ports from outside, each TLS
endpoint's certificate, protocol and chain, each health URL's status, body and latency.
Run: /usr/bin/python3 -m pytest --hosts=ssh://ADDR --ssh-config=FILE bench/peers/test_subset.py
"""
import datetime
import json
import os
import socket
import ssl
import time
from urllib.parse import urlsplit

import pytest

E = json.load(open(os.environ["LEAFCERT_PEER_EXPECT"]))
ADDR = E["address"]
FW = E["firewall"]
TIMEOUT = 1.5  # the closed-port wait every tool uses by default


def connect(port):
    """open / refused / filtered, as a client on the network sees it."""
    try:
        socket.create_connection((ADDR, port), timeout=TIMEOUT).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except (socket.timeout, TimeoutError):
        return "filtered"


def test_firewall_enabled(host):
    rules = host.iptables.rules("filter")
    assert "-N nixos-fw" in rules
    assert any(r.startswith("-A INPUT -j nixos-fw") for r in rules)


def test_firewall_allowed_ports(host):
    rules = host.iptables.rules("filter", "nixos-fw")
    allowed = {int(r.split("--dport ")[1].split()[0]) for r in rules if "-j nixos-fw-accept" in r and "--dport " in r and " -i " not in r}
    assert allowed == set(FW["open"])


def test_firewall_refuses_by_drop(host):
    rules = host.iptables.rules("filter", "nixos-fw")
    assert "-A nixos-fw -j nixos-fw-log-refuse" in rules
    assert not any("-j nixos-fw-refuse" in r and "REJECT" in r for r in host.iptables.rules("filter", "nixos-fw-refuse"))


@pytest.mark.parametrize("port", FW["open"])
def test_port_open(host, port):
    assert any(s.startswith("tcp://") and s.endswith(f":{port}") for s in host.socket.get_listening_sockets())
    assert connect(port) == "open"


@pytest.mark.parametrize("port", FW["closed"])
def test_port_closed(port):
    assert connect(port) == ("filtered" if FW.get("refuse") == "drop" else connect(port))


def tls_session(endpoint, min_protocol):
    name, port = endpoint["endpoint"].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=endpoint.get("ca") or E["caCert"])
    ctx.minimum_version = getattr(ssl.TLSVersion, min_protocol.replace("TLSv", "TLSv").replace(".", "_"))
    with socket.create_connection((endpoint.get("connect", name), int(port)), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=name) as t:
            return t.getpeercert(), t.version()


@pytest.mark.parametrize("endpoint", E["tls"], ids=lambda e: e["endpoint"])
def test_tls(endpoint):
    cert, version = tls_session(endpoint, endpoint.get("minProtocol", "TLSv1.2"))
    not_after = datetime.datetime.strptime(cert["notAfter"], "%b %d %H:%M:%S %Y %Z")
    assert (not_after - datetime.datetime.utcnow()).days >= endpoint.get("minDaysLeft", 21)
    assert version in ("TLSv1.2", "TLSv1.3")
    names = [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"]
    assert endpoint["endpoint"].rsplit(":", 1)[0] in names


def http_get(check):
    u = urlsplit(check["url"])
    port = u.port or (443 if u.scheme == "https" else 80)
    t0 = time.monotonic()
    s = socket.create_connection((check.get("connect", u.hostname), port), timeout=5)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=check.get("ca") or E["caCert"])
        s = ctx.wrap_socket(s, server_hostname=u.hostname)
    s.sendall(f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body, (time.monotonic() - t0) * 1000


@pytest.mark.parametrize("check", E["health"], ids=lambda c: c["url"])
def test_health(check):
    status, headers, body, ms = http_get(check)
    assert status == check.get("status", 200)
    if "redirect" in check:
        assert headers.get("location", "").startswith(check["redirect"])
    if "json" in check:
        doc = json.loads(body.split(b"\r\n")[1] if headers.get("transfer-encoding") == "chunked" else body)
        for k, v in check["json"].items():
            assert doc.get(k) == v
    if "maxMs" in check:
        assert ms <= check["maxMs"]
