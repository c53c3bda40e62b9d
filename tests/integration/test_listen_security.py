# SPDX-License-Identifier: MIT
"""Sockets ipcd binds itself, against a local user who can write near them (issue 11): the mode
is fixed at bind(), no path-based chmod is left to redirect, directories every user can write
are refused, and one socket is never listed twice under two spellings."""

import os
import shutil
import signal
import socket
import stat
import subprocess

import pytest

from conftest import IPCD, connect, recv_until_eof, wait_until


def echo(path, data=b"ping"):
    with connect(path) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        return recv_until_eof(c)


def run(*args, timeout=10):
    return subprocess.run([IPCD, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- the mode, on every way to bind ------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o660, 0o666])
@pytest.mark.parametrize("how", ["fresh", "stale", "new-directory"])
def test_socket_mode_on_every_bind(ipcd, workdir, mode, how):
    path = os.path.join(workdir, "sub" if how == "new-directory" else "", "own.sock")
    if how == "stale":
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()
    d = ipcd(f'socket_mode = "{mode:04o}";\n', activate=False, listen=path,
             args=["--listen", path]).start()
    d.notify.wait_for("READY=1")
    assert mode_of(path) == mode
    if how == "new-directory":
        assert mode_of(os.path.dirname(path)) == 0o755
    assert echo(path) == b"ping"
    assert d.stop() == 0


# -- no path-based chmod: the race --------------------------------------------------------------

def traced(d, trace):
    """d's command under strace, bind() held for a second after it returns: the window in which
    a local user swaps the new socket file for a symlink."""
    command = d.command
    d.command = lambda: ["strace", "-f", "-qq", "-o", trace,
                         "-e", "trace=bind,chmod,fchmod,fchmodat",
                         "-e", "inject=bind:delay_exit=1000000"] + command()
    # LeakSanitizer cannot run under ptrace; the ASan build's other checks still do.
    d.env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"),
                                                   "detect_leaks=0"]))
    return d


def traced_stop(d):
    """SIGTERM to ipcd itself (strace's child), and strace's exit status, which is ipcd's."""
    with open(f"/proc/{d.proc.pid}/task/{d.proc.pid}/children") as f:
        child = int(f.read().split()[0])
    os.kill(child, signal.SIGTERM)
    return d.wait_exit()


@pytest.mark.skipif(not shutil.which("strace") and os.environ.get("CI") != "true",
                    reason="needs strace (make deps installs it)")
def test_symlink_swapped_in_after_bind_is_never_followed(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    secret = os.path.join(workdir, "secret")
    with open(secret, "w") as f:
        f.write("root only")
    os.chmod(secret, 0o600)
    trace = os.path.join(workdir, "strace.out")
    d = traced(ipcd('socket_mode = "0666";\n', activate=False, listen=path,
                    args=["--listen", path]), trace)
    d.start()
    wait_until(lambda: os.path.lexists(path) or d.proc.poll() is not None, 10, "bind()")
    assert d.proc.poll() is None, d.log()
    os.unlink(path)  # what a user who can write the directory can do
    os.symlink(secret, path)
    d.notify.wait_for("READY=1", timeout=15)
    assert traced_stop(d) == 0
    assert mode_of(secret) == 0o600, "root changed the mode of the symlink's target"
    with open(trace) as f:
        calls = f.read()
    assert "bind(" in calls and "(DELAYED)" in calls, calls
    chmods = [line for line in calls.splitlines() if "chmod" in line]
    assert chmods == [], "\n".join(chmods)
    assert os.path.exists(secret) and not os.path.lexists(path)  # removed the link, not it


# -- the directory rule ------------------------------------------------------------------------

def world_writable_dir(workdir, mode):
    d = os.path.join(workdir, "shared")
    os.mkdir(d)
    os.chmod(d, mode)  # chmod, not mkdir's mode: the umask would take bits away
    return d


def test_world_writable_directory_is_refused(ipcd, workdir):
    shared = world_writable_dir(workdir, 0o777)
    path = os.path.join(shared, "own.sock")
    message = (f"Refusing to listen on '{path}': directory '{shared}' is writable by every "
               "user and not sticky: anyone could replace the socket")
    d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    assert d.wait_exit() == 1
    assert message in d.log()
    assert not os.path.lexists(path)
    r = run("--check-config", "-c", "/dev/null", "--listen", path)
    assert r.returncode == 1 and message in r.stderr and r.stdout == ""


def test_world_writable_directory_above_is_refused(ipcd, workdir):
    shared = world_writable_dir(workdir, 0o777)
    os.mkdir(os.path.join(shared, "ipcd"))  # 0755, but anyone can rename it away
    path = os.path.join(shared, "ipcd", "own.sock")
    conf = f'listen = [ "{path}" ];\n'
    d = ipcd(conf, activate=False, listen=path).start()
    assert d.wait_exit() == 1
    assert f"directory '{shared}' is writable by every user and not sticky" in d.log()
    r = run("--check-config", "-c", d.conf_path)
    assert r.returncode == 1 and f"directory '{shared}'" in r.stderr


def test_world_writable_directory_through_a_symlink_is_refused(ipcd, workdir):
    shared = world_writable_dir(workdir, 0o777)
    link = os.path.join(workdir, "link")
    os.symlink(shared, link)
    path = os.path.join(link, "own.sock")
    r = run("--check-config", "-c", "/dev/null", "--listen", path)
    assert r.returncode == 1 and "is writable by every user and not sticky" in r.stderr


@pytest.mark.parametrize("mode", [0o1777, 0o775, 0o770])
def test_sticky_or_group_writable_directory_is_accepted(ipcd, workdir, mode):
    # Sticky: nobody but its owner may rename or remove the socket. Group-writable: a grant to
    # named users, made on purpose.
    shared = world_writable_dir(workdir, mode)
    path = os.path.join(shared, "own.sock")
    r = run("--check-config", "-c", "/dev/null", "--listen", path)
    assert r.returncode == 0, r.stderr
    d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
    d.notify.wait_for("READY=1")
    assert echo(path) == b"ping"
    assert d.stop() == 0


def test_missing_directory_is_checked_where_it_would_be_made(ipcd, workdir):
    shared = world_writable_dir(workdir, 0o777)
    path = os.path.join(shared, "new", "own.sock")
    r = run("--check-config", "-c", "/dev/null", "--listen", path)
    assert r.returncode == 1 and f"directory '{shared}'" in r.stderr


# -- one socket, two spellings -----------------------------------------------------------------

SPELLINGS = [("{d}/a.sock", "{d}//a.sock"),
             ("{d}/a.sock", "{d}/./a.sock"),
             ("{d}/sub/a.sock", "{d}/sub/a.sock/"),
             ("{d}/sub/a.sock", "{d}//sub/.//a.sock")]


@pytest.mark.parametrize("a,b", SPELLINGS)
def test_same_socket_twice_on_the_command_line_is_refused(ipcd, workdir, a, b):
    a, b = a.format(d=workdir), b.format(d=workdir)
    message = f"'{a}' and '{b}' are the same socket: each may be listened on once"
    r = run("--check-config", "-c", "/dev/null", "--listen", a, "--listen", b)
    assert r.returncode == 1 and message in r.stderr and r.stdout == ""
    d = ipcd("", activate=False, listen=a, args=["--listen", a, "--listen", b]).start()
    assert d.wait_exit() == 1
    assert message in d.log() and "in use" not in d.log()
    assert not os.path.lexists(a.rstrip("/"))  # refused before anything was bound


def test_same_socket_through_a_symlinked_directory_is_refused(workdir):
    real = os.path.join(workdir, "real")
    os.mkdir(real)
    os.symlink(real, os.path.join(workdir, "alias"))
    a, b = os.path.join(real, "a.sock"), os.path.join(workdir, "alias", "a.sock")
    r = run("--check-config", "-c", "/dev/null", "--listen", a, "--listen", b)
    assert r.returncode == 1 and f"'{a}' and '{b}' are the same socket" in r.stderr


def test_relative_and_absolute_spelling_is_refused(workdir):
    a = os.path.join(workdir, "a.sock")
    r = subprocess.run([IPCD, "--check-config", "-c", "/dev/null", "--listen", a,
                        "--listen", "./a.sock"], capture_output=True, text=True, timeout=10,
                       cwd=workdir)
    assert r.returncode == 1 and f"'{a}' and './a.sock' are the same socket" in r.stderr


@pytest.mark.parametrize("a,b", SPELLINGS)
def test_same_socket_twice_in_the_config_file_is_refused(workdir, a, b):
    a, b = a.format(d=workdir), b.format(d=workdir)
    conf = os.path.join(workdir, "ipcd.conf")
    with open(conf, "w") as f:
        f.write(f'socket_mode = "0600";\nlisten = [ "{a}",\n  "{b}" ];\n')
    r = run("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == ""
    assert f'{conf}:2: listen = ' in r.stderr
    assert f'"{a}" and "{b}" are the same socket, listed twice' in r.stderr


def test_different_sockets_and_dotdot_are_not_duplicates(ipcd, workdir):
    # ".." is not resolved by spelling: "sub/../b.sock" is b.sock only if sub is no symlink,
    # which the file system decides where the directory exists.
    os.mkdir(os.path.join(workdir, "sub"))
    a = os.path.join(workdir, "a.sock")
    b = os.path.join(workdir, "sub", "..", "b.sock")
    r = run("--check-config", "-c", "/dev/null", "--listen", a, "--listen", b,
            "--listen", "@" + a, "--listen", a + "x")
    assert r.returncode == 0, r.stderr
    r = run("--check-config", "-c", "/dev/null", "--listen", os.path.join(workdir, "b.sock"),
            "--listen", b)
    assert r.returncode == 1 and "are the same socket" in r.stderr


# -- "in use" says what is known -----------------------------------------------------------------

def test_abstract_name_in_use(ipcd, workdir):
    name = f"@ipcd-test-{os.getpid()}-{os.path.basename(workdir)}"
    taken = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # bound, not listening
    taken.bind("\0" + name[1:])
    try:
        d = ipcd("", activate=False, listen=name, args=["--listen", name]).start()
        assert d.wait_exit() == 1
        assert f"'{name}' is in use: another socket is bound to it" in d.log()
    finally:
        taken.close()


def test_path_bound_by_a_socket_of_another_type(ipcd, workdir):
    path = os.path.join(workdir, "dgram.sock")
    taken = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    taken.bind(path)
    try:
        d = ipcd("", activate=False, listen=path, args=["--listen", path]).start()
        assert d.wait_exit() == 1
        assert f"'{path}' is in use: a socket of another type is bound to it" in d.log()
        assert os.path.exists(path)
    finally:
        taken.close()
