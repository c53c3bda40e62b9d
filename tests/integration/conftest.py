# SPDX-License-Identifier: MIT
"""Harness for the integration tests: the real ipcd, started by systemd-socket-activate (or
directly, for self-bind), observed through its notify socket and its log. Every wait is
bounded; every process started is stopped by pid; every test has a private directory."""

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

IPCD = os.environ.get("IPCD") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build", "ipcd"))
IPC_CLIENT = os.environ.get("IPC_CLIENT") or os.path.join(os.path.dirname(IPCD), "ipc-client")
SRCDIR = os.environ.get("SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# What a sanitizer build prints when it finds something; any of it fails the test.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")

SOCK_TYPES = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET,
              "dgram": socket.SOCK_DGRAM}


def wait_until(predicate, timeout=5.0, what="condition", interval=0.02):
    """Polls predicate until it returns something truthy; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def sockaddr(path):
    return "\0" + path[1:] if path.startswith("@") else path


def connect(path, kind="stream", timeout=5.0):
    s = socket.socket(socket.AF_UNIX, SOCK_TYPES[kind])
    s.settimeout(timeout)
    s.connect(sockaddr(path))
    return s


def dgram_client(workdir, name="client.sock", timeout=5.0):
    """A datagram socket bound to an address of its own, so the daemon can answer it."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.bind(os.path.join(workdir, name))
    c.settimeout(timeout)
    return c


def unix_listening(path):
    """True once a socket bound at path listens (/proc/net/unix: flag __SO_ACCEPTCON)."""
    with open("/proc/net/unix") as f:
        next(f)  # the header
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                return True
    return False


def recv_exact(s, n, timeout=5.0):
    """Reads exactly n bytes, or fails with what arrived."""
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(n - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def recv_until_eof(s, timeout=5.0, limit=1 << 30):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) <= limit:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(1 << 16)
        if not chunk:
            return bytes(data)
        data += chunk
    raise AssertionError("more data than expected")


def fill_until_stuck(c, limit, timeout=10.0, stall=0.5):
    """Sends fresh random bytes on c without reading, until the kernel takes nothing for
    `stall` seconds (backpressure) or limit bytes are out; returns what it took. The caller
    tells which happened by the length."""
    c.setblocking(False)
    sent = bytearray()
    deadline = time.monotonic() + timeout
    while len(sent) < limit and time.monotonic() < deadline:
        chunk = os.urandom(min(65536, limit - len(sent)))
        try:
            sent += chunk[:c.send(chunk)]
        except BlockingIOError:
            if not select.select([], [c], [], stall)[1]:
                break
    c.setblocking(True)
    return bytes(sent)


def is_closed_by_peer(s, timeout=5.0):
    """True if the daemon closed s (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def run_ipcd(*args, timeout=10):
    """ipcd run to its end (--check-config, --help, a refused start): its exit and output."""
    return subprocess.run([IPCD, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# socat's PIPE echo writes each block it reads into a pipe that only it reads, and the write
# blocks: a block above PIPE_BUF can find the pipe ready yet too full, and then wait for socat
# itself forever (a 4 MiB ping hung 1 run in 40, socat in anon_pipe_write). A block of PIPE_BUF
# fits whenever the pipe is ready.
SOCAT_ECHO = ["socat", "-b", "4096"]


def stop_socat(proc):
    """Ends a socat started with start_new_session and its forked children with it, by the
    group its pid leads (a child that hangs would outlive its listener), and reaps it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is gone already: nothing left to stop
    proc.wait(10)


@contextlib.contextmanager
def socat_echo(workdir):
    """socat's echo server on a unix stream socket: yields its path; stopped after, by its
    process group."""
    path = os.path.join(workdir, "socat.sock")
    socat = subprocess.Popen(SOCAT_ECHO + [f"UNIX-LISTEN:{path},fork", "PIPE"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_until(lambda: os.path.exists(path) or socat.poll() is not None, 5, "socat's socket")
        assert socat.poll() is None, socat.stderr.read()
        yield path
    finally:
        stop_socat(socat)
        socat.stderr.close()


def threaded_echo_server(path, stop, answer_for):
    """A unix stream server at path that ipcd is not, until stop (an Event) is set: the n-th
    connection (from 0) gets a thread that sends answer_for(n)(data) for each data it reads.
    Returns the accepting thread."""
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(8)
    ls.settimeout(0.2)

    def serve(c, answer):
        with c:
            c.settimeout(10)
            while not stop.is_set():
                try:
                    data = c.recv(1 << 17)
                except OSError:
                    return
                if not data:
                    return
                c.sendall(answer(data))

    def accept():
        n = 0
        with ls:
            while not stop.is_set():
                try:
                    c, _ = ls.accept()
                except socket.timeout:
                    continue
                threading.Thread(target=serve, args=(c, answer_for(n)), daemon=True).start()
                n += 1
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return t



def finish_client(proc, timeout=20):
    """An ipc-client Popen to its end within timeout (killed after): (stdout, stderr), with no
    sanitizer report on stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
        raise AssertionError(f"ipc-client did not finish within {timeout}s")
    text = err.decode(errors="replace") if isinstance(err, bytes) else err
    assert not SANITIZER_REPORT.search(text), f"sanitizer report from ipc-client:\n{text}"
    return out, err

class Notify:
    """The NOTIFY_SOCKET end of the sd_notify protocol. A thread reads it all the time, as a
    service manager does: sd_notify() blocks when the socket's queue (net.unix.max_dgram_qlen,
    10 messages) is full, and a reader that only looks now and then would stall ipcd."""

    def __init__(self, path):
        self.path = path
        self.messages = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.closing = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while not self.closing:
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(m)

    def poll(self):
        with self.lock:
            return list(self.messages)

    def find(self, needle, start=0):
        """Index of the first message at or after start containing needle, or None."""
        for i, m in enumerate(self.poll()[start:], start):
            if needle in m:
                return i
        return None

    def wait_for(self, needle, start=0, timeout=5.0):
        return wait_until(lambda: self.find(needle, start) is not None and
                          (self.find(needle, start),), timeout, f"notify {needle!r}")[0]

    def statuses(self):
        return [line[len("STATUS="):] for m in self.poll() for line in m.split("\n")
                if line.startswith("STATUS=")]

    def close(self):
        self.closing = True
        self.reader.join(5)
        self.sock.close()


class Ipcd:
    """One ipcd under test. activate=True: systemd-socket-activate owns the listening socket
    and execs ipcd on the first connection, as systemd would; False: ipcd binds itself."""

    def __init__(self, workdir, conf="", kind="stream", activate=True, args=(),
                 watchdog_usec=None, listen=None, env=None, listen_more=()):
        self.dir = workdir
        self.kind = kind
        self.activate = activate
        self.conf_path = os.path.join(workdir, "ipcd.conf")
        self.log_path = os.path.join(workdir, "ipcd.log")
        self.sock = listen or os.path.join(workdir, "ipcd.sock")
        self.listen_more = list(listen_more)  # further -l addresses, same socket type
        self.notify = Notify(os.path.join(workdir, "notify.sock"))
        self.args = list(args)
        self.watchdog_usec = watchdog_usec
        self.env = env or {}
        self.proc = None
        self.write_conf(conf)

    def write_conf(self, text):
        with open(self.conf_path, "w") as f:
            f.write(text)

    def command(self):
        if not self.activate:
            return [IPCD, "-c", self.conf_path] + self.args
        cmd = ["systemd-socket-activate", "-l", self.sock, "--fdname=ipcd",
               "-E", "NOTIFY_SOCKET=" + self.notify.path]
        for extra in self.listen_more:
            cmd += ["-l", extra]
        if self.kind == "seqpacket":
            cmd.append("--seqpacket")
        elif self.kind == "dgram":
            cmd.append("--datagram")
        if self.watchdog_usec:
            cmd += ["-E", f"WATCHDOG_USEC={self.watchdog_usec}"]
        for k, v in self.env.items():
            cmd += ["-E", f"{k}={v}"]
        return cmd + [IPCD, "-c", self.conf_path] + self.args

    def start(self, preexec_fn=None):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path, **self.env)
        env.pop("JOURNAL_STREAM", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, preexec_fn=preexec_fn)
        if self.activate and self.sock.startswith("/"):
            # The path appears at bind(), before listen(): a connect in between is refused.
            ready = os.path.exists if self.kind == "dgram" else unix_listening
            wait_until(lambda: ready(self.sock) or self.proc.poll() is not None,
                       5, "the activation socket")
        return self

    def start_ready(self, **kw):
        """Starts ipcd and waits for READY=1, waking it with one exchange if activated."""
        self.start(**kw)
        if self.activate:
            self.exchange(b"wake")
        self.notify.wait_for("READY=1")
        return self

    def exchange(self, data, kind=None):
        """One round trip on a fresh connection (or datagram): returns the echo."""
        kind = kind or self.kind
        if kind == "dgram":
            c = dgram_client(self.dir, f"client-{time.monotonic_ns()}.sock")
            c.connect(sockaddr(self.sock))
            c.send(data)
            reply = c.recv(1 << 20)
            c.close()
            return reply
        with connect(self.sock, kind) as c:
            c.sendall(data)
            if kind == "seqpacket":
                return c.recv(1 << 20)
            c.shutdown(socket.SHUT_WR)
            return recv_until_eof(c)

    @property
    def pid(self):
        return self.proc.pid  # systemd-socket-activate execs ipcd in place: same pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), timeout, f"log /{pattern}/")

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=20.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ipcd did not exit within {timeout}s")

    def stop(self, timeout=20.0):
        """SIGTERM and the exit status."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.notify.close()


@pytest.fixture
def workdir():
    # Short and private: unix socket paths must fit in 108 bytes.
    d = tempfile.mkdtemp(prefix="ipcd-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ipcd(workdir):
    """A factory: ipcd(conf=..., kind=...) makes a daemon; all are stopped at the end and
    their logs checked for sanitizer reports."""
    made = []

    def make(conf="", **kw):
        sub = os.path.join(workdir, str(len(made)))
        os.mkdir(sub)
        d = Ipcd(sub, conf, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
    for d in made:
        if os.path.exists(d.log_path):
            report = SANITIZER_REPORT.search(d.log())
            assert not report, f"sanitizer report in {d.log_path}:\n{d.log()}"

