# SPDX-License-Identifier: MIT
"""A TCP peer (systemd may pass a TCP ListenStream=) has no pid or uid, but an address and a
port: the connect, close, refused and denied lines name them, and the journal entries carry
them as IPCD_PEER_ADDRESS and IPCD_PEER_PORT."""

import os
import re
import socket

import pytest

from conftest import IPCD, is_closed_by_peer, recv_exact, recv_until_eof, wait_until
from test_journal import run_with_journal

LOUD = "log = { connections = true; };\n"


def free_port(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def listen_address(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def connectable(host, port):
    # systemd-socket-activate binds before we can see it; a refused connect means not yet.
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def held_connection(host, port, data):
    """A connection that has echoed data. With max_connections = 1 the probe that woke ipcd
    may hold the one slot a little longer: a refusal then is tried again."""
    def attempt():
        c = socket.create_connection((host, port), timeout=5)
        try:
            c.sendall(data)
            if recv_exact(c, len(data)) == data:
                return c
        except (AssertionError, ConnectionError):
            pass
        c.close()
        return None

    return wait_until(attempt, 5, "a connection ipcd serves")


def tcp_ipcd(ipcd, conf):
    """ipcd on a TCP listener at 127.0.0.1, started and ready; and the port."""
    port = free_port("127.0.0.1")
    d = ipcd(conf, listen=listen_address("127.0.0.1", port)).start()
    wait_until(lambda: connectable("127.0.0.1", port), 5, "the TCP listener")
    d.notify.wait_for("READY=1")
    return d, port


def can_bind(host):
    try:
        free_port(host)
        return True
    except OSError:
        return False


# (listener address, address the client connects to, address the log shows)
HOSTS = {
    "ipv4": ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
    "ipv6": ("::1", "::1", "[::1]"),
    # An IPv4 client of an IPv6 listener: the IPv4 address it is, not ::ffff:127.0.0.1.
    "ipv4-mapped": ("::ffff:127.0.0.1", "127.0.0.1", "127.0.0.1"),
}


@pytest.mark.parametrize("hosts", HOSTS.values(), ids=HOSTS.keys())
def test_connect_and_close_lines_name_the_address_and_port(ipcd, hosts):
    listen, host, shown = hosts
    if not can_bind(listen):
        pytest.skip(f"cannot bind {listen}")
    port = free_port(listen)
    d = ipcd(LOUD, listen=listen_address(listen, port)).start()
    wait_until(lambda: connectable(host, port), 5, "the TCP listener")
    with socket.create_connection((host, port), timeout=5) as c:
        cport = c.getsockname()[1]
        c.sendall(b"over tcp")
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b"over tcp"
    shown = re.escape(shown)
    d.wait_log(rf"Connection \d+ from {shown}:{cport} on 'ipcd'")
    d.wait_log(rf"Connection \d+ from {shown}:{cport} closed \(eof\) after .*, 8 B echoed")
    assert d.stop() == 0


def test_refused_and_limit_closed_lines_name_the_address_and_port(ipcd):
    d, port = tcp_ipcd(ipcd, "limits = { max_connections = 1; max_connection_bytes = 8; };\n")
    with held_connection("127.0.0.1", port, b"1234") as held:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as over:
            oport = over.getsockname()[1]
            assert is_closed_by_peer(over)
        d.wait_log(rf"Refused connection \d+ from 127\.0\.0\.1:{oport}: max-connections")
        hport = held.getsockname()[1]
        held.sendall(b"56789")  # past max_connection_bytes
        assert is_closed_by_peer(held)
    d.wait_log(rf"Connection \d+ from 127\.0\.0\.1:{hport} closed \(max-connection-bytes\)")
    assert d.stop() == 0


def test_denied_line_names_the_address_and_port(ipcd):
    # A TCP peer cannot prove a uid: any access list denies it.
    d, port = tcp_ipcd(ipcd, "access = { allow_uids = [ 0 ]; };\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        cport = c.getsockname()[1]
        assert is_closed_by_peer(c)
    d.wait_log(rf"Denied connection \d+ from 127\.0\.0\.1:{cport}: not in access\.allow_uids")
    assert d.stop() == 0


def test_journal_entries_carry_the_address_and_port(workdir):
    conf = os.path.join(workdir, "ipcd.conf")
    with open(conf, "w") as f:
        f.write("limits = { max_connections = 1; };\n" + LOUD)
    port = free_port("127.0.0.1")
    ports = {}

    def exercise(proc):
        wait_until(lambda: connectable("127.0.0.1", port) or proc.poll() is not None, 5,
                   "the TCP listener")
        with held_connection("127.0.0.1", port, b"hi") as c:
            ports["held"] = c.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port), timeout=5) as over:
                ports["over"] = over.getsockname()[1]
                assert is_closed_by_peer(over)

    entries, _ = run_with_journal(
        workdir, lambda stream: ["systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                                 "--fdname=ipcd", "-E", f"JOURNAL_STREAM={stream}", IPCD,
                                 "-c", conf], exercise)

    def entry(event, cport):
        found = [e for e in entries if e.get("IPCD_EVENT") == event and
                 e.get("IPCD_PEER_PORT") == str(cport)]
        assert len(found) == 1, f"no single {event} entry for port {cport} in {entries}"
        return found[0]

    held, over = ports["held"], ports["over"]
    for e in (entry("connect", held), entry("disconnect", held), entry("refused", over)):
        assert e["IPCD_PEER_ADDRESS"] == "127.0.0.1", e
        assert "IPCD_PEER_UID" not in e and "IPCD_PEER_PID" not in e, e
        assert "127.0.0.1:" in e["MESSAGE"], e
