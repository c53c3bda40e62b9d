# SPDX-License-Identifier: MIT
"""End to end: the installed ipcd units under a real systemd booted as PID 1 in a
systemd-nspawn container (../shared/SYSTEMD-TESTING.md, level 2), driven from the host
through the bind-mounted socket directory exactly as a user would: systemctl start, load,
journalctl, reload, restart, kill -9, watchdog, exit_on_idle.

The container is an empty skeleton with the host's /usr read-only and `make install` bound on
/usr/local. It is booted once for the module (a few seconds) and always torn down
(nspawn_harness.py): nspawn is sent SIGTERM (an orderly poweroff), its cgroups removed, the
temp dir deleted. Everything the test starts is stopped by pid; every call has a timeout and
every wait a deadline."""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from nspawn_harness import (BUILD_DIR, Container, MSG_ID, SRCDIR, assert_echo, booted, check_load,
                            closed_by_peer, cursor, ensure_serving, events, hold, is_active,
                            journal, main_pid, recv_exact, reload, reload_applied, replace_file,
                            require_container, run, set_setting, show, wait_journal, wait_state,
                            wait_until, with_message)

IPC_CLIENT = os.path.join(BUILD_DIR, "ipc-client")

require_container()


# --------------------------------------------------------------------------------------------
# The container


class StagedContainer(Container):
    """The host's /usr read-only, `make install DESTDIR=stage` on /usr/local, the
    configuration in a directory of its own that tests edit from the host."""

    def boot(self):
        self.make_tmp()
        self.root = os.path.join(self.tmp, "root")
        self.stage = os.path.join(self.tmp, "stage")
        self.confdir = os.path.join(self.tmp, "etc-ipcd")

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
        # The shipped file, with per-connection lines on: the journal tests look at them.
        with open(os.path.join(self.stage, "etc", "ipcd", "ipcd.conf")) as f:
            self.base_conf = set_setting(f.read(), "connections", "true")
        self.write_conf(self.base_conf)

        self.start(self.root, ["--bind-ro=/usr", f"--bind-ro={self.stage}/usr/local:/usr/local",
                               f"--bind={self.confdir}:/etc/ipcd"])

        # As a package's postinst would: the group ipcd.socket names, the catalog.
        self.ct_ok("systemd-sysusers")
        self.ct_ok("journalctl", "--update-catalog")
        self.ct_ok("systemctl", "daemon-reload")

    def write_conf(self, text):
        replace_file(os.path.join(self.confdir, "ipcd.conf"), text)


@pytest.fixture(scope="module")
def box():
    yield from booted(StagedContainer())


@pytest.fixture
def ct(box):
    return box.ct


# --------------------------------------------------------------------------------------------
# What tests share beyond nspawn_harness


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
        rx = re.compile(r"1 connection, .* echoed, [1-9]\d* refused"
                        r"; last reload: applied \(1 setting changed\)")
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

    def still_max_connections_2():
        # Both held ones served, a third one closed.
        for s in held:
            s.sendall(b"ok")
            assert recv_exact(s, 2) == b"ok"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(box.sock)
            assert closed_by_peer(s), "after a refused reload the old limit is no longer in force"

    def status_ends(text, what):
        wait_until(lambda: show(box, "StatusText").endswith(text), 5, what)

    try:
        # A valid change applies, is logged, and is enforced.
        box.write_conf(set_setting(box.base_conf, "max_connections", "2"))
        reload_applied(box, pid, r"^Reloaded '/etc/ipcd/ipcd\.conf': 1 setting changed$",
                       r"^limits\.max_connections: 1024 -> 2$")

        held += [hold(box), hold(box)]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(box.sock)
            assert closed_by_peer(s), "a third connection over max_connections = 2 was served"

        applied = "; last reload: applied (1 setting changed)"
        status_ends(applied, "STATUS= with the applied reload")

        # A broken file fails `systemctl reload` (ExecReload= checks it first) with file:line,
        # and never reaches the daemon: the previous configuration stays.
        box.write_conf("limits = { buffer_size = 1; };\n")
        refused = r"/etc/ipcd/ipcd\.conf:1: limits\.buffer_size = 1: out of range"
        entries = reload(box, "^" + refused,
                         r"^Configuration '/etc/ipcd/ipcd\.conf' is not valid$", ok=False)
        assert len(with_message("^" + refused)(entries)) == 1
        assert events(entries, "reload") == [], "the daemon was sent a file it must refuse"
        assert is_active(box, "ipcd.service") == "active"
        assert main_pid(box) == pid
        assert show(box, "StatusText").endswith(applied)
        still_max_connections_2()

        # A SIGHUP that brings it anyway (kill -HUP, or a file changed after the check): the
        # daemon refuses it whole, logs why, and STATUS= says so until the next reload.
        after = cursor(box)
        box.ct_ok("systemctl", "kill", "--kill-who=main", "--signal=SIGHUP", "ipcd.service")
        entries = wait_journal(box, lambda es: events(es, "reload") and es,
                               "the reload event after SIGHUP", after)
        (ev,) = events(entries, "reload")
        assert ev["IPCD_REASON"] == "invalid" and ev["MESSAGE_ID"] == MSG_ID["reload"]
        assert int(ev["PRIORITY"]) == 3  # err
        assert with_message(r"^Reloading '/etc/ipcd/ipcd\.conf' failed, keeping the previous "
                            r"configuration$")([ev])
        wait_until(lambda: re.search("; last reload: refused: " + refused,
                                     show(box, "StatusText")), 5, "STATUS= with the refusal")
        assert is_active(box, "ipcd.service") == "active"
        assert main_pid(box) == pid
        still_max_connections_2()
        for s in held:
            s.close()
        held = []

        # Back to the shipped file.
        box.write_conf(box.base_conf)
        reload(box, r"^limits\.max_connections: 2 -> 1024$", r"^Reloaded ")
        restored = True
        assert main_pid(box) == pid
        status_ends(applied, "STATUS= with the applied reload")
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


def test_sandbox_hides_sockets(box, ct):
    """What ipcd can reach, seen from inside its own mount namespace: of /run/systemd only the
    journal, the notify socket (and userdb); no D-Bus directory, no /var. The journal and
    sd_notify still work: the service starts (Type=notify) and logs (the tests above)."""
    # Things to hide that an empty container lacks: made before ipcd starts anew.
    box.ct_ok("mkdir", "-p", "/run/dbus", "/var/lib/ipcd-e2e-probe")
    box.ct_ok("touch", "/run/dbus/system_bus_socket")
    box.ct_ok("systemctl", "restart", "ipcd.service", timeout=60)
    wait_state(box, "ipcd.service", "active", 15)
    pid = str(main_pid(box))

    def inside(*cmd):
        return box.ct("nsenter", "-t", pid, "-m", "--", *cmd)

    for path in ("/run/systemd/journal/socket", "/run/systemd/notify", "/etc/ipcd/ipcd.conf"):
        r = inside("test", "-e", path)
        assert r.returncode == 0, f"{path} not reachable inside ipcd's sandbox"
    # The host side has them: what is tested is the sandbox, not an empty container.
    for path in ("/run/systemd/private", "/run/dbus/system_bus_socket", "/var/lib/ipcd-e2e-probe"):
        assert box.ct("test", "-e", path).returncode == 0, f"{path} missing in the container"
        r = inside("test", "-e", path)
        assert r.returncode != 0, f"{path} reachable inside ipcd's sandbox"
    r = inside("ls", "-A", "/run/systemd")
    assert r.returncode == 0, r.stderr
    # "incoming": systemd's own empty directory for `systemctl bind` mount propagation.
    assert set(r.stdout.split()) <= {"journal", "notify", "userdb", "incoming"}, r.stdout
    r = box.ct_ok("cat", f"/proc/{pid}/mountinfo")
    mounts = [line.split() for line in r.stdout.splitlines()]
    tmpfs = {m[4] for m in mounts if m[m.index("-") + 1] == "tmpfs"}
    assert {"/run/systemd", "/var"} <= tmpfs, sorted(tmpfs)
    # And it still serves.
    assert_echo(box, b"sandboxed\n")


def test_metrics_socket_activates(box, ct):
    """ipcd-metrics.socket: made by systemd as the echo socket is (root:ipcd 0660), and a
    scrape alone starts ipcd, which then reports the echo socket's connections."""
    ct("systemctl", "stop", "ipcd.service", "ipcd.socket", "ipcd-metrics.socket", timeout=60)
    box.ct_ok("systemctl", "start", "ipcd-metrics.socket")
    assert is_active(box, "ipcd-metrics.socket") == "active"
    path = os.path.join(box.sockdir, "metrics.sock")
    st = os.stat(path)
    with open(box.in_root("/etc/group")) as f:
        gids = {line.split(":")[0]: int(line.split(":")[2]) for line in f if line.count(":") >= 3}
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o660, 0, gids["ipcd"])
    assert is_active(box, "ipcd.service") == "inactive"

    r = run(["curl", "-sS", "--max-time", "20", "--unix-socket", path,
             "http://localhost/metrics"], timeout=30)
    assert r.returncode == 0, r.stderr
    assert 'ipcd_build_info{version="' in r.stdout, r.stdout
    wait_state(box, "ipcd.service", "active", 15)
    # The service started with both sockets: the echo socket's gauge is there, and counts.
    with hold(box):
        r = run(["curl", "-sS", "--max-time", "20", "--unix-socket", path,
                 "http://localhost/metrics"], timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(r'^ipcd_connections_open\{socket="ipcd",type="stream"\} [1-9]', r.stdout,
                     re.M), r.stdout
    restore_conf(box)
