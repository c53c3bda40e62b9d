# SPDX-License-Identifier: MIT
"""What the end-to-end tests share: a systemd-nspawn container booted with systemd as PID 1
(../shared/SYSTEMD-TESTING.md, level 2), commands run inside it through nsenter, and the
bounded helpers the tests use to talk to ipcd and read its journal.

A test module makes the root file system and the nspawn options, then calls
Container.start(); guarded() stops the container, and any command still running, when the
test ends or when tests/e2e/run's timeout sends SIGTERM. Everything is stopped by pid; every
call has a timeout and every wait a deadline."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("IPCD_BUILD_DIR") or os.path.join(SRCDIR, "build"))
CI = os.environ.get("CI") == "true"

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# MESSAGE_ID per event kind (src/ipcd/log.c, systemd/ipcd.catalog).
MSG_ID = {
    "start": "8b425d899d124fb48b32fb7e7e9efb4d",
    "ready": "9ec5317039de4184a608e020962a1382",
    "connect": "0b45c0c5b4ff4000ac84e963cf3205f7",
    "disconnect": "e21c26cd81a24740a5182f3e9ee9265b",
    "refused": "1398f5479c5c475ea6452d671a40397f",
    "denied": "93d3d27e222c4cf3bdd0c1a4602d891b",
    "reload": "40166eda9a0f4f8ebdf03335d55a05c9",
    "stats": "32a9a9508ff148cb93622ac0556be22d",
    "stop": "bf4b8b774b4b4cee9995881d72b7390c",
}


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn boots the container)"
    if not shutil.which("systemd-nspawn"):
        return "systemd-nspawn is not installed (Debian package systemd-container)"
    if not shutil.which("nsenter"):
        return "nsenter is not installed (util-linux)"
    try:
        with open("/proc/1/comm") as f:
            init = f.read().strip()
    except OSError:
        init = ""
    if os.path.isdir("/run/systemd/system") and init == "systemd":
        return ("the host is itself booted with systemd: this harness is for hosts without it "
                "(there, systemd-nspawn -b with machinectl works)")
    return None


def require_container(*tools):
    """Called at a test module's top: skips the module where a container cannot run at all,
    fails it instead in CI (CI is root and make deps installs the tools)."""
    reason = _skip_reason()
    for tool in tools:
        if not reason and not shutil.which(tool):
            reason = f"{tool} is not installed (tests/install-deps installs it)"
    if reason and CI:
        pytest.fail(f"the end-to-end test must run in CI: {reason}", pytrace=False)
    if reason:
        pytest.skip(reason, allow_module_level=True)


# --------------------------------------------------------------------------------------------
# Small bounded helpers


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls predicate until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


_running = set()  # commands run() waits for, killed on SIGTERM


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd, timeout, **kw):
    """Runs cmd in a session of its own; on timeout kills that whole group (it is ours)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace",
                         start_new_session=True, **kw)
    _running.add(p)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(p)
        p.communicate(timeout=10)
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}")
    finally:
        _running.discard(p)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def recv_until_eof(s, timeout=10.0, limit=1 << 24):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF within {timeout}s ({len(data)} bytes read)")
        s.settimeout(left)
        chunk = s.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk
        assert len(data) <= limit, "more data than expected"


def recv_exact(s, n, timeout=10.0):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{len(data)} of {n} bytes within {timeout}s")
        s.settimeout(left)
        chunk = s.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def closed_by_peer(s, timeout=5.0):
    """True if the daemon closes s (EOF or reset) within timeout, False if it echoes instead or
    stays silent."""
    deadline = time.monotonic() + timeout
    try:
        s.sendall(b"?")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            s.settimeout(left)
            chunk = s.recv(4096)
            if not chunk:
                return True
            return False  # an echo: it was admitted
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def replace_file(path, text, mode=0o644):
    """Writes path whole, as an editor saving it would: a reader sees the old or the new file."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def text_of(value):
    """A journal field as JSON gives it: a string, or a list of bytes if not UTF-8."""
    if isinstance(value, list):
        return bytes(value).decode(errors="replace")
    return value if value is not None else ""


# --------------------------------------------------------------------------------------------
# The container


class Container:
    """One booted container. A subclass makes its root file system and calls start(); the
    host reaches the socket directory self.sockdir, which is /run/ipcd inside."""

    def __init__(self):
        self.tmp = None
        self.nspawn = None
        self.leader = None
        self.cgroups = []
        self.clients = []  # Popen objects of host clients started by tests

    def make_tmp(self):
        self.tmp = tempfile.mkdtemp(prefix="ipcd-e2e.", dir="/var/tmp")
        self.sockdir = os.path.join(self.tmp, "sock")
        self.sock = os.path.join(self.sockdir, "ipcd.sock")
        self.console = os.path.join(self.tmp, "console.log")
        self.machine = f"ipcd-e2e-{os.getpid()}"
        os.mkdir(self.sockdir)
        os.chmod(self.sockdir, 0o755)  # shows up as /run/ipcd inside

    def start(self, root, options):
        """Boots systemd in root with nspawn's options added; returns when it is running."""
        # Cgroups of its own, never the host's init scope.
        name = f"ipcd-e2e-{os.getpid()}"
        roots = [r for r in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
                 if os.path.isdir(r)]
        if not roots and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            roots = ["/sys/fs/cgroup"]
        for root_cg in roots:
            path = os.path.join(root_cg, name)
            os.mkdir(path)
            self.cgroups.append(path)
        cgroups = list(self.cgroups)

        def enter_cgroups():
            for path in cgroups:
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
                            "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID")}
        with open(self.console, "wb") as console:
            self.nspawn = subprocess.Popen(
                ["systemd-nspawn", "-q", "-D", root, "-M", self.machine, "--boot",
                 "--register=no", "--keep-unit", "--console=read-only", "--private-network",
                 *options, f"--bind={self.sockdir}:/run/ipcd"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=enter_cgroups)

        self.leader = wait_until(self._find_leader, 30, "the container's PID 1")
        state = wait_until(self._booted, 60, "systemctl is-system-running --wait", interval=0.2)
        if state == "degraded":
            print(self.ct("systemctl", "--failed", "--no-pager").stdout)

    def _find_leader(self):
        if self.nspawn.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited with {self.nspawn.returncode}:\n"
                                 f"{self.console_log()}")
        children = []
        try:
            for task in os.listdir(f"/proc/{self.nspawn.pid}/task"):
                with open(f"/proc/{self.nspawn.pid}/task/{task}/children") as f:
                    children += f.read().split()
        except OSError:
            return None
        for pid in children:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("NSpid:") and line.split()[-1] == "1" \
                                and len(line.split()) > 2:
                            return int(pid)
            except OSError:
                continue
        return None

    def _booted(self):
        if self.nspawn.poll() is not None:
            raise AssertionError(f"systemd-nspawn exited with {self.nspawn.returncode}:\n"
                                 f"{self.console_log()}")
        r = self.ct("systemctl", "is-system-running", "--wait", timeout=15)
        state = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        return state if state in ("running", "degraded") else None

    def console_log(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()[-4000:]
        except (OSError, AttributeError):
            return ""

    # ---- use

    def ct_argv(self, *cmd):
        """The command line that runs cmd inside the container, as root, with a clean
        environment. -r -w: the container's own root and directory. Entering its mount namespace
        alone lands at that namespace's root, which is the host's where nspawn could only chroot
        into the container (when this test itself runs in a chroot)."""
        return ["nsenter", "-t", str(self.leader), "-a", "-r", "-w", "--", "env", "-i",
                f"PATH={PATH}", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", *cmd]

    def ct(self, *cmd, timeout=30):
        """Runs cmd inside the container (ct_argv)."""
        return run(self.ct_argv(*cmd), timeout=timeout)

    def ct_ok(self, *cmd, timeout=30):
        r = self.ct(*cmd, timeout=timeout)
        assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        return r

    def in_root(self, path):
        """A path inside the running container, as the host reaches it."""
        return f"/proc/{self.leader}/root{path}"

    # ---- teardown

    def _alive(self, pid):
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def _wait_nspawn(self, timeout):
        try:
            self.nspawn.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        """Idempotent; stops only what this harness started."""
        for p in self.clients:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    pass
        self.clients = []
        if self.nspawn and self.nspawn.poll() is None:
            self.nspawn.terminate()  # an orderly poweroff of the container
            if not self._wait_nspawn(30) and self.leader and self._alive(self.leader):
                # Last resort: kill the container's PID 1, which ends its pid namespace.
                os.kill(self.leader, signal.SIGKILL)
                if not self._wait_nspawn(15):
                    self.nspawn.kill()  # its payload is gone now
                    self._wait_nspawn(10)
        for path in self.cgroups:
            self._remove_cgroup(path)
        self.cgroups = []
        if self.tmp:
            with open("/proc/self/mountinfo") as f:
                mounted = [line for line in f if self.tmp in line]
            if not mounted:  # never delete through a mount that is still there
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    @staticmethod
    def _remove_cgroup(path):
        deadline = time.monotonic() + 10
        while os.path.isdir(path):
            for dirpath, _dirs, _files in os.walk(path, topdown=False):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
            if not os.path.isdir(path) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)


_container = None
_cleanups = []  # what on_sigterm() registered, innermost last


def _on_sigterm(signum, frame):
    # tests/e2e/run wraps pytest in timeout(1): leave no container and no command behind.
    for p in list(_running):
        _kill_group(p)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:  # the others still run
            pass
    if _container is not None:
        _container.stop()
    os._exit(128 + signum)


@contextlib.contextmanager
def on_sigterm(fn):
    """fn runs if SIGTERM comes while the block runs, once the commands are killed: for what
    a finally clause would clean up (the handler exits without unwinding)."""
    _cleanups.append(fn)
    try:
        yield
    finally:
        _cleanups.remove(fn)


@contextlib.contextmanager
def guarded(c):
    """While it lasts, SIGTERM stops c and whatever run() is waiting for; c is stopped at the
    end whatever happens."""
    global _container
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    _container = c
    try:
        yield c
    finally:
        c.stop()
        _container = None
        signal.signal(signal.SIGTERM, old)


def booted(c):
    """Boots c for a module's tests (yield from it in the fixture) and always stops it. A failed
    boot is the module's failure, with the console's last lines."""
    with guarded(c):
        try:
            c.boot()
        except AssertionError as e:
            # In CI the container must boot; elsewhere too, this is a failure, not a skip.
            where = " (in CI this is a failure, never a skip)" if CI else ""
            raise AssertionError(f"could not set up and boot the container{where}: {e}\n"
                                 f"console:\n{c.console_log()}") from None
        yield c


# --------------------------------------------------------------------------------------------
# ipcd's units and journal inside the container


def is_active(box, unit):
    return box.ct("systemctl", "is-active", unit).stdout.strip()


def wait_state(box, unit, states, timeout):
    states = (states,) if isinstance(states, str) else states
    seen = []

    def check():
        s = is_active(box, unit)
        seen.append(s)
        return s in states

    try:
        wait_until(check, timeout, f"{unit} {'/'.join(states)}", interval=0.1)
    except AssertionError as e:
        raise AssertionError(f"{e}; states seen: {sorted(set(seen))}\n"
                             f"{box.ct('systemctl', 'status', '--no-pager', unit).stdout}")


def main_pid(box):
    r = box.ct_ok("systemctl", "show", "-p", "MainPID", "--value", "ipcd.service")
    return int(r.stdout.strip())


def show(box, prop, unit="ipcd.service"):
    return box.ct_ok("systemctl", "show", "-p", prop, "--value", unit).stdout.strip()


def cursor(box):
    """A mark in the journal: the time of its newest entry. What comes after is this test's.
    (Not --after-cursor: systemd 252's journalctl skips the first match after a cursor that
    does not itself match the filter.)"""
    r = box.ct("journalctl", "-n", "1", "-o", "json", "--no-pager", "-q")
    assert r.returncode == 0, f"journalctl: {r.stderr}"
    lines = [x for x in r.stdout.splitlines() if x.strip()]
    return int(json.loads(lines[-1])["__REALTIME_TIMESTAMP"]) if lines else 0


def journal(box, *args, after=None, unit="ipcd.service"):
    """Entries (dicts) of `journalctl -u unit -o json args...` newer than the mark after."""
    cmd = ["journalctl", "-o", "json", "--no-pager", "-q"]
    if unit:
        cmd += ["-u", unit]
    if after:
        cmd.append(f"--since=@{after // 1000000}")
    r = box.ct(*cmd, *args)
    assert r.returncode == 0, f"journalctl: {r.stderr}"
    entries = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return [e for e in entries if not after or int(e["__REALTIME_TIMESTAMP"]) > after]


def wait_journal(box, predicate, what, after, timeout=10.0, **kw):
    """Polls the unit's journal after a cursor until predicate(entries) is truthy."""
    last = []

    def check():
        last[:] = journal(box, after=after, **kw)
        return predicate(last)

    try:
        return wait_until(check, timeout, what, interval=0.2)
    except AssertionError as e:
        messages = "\n".join(text_of(x.get("MESSAGE")) for x in last[-40:])
        raise AssertionError(f"{e}; the journal had:\n{messages}") from None


def with_message(rx):
    rx = re.compile(rx)
    return lambda entries: [x for x in entries if rx.search(text_of(x.get("MESSAGE")))]


def events(entries, kind):
    return [x for x in entries if x.get("IPCD_EVENT") == kind]


def exchange(box, data, timeout=15.0):
    """One round trip from the host on a fresh connection; returns the echo."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(box.sock)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s, timeout)


def diagnose(box):
    """What an operator would look at first."""
    status = box.ct("systemctl", "status", "--no-pager", "-n", "0", "ipcd.socket",
                    "ipcd.service").stdout
    log = box.ct("journalctl", "-u", "ipcd.service", "-n", "25", "--no-pager").stdout
    # What systemd's forked child logs before exec is not matched by -u in v252.
    errors = box.ct("journalctl", "-p", "err", "-n", "6", "--no-pager").stdout
    return f"{status}\n{log}\nerrors:\n{errors}"


def assert_echo(box, data, timeout=15.0):
    """A round trip from the host that must come back intact."""
    try:
        echo = exchange(box, data, timeout)
    except (OSError, AssertionError) as e:
        raise AssertionError(f"no echo ({e!r}):\n{diagnose(box)}") from None
    assert echo == data, f"echo of {len(data)} bytes came back as {echo[:64]!r}:\n{diagnose(box)}"


def hold(box, timeout=15.0):
    """A connection from the host, proved admitted by one echoed byte; left open."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(box.sock)
        s.sendall(b"h")
        assert recv_exact(s, 1, timeout) == b"h"
    except BaseException:
        s.close()
        raise
    return s


def set_setting(text, name, value):
    """The conf text with `name = ...;` (one occurrence) set to value."""
    new, n = re.subn(rf"^(\s*{re.escape(name)}\s*=\s*)[^;]*;", rf"\g<1>{value};", text,
                     flags=re.M)
    assert n == 1, f"{name} is not set exactly once in the shipped ipcd.conf"
    return new


def reload(box, *expect, timeout=10.0, ok=True):
    """systemctl reload ipcd, which must succeed (ok=False: must fail), then waits until the
    journal has a message matching each of the regexes expect (ipcd's native and stderr lines
    may arrive in any order)."""
    after = cursor(box)
    r = box.ct("systemctl", "reload", "ipcd")
    assert (r.returncode == 0) == ok, f"systemctl reload ipcd: exit {r.returncode}\n" \
                                      f"{r.stderr}{diagnose(box)}"
    rxs = [re.compile(x, re.M) for x in expect]
    return wait_journal(box, lambda es: all(any(rx.search(text_of(e.get("MESSAGE")))
                                                for e in es) for rx in rxs) and es,
                        f"{expect} after systemctl reload", after, timeout)


def reload_applied(box, pid, *expect):
    """reload(), and the journal's reload event says applied, by the same daemon, still
    active."""
    entries = reload(box, *expect)
    (ev,) = events(entries, "reload")
    assert ev["IPCD_REASON"] == "applied" and ev["MESSAGE_ID"] == MSG_ID["reload"]
    assert main_pid(box) == pid, "a reload must not restart the daemon"
    assert is_active(box, "ipcd.service") == "active"


def ensure_serving(box):
    """ipcd.socket listening and ipcd.service running, whatever an earlier test left."""
    box.ct("systemctl", "reset-failed", "ipcd.service", "ipcd.socket")
    box.ct_ok("systemctl", "start", "ipcd.socket")
    assert_echo(box, b"wake")
    wait_state(box, "ipcd.service", "active", 15)
    return main_pid(box)


def check_load(returncode, out, err, connections):
    """The JSON report of an `ipc-client load --json`: every byte echoed and verified."""
    try:
        doc = json.loads(out)
    except ValueError:
        raise AssertionError(f"ipc-client printed no JSON (exit {returncode}):\n{out}\n{err}")
    res = doc["result"]
    bad = {k: v for k, v in res["errors"].items() if v}
    assert returncode == 0 and not bad, \
        f"ipc-client exit {returncode}, errors {bad}, mismatches {res.get('mismatches')}\n{err}"
    assert doc["parameters"]["verify"] is True
    assert res["connections"] == connections
    assert res["round_trips"] > 0
    assert res["bytes_sent"] > 0 and res["bytes_received"] == res["bytes_sent"]
    assert res["mismatches"] == []
    assert res["interrupted"] is False
    return res
