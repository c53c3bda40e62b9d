# SPDX-License-Identifier: MIT
"""End to end from the Debian packages: ipcd and ipc-client as `make deb` builds them, installed
with dpkg into a minimal Debian under a real systemd booted as PID 1 (systemd-nspawn), then
socket activation, a load with the packaged client, a reload, a restart that keeps a
connection, and a purge that must leave nothing behind.

The root file system is `debootstrap --variant=minbase` with systemd and the packages'
Depends, and nothing else: a dependency the packages forget is missing here as on a minimal
host. It is made once (about a minute, with the network) into IPCD_BUILD_DIR/e2e-image-KEY,
KEY changing with the package list, and booted with --volatile=overlay so that every run starts
from the pristine image. The .debs come from IPCD_DEB_DIR, or from build/deb, which this test
makes with `make deb` when it is missing or older than the sources. The container is booted
once for the module and always torn down (nspawn_harness.py)."""

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

from nspawn_harness import (BUILD_DIR, Container, MSG_ID, SRCDIR, assert_echo, booted, check_load,
                            cursor, diagnose, ensure_serving, events, hold, is_active, journal,
                            main_pid, on_sigterm, recv_exact, reload_applied, replace_file,
                            require_container, run, set_setting, show, text_of, wait_journal,
                            wait_state)

require_container()

SUITE = "bookworm"
MIRROR = os.environ.get("IPCD_DEBIAN_MIRROR") or "http://deb.debian.org/debian"
IMAGE_RECIPE = 1  # bump when bootstrap() changes what goes into the image
PACKAGES = ("ipcd", "ipc-client")
DEB_MNT = "/mnt/deb"  # where the container sees the .debs
SOCK = "/run/ipcd/ipcd.sock"
CONF = "/etc/ipcd/ipcd.conf"
# What the sources of the packages are: a .deb older than any of these is rebuilt.
SOURCES = ("Makefile", "src", "systemd", "conf", "man", "debian")


# --------------------------------------------------------------------------------------------
# The packages and the image


def newest_source():
    newest = 0.0
    for name in SOURCES:
        top = os.path.join(SRCDIR, name)
        if os.path.isfile(top):
            newest = max(newest, os.path.getmtime(top))
        for dirpath, _dirs, files in os.walk(top):
            for f in files:
                newest = max(newest, os.path.getmtime(os.path.join(dirpath, f)))
    return newest


def find_debs():
    """{package: path of its .deb}; builds them with `make deb` unless IPCD_DEB_DIR says
    where they are."""
    arch = run(["dpkg", "--print-architecture"], timeout=10).stdout.strip()
    given = os.environ.get("IPCD_DEB_DIR")
    deb_dir = os.path.abspath(given or os.path.join(SRCDIR, "build", "deb"))

    def debs():
        found = {}
        for p in PACKAGES:
            paths = sorted(glob.glob(os.path.join(deb_dir, f"{p}_*_{arch}.deb")))
            if len(paths) == 1:
                found[p] = paths[0]
        return found

    found = debs()
    if not given and (len(found) < len(PACKAGES) or
                      min(os.path.getmtime(x) for x in found.values()) < newest_source()):
        r = run(["make", "-C", SRCDIR, "deb"], timeout=300)
        assert r.returncode == 0, f"make deb failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        found = debs()
    assert len(found) == len(PACKAGES), \
        f"want one .deb each of {PACKAGES} for {arch} in {deb_dir}, found {sorted(found.values())}"
    return deb_dir, found


def image_packages(debs):
    """systemd, and the packages' Depends and Pre-Depends (first alternative of each)."""
    names = {"systemd"}
    for deb in debs.values():
        for field in ("Pre-Depends", "Depends"):
            r = run(["dpkg-deb", "-f", deb, field], timeout=30)
            assert r.returncode == 0, f"dpkg-deb -f {deb} {field}: {r.stderr}"
            for clause in r.stdout.replace("\n", " ").split(","):
                m = re.match(r"\s*([a-z0-9][a-z0-9+.-]+)", clause.split("|")[0])
                if m:
                    names.add(m.group(1))
    return sorted(names - set(PACKAGES))


def mounts_below(path):
    """Mount points at or below path in this mount namespace, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == path or point.startswith(path + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def remove_tree(path):
    """rm -rf path, but never through a mount."""
    mounted = mounts_below(path)
    assert not mounted, f"not removing {path}: {mounted} mounted in it"
    shutil.rmtree(path, ignore_errors=True)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def bootstrap(root, packages):
    """debootstrap minbase with packages into root, then what the test needs of it."""
    # In a mount namespace of its own: what it mounts in root (/proc, /sys) goes away with it,
    # even when it is killed.
    r = run(["unshare", "--mount", "--propagation", "private", "debootstrap", "--variant=minbase",
             f"--include={','.join(packages)}", SUITE, root, MIRROR], timeout=240)
    if r.returncode != 0:
        try:
            with open(os.path.join(root, "debootstrap", "debootstrap.log"), errors="replace") as f:
                log = f.read()[-3000:]
        except OSError:
            log = ""
        raise AssertionError(f"debootstrap {SUITE} from {MIRROR} (it needs the network) failed "
                             f"with {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}\n{log}")
    r = run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f",
             "${Package} ${Status}\n", *packages], timeout=30)
    installed = {line.split()[0] for line in r.stdout.splitlines()
                 if line.endswith(" install ok installed")}
    assert installed == set(packages), f"not in the image: {set(packages) - installed}"

    with open(os.path.join(root, "etc", "hostname"), "w") as f:
        f.write("ipcd-e2e\n")
    # A machine id, so that no boot is a first boot (which would run preset-all).
    machine_id = os.path.join(root, "etc", "machine-id")
    if not os.path.isfile(machine_id) or os.path.getsize(machine_id) < 32:
        r = run(["systemd-id128", "new"], timeout=10)
        assert r.returncode == 0, r.stderr
        with open(machine_id, "w") as f:
            f.write(r.stdout)
    # No timers: apt-daily would take dpkg's lock in the middle of a test.
    wants = os.path.join(root, "etc", "systemd", "system", "timers.target.wants")
    for name in os.listdir(wants) if os.path.isdir(wants) else []:
        os.unlink(os.path.join(wants, name))
    # The downloaded .debs and indexes: 90 MB nothing in the container reads.
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*_*"):
        for path in glob.glob(os.path.join(root, pattern)):
            os.unlink(path)


def make_image(packages):
    """The root file system, built once per package list and recipe; returns the directory
    that holds it (root/) and its manifest. It is built under a temporary name and renamed
    when complete, so an interrupted build is never used."""
    arch = run(["dpkg", "--print-architecture"], timeout=10).stdout.strip()
    manifest = json.dumps({"recipe": IMAGE_RECIPE, "suite": SUITE, "mirror": MIRROR,
                           "arch": arch, "packages": packages}, sort_keys=True, indent=1) + "\n"
    key = hashlib.sha256(manifest.encode()).hexdigest()[:12]
    image = os.path.join(BUILD_DIR, f"e2e-image-{key}")
    if os.path.isdir(image):
        return image

    # One image per build dir: older ones, and builds whose process is gone, are removed.
    os.makedirs(BUILD_DIR, exist_ok=True)
    for name in os.listdir(BUILD_DIR):
        m = re.fullmatch(r"e2e-image-[0-9a-f]+(?:\.tmp\.(\d+))?", name)
        if m and not (m.group(1) and alive(int(m.group(1)))):
            remove_tree(os.path.join(BUILD_DIR, name))

    assert shutil.which("debootstrap"), "debootstrap is not installed (tests/install-deps)"
    tmp = f"{image}.tmp.{os.getpid()}"
    os.makedirs(tmp)
    with on_sigterm(lambda: remove_tree(tmp)):
        try:
            bootstrap(os.path.join(tmp, "root"), packages)
            with open(os.path.join(tmp, "manifest.json"), "w") as f:
                f.write(manifest)
            try:
                os.rename(tmp, image)
            except OSError:
                if not os.path.isdir(image):  # else another run made the same image first
                    raise
        finally:
            if os.path.exists(tmp):
                remove_tree(tmp)
    return image


# --------------------------------------------------------------------------------------------
# The container


class DebContainer(Container):
    """The cached image, pristine under a tmpfs overlay; the .debs read-only on /mnt/deb."""

    def __init__(self):
        super().__init__()
        self.files = None  # what dpkg -L listed once installed, other than directories

    def boot(self):
        self.deb_dir, self.debs = find_debs()
        self.image = make_image(image_packages(self.debs))
        self.make_tmp()
        self.start(os.path.join(self.image, "root"),
                   ["--volatile=overlay", f"--bind-ro={self.deb_dir}:{DEB_MNT}"])

    def read_conf(self):
        with open(self.in_root(CONF)) as f:
            return f.read()

    def write_conf(self, text):
        """Edits the conffile in place, as an administrator would."""
        replace_file(self.in_root(CONF), text)

    def exists(self, path):
        return os.path.lexists(self.in_root(path))


@pytest.fixture(scope="module")
def box():
    yield from booted(DebContainer())


def installed(box):
    assert box.files is not None, "the packages are not installed (see test_install)"


def catalog_ids(box):
    """The MESSAGE_IDs in journald's catalog database, as journalctl --list-catalog lists it."""
    r = box.ct_ok("journalctl", "--list-catalog", "--no-pager")
    return {line.split()[0] for line in r.stdout.splitlines() if line.strip()}


def group_gid(box, name):
    r = box.ct("getent", "group", name)
    return int(r.stdout.split(":")[2]) if r.returncode == 0 else None


def ipcd_processes(box):
    """Processes in the container running ipcd, as {pid: exe}."""
    found = {}
    proc = box.in_root("/proc")
    for pid in filter(str.isdigit, os.listdir(proc)):
        try:
            with open(f"{proc}/{pid}/comm") as f:
                comm = f.read().strip()
            exe = os.readlink(f"{proc}/{pid}/exe")
        except OSError:
            continue  # gone, or a kernel thread
        if comm == "ipcd" or exe.split(" (deleted)")[0].endswith("/ipcd"):
            found[int(pid)] = exe
    return found


# --------------------------------------------------------------------------------------------
# The tests, in order, sharing one booted container


def test_install(box):
    assert not catalog_ids(box) & set(MSG_ID.values()), "the image already knows ipcd's catalog"
    assert group_gid(box, "ipcd") is None, "the image already has a group ipcd"

    debs = [f"{DEB_MNT}/{os.path.basename(box.debs[p])}" for p in PACKAGES]
    r = box.ct("dpkg", "-i", *debs, timeout=120)
    assert r.returncode == 0, f"dpkg -i: exit {r.returncode}\n{r.stdout}{r.stderr}"
    for p in PACKAGES:
        status = box.ct("dpkg-query", "-W", "-f", "${Status}", p).stdout
        assert status == "install ok installed", f"{p}: {status}"
    files = box.ct_ok("dpkg-query", "-L", *PACKAGES).stdout.split("\n")
    box.files = [f for f in files if f.startswith("/") and not os.path.isdir(box.in_root(f))]

    # What each package is for.
    for path in ("/usr/sbin/ipcd", "/usr/bin/ipc-client"):
        assert path in box.files and os.access(box.in_root(path), os.X_OK), path
    conffiles = box.ct_ok("dpkg-query", "-W", "-f", "${Conffiles}", "ipcd").stdout
    assert CONF in conffiles.split(), f"{CONF} is not a conffile: {conffiles!r}"
    box.ct_ok("/usr/sbin/ipcd", "--check-config", "-c", CONF)

    # postinst: the group from sysusers.d, a system group.
    gid = group_gid(box, "ipcd")
    assert gid is not None, f"postinst did not create the group ipcd\n{r.stdout}{r.stderr}"
    assert 0 < gid < 1000, f"group ipcd has gid {gid}, not a system gid"

    # postinst: ipcd.socket enabled and listening; the service waits for a connection.
    assert box.ct("systemctl", "is-enabled", "ipcd.socket").stdout.strip() == "enabled"
    link = box.in_root("/etc/systemd/system/sockets.target.wants/ipcd.socket")
    assert os.path.islink(link), "no sockets.target.wants/ipcd.socket"
    assert is_active(box, "ipcd.socket") == "active", diagnose(box)
    assert box.ct("systemctl", "is-enabled", "ipcd-metrics.socket").stdout.strip() == "enabled"
    assert is_active(box, "ipcd-metrics.socket") == "active", diagnose(box)
    assert is_active(box, "ipcd.service") == "inactive", diagnose(box)
    for unit in ("ipcd.socket", "ipcd.service"):
        fragment = show(box, "FragmentPath", unit)
        assert re.fullmatch(rf"(/usr)?/lib/systemd/system/{unit}", fragment), fragment
    assert "path=/usr/sbin/ipcd " in show(box, "ExecStart"), show(box, "ExecStart")

    # systemd made the socket, as ipcd.socket says: root:ipcd 0660.
    st = os.stat(box.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o660, 0, gid)


def test_catalog_indexed_by_trigger(box):
    installed(box)
    # systemd's dpkg file trigger on /usr/lib/systemd/catalog ran journalctl --update-catalog.
    missing = {k for k, v in MSG_ID.items() if v not in catalog_ids(box)}
    assert not missing, f"journalctl --list-catalog lacks ipcd's {sorted(missing)}"
    r = box.ct_ok("journalctl", "--list-catalog", "--no-pager")
    assert re.search(rf"^{MSG_ID['ready']} ipcd: ipcd is ready and serving$", r.stdout, re.M), \
        [x for x in r.stdout.splitlines() if MSG_ID["ready"] in x]


def test_socket_activation(box):
    installed(box)
    box.ct_ok("systemctl", "start", "ipcd.socket")
    assert is_active(box, "ipcd.socket") == "active"
    # Nothing runs until the first connection.
    time.sleep(0.5)
    assert is_active(box, "ipcd.service") == "inactive"
    assert show(box, "MainPID") == "0"

    data = b"hello from the host\0\xff" * 3
    assert_echo(box, data)  # through the bind-mounted /run/ipcd
    wait_state(box, "ipcd.service", "active", 15)
    pid = main_pid(box)
    assert pid > 0
    assert show(box, "Type") == "notify"
    # The packaged binary runs: the same file, compared by inode, since /proc/PID/exe names it
    # by a path that depends on how the container's root was mounted.
    exe = box.ct("test", f"/proc/{pid}/exe", "-ef", "/usr/sbin/ipcd")
    assert exe.returncode == 0, box.ct("readlink", f"/proc/{pid}/exe").stdout


def test_packaged_client_load(box):
    installed(box)
    pid = ensure_serving(box)
    # The packaged default writes no line per connection.
    after = cursor(box)
    r = box.ct("/usr/bin/ipc-client", "load", "-s", SOCK, "-c", "8", "-b", "4K", "-t", "1",
               "--json", "--progress", "never", timeout=60)
    check_load(r.returncode, r.stdout, r.stderr, 8)
    entries = journal(box, after=after)
    assert not events(entries, "connect") and not events(entries, "disconnect"), entries
    # An administrator turns them on, and each connection is logged.
    box.write_conf(set_setting(box.read_conf(), "connections", "true"))
    reload_applied(box, pid, r"^log\.connections: false -> true$")
    after = cursor(box)
    r = box.ct("/usr/bin/ipc-client", "load", "-s", SOCK, "-c", "8", "-b", "4K", "-t", "2",
               "--json", "--progress", "never", timeout=60)
    check_load(r.returncode, r.stdout, r.stderr, 8)
    wait_journal(box, lambda es: len(events(es, "disconnect")) >= 8,
                 "a disconnect entry for each of the 8 connections", after)

    # journalctl -x explains the entries with the installed catalog.
    r = box.ct("journalctl", "-x", "-u", "ipcd.service", "--no-pager")
    assert r.returncode == 0, r.stderr
    assert "Subject: ipcd is ready and serving" in r.stdout
    assert "Subject: A client connected to ipcd" in r.stdout
    assert "Subject: A client connection to ipcd ended" in r.stdout


def test_reload(box):
    installed(box)
    pid = ensure_serving(box)
    conf = box.read_conf()
    # An administrator's edit of the conffile; preserve_connections for the restart next.
    conf = set_setting(conf, "max_connections", "512")
    conf = set_setting(conf, "preserve_connections", "true")
    box.write_conf(conf)
    reload_applied(box, pid, r"^Reloaded '/etc/ipcd/ipcd\.conf': \d+ settings? changed$",
                   r"^limits\.max_connections: 1024 -> 512$")
    assert_echo(box, b"after the reload")


def test_restart_keeps_connection(box):
    installed(box)
    old = ensure_serving(box)
    held = hold(box)  # from the host
    inside = None
    try:
        held.sendall(b"before the restart")
        assert recv_exact(held, 18) == b"before the restart"
        # And a load from the packaged client inside, going on through the restart.
        inside = subprocess.Popen(
            box.ct_argv("/usr/bin/ipc-client", "load", "-s", SOCK, "-c", "4", "-b", "1K",
                        "-t", "3", "--json", "--progress", "never"),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True)
        box.clients.append(inside)
        time.sleep(1)
        after = cursor(box)
        r = box.ct("systemctl", "restart", "ipcd.service", timeout=60)
        assert r.returncode == 0, f"systemctl restart ipcd.service: {r.stderr}\n{diagnose(box)}"
        new = main_pid(box)
        assert new not in (0, old), "the daemon was not restarted"

        held.sendall(b"after the restart")
        try:
            echo = recv_exact(held, 17)
        except (OSError, AssertionError) as e:
            raise AssertionError(f"the connection did not survive the restart ({e!r}):\n"
                                 f"{diagnose(box)}") from None
        assert echo == b"after the restart"
        out, err = inside.communicate(timeout=40)
    finally:
        held.close()
        if inside and inside.poll() is None:
            os.killpg(inside.pid, signal.SIGKILL)
            inside.wait(10)
    res = check_load(inside.returncode, out, err, 4)
    assert res["errors"]["eof_early"] == 0 and res["errors"]["reset"] == 0

    # The old instance handed its connections over, it did not drain them.
    (stop,) = events(wait_journal(box, lambda es: events(es, "stop"),
                                  "the old instance's stop entry", after), "stop")
    assert stop["MESSAGE_ID"] == MSG_ID["stop"]
    m = re.search(r"(\d+) handed to the fd store", text_of(stop.get("MESSAGE")))
    assert m and int(m.group(1)) >= 1, text_of(stop.get("MESSAGE"))


def test_purge_leaves_nothing(box):
    installed(box)
    r = box.ct("dpkg", "--purge", *PACKAGES, timeout=120)
    assert r.returncode == 0, f"dpkg --purge: exit {r.returncode}\n{r.stdout}{r.stderr}"

    left = []
    for p in PACKAGES:
        status = box.ct("dpkg-query", "-W", "-f", "${Status}", p).stdout
        if status not in ("", "unknown ok not-installed", "purge ok not-installed"):
            left.append(f"dpkg still has {p}: {status}")
    left += [f"file {f}" for f in box.files if box.exists(f)]
    for path in ("/usr/sbin/ipcd", "/usr/bin/ipc-client", "/etc/ipcd", SOCK):
        if box.exists(path):
            left.append(path)
    if os.path.lexists(box.sock):
        left.append(f"{SOCK}, seen from the host")
    r = box.ct_ok("find", "/lib/systemd", "/usr/lib/systemd", "/etc/systemd",
                  "/run/systemd/system", "-name", "ipcd*")
    left += [f"unit file {x}" for x in r.stdout.split()]
    for unit in ("ipcd.socket", "ipcd.service"):
        state = show(box, "LoadState", unit)
        if state != "not-found":
            left.append(f"systemctl: {unit} is {state}, {is_active(box, unit)}")
    left += [f"process {pid} {exe}" for pid, exe in ipcd_processes(box).items()]
    ids = catalog_ids(box) & set(MSG_ID.values())
    if ids:
        left.append(f"catalog entries {sorted(ids)}")
    assert not left, "dpkg --purge left behind:\n  " + "\n  ".join(left)
    # The group stays, as Debian leaves system users and groups: files may still name it.
    assert group_gid(box, "ipcd") is not None
