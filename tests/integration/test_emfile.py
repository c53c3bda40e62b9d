# SPDX-License-Identifier: MIT
"""Out of file descriptors (EMFILE) on accept: ipcd pauses accepting instead of spinning,
keeps serving what it has, and takes the waiting connections once fds are free again."""

import os
import resource
import select
import time

from conftest import connect, recv_exact, wait_until

CONF = "workers = 2;\n"  # fixed, so that the daemon's own fd count does not depend on CPUs
ROOM = 4                 # connections that fit under the fd limit


def open_fds(pid):
    # The least of a few looks: sd_notify() holds a socket open for a moment every second.
    return min(len(os.listdir(f"/proc/{pid}/fd")) for _ in range(3))


def cpu_seconds(pid):
    """utime + stime of the whole process (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def readable(socks, timeout=0.0):
    return select.select(socks, [], [], timeout)[0]


def test_emfile_pauses_accepts_then_serves_the_backlog(ipcd):
    probe = ipcd(CONF).start_ready()
    own = open_fds(probe.pid)
    assert probe.stop() == 0

    limit = own + ROOM
    d = ipcd(CONF)
    d.start_ready(preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)))
    # sd_notify() opens a socket for a moment each second: the room may be one less at times.
    room = limit - open_fds(d.pid)
    assert ROOM - 1 <= room <= ROOM, f"ipcd holds {limit - room} fds, the probe held {own}"

    conns = [connect(d.sock) for _ in range(12)]  # all land in the backlog
    for i, c in enumerate(conns):
        c.sendall(b"conn %02d" % i)
    d.wait_log(r"Failed to accept connection, pausing accepts.*: Too many open files")
    wait_until(lambda: len(readable(conns)) >= room - 1, 5, f"{room} echoes")

    # Stuck with a full backlog: retrying must be paced, not a busy loop.
    cpu_before = cpu_seconds(d.pid)
    time.sleep(2)
    assert cpu_seconds(d.pid) - cpu_before < 0.5, "ipcd spins while out of fds"
    served = readable(conns)
    assert 1 <= len(served) <= room, f"{len(served)} served with room for {room}"

    for c in served:
        i = conns.index(c)
        assert recv_exact(c, 7) == b"conn %02d" % i
        c.sendall(b"again")
        assert recv_exact(c, 5) == b"again"
        c.close()
    waiting = [c for c in conns if c not in served]
    # Freed fds let the backlog in, a few at a time; each gets exactly its echo.
    while waiting:
        ready = readable(waiting, timeout=5)
        assert ready, f"{len(waiting)} connections never served after fds were freed"
        for c in ready:
            i = conns.index(c)
            assert recv_exact(c, 7) == b"conn %02d" % i
            c.close()
            waiting.remove(c)
    assert d.exchange(b"fds to spare") == b"fds to spare"
    assert d.stop() == 0
