# SPDX-License-Identifier: MIT
"""End to end: the installed ipcd units under a real systemd booted as PID 1 in a
systemd-nspawn container (../shared/SYSTEMD-TESTING.md, level 2), driven from the host
through the bind-mounted socket directory exactly as a user would: systemctl start, load,
journalctl, reload, restart, kill -9, watchdog, exit_on_idle.

The container is booted once for the module (a few seconds) and always torn down: nspawn is
sent SIGTERM (an orderly poweroff), its cgroups removed, the temp dir deleted. Everything the
test starts is stopped by pid; every call has a timeout and every wait a deadline."""

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
IPC_CLIENT = os.path.join(BUILD_DIR, "ipc-client")
CI = os.environ.get("CI") == "true"

CONF = "/etc/ipcd/ipcd.conf"  # as the container (and the unit) sees it
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# MESSAGE_ID per event kind (src/log.c, systemd/ipcd.catalog).
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


_reason = _skip_reason()
if _reason and CI:
    # CI is root and make deps installs systemd-container: there, not running is a failure.
    pytest.fail(f"the end-to-end test must run in CI: {_reason}", pytrace=False)
if _reason:
    pytest.skip(_reason, allow_module_level=True)


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


def run(cmd, timeout, **kw):
    """Runs cmd in a session of its own; on timeout kills that whole group (it is ours)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace",
                         start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate(timeout=10)
        raise AssertionError(f"timed out after {timeout}s: {' '.join(cmd)}")
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


def text_of(value):
    """A journal field as JSON gives it: a string, or a list of bytes if not UTF-8."""
    if isinstance(value, list):
        return bytes(value).decode(errors="replace")
    return value if value is not None else ""


# --------------------------------------------------------------------------------------------
# The container


class Container:
    def __init__(self):
        self.tmp = None
        self.nspawn = None
        self.leader = None
        self.cgroups = []
        self.clients = []  # Popen objects of host clients started by tests

    # ---- setup

    def boot(self):
        self.tmp = tempfile.mkdtemp(prefix="ipcd-e2e.", dir="/var/tmp")
        self.root = os.path.join(self.tmp, "root")
        self.stage = os.path.join(self.tmp, "stage")
        self.confdir = os.path.join(self.tmp, "etc-ipcd")
        self.sockdir = os.path.join(self.tmp, "sock")
        self.sock = os.path.join(self.sockdir, "ipcd.sock")
        self.console = os.path.join(self.tmp, "console.log")
        self.machine = f"ipcd-e2e-{os.getpid()}"

        # What is under test, installed into a staging dir as a package would be built.
        r = run(["make", "-C", SRCDIR, "install", f"DESTDIR={self.stage}", "PREFIX=/usr/local",
                 f"BUILD={BUILD_DIR}"], timeout=600)
        assert r.returncode == 0, f"make install failed:\n{r.stdout}\n{r.stderr}"

        # rootfs: an empty skeleton plus the host's /usr, read-only.
        for d in ("etc", "var", "usr", "root", "tmp", "home", "opt", "dev", "proc", "sys", "run"):
            os.makedirs(os.path.join(self.root, d))
        os.chmod(os.path.join(self.root, "tmp"), 0o1777)
        for d in ("bin", "sbin", "lib", "lib64"):
            os.symlink(f"usr/{d}", os.path.join(self.root, d))
        shutil.copy("/usr/lib/os-release", os.path.join(self.root, "etc", "os-release"))
        r = run(["systemd-id128", "new"], timeout=10)
        assert r.returncode == 0, r.stderr
        with open(os.path.join(self.root, "etc", "machine-id"), "w") as f:
            f.write(r.stdout)
        with open(os.path.join(self.root, "etc", "hostname"), "w") as f:
            f.write("ipcd-e2e\n")

        # The configuration, in a directory of its own bound read-write: tests edit it here.
        os.mkdir(self.confdir)
        os.chmod(self.confdir, 0o755)
        with open(os.path.join(self.stage, "etc", "ipcd", "ipcd.conf")) as f:
            self.base_conf = f.read()
        self.write_conf(self.base_conf)
        os.mkdir(self.sockdir)
        os.chmod(self.sockdir, 0o755)  # shows up as /run/ipcd inside

        # Cgroups of its own, never the host's init scope.
        name = f"ipcd-e2e-{os.getpid()}"
        roots = [r for r in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
                 if os.path.isdir(r)]
        if not roots and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            roots = ["/sys/fs/cgroup"]
        for root in roots:
            path = os.path.join(root, name)
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
                ["systemd-nspawn", "-q", "-D", self.root, "-M", self.machine, "--boot",
                 "--register=no", "--keep-unit", "--console=read-only", "--private-network",
                 "--bind-ro=/usr", f"--bind-ro={self.stage}/usr/local:/usr/local",
                 f"--bind={self.confdir}:/etc/ipcd", f"--bind={self.sockdir}:/run/ipcd"],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=enter_cgroups)

        self.leader = wait_until(self._find_leader, 30, "the container's PID 1")
        state = wait_until(self._booted, 60, "systemctl is-system-running --wait", interval=0.2)
        if state == "degraded":
            print(self.ct("systemctl", "--failed", "--no-pager").stdout)

        # As a package's postinst would: the group ipcd.socket names, the catalog.
        self.ct_ok("systemd-sysusers")
        self.ct_ok("journalctl", "--update-catalog")
        self.ct_ok("systemctl", "daemon-reload")

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
        except OSError:
            return ""

    # ---- use

    def ct(self, *cmd, timeout=30):
        """Runs cmd inside the container, as root, with a clean environment."""
        return run(["nsenter", "-t", str(self.leader), "-a", "--", "env", "-i", f"PATH={PATH}",
                    "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", *cmd], timeout=timeout)

    def ct_ok(self, *cmd, timeout=30):
        r = self.ct(*cmd, timeout=timeout)
        assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
        return r

    def write_conf(self, text):
        path = os.path.join(self.confdir, "ipcd.conf")
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)

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


def _on_sigterm(signum, frame):
    # tests/e2e/run wraps pytest in timeout(1): leave no container behind.
    if _container is not None:
        _container.stop()
    os._exit(128 + signum)


@pytest.fixture(scope="module")
def box():
    global _container
    c = Container()
    old = signal.signal(signal.SIGTERM, _on_sigterm)
    _container = c
    try:
        try:
            c.boot()
        except AssertionError as e:
            # In CI the container must boot; elsewhere too, this is a failure, not a skip.
            where = " (in CI this is a failure, never a skip)" if CI else ""
            raise AssertionError(f"could not set up and boot the container{where}: {e}\n"
                                 f"console:\n{c.console_log()}") from None
        yield c
    finally:
        c.stop()
        _container = None
        signal.signal(signal.SIGTERM, old)


@pytest.fixture
def ct(box):
    return box.ct


# --------------------------------------------------------------------------------------------
# What tests share


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


def reload(box, *expect, timeout=10.0):
    """systemctl reload ipcd, then waits until the journal has a message matching each of the
    regexes expect (ipcd's native and stderr lines may arrive in any order)."""
    after = cursor(box)
    box.ct_ok("systemctl", "reload", "ipcd")
    rxs = [re.compile(x, re.M) for x in expect]
    return wait_journal(box, lambda es: all(any(rx.search(text_of(e.get("MESSAGE")))
                                                for e in es) for rx in rxs) and es,
                        f"{expect} after systemctl reload", after, timeout)


def ensure_serving(box):
    """ipcd.socket listening and ipcd.service running, whatever an earlier test left."""
    box.ct("systemctl", "reset-failed", "ipcd.service", "ipcd.socket")
    box.ct_ok("systemctl", "start", "ipcd.socket")
    assert_echo(box, b"wake")
    wait_state(box, "ipcd.service", "active", 15)
    return main_pid(box)


def restore_conf(box):
    """The shipped configuration, in force in a running service."""
    box.write_conf(box.base_conf)
    box.ct("systemctl", "reset-failed", "ipcd.service", "ipcd.socket")
    box.ct("systemctl", "start", "ipcd.socket")
    box.ct("systemctl", "restart", "ipcd.service", timeout=60)


def load(box, *args, timeout=60):
    r = run([IPC_CLIENT, "load", "-s", box.sock, "--json", "--progress", "never", *args],
            timeout=timeout)
    return r


def check_load(returncode, out, err, connections):
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


# --------------------------------------------------------------------------------------------
# The tests, in order, sharing one booted container


def test_socket_activation(box, ct):
    assert os.access(IPC_CLIENT, os.X_OK), f"no {IPC_CLIENT}: build first"
    assert is_active(box, "ipcd.socket") == "inactive"
    box.ct_ok("systemctl", "start", "ipcd.socket")
    assert is_active(box, "ipcd.socket") == "active"

    # systemd made the socket, as ipcd.socket says: root:ipcd 0660 (group from sysusers.d).
    st = os.stat(box.sock)
    with open(box.in_root("/etc/group")) as f:
        gids = {line.split(":")[0]: int(line.split(":")[2]) for line in f if line.count(":") >= 3}
    assert "ipcd" in gids, "systemd-sysusers did not create group ipcd"
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o660, 0, gids["ipcd"])

    # Nothing runs until the first connection.
    time.sleep(0.5)
    assert is_active(box, "ipcd.service") == "inactive"
    assert show(box, "MainPID") == "0"

    data = b"hello from the host\0\xff" * 3
    assert_echo(box, data)
    wait_state(box, "ipcd.service", "active", 15)
    assert main_pid(box) > 0

    rx = re.compile(r'Status: "\d+ connections?, .* echoed, \d+ refused"')
    wait_until(lambda: rx.search(ct("systemctl", "status", "--no-pager", "ipcd.service").stdout),
               10, "the daemon's STATUS= in systemctl status")
    status = show(box, "StatusText")
    assert re.fullmatch(r"\d+ connections?, \S+ \S*B echoed, 0 refused", status), status
    assert show(box, "Type") == "notify"
    assert show(box, "NRestarts") == "0"


def test_load_through_socket(box):
    ensure_serving(box)
    r = load(box, "-c", "8", "-b", "4K", "-t", "2")
    check_load(r.returncode, r.stdout, r.stderr, 8)


def test_journal_fields_and_catalog(box, ct):
    ensure_serving(box)
    after = cursor(box)
    data = bytes(range(256)) * 4  # 1024 bytes
    assert_echo(box, data)

    def connect_and_disconnect(entries):
        return events(entries, "connect") and events(entries, "disconnect")

    entries = wait_journal(box, connect_and_disconnect, "connect and disconnect entries", after)
    entries = journal(box, after=after)  # everything that arrived by now
    (con,) = events(entries, "connect")
    (dis,) = events(entries, "disconnect")
    for e in (con, dis):
        assert e["SYSLOG_IDENTIFIER"] == "ipcd"
        assert e["_SYSTEMD_UNIT"] == "ipcd.service"
        assert e["IPCD_PEER_UID"] == "0" and e["IPCD_PEER_GID"] == "0"
        # A host client's pid is in another pid namespace: the kernel reports 0, and ipcd
        # leaves the field out rather than logging a pid that is not one.
        assert "IPCD_PEER_PID" not in e, e.get("IPCD_PEER_PID")
    assert con["MESSAGE_ID"] == MSG_ID["connect"]
    assert dis["MESSAGE_ID"] == MSG_ID["disconnect"]
    assert dis["IPCD_REASON"] == "eof"
    assert dis["IPCD_BYTES"] == str(len(data))
    assert int(dis["IPCD_DURATION_USEC"]) >= 0
    assert int(con["PRIORITY"]) == 6 and int(dis["PRIORITY"]) == 6  # info

    # A client inside the container has a pid ipcd can see: then the field is there.
    after = cursor(box)
    r = ct("/usr/local/bin/ipc-client", "ping", "-s", "/run/ipcd/ipcd.sock", "-n", "1",
           "--quiet", timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    entries = wait_journal(box, lambda es: events(es, "connect"), "a connect entry", after)
    pid = events(entries, "connect")[0].get("IPCD_PEER_PID")
    assert pid is not None and int(pid) > 1, pid

    # The daemon's own lifecycle under its MESSAGE_IDs.
    ids = {e.get("MESSAGE_ID") for e in journal(box)}
    assert MSG_ID["start"] in ids and MSG_ID["ready"] in ids

    # journalctl -x explains the entries with the installed catalog.
    r = ct("journalctl", "-x", "-u", "ipcd.service", "--no-pager")
    assert r.returncode == 0, r.stderr
    assert "Subject: A client connected to ipcd" in r.stdout
    assert "Subject: A client connection to ipcd ended" in r.stdout
    assert "Subject: ipcd is ready and serving" in r.stdout


def test_refusal_is_journaled(box, ct):
    pid = ensure_serving(box)
    held = []
    restored = False
    try:
        box.write_conf(set_setting(box.base_conf, "max_connections", "1"))
        reload(box, r"^limits\.max_connections: 1024 -> 1$", r"^Reloaded ")
        held.append(hold(box))
        after = cursor(box)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(box.sock)  # systemd's listener takes it; ipcd closes it
            assert closed_by_peer(s), "a second connection over max_connections = 1 was served"
        # The held one is still served.
        held[0].sendall(b"still")
        assert recv_exact(held[0], 5) == b"still"

        # Exactly as an operator would ask.
        (e,) = wait_until(
            lambda: [x for x in journal(box, "IPCD_EVENT=refused", after=after, unit="ipcd")
                     if x.get("IPCD_REASON") == "max-connections"],
            10, "journalctl -u ipcd IPCD_EVENT=refused")
        assert e["IPCD_EVENT"] == "refused"
        assert e["MESSAGE_ID"] == MSG_ID["refused"]
        assert e["IPCD_PEER_UID"] == "0" and e["IPCD_PEER_GID"] == "0"
        assert e["_SYSTEMD_UNIT"] == "ipcd.service"
        assert int(e["PRIORITY"]) <= 4  # a warning at least
        # STATUS= follows within a second or so.
        rx = re.compile(r"1 connection, .* echoed, [1-9]\d* refused")
        wait_until(lambda: rx.fullmatch(show(box, "StatusText")), 5,
                   "STATUS= with 1 connection and the refusal counted")
        for s in held:
            s.close()
        held = []
        box.write_conf(box.base_conf)
        reload(box, r"^limits\.max_connections: 1 -> 1024$", r"^Reloaded ")
        restored = True
        assert main_pid(box) == pid
    finally:
        for s in held:
            s.close()
        if not restored:
            restore_conf(box)


def test_reload(box, ct):
    pid = ensure_serving(box)
    held = []
    restored = False
    try:
        # A valid change applies, is logged, and is enforced.
        box.write_conf(set_setting(box.base_conf, "max_connections", "2"))
        entries = reload(box, r"^Reloaded '/etc/ipcd/ipcd\.conf': 1 setting changed$",
                         r"^limits\.max_connections: 1024 -> 2$")
        (ev,) = events(entries, "reload")
        assert ev["IPCD_REASON"] == "applied" and ev["MESSAGE_ID"] == MSG_ID["reload"]
        assert main_pid(box) == pid, "a reload must not restart the daemon"
        assert is_active(box, "ipcd.service") == "active"

        held += [hold(box), hold(box)]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(box.sock)
            assert closed_by_peer(s), "a third connection over max_connections = 2 was served"

        # A broken file is refused with file:line; the previous configuration stays.
        box.write_conf("limits = { buffer_size = 1; };\n")
        entries = reload(box, r"^/etc/ipcd/ipcd\.conf:1: limits\.buffer_size = 1: out of range",
                         r"^Reloading '/etc/ipcd/ipcd\.conf' failed, keeping the previous "
                         r"configuration$")
        (ev,) = events(entries, "reload")
        assert ev["IPCD_REASON"] == "invalid" and ev["MESSAGE_ID"] == MSG_ID["reload"]
        assert int(ev["PRIORITY"]) == 3  # err
        assert is_active(box, "ipcd.service") == "active"
        assert main_pid(box) == pid
        # Still max_connections = 2: both held ones served, a third one closed.
        for s in held:
            s.sendall(b"ok")
            assert recv_exact(s, 2) == b"ok"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(box.sock)
            assert closed_by_peer(s), "after a failed reload the old limit is no longer in force"
        for s in held:
            s.close()
        held = []

        # Back to the shipped file.
        box.write_conf(box.base_conf)
        reload(box, r"^limits\.max_connections: 2 -> 1024$", r"^Reloaded ")
        restored = True
        assert main_pid(box) == pid
        held += [hold(box), hold(box), hold(box)]  # 1024 again
    finally:
        for s in held:
            s.close()
        if not restored:
            restore_conf(box)


def test_restart_keeps_connections(box, ct):
    old = ensure_serving(box)
    after = cursor(box)
    p = subprocess.Popen([IPC_CLIENT, "load", "-s", box.sock, "-c", "8", "-b", "1K", "-t", "4",
                          "--json", "--progress", "never"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    box.clients.append(p)
    try:
        time.sleep(1.5)
        assert p.poll() is None, f"the load ended before the restart: {p.communicate()}"
        r = ct("systemctl", "restart", "ipcd.service", timeout=60)
        load_running = p.poll() is None
        out, err = p.communicate(timeout=40)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert r.returncode == 0, r.stderr
    new = main_pid(box)
    assert new not in (0, old), "the daemon was not restarted"
    assert is_active(box, "ipcd.service") == "active"
    res = check_load(p.returncode, out, err, 8)
    assert res["errors"]["eof_early"] == 0 and res["errors"]["reset"] == 0
    # Handed over, not drained: the restart is over while the clients are still going.
    assert load_running, ("systemctl restart returned only after the load had ended: the old "
                          "instance drained its connections instead of handing them over")
    stops = events(journal(box, after=after), "stop")
    assert stops and all(e["MESSAGE_ID"] == MSG_ID["stop"] for e in stops)


def test_kill9_socket_keeps_accepting(box, ct):
    old = ensure_serving(box)
    after = cursor(box)
    box.ct_ok("kill", "-9", str(old))
    # The listening socket is systemd's: a connection made now waits in its backlog and is
    # served by the next instance.
    data = b"after kill -9 " * 50
    assert_echo(box, data, timeout=20)
    wait_state(box, "ipcd.service", "active", 15)
    new = main_pid(box)
    assert new not in (0, old)
    assert is_active(box, "ipcd.socket") == "active"
    wait_journal(box, with_message(r"Main process exited, code=killed, status=9/KILL"),
                 "systemd's account of the SIGKILL", after)


def test_watchdog_kills_hung_daemon(box, ct):
    dropin_dir = box.in_root("/run/systemd/system/ipcd.service.d")
    dropin = os.path.join(dropin_dir, "watchdog.conf")
    stopped = None
    try:
        os.makedirs(dropin_dir, exist_ok=True)
        with open(dropin, "w") as f:
            f.write("[Service]\nWatchdogSec=3s\n")
        box.ct_ok("systemctl", "daemon-reload")
        box.ct("systemctl", "reset-failed", "ipcd.service")
        box.ct_ok("systemctl", "restart", "ipcd.service", timeout=60)
        wait_state(box, "ipcd.service", "active", 15)
        assert show(box, "WatchdogUSec") == "3s"
        stopped = main_pid(box)
        assert stopped > 0
        assert_echo(box, b"before")

        after = cursor(box)
        box.ct_ok("kill", "-STOP", str(stopped))
        wait_journal(box, with_message(r"Watchdog timeout"), "systemd's watchdog timeout",
                     after, timeout=15)
        wait_journal(box, with_message(r"Main process exited, code=(killed|dumped), "
                                       r"status=6/ABRT"), "the hung daemon killed", after)
        wait_journal(box, with_message(r"Failed with result 'watchdog'"),
                     "the unit failing with result watchdog", after, timeout=15)
        wait_until(lambda: not os.path.exists(f"/proc/{box.leader}/root/proc/{stopped}") or
                   main_pid(box) not in (stopped,), 15, "the hung daemon to be gone")

        # Back on the next connection.
        data = b"after the watchdog"
        assert_echo(box, data, timeout=20)
        wait_state(box, "ipcd.service", "active", 15)
        assert main_pid(box) not in (0, stopped)
    finally:
        if os.path.exists(dropin):
            os.unlink(dropin)
        box.ct("systemctl", "daemon-reload")
        box.ct("systemctl", "reset-failed", "ipcd.service")
        box.ct("systemctl", "restart", "ipcd.service", timeout=60)  # WatchdogSec back to 30s
    assert show(box, "WatchdogUSec") == "30s"


def test_exit_on_idle(box, ct):
    ensure_serving(box)
    try:
        box.write_conf(set_setting(box.base_conf, "exit_on_idle", "2"))
        box.ct("systemctl", "reset-failed", "ipcd.service")
        box.ct_ok("systemctl", "restart", "ipcd.service", timeout=60)
        wait_state(box, "ipcd.service", "active", 15)
        pid = main_pid(box)
        after = cursor(box)
        assert_echo(box, b"one exchange")
        assert main_pid(box) == pid

        wait_state(box, "ipcd.service", "inactive", 8)
        assert is_active(box, "ipcd.socket") == "active"
        assert show(box, "Result") == "success"
        assert show(box, "ExecMainPID") == str(pid)
        assert show(box, "ExecMainCode") == "1"  # CLD_EXITED
        assert show(box, "ExecMainStatus") == "0"
        assert show(box, "NRestarts") == "0"
        wait_journal(box, with_message(r"exit_on_idle"), "the exit_on_idle message", after)

        # The next connection starts it again.
        data = b"wake up again"
        assert_echo(box, data, timeout=20)
        wait_state(box, "ipcd.service", "active", 15)
        assert main_pid(box) not in (0, pid)
    finally:
        restore_conf(box)
    wait_state(box, "ipcd.service", "active", 15)
