# SPDX-License-Identifier: MIT
"""Sockets of every type that ipcd binds itself (listen = and --listen): unix stream,
"seqpacket:", "dgram:", "@name" and "tcp:", each echoing through the real binary to Python's
socket module, socat and ipc-client; their files' mode, stale and live files, duplicates across
types, check mode's one-line reasons, metrics over TCP, the shipped ipcd-transports.conf, and the
datagram protections on a self-bound "dgram:" socket."""

import os
import re
import socket
import stat
import subprocess

import pytest

from conftest import (IPC_CLIENT, SRCDIR, dgram_client, recv_exact, recv_until_eof,
                      run_ipcd, write_file)
from test_dgram_reflection import (OTHER_UID, assert_renamed_and_linked_get_nothing,
                                   dgram_socket, queued, replace_with_symlink, stopped)

STATS = "log = { stats_interval = 1; };\n"


def free_port():
    """A TCP port on 127.0.0.1 free a moment ago: the kernel's pick for port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_conf(entries, extra=""):
    return "listen = [ " + ", ".join(f'"{e}"' for e in entries) + " ];\n" + extra


def abstract_name(workdir, tag=""):
    return f"@ipcd-test-{os.getpid()}-{os.path.basename(workdir)}{tag}"


def five(workdir):
    """One entry of each kind, and where a client finds it: (entry, kind, address)."""
    d, port, name = workdir, free_port(), abstract_name(workdir)
    return [(f"{d}/stream.sock", "stream", f"{d}/stream.sock"),
            (f"seqpacket:{d}/seq.sock", "seqpacket", f"{d}/seq.sock"),
            (f"dgram:{d}/dgram.sock", "dgram", f"{d}/dgram.sock"),
            (name, "stream", "\0" + name[1:]),
            (f"tcp:127.0.0.1:{port}", "tcp", ("127.0.0.1", port))]


def start(ipcd, conf, args=()):
    """ipcd binding its own sockets, READY once they all are."""
    d = ipcd(conf, activate=False, args=list(args)).start()
    d.notify.wait_for("READY=1")
    return d


def py_echo(kind, address, data, workdir):
    """One round trip through Python's socket module."""
    if kind == "tcp":
        c = socket.create_connection(address, timeout=5)
    elif kind == "dgram":
        c = dgram_client(workdir, f"py-{os.urandom(4).hex()}.sock")
        c.connect(address)
        c.send(data)
        reply = c.recv(1 << 20)
        c.close()
        return reply
    else:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == "seqpacket"
                          else socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect(address)
    with c:
        c.sendall(data)
        if kind == "seqpacket":
            return c.recv(1 << 20)
        c.shutdown(socket.SHUT_WR)
        return recv_until_eof(c)


def socat_address(kind, address, workdir):
    if kind == "tcp":
        return f"TCP:{address[0]}:{address[1]}"
    if kind == "dgram":
        return f"UNIX-SENDTO:{address},bind={workdir}/socat-{os.urandom(4).hex()}.sock"
    if address.startswith("\0"):
        return f"ABSTRACT-CONNECT:{address[1:]}"
    return f"UNIX-CONNECT:{address}" + (",type=5" if kind == "seqpacket" else "")


def socat_echo(kind, address, data, workdir):
    r = subprocess.run(["socat", "-t", "1", "-", socat_address(kind, address, workdir)],
                       input=data, capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def client_address(kind, address):
    if kind == "tcp":
        return ["-s", f"tcp:{address[0]}:{address[1]}"]
    spelt = "@" + address[1:] if address.startswith("\0") else address
    return ["-s", spelt, "--type", kind]


def ipc_client_load(kind, address, chunk="4K"):
    r = subprocess.run([IPC_CLIENT, "load", *client_address(kind, address), "-b", chunk,
                        "-c", "2", "-t", "0.5", "-q"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


# -- every kind echoes ---------------------------------------------------------------------------

def test_all_five_kinds_echo_get_socket_mode_and_are_removed(ipcd, workdir):
    entries = five(workdir)
    d = start(ipcd, listen_conf([e for e, _, _ in entries], 'socket_mode = "0640";\n'))
    for entry, kind, address in entries:
        assert f"Listening on '{entry}'" in d.log()
        assert py_echo(kind, address, b"python " + entry.encode(), workdir) == \
            b"python " + entry.encode()
        assert socat_echo(kind, address, b"socat\n", workdir) == b"socat\n"
        ipc_client_load(kind, address)
    files = [a for _, k, a in entries if k != "tcp" and not a.startswith("\0")]
    assert len(files) == 3
    for f in files:
        st = os.lstat(f)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, f
    assert "Ready: 5 listeners" in d.log()
    assert d.stop() == 0
    assert [f for f in files if os.path.lexists(f)] == []


def test_command_line_takes_every_kind(ipcd, workdir):
    entries = five(workdir)
    d = start(ipcd, "", [arg for e, _, _ in entries for arg in ("--listen", e)])
    for entry, kind, address in entries:
        assert py_echo(kind, address, b"x" * 1000, workdir) == b"x" * 1000
    assert d.stop() == 0


def test_tcp_peers_are_logged_by_address(ipcd, workdir):
    port = free_port()
    d = start(ipcd, listen_conf([f"tcp:127.0.0.1:{port}"], "log = { connections = true; };\n"))
    assert py_echo("tcp", ("127.0.0.1", port), b"hi", workdir) == b"hi"
    d.wait_log(rf"Connection 1 from 127\.0\.0\.1:\d+ on 'tcp:127\.0\.0\.1:{port}'")
    assert d.stop() == 0


def test_abstract_names_are_one_per_type(ipcd, workdir):
    name = abstract_name(workdir)
    d = start(ipcd, listen_conf([name, "seqpacket:" + name, "dgram:" + name]))
    for kind in ("stream", "seqpacket", "dgram"):
        assert py_echo(kind, "\0" + name[1:], kind.encode(), workdir) == kind.encode()
    assert d.stop() == 0


# -- stale and live files ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["seqpacket", "dgram"])
def test_stale_socket_file_is_replaced(ipcd, workdir, kind):
    path = os.path.join(workdir, f"{kind}.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == "seqpacket"
                          else socket.SOCK_DGRAM)
    stale.bind(path)
    stale.close()  # the file stays; a connect() to it is refused
    d = start(ipcd, listen_conf([f"{kind}:{path}"]))
    assert f"Removing stale socket '{kind}:{path}'" in d.log()
    assert py_echo(kind, path, b"fresh", workdir) == b"fresh"
    assert d.stop() == 0


@pytest.mark.parametrize("kind", ["seqpacket", "dgram"])
def test_live_socket_is_refused(ipcd, workdir, kind):
    path = os.path.join(workdir, f"{kind}.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET if kind == "seqpacket"
                         else socket.SOCK_DGRAM)
    live.bind(path)
    if kind == "seqpacket":
        live.listen(1)
    try:
        d = ipcd(listen_conf([f"{kind}:{path}"]), activate=False).start()
        assert d.wait_exit() == 1
        want = "something is listening on it" if kind == "seqpacket" \
            else "a datagram socket is bound to it"
        assert f"'{kind}:{path}' is in use: {want}" in d.log()
        assert stat.S_ISSOCK(os.lstat(path).st_mode)  # still the other one's
    finally:
        live.close()


@pytest.mark.parametrize("kind", ["seqpacket", "dgram"])
def test_live_socket_of_another_type_is_refused(ipcd, workdir, kind):
    path = os.path.join(workdir, "stream.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(path)
    live.listen(1)
    try:
        d = ipcd(listen_conf([f"{kind}:{path}"]), activate=False).start()
        assert d.wait_exit() == 1
        assert f"'{kind}:{path}' is in use: a socket of another type is bound to it" in d.log()
    finally:
        live.close()


@pytest.mark.parametrize("kind", ["seqpacket", "dgram"])
def test_file_that_is_not_a_socket_is_never_removed(ipcd, workdir, kind):
    path = write_file(os.path.join(workdir, "precious"), "keep me")
    d = ipcd(listen_conf([f"{kind}:{path}"]), activate=False).start()
    assert d.wait_exit() == 1
    assert f"'{kind}:{path}' exists and is not a socket, not removing it" in d.log()
    with open(path) as f:
        assert f.read() == "keep me"


def test_tcp_port_in_use_is_refused(ipcd, workdir):
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        d = ipcd(listen_conf([f"tcp:127.0.0.1:{port}"]), activate=False).start()
        assert d.wait_exit() == 1
        assert f"'tcp:127.0.0.1:{port}' is in use" in d.log()
    finally:
        taken.close()


# -- one socket, listed twice --------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [("{d}/a.sock", "dgram:{d}/a.sock"),
                                 ("seqpacket:{d}/a.sock", "dgram:{d}//a.sock"),
                                 ("dgram:{d}/a.sock", "{d}/./a.sock")])
def test_same_path_of_two_types_is_refused(ipcd, workdir, a, b):
    a, b = a.format(d=workdir), b.format(d=workdir)
    conf = write_file(os.path.join(workdir, "dup.conf"), listen_conf([a, b]))
    r = run_ipcd("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == ""
    assert f'"{a}" and "{b}" are the same socket file, listed twice' in r.stderr
    r = run_ipcd("--check-config", "-c", "/dev/null", "--listen", a, "--listen", b)
    assert r.returncode == 1
    assert f"'{a}' and '{b}' are the same socket: each may be listened on once" in r.stderr
    d = ipcd("", activate=False, args=["--listen", a, "--listen", b]).start()
    assert d.wait_exit() == 1
    assert not os.path.lexists(os.path.join(workdir, "a.sock"))  # refused before any bind


def test_same_tcp_address_twice_is_refused(workdir):
    r = run_ipcd("--check-config", "-c", "/dev/null", "--listen", "tcp:[::1]:7000",
                 "--listen", "tcp:[0::1]:7000")
    assert r.returncode == 1 and "are the same socket" in r.stderr


# -- check mode: one line saying why -------------------------------------------------------------

TCP_FORM = "is not tcp:IPV4:PORT or tcp:[IPV6]:PORT (numeric address, port 1 to 65535)"
TYPE_FORM = 'is not "seqpacket:" or "dgram:" and a socket path or @name (TCP is stream only)'


@pytest.mark.parametrize("entry,reason", [
    ("tcp:", TCP_FORM), ("tcp:1.2.3.4", TCP_FORM), ("tcp:[::1]", TCP_FORM),
    ("tcp:999.1.1.1:80", TCP_FORM), ("tcp:localhost:80", TCP_FORM),
    # Port 0 would be a port the kernel picks and no client can find: refused.
    ("tcp:127.0.0.1:0", TCP_FORM), ("tcp:127.0.0.1:65536", TCP_FORM),
    ("seqpacket:", TYPE_FORM), ("dgram:", TYPE_FORM), ("dgram:@", TYPE_FORM),
    ("dgram:tcp:127.0.0.1:80", TYPE_FORM), ("seqpacket:dgram:/x", TYPE_FORM)])
def test_check_mode_rejects_malformed_entry_in_one_line(workdir, entry, reason):
    conf = write_file(os.path.join(workdir, "bad.conf"), f'listen = [ "{entry}" ];\n')
    r = run_ipcd("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f'{conf}:1: listen = [ "{entry}" ]: "{entry}" {reason} '
                               '(allowed: a list of 1 to 64 sockets:'), lines[0]
    assert lines[1] == f"Configuration '{conf}' is not valid"
    r = run_ipcd("--listen", entry)
    assert r.returncode == 2 and r.stderr.splitlines()[0] == \
        f"ipcd: invalid socket address '{entry}': it {reason}"


def test_check_mode_dumps_every_kind_as_written(workdir):
    entries = [e for e, _, _ in five(workdir)] + ["tcp:[::1]:7000", "./dgram:x"]
    conf = write_file(os.path.join(workdir, "ok.conf"), listen_conf(entries))
    r = run_ipcd("--check-config", "-c", conf)
    assert r.returncode == 0, r.stderr
    assert listen_conf(entries) in r.stdout
    again = write_file(os.path.join(workdir, "again.conf"), r.stdout)
    r2 = run_ipcd("--check-config", "-c", again)
    assert r2.returncode == 0 and r2.stdout == r.stdout


def test_check_mode_checks_directories_of_every_type(workdir):
    shared = os.path.join(workdir, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    for entry in (f"seqpacket:{shared}/a.sock", f"dgram:{shared}/a.sock"):
        r = run_ipcd("--check-config", "-c", "/dev/null", "--listen", entry)
        assert r.returncode == 1
        assert f"Refusing to listen on '{entry}': directory '{shared}' is writable" in r.stderr
    r = run_ipcd("--check-config", "-c", "/dev/null", "--listen",
                 f"dgram:{workdir}/no/such/x.sock")
    assert r.returncode == 1 and f"directory '{workdir}/no' does not exist" in r.stderr


# -- metrics: stream sockets only, TCP included -------------------------------------------------

@pytest.mark.parametrize("entry", ["seqpacket:/run/m.sock", "dgram:@m"])
def test_metrics_refuse_seqpacket_and_dgram(workdir, entry):
    conf = write_file(os.path.join(workdir, "m.conf"), f'metrics = [ "{entry}" ];\n')
    r = run_ipcd("--check-config", "-c", conf)
    assert r.returncode == 1
    kind = entry.split(":")[0]
    assert f'{conf}:1: metrics = [ "{entry}" ]: "{entry}" is a {kind} socket; metrics are ' \
        "served over stream sockets only" in r.stderr
    assert len(r.stderr.splitlines()) == 2


def test_metrics_over_tcp(ipcd, workdir):
    port, mport = free_port(), free_port()
    d = start(ipcd, listen_conf([f"tcp:127.0.0.1:{port}"],
                                f'metrics = [ "tcp:127.0.0.1:{mport}" ];\n'))
    assert f"Listening on 'tcp:127.0.0.1:{mport}' for metrics" in d.log()
    assert py_echo("tcp", ("127.0.0.1", port), b"counted", workdir) == b"counted"
    r = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{mport}/metrics"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert re.search(rf'ipcd_connections_accepted_total\{{socket="tcp:127\.0\.0\.1:{port}"'
                     r',type="stream"\} 1', r.stdout), r.stdout
    assert d.stop() == 0


# -- conf/ipcd-transports.conf ------------------------------------------------------------------

TRANSPORTS = os.path.join(SRCDIR, "conf", "ipcd-transports.conf")


def test_transports_conf_passes_check_mode_as_shipped():
    r = run_ipcd("--check-config", "-c", TRANSPORTS)
    assert r.returncode == 0, r.stderr
    assert 'listen = [ "/tmp/ipcd-transports/stream.sock", ' \
        '"seqpacket:/tmp/ipcd-transports/seqpacket.sock", ' \
        '"dgram:/tmp/ipcd-transports/dgram.sock", "@ipcd-transports", ' \
        '"tcp:127.0.0.1:7777" ];' in r.stdout
    m = re.search(r"max_message_size = (\d+);", r.stdout)
    b = re.search(r"buffer_size = (\d+);", r.stdout)
    assert int(m[1]) >= 100000 and int(b[1]) >= int(m[1])
    assert "stats_interval = 0;" in r.stdout and "workers = 0;" in r.stdout


def test_transports_conf_serves_100000_bytes_on_all_five(ipcd, workdir):
    port, name = free_port(), abstract_name(workdir)
    with open(TRANSPORTS) as f:
        text = f.read()
    text = text.replace("/tmp/ipcd-transports", workdir + "/t") \
        .replace("@ipcd-transports", name).replace(":7777", f":{port}")
    d = start(ipcd, text)
    big = os.urandom(100000)
    for kind, address in [("stream", f"{workdir}/t/stream.sock"),
                          ("seqpacket", f"{workdir}/t/seqpacket.sock"),
                          ("dgram", f"{workdir}/t/dgram.sock"),
                          ("stream", "\0" + name[1:]), ("tcp", ("127.0.0.1", port))]:
        assert py_echo(kind, address, big, workdir) == big, (kind, address)
        ipc_client_load(kind, address, chunk="100000")
    assert d.stop() == 0


# -- a self-bound dgram: socket is no weaker than a passed one ----------------------------------

def dgram_daemon(ipcd, workdir, extra=""):
    path = os.path.join(workdir, "ipcd-dgram.sock")
    d = start(ipcd, listen_conf([f"dgram:{path}"], STATS + extra))
    d.sock, d.kind = path, "dgram"  # for d.exchange()
    return d


def wait_unanswerable(d, n):
    d.wait_log(r"Stats: .* datagrams \(%d unanswerable, 0 dropped" % n)


def test_symlinked_sender_is_not_answered(ipcd, workdir):
    d = dgram_daemon(ipcd, workdir)
    victim = dgram_socket(os.path.join(workdir, "journal.sock"))
    a_path = os.path.join(workdir, "a.sock")
    a = dgram_client(workdir, "a.sock")
    with stopped(d.pid):
        a.sendto(b"forged journal entry", d.sock)
        replace_with_symlink(a_path, victim.getsockname())
    assert d.exchange(b"control ping") == b"control ping"
    assert queued(victim) == []
    wait_unanswerable(d, 1)
    assert "symbolic link" in d.log()
    a.close()
    assert d.stop() == 0


def test_sender_of_another_uid_is_answered_only_at_its_own_socket(ipcd, workdir):
    """Credentials are on from bind(): a root-owned socket the attacker renames over its own
    address (one name, so only the owner check can tell) gets nothing, nor one linked there."""
    d = dgram_daemon(ipcd, workdir, 'socket_mode = "0666";\n')
    os.chmod(workdir, 0o711)
    os.chmod(d.dir, 0o711)
    assert_renamed_and_linked_get_nothing(d, workdir)
    assert "does not own" in d.log() and "hard link" in d.log()
    assert d.stop() == 0


def test_unbound_sender_gets_nothing_and_honest_ones_are_served(ipcd, workdir):
    d = dgram_daemon(ipcd, workdir)
    anon = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # no address to answer
    anon.sendto(b"from nowhere", d.sock)
    assert d.exchange(b"control ping") == b"control ping"
    anon.close()
    assert d.stop() == 0


def test_access_lists_see_every_sender(ipcd, workdir):
    """The first datagram already carries credentials: a sender not allowed is dropped, never
    answered, even before anything else was sent."""
    d = dgram_daemon(ipcd, workdir, f"access = {{ allow_uids = [ {OTHER_UID} ]; }};\n")
    c = dgram_client(workdir, "root.sock", timeout=1)
    c.sendto(b"not allowed", d.sock)
    d.wait_log(r"Dropped datagram .*not allowed by access")
    with pytest.raises(socket.timeout):
        recv_exact(c, 1, timeout=0.5)
    c.close()
    assert d.stop() == 0
