# SPDX-License-Identifier: MIT
"""What may be a configuration file: a regular file of at most 24 KiB, opened without
blocking and parsed quickly; a warning when others than root and ipcd can change it."""

import itertools
import os
import signal
import string
import subprocess
import time

from conftest import SRCDIR, IPCD

CAP = 24 * 1024
WRITABLE = "can be changed by users other than root and ipcd"


def run(*args, timeout=10):
    return subprocess.run([IPCD, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def check(path):
    """--check-config on path, bounded: a hang fails the test instead of stalling it."""
    start = time.monotonic()
    r = run("--check-config", "-c", path)
    return r, time.monotonic() - start


def many_settings(size):
    """Distinct short top-level settings ("a=1;ab=1;…"): the slowest thing for libconfig
    to parse, per byte."""
    first = string.ascii_letters
    rest = string.ascii_letters + string.digits + "_-"
    names = itertools.chain(first, (a + b for a in first for b in rest),
                            (a + b + c for a in first for b in rest for c in rest))
    out, n = [], 0
    for name in names:
        s = name + "=1;"
        if n + len(s) > size:
            break
        out.append(s)
        n += len(s)
    return "".join(out)


def reload(d):
    start = len(d.notify.poll())
    d.signal(signal.SIGHUP)
    d.notify.wait_for("READY=1", d.notify.wait_for("RELOADING=1", start) + 1)


def test_fifo_is_refused_without_blocking(workdir):
    fifo = os.path.join(workdir, "fifo.conf")
    os.mkfifo(fifo)
    r, took = check(fifo)
    assert r.returncode == 1, r.stderr
    assert f"'{fifo}' is a FIFO, not a regular file" in r.stderr
    assert took < 5


def test_directory_is_refused_in_words(workdir):
    r, _ = check(workdir)
    assert r.returncode == 1
    assert f"'{workdir}' is a directory, not a regular file" in r.stderr
    assert "Input/output error" not in r.stderr


def test_dev_null_still_means_the_defaults():
    r, _ = check("/dev/null")
    assert r.returncode == 0, r.stderr
    assert "max_connections = 1024;" in r.stdout


def test_file_over_the_cap_is_refused_quickly(workdir):
    path = os.path.join(workdir, "big.conf")
    with open(path, "w") as f:
        f.write(many_settings(512 * 1024))
    size = os.path.getsize(path)
    r, took = check(path)
    assert r.returncode == 1
    assert f"'{path}' is {size} bytes; ipcd reads at most {CAP}" in r.stderr
    assert took < 2


def test_file_at_the_cap_parses_in_time(workdir):
    # The worst case that is still read: every error reported, and no long stall.
    path = os.path.join(workdir, "cap.conf")
    with open(path, "w") as f:
        f.write(many_settings(CAP))
    assert os.path.getsize(path) <= CAP
    r, took = check(path)
    assert r.returncode == 1 and "unknown setting" in r.stderr
    assert "reads at most" not in r.stderr
    assert took < 2


def test_reload_of_a_file_over_the_cap_is_refused_and_ipcd_keeps_echoing(ipcd):
    d = ipcd("").start_ready()
    d.write_conf(many_settings(512 * 1024))
    reload(d)
    log = d.wait_log(r"keeping the previous configuration").string
    assert f"is {os.path.getsize(d.conf_path)} bytes; ipcd reads at most {CAP}" in log
    assert d.exchange(b"alive") == b"alive"
    assert d.stop() == 0


def test_world_writable_file_is_used_with_a_warning(workdir):
    path = os.path.join(workdir, "ww.conf")
    with open(path, "w") as f:
        f.write("workers = 2;\n")
    os.chmod(path, 0o644)
    r, _ = check(path)
    assert r.returncode == 0 and WRITABLE not in r.stderr, r.stderr
    os.chmod(path, 0o666)
    r, _ = check(path)
    assert r.returncode == 0, r.stderr
    assert "workers = 2;" in r.stdout
    lines = [l for l in r.stderr.splitlines() if WRITABLE in l]
    assert lines == [f"'{path}' {WRITABLE}: every user can write it (mode 0666)"], r.stderr
    # Group 0 writing is fine; another group or owner is not.
    os.chmod(path, 0o664)
    r, _ = check(path)
    assert r.returncode == 0 and WRITABLE not in r.stderr, r.stderr
    os.chown(path, 0, 4242)
    r, _ = check(path)
    assert r.returncode == 0 and "group 4242 can write it (mode 0664)" in r.stderr
    os.chmod(path, 0o644)
    os.chown(path, 4242, 0)
    r, _ = check(path)
    assert r.returncode == 0 and "it is owned by uid 4242" in r.stderr


def test_writable_warning_at_start_and_on_reload(ipcd):
    d = ipcd("")
    os.chmod(d.conf_path, 0o666)
    d.start_ready()
    d.wait_log(WRITABLE + r": every user can write it")
    os.chmod(d.conf_path, 0o620)
    os.chown(d.conf_path, 0, 4242)
    reload(d)
    d.wait_log(r"Reloaded '.*ipcd\.conf'")
    assert "group 4242 can write it (mode 0620)" in d.log()
    assert d.exchange(b"still") == b"still"
    assert d.stop() == 0


def test_shipped_config_still_passes():
    shipped = os.path.join(SRCDIR, "conf", "ipcd.conf")
    r, _ = check(shipped)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(shipped) * 3 < CAP
