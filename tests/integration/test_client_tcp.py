# SPDX-License-Identifier: MIT
"""ipc-client over TCP (-s tcp:IPV4:PORT, -s tcp:[IPV6]:PORT): load, rate, ping and echo
against ipcd on a TCP listener passed by systemd-socket-activate, and against socat's TCP echo
server; the usage errors TCP brings (a malformed address, a type TCP does not have); a closed
port refused; and a unix path with a colon in it, which still names a unix socket."""

import json
import os
import socket
import subprocess
import threading

import pytest

from conftest import IPC_CLIENT, SOCAT_ECHO, stop_socat, wait_until
from test_client import assert_clean_run, assert_no_errors, client_env, run_client, run_json
from test_tcp_peers import can_bind, connectable, free_port, listen_address

QUIET = "log = { connections = false; };\n"

HOSTS = {"ipv4": "127.0.0.1", "ipv6": "::1"}


def host_or_skip(name):
    host = HOSTS[name]
    if not can_bind(host):
        pytest.skip(f"no {host} loopback here")
    return host


def tcp_spelling(host, port):
    return "tcp:" + listen_address(host, port)


def tcp_ipcd(ipcd, host):
    """ipcd on a TCP listener, activated and ready; the -s address that reaches it."""
    port = free_port(host)
    d = ipcd(QUIET, listen=listen_address(host, port)).start()
    wait_until(lambda: connectable(host, port), 5, "the TCP listener")
    d.notify.wait_for("READY=1")
    return d, tcp_spelling(host, port)


class SocatTcpEcho:
    """socat's TCP echo server, a process per connection; started and stopped by pid."""

    def __init__(self, host):
        self.host = host
        self.port = free_port(host)
        listen = (f"TCP6-LISTEN:{self.port},bind=[{host}]" if ":" in host
                  else f"TCP4-LISTEN:{self.port},bind={host}")
        self.proc = subprocess.Popen(SOCAT_ECHO + [f"{listen},reuseaddr,fork", "PIPE"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)

    def __enter__(self):
        try:
            wait_until(lambda: self.proc.poll() is not None or connectable(self.host, self.port),
                       5, "socat's TCP listener")
            assert self.proc.poll() is None, self.proc.stderr.read()
        except BaseException:
            self.__exit__()
            raise
        return tcp_spelling(self.host, self.port)

    def __exit__(self, *exc):
        stop_socat(self.proc)
        self.proc.stderr.close()


def exercise(address, server=None):
    """load, rate, ping and echo through address: every byte back, no errors."""
    p, doc = run_json("load", "-s", address, "-c", "8", "-b", "4K", "-n", "256K")
    assert_clean_run(p, doc, 8, 8 * 64, 8 * 262144)
    assert doc["parameters"]["socket"] == address and doc["parameters"]["type"] == "stream"
    assert p.stderr == ""

    p, doc = run_json("load", "-s", address, "-c", "2", "-b", "1", "--total", "2000",
                      "--depth", "4")
    assert_clean_run(p, doc, 2, 2000, 2000)

    p, doc = run_json("rate", "-s", address, "-c", "2", "-r", "1000", "-t", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    r = doc["result"]
    assert_no_errors(r)
    assert r["bytes_sent"] == r["bytes_received"] == 64 * r["round_trips"]
    assert 900 <= r["round_trips"] <= 1100, r

    p = run_client("ping", "-s", address, "-n", "20", "-i", "0", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout)["result"]
    assert (r["transmitted"], r["received"], r["verify_failures"]) == (20, 20, 0), r

    # The text reports name the socket as it was given.
    p = run_client("ping", "-s", address, "-n", "2", "-i", "0")
    assert p.returncode == 0 and f"--- {address} ipc-client ping statistics ---" in p.stdout
    p = run_client("load", "-s", address, "-n", "8K")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[0].endswith(f", stream, {address}"), p.stdout

    data = os.urandom(1 << 20)
    p = run_client("echo", "-s", address, input=data)
    assert p.returncode == 0, p.stderr
    assert p.stdout == data


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_every_command_over_tcp_against_ipcd(ipcd, family):
    d, address = tcp_ipcd(ipcd, host_or_skip(family))
    exercise(address)
    # $IPCD_SOCKET takes the same spelling as -s.
    p = run_client("ping", "-n", "3", "-i", "0", "-q", env=client_env(IPCD_SOCKET=address))
    assert p.returncode == 0 and "3 transmitted, 3 received" in p.stdout, p.stdout + p.stderr
    assert d.proc.poll() is None, d.log()
    assert d.stop() == 0


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_every_command_over_tcp_against_socat(family):
    with SocatTcpEcho(host_or_skip(family)) as address:
        exercise(address)


@pytest.mark.parametrize("args, message", [
    (["load", "--type", "seqpacket"], "--type seqpacket: TCP is stream only"),
    (["ping", "--type", "dgram"], "--type dgram: TCP is stream only"),
    (["echo", "--type", "seqpacket"], "--type seqpacket: TCP is stream only"),
])
def test_tcp_is_stream_only(args, message):
    p = run_client(*args, "-s", "tcp:127.0.0.1:7")
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout == ""
    assert p.stderr.splitlines() == [
        f"ipc-client: {message} (-s 'tcp:127.0.0.1:7')", "Try 'ipc-client --help'."]


@pytest.mark.parametrize("address", [
    "tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536",
    "tcp:127.0.0.1:http", "tcp:localhost:7777", "tcp:::1:7777", "tcp:[::1]", "tcp:[::1]7777",
    "tcp:256.1.1.1:7777", "tcp:[127.0.0.1]:7777",
])
def test_a_malformed_tcp_address_is_a_usage_error(address):
    for command in ("load", "rate", "ping", "echo"):
        p = run_client(command, "-s", address)
        assert p.returncode == 2, p.stdout + p.stderr
        assert p.stdout == ""
        assert p.stderr.splitlines() == [
            f"ipc-client: -s '{address}': not a TCP address (allowed: tcp:IPV4:PORT or "
            "tcp:[IPV6]:PORT, numeric, port 1 to 65535)", "Try 'ipc-client --help'."]
    p = run_client("suite", "qt", "-s", address)
    assert p.returncode == 2, p.stdout + p.stderr


def test_a_closed_port_is_refused():
    address = tcp_spelling("127.0.0.1", free_port("127.0.0.1"))  # nothing listens there
    p, doc = run_json("load", "-s", address, "-c", "3", "-n", "4K")
    # As for a unix socket nobody accepts on: refused, nothing connected at all.
    assert p.returncode == 3, p.stdout + p.stderr
    r = doc["result"]
    assert r["connections"] == 0 and r["round_trips"] == 0 and r["exit_status"] == 3
    assert r["errors"]["refused"] == 3
    assert r["errors"]["connect_failed"] == 0
    assert r["connect_error"] == "Connection refused"
    p = run_client("rate", "-s", address, "-c", "2", "-t", "1")
    assert p.returncode == 3, p.stdout + p.stderr
    # The hint is about ports, not about socket files or the daemon's unit.
    line = next(x for x in p.stdout.splitlines() if "connect error" in x)
    assert line.strip() == \
        "connect error Connection refused: nothing listens on that address and port", p.stdout
    for command in ("ping", "echo"):
        p = run_client(command, "-s", address, input="x")
        assert p.returncode == 3 and p.stdout == "", p.stdout + p.stderr
        assert p.stderr == f"ipc-client: cannot connect to '{address}': Connection refused\n"


def test_a_unix_path_with_a_colon_is_still_a_unix_socket(workdir):
    # Only the tcp: prefix makes an address TCP: "127.0.0.1:PORT" is a file name. An echo
    # server here, since socat reads a colon in its address as a separator.
    name = "127.0.0.1:7777"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(workdir, name))
    listener.listen(1)
    listener.settimeout(20)

    def serve():
        try:
            c, _ = listener.accept()
        except OSError:
            return
        with c:
            c.settimeout(20)
            while data := c.recv(65536):
                c.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = subprocess.run([IPC_CLIENT, "load", "-s", name, "-n", "64K", "--json"], cwd=workdir,
                           capture_output=True, text=True, timeout=30, env=client_env(),
                           stdin=subprocess.DEVNULL)
        doc = json.loads(p.stdout)
        assert_clean_run(p, doc, 1, 16, 65536)
        assert doc["parameters"]["socket"] == name
    finally:
        listener.close()
        t.join(25)
