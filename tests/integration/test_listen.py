# SPDX-License-Identifier: MIT
"""Listeners: what systemd passes, and the sockets ipcd binds itself."""

import os
import socket
import stat
import subprocess
import sys

from conftest import IPCD, connect, recv_until_eof, wait_until


def echo(path, data=b"ping"):
    with connect(path) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        return recv_until_eof(c)


def self_bound(ipcd, workdir, conf="", listen=None):
    """ipcd binding its own socket (no activation), READY when listening."""
    path = listen or os.path.join(workdir, "own.sock")
    d = ipcd(conf, activate=False, listen=path,
             args=["--listen", path] if listen is None or not conf else [])
    d.start()
    return d


def test_self_bind_serves_applies_mode_and_cleans_up(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    d = ipcd('socket_mode = "0600";\n', activate=False, listen=path, args=["--listen", path])
    d.start()
    d.notify.wait_for("READY=1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert echo(path) == b"ping"
    assert d.stop() == 0
    assert not os.path.exists(path)


def test_default_socket_mode_is_0660(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    d.notify.wait_for("READY=1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    assert d.stop() == 0


def test_listen_list_from_config_and_missing_directory_created(ipcd, workdir):
    a = os.path.join(workdir, "a.sock")
    b = os.path.join(workdir, "sub", "b.sock")
    d = ipcd(f'listen = [ "{a}", "{b}" ];\n', activate=False, listen=a).start()
    d.notify.wait_for("READY=1")
    assert echo(a) == b"ping" and echo(b) == b"ping"
    assert d.stop() == 0


def test_stale_socket_is_replaced(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody accepts: connect() gives ECONNREFUSED
    d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    d.notify.wait_for("READY=1")
    assert f"Removing stale socket '{path}'" in d.log()
    assert echo(path) == b"ping"
    assert d.stop() == 0


def test_live_socket_is_an_error(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    first = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    first.notify.wait_for("READY=1")
    second = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    assert second.wait_exit() == 1
    assert f"'{path}' is in use: something is listening on it" in second.log()
    assert echo(path) == b"ping"  # the first one is untouched
    assert first.stop() == 0


def test_path_that_is_not_a_socket_is_never_removed(ipcd, workdir):
    path = os.path.join(workdir, "precious")
    with open(path, "w") as f:
        f.write("keep me")
    d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    assert d.wait_exit() == 1
    assert f"'{path}' exists and is not a socket, not removing it" in d.log()
    with open(path) as f:
        assert f.read() == "keep me"


def test_abstract_socket(ipcd, workdir):
    name = f"@ipcd-test-{os.getpid()}-{os.path.basename(workdir)}"
    d = ipcd("", activate=False, listen=name, args=["--listen", name]).start()
    d.notify.wait_for("READY=1")
    assert echo(name) == b"ping"
    assert d.stop() == 0


def test_several_passed_sockets(ipcd, workdir):
    other = os.path.join(workdir, "other.sock")
    d = ipcd(listen_more=[other]).start()
    assert echo(d.sock) == b"ping"
    d.notify.wait_for("READY=1")
    wait_until(lambda: os.path.exists(other), 5, "second socket")
    assert echo(other) == b"ping"
    assert "Ready: 2 listeners" in d.log()
    assert d.stop() == 0


def run_with_passed_fd(workdir, make_fd, names=None):
    """Runs ipcd with fd 3 passed as systemd would (LISTEN_PID is ipcd's own pid)."""
    helper = (
        "import os, socket, sys\n"
        f"fd = {make_fd}\n"
        "os.dup2(fd, 3)\n"
        "os.set_inheritable(3, True)  # dup2 onto itself keeps close-on-exec\n"
        "env = dict(os.environ, LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
        + (f"env['LISTEN_FDNAMES'] = {names!r}\n" if names else "")
        + f"os.execve({IPCD!r}, [{IPCD!r}, '-c', '/dev/null'], env)\n")
    return subprocess.run([sys.executable, "-c", helper], capture_output=True, text=True,
                          timeout=10, pass_fds=(), cwd=workdir)


def test_passed_fd_that_is_not_a_socket(workdir):
    path = os.path.join(workdir, "file")
    open(path, "w").close()
    r = run_with_passed_fd(workdir, f"os.open({path!r}, os.O_RDONLY)", names="myfd")
    assert r.returncode == 1
    assert "Passed fd 3 ('myfd') is a regular file, not a socket" in r.stderr


def test_passed_socket_of_a_kind_ipcd_does_not_serve(workdir):
    r = run_with_passed_fd(workdir, "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()")
    assert r.returncode == 1
    assert "Passed fd 3 ('unknown') is an AF_INET datagram socket, which ipcd does not serve" \
        in r.stderr


def test_passed_stream_socket_that_is_not_listening(workdir):
    r = run_with_passed_fd(workdir, "socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach()")
    assert r.returncode == 1
    assert "Passed fd 3 ('unknown') is not a listening socket" in r.stderr
