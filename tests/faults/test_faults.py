# SPDX-License-Identifier: MIT
"""Allocation-failure sweeps: the real ipcd with failmalloc.so preloaded, the Nth allocation
refused, for every N of a start-up and of a connection cycle. Each N is one case: no crash, no
hang, no leak, the right exit status, a reason on stderr when start-up fails, and service that
goes on after a failed connection. tests/faults/run runs it and records the counts; pytest-3 on
this file alone works too. The shim and its environment are described in failmalloc.c."""

import atexit
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
IPCD = os.environ.get("IPCD") or os.path.join(SRCDIR, "build", "ipcd")
# Empty: no leak sweep (a build without the ASan tree).
IPCD_ASAN = os.environ.get("IPCD_ASAN", os.path.join(SRCDIR, "build", "asan", "ipcd"))
# Every N, even where a cycle makes more than DENSE calls (see plan()).
FULL = os.environ.get("IPCD_FAULTS_FULL") == "1"


def _load_harness():
    """The integration harness, under its own module name: this directory has a conftest too."""
    path = os.path.join(HERE, "..", "integration", "conftest.py")
    spec = importlib.util.spec_from_file_location("ipcd_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H = _load_harness()

# Beyond the measured count: runs differ by a call or two (worker threads, timers).
MARGIN = 3
READY_TIMEOUT = 10.0
EXIT_TIMEOUT = 15.0  # shutdown_timeout below is 1 s; ipcd adds 5 s of grace for workers

# Valid, and wide enough to take start-up through every kind of setting: names looked up
# through NSS, a listen list that is parsed (then --listen wins), sizes and durations as text.
USER = pwd.getpwuid(os.getuid()).pw_name
COMMON_CONF = f"""workers = 2;
preserve_connections = false;
shutdown_timeout = 1;
listen = [ "/run/ipcd-faults/unused.sock", "@ipcd-faults-unused" ];
socket_mode = "0600";
access = {{ allow_uids = ( "{USER}", {os.getuid()} ); allow_gids = [ {os.getgid()} ]; }};
log = {{ level = "info"; stats_interval = 0; }};
"""
BASE_CONF = COMMON_CONF + 'limits = { buffer_size = "64K"; idle_timeout = "90s"; };\n'
# A 4 KiB buffer: a 1 MiB write that the client does not read at once must go through a
# pending buffer, backpressure and its release.
CONN_CONF = COMMON_CONF + "limits = { buffer_size = 4096; max_message_size = 4096; };\n"
BIG = os.urandom(1 << 20)

# The shim goes in front of libasan (verify_asan_link_order=0 allows that) and forwards to
# ASan's malloc, so ASan still tracks every allocation and LeakSanitizer checks them at exit:
# test_selftest_leak_through_the_shim_is_reported shows it. No valgrind needed.
ASAN_OPTIONS = ("verify_asan_link_order=0:detect_leaks=1:halt_on_error=1:abort_on_error=0:"
                "handle_abort=1:print_summary=1")
UBSAN_OPTIONS = "halt_on_error=1:print_stacktrace=1"

# What a failed start must say: what failed and the errno text ("Failed to start workers:
# Resource temporarily unavailable" is glibc's pthread_create() out of memory), or the errno
# text for ENOMEM. The configuration is valid: a configuration error would be a wrong reason.
SAYS_WHY = re.compile(r"^Failed to .*: \S|Cannot allocate memory|[Oo]ut of memory", re.M)
# Known bugs of dependencies, not of ipcd, told apart by the refused call's stack: a case whose
# refused call one of them made, and that then goes wrong, is an expected failure (xfail).
# (first frame outside the shim, pattern the whole symbolized stack must match, what is wrong)
EXTERNAL = [
    # config_init() and the parser dereference calloc()'s result, flex's yy_fatal_error()
    # exits 2, a failed strdup() leaves a setting without a name.
    ("libconfig.so", r"", "libconfig 1.5 does not handle a failed allocation"),
    # global_state_allocate() failing is dereferenced; getdelim() failing trips an assert().
    ("libc.so", r"nss_database", "glibc 2.36 NSS does not handle a failed allocation"),
]
FATAL = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|Aborted|Assertion .* failed|"
                   r"stack smashing|double free|corrupted|free\(\): invalid")


# ---- the shim and a deliberately broken program to show the checks can fail --------------

_tmp = tempfile.mkdtemp(prefix="ipcd-faults-", dir="/tmp")
atexit.register(shutil.rmtree, _tmp, True)


def _cc(args):
    cc = os.environ.get("CC") or "cc"
    r = subprocess.run([cc] + args, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def _build_shim():
    out = os.path.join(_tmp, "failmalloc.so")
    rc, text = _cc(["-shared", "-fPIC", "-O1", "-g", "-fno-omit-frame-pointer", "-Wall",
                    "-Wextra", "-Werror", "-o", out, os.path.join(HERE, "failmalloc.c"), "-ldl",
                    "-lgcc_s"])
    return (out, None) if rc == 0 else (None, f"building failmalloc.so failed:\n{text}")


SHIM, SHIM_ERROR = _build_shim()

BROKEN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	char *p = malloc(64);           /* unchecked: the bug the sweep exists to find */
	strcpy(p, "checked by nobody");
	char *kept = strdup(argv[0]);   /* never freed: the leak the ASan sweep exists to find */
	puts(argc > 1 ? kept : p);
	kept = NULL;
	return 0;
}
"""


def _build_broken(asan):
    src = os.path.join(_tmp, "broken.c")
    with open(src, "w") as f:
        f.write(BROKEN_C)
    out = os.path.join(_tmp, "broken-asan" if asan else "broken")
    flags = ["-fsanitize=address", "-fno-omit-frame-pointer"] if asan else []
    rc, text = _cc(["-O0", "-g", "-fno-builtin"] + flags + ["-o", out, src])
    return out if rc == 0 else pytest.fail(f"building {out} failed:\n{text}")


# ---- one run of ipcd -----------------------------------------------------------------------

class Daemon(H.Ipcd):
    """ipcd bound to its own socket (--listen), with the shim preloaded."""

    def __init__(self, workdir, binary, conf, fail_at, start="load"):
        self.binary = binary
        self.fm_log = os.path.join(workdir, "failmalloc.log")
        self.fm_stats = os.path.join(workdir, "failmalloc.stats")
        env = {
            "LD_PRELOAD": SHIM,
            "IPCD_FAIL_MALLOC_AT": str(fail_at),
            "IPCD_FAIL_MALLOC_START": start,
            "IPCD_FAIL_MALLOC_LOG": self.fm_log,
            "IPCD_FAIL_MALLOC_STATS": self.fm_stats,
            "ASAN_OPTIONS": ASAN_OPTIONS,
            "UBSAN_OPTIONS": UBSAN_OPTIONS,
        }
        sock = os.path.join(workdir, "ipcd.sock")
        super().__init__(workdir, conf, activate=False, args=["--listen", sock], listen=sock,
                         env=env)

    def command(self):
        return [self.binary, "-c", self.conf_path] + self.args

    def failmalloc_log(self):
        try:
            with open(self.fm_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stats(self):
        """(calls counted, calls refused), or None if the process did not exit normally."""
        try:
            with open(self.fm_stats) as f:
                v = dict(line.split() for line in f if line.strip())
            return int(v["calls"]), int(v["failed"])
        except (FileNotFoundError, KeyError, ValueError):
            return None

    def ready(self):
        return self.notify.find("READY=1") is not None

    def wait_ready_or_exit(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return True
            if self.proc.poll() is not None:
                return self.ready()  # READY may have come just before the exit
            time.sleep(0.005)
        return None

    def stop_bounded(self, timeout=EXIT_TIMEOUT):
        """SIGTERM if still running; the exit status, or None after a kill at timeout."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            return None


def crash_problems(rc, log, fm_log, allowed=(0, 1)):
    """Everything wrong with how a run ended, as short sentences; empty if nothing is."""
    problems = []
    if rc is None:
        problems.append("did not exit within its time bound (hang), killed")
    elif rc < 0:
        problems.append(f"killed by {signal.Signals(-rc).name}")
    elif rc not in allowed:
        problems.append(f"exit status {rc}, expected {' or '.join(map(str, allowed))}")
    m = FATAL.search(log)
    if m:
        problems.append(f"stderr reports {m.group(0)!r}")
    if "failmalloc: fatal signal" in fm_log:
        problems.append("a fatal signal was caught (stack in failmalloc.log)")
    return problems


def ipcd_lines(log):
    return [line for line in log.splitlines() if line.strip()]


def echo_once(path, data, timeout=5.0):
    """One round trip on a fresh connection; the echo, or the exception text."""
    try:
        with H.connect(path, timeout=timeout) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            return H.recv_until_eof(c, timeout=timeout)
    except (OSError, AssertionError) as e:
        return f"{type(e).__name__}: {e}"


def serves(path, data):
    """A fresh connection echoes data. Two tries: a single refused allocation may land on the
    first one, which ipcd then closes; that is allowed, a second failure is not."""
    first = echo_once(path, data)
    if first == data:
        return True, None
    second = echo_once(path, data)
    if second == data:
        return True, None
    return False, f"first try: {str(first)[:100]!r}; second try: {str(second)[:100]!r}"


def big_echo(path, timeout=5.0):
    """1 MiB sent while the client does not read for a moment, so ipcd has to hold bytes and
    stop reading; then everything read back. Returns (bytes echoed, problem or None): ipcd may
    close the connection after a refused allocation, but what it echoed must be a prefix."""
    try:
        c = H.connect(path, timeout=timeout)
    except OSError as e:
        return 0, f"cannot connect: {e}"

    def sender():
        try:
            c.sendall(BIG)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # ipcd closed the connection: what came back is checked below

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    time.sleep(0.1)  # the socket buffers fill up: ipcd's send() returns EAGAIN
    got = bytearray()
    deadline = time.monotonic() + timeout
    problem = None
    try:
        while time.monotonic() < deadline:
            c.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = c.recv(1 << 16)
            if not chunk:
                break
            got += chunk
        else:
            problem = f"no EOF within {timeout}s ({len(got)} bytes echoed)"
    except socket.timeout:
        problem = f"no EOF within {timeout}s ({len(got)} bytes echoed)"
    except OSError:
        pass  # reset: ipcd closed the connection with input unread
    c.close()
    t.join(5)
    if bytes(got) != BIG[:len(got)]:
        problem = f"the echo is not a prefix of what was sent ({len(got)} bytes)"
    return len(got), problem


FRAME = re.compile(r"^(/[^()\s]+)\(\+(0x[0-9a-f]+)\)\[0x[0-9a-f]+\]$", re.M)


def symbolize(text):
    """backtrace_symbols_fd() frames "FILE(+OFFSET)[ADDR]" with function and line added."""
    def one(m):
        try:
            r = subprocess.run(["addr2line", "-f", "-i", "-p", "-e", m.group(1),
                                hex(int(m.group(2), 16) - 1)],
                               capture_output=True, text=True, timeout=10)
            where = " ".join(r.stdout.split()) if r.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            where = ""
        return f"{m.group(0)} {where}" if where and not where.startswith("??") else m.group(0)
    return FRAME.sub(one, text)


def describe(d, extra=()):
    """The evidence for a failure: ipcd's stderr and the refused call's stack."""
    fm = symbolize(d.failmalloc_log())
    return "\n".join(list(extra) + [f"--- ipcd stderr ({d.binary})", d.log()[-6000:],
                                    "--- failmalloc.log", fm[-6000:]])


# ---- measuring what a clean run allocates --------------------------------------------------

def startup_cycle(workdir, binary, fail_at):
    """Start, one echo if it came up, SIGTERM. Returns (daemon, problems)."""
    d = Daemon(workdir, binary, BASE_CONF, fail_at)
    problems = []
    try:
        d.start()
        ready = d.wait_ready_or_exit()
        if ready is None:
            problems.append(f"neither ready nor exited within {READY_TIMEOUT}s")
        elif ready and d.proc.poll() is None:
            ok, why = serves(d.sock, b"hello after start-up")
            if not ok:
                problems.append(f"ready, but does not echo: {why}")
        rc = d.stop_bounded()
        log, fm = d.log(), d.failmalloc_log()
        if ready:
            problems += crash_problems(rc, log, fm, allowed=(0,))
        else:
            problems += crash_problems(rc, log, fm, allowed=(1,))
            lines = ipcd_lines(log)
            if ready is not None and not any(SAYS_WHY.search(line) for line in lines):
                problems.append("start-up failed without saying why (no 'Failed to …: "
                                "reason' or 'Cannot allocate memory' line); its last line: "
                                f"{lines[-1] if lines else '(nothing)'!r}")
    finally:
        d.cleanup()
    return d, problems


def connection_cycle(workdir, binary, fail_at):
    """Start clean, arm the shim once ready, one 1 MiB echo through a pending buffer, a second
    client that must be served, SIGTERM. Returns (daemon, problems)."""
    d = Daemon(workdir, binary, CONN_CONF, fail_at, start="signal")
    problems = []
    try:
        d.start()
        if not d.wait_ready_or_exit():
            rc = d.stop_bounded()
            return d, [f"did not become ready before the shim was armed (exit {rc})"]
        d.signal(signal.SIGRTMAX)
        H.wait_until(lambda: "failmalloc: armed" in d.failmalloc_log(), 5, "the shim to arm")
        _, problem = big_echo(d.sock)
        if problem:
            problems.append(f"first client: {problem}")
        ok, why = serves(d.sock, b"the second client" * 512)
        if not ok:
            problems.append(f"a second client is not served after the failure: {why}")
        elif d.proc.poll() is not None:
            problems.append("exited before SIGTERM")
        rc = d.stop_bounded()
        problems += crash_problems(rc, d.log(), d.failmalloc_log(), allowed=(0,))
    finally:
        d.cleanup()
    return d, problems


CYCLES = {"startup": startup_cycle, "connection": connection_cycle}
_measured = {}


def measure(kind, binary):
    """Calls a clean run of the cycle makes (the larger of two runs), or an error text."""
    key = (kind, binary)
    if key not in _measured:
        counts = []
        for i in range(2):
            workdir = tempfile.mkdtemp(prefix="m-", dir=_tmp)
            d, problems = CYCLES[kind](workdir, binary, 0)
            stats = d.stats()
            if problems or not stats:
                _measured[key] = (None, f"a clean {kind} run failed: {problems}\n" + describe(d))
                break
            counts.append(stats[0])
        else:
            _measured[key] = (max(counts), None)
    return _measured[key]


# ---- which N to run ------------------------------------------------------------------------

def sample(total, dense, step):
    """Every N up to dense, then every step-th, and always the last few (shutdown)."""
    ns = set(range(1, min(total, dense) + 1))
    ns.update(range(dense + 1, total + 1, step))
    ns.update(range(max(1, total - MARGIN + 1), total + 1))
    return sorted(ns)


# Every N while a cycle makes at most DENSE calls (today: about 100 for start-up, 15 for a
# connection, the whole run in well under a minute); beyond that, every STEP-th, to stay within
# the 3 minutes. IPCD_FAULTS_FULL=1 runs every N whatever the count.
DENSE, STEP = 300, 7


def plan(total):
    return list(range(1, total + MARGIN + 1)) if FULL else sample(total + MARGIN, DENSE, STEP)


# (name, binary, cycle); the ASan build is where leaks show, LeakSanitizer being on.
SWEEPS = [
    ("startup", lambda: IPCD, "startup"),
    ("connection", lambda: IPCD, "connection"),
    ("startup-asan", lambda: IPCD_ASAN, "startup"),
    ("connection-asan", lambda: IPCD_ASAN, "connection"),
]


def pytest_generate_tests(metafunc):
    if "sweep_case" not in metafunc.fixturenames:
        return
    cases, ids = [], []
    for name, binary_of, cycle in SWEEPS:
        binary = binary_of()
        if not binary:
            continue  # IPCD_ASAN= : no leak sweep asked for
        if SHIM_ERROR or not os.access(binary, os.X_OK):
            why = SHIM_ERROR or f"{binary} is missing: build it first"
            cases.append((name, binary, cycle, 0, why))
            ids.append(f"{name}-setup")
            continue
        total, error = measure(cycle, binary)
        if error:
            cases.append((name, binary, cycle, 0, error))
            ids.append(f"{name}-measure")
            continue
        for n in plan(total):
            cases.append((name, binary, cycle, n, None))
            ids.append(f"{name}-N{n:03d}of{total}")
    metafunc.parametrize("sweep_case", cases, ids=ids)


def known_external(fm_log):
    """The EXTERNAL reason that covers the first refused call, or None."""
    m = re.search(r"^failmalloc: refusing .*\n((?:.*\n)*?)failmalloc: end of stack", fm_log, re.M)
    frames = [line for line in (m.group(1).splitlines() if m else [])
              if "failmalloc.so" not in line]
    if not frames:
        return None
    caller = os.path.basename(frames[0].split("(")[0])
    stack = symbolize("\n".join(frames))
    for lib, pattern, why in EXTERNAL:
        if caller.startswith(lib) and re.search(pattern, stack):
            return f"{why} (refused in {caller})"
    return None


def test_sweep(sweep_case):
    name, binary, cycle, n, setup_error = sweep_case
    if setup_error:
        pytest.fail(setup_error, pytrace=False)
    workdir = tempfile.mkdtemp(prefix="c-", dir=_tmp)
    try:
        d, problems = CYCLES[cycle](workdir, binary, n)
        known = known_external(d.failmalloc_log()) if problems else None
        if known:
            pytest.xfail(f"{known}: " + "; ".join(problems))
        if problems:
            pytest.fail(f"{name} with allocation {n} refused: " + "; ".join(problems) + "\n" +
                        describe(d), pytrace=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- the checks can fail ---------------------------------------------------------------------

def run_broken(binary, fail_at, arg=()):
    log = os.path.join(_tmp, f"broken-{fail_at}.log")
    env = dict(os.environ, LD_PRELOAD=SHIM, IPCD_FAIL_MALLOC_AT=str(fail_at),
               IPCD_FAIL_MALLOC_LOG=log, ASAN_OPTIONS=ASAN_OPTIONS)
    r = subprocess.run([binary] + list(arg), env=env, capture_output=True, text=True, timeout=30)
    with open(log) as f:
        return r.returncode, r.stdout + r.stderr, f.read()


@pytest.mark.skipif(SHIM is None, reason="no shim")
def test_selftest_unchecked_malloc_is_a_crash():
    """A program that uses malloc's result unchecked: fine with no refusal, flagged as a crash
    with the refused call's stack when its first allocation is refused."""
    broken = _build_broken(asan=False)
    rc, out, fm = run_broken(broken, 0)
    assert crash_problems(rc, out, fm) == [], out
    rc, out, fm = run_broken(broken, 1)
    problems = crash_problems(rc, out, fm)
    assert any("SIGSEGV" in p for p in problems), (rc, out, fm)
    assert re.search(r"refusing #1 malloc\(64\)\n(.*\n)*.*/broken\(\+0x", fm), fm


@pytest.mark.skipif(SHIM is None, reason="no shim")
def test_selftest_leak_through_the_shim_is_reported():
    """Under ASan with the shim in front, LeakSanitizer still sees every allocation: the one
    strdup() the program never frees is reported, with the shim's frames on its stack."""
    broken = _build_broken(asan=True)
    rc, out, fm = run_broken(broken, 0, ["x"])
    problems = crash_problems(rc, out, fm)
    assert any("LeakSanitizer" in p for p in problems), (rc, out)
    assert re.search(r"in strdup .*failmalloc\.c", out), out
