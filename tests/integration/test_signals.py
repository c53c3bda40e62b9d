# SPDX-License-Identifier: MIT
"""Signals other than SIGTERM, SIGINT and SIGHUP: SIGUSR1 logs the stats line, SIGUSR2 is logged
and ignored, and the ones a person or a tool may send by mistake neither end ipcd nor cost a
connection. Several workers, so a signal that reached a thread without the mask would show."""

import os
import signal
import time

import pytest

from conftest import connect, recv_exact

CONF = "workers = 3;\n"

# Default action "terminate" (or "core"), plausibly sent by mistake or by a tool; ipcd ignores
# them. SIGIO is SIGPOLL.
IGNORED = [signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGIO, signal.SIGPWR,
           signal.SIGSTKFLT, signal.SIGXFSZ]


def echo(c, data):
    c.sendall(data)
    return recv_exact(c, len(data))


def assert_still_serving(d, held, what):
    # A signal whose default action terminates takes effect right after kill() returns; give
    # a dying process time to go before looking.
    time.sleep(0.3)
    assert d.proc.poll() is None, f"ipcd exited on {what}:\n{d.log()}"
    assert echo(held, b"after " + what.encode()) == b"after " + what.encode()
    assert d.exchange(b"a new one") == b"a new one"


def signal_name(sig):
    return signal.Signals(sig).name


@pytest.mark.parametrize("sig", IGNORED, ids=signal_name)
def test_ignored_signal_keeps_serving(ipcd, sig):
    d = ipcd(CONF).start_ready()
    with connect(d.sock) as held:
        assert echo(held, b"before") == b"before"
        d.signal(sig)
        assert_still_serving(d, held, signal_name(sig))
    assert d.stop() == 0
    assert "Stopped after" in d.log()


def test_sigusr1_logs_the_stats_line(ipcd):
    # No periodic line, and a level that hides info: the line asked for still comes.
    d = ipcd(CONF + 'log = { level = "notice"; stats_interval = 0; };\n').start_ready()
    with connect(d.sock) as held:
        assert echo(held, b"12345") == b"12345"
        assert "Stats:" not in d.log()
        d.signal(signal.SIGUSR1)
        d.wait_log(r"Stats: 1 active, \d+ accepted, \d+ closed, [\d.]+ \w*B echoed, 0 refused, "
                   r"0 denied, 0 idle timeouts, 0 datagrams \(0 unanswerable, 0 dropped, "
                   r"0 oversize, 0 to peers not reading\)")
        d.signal(signal.SIGUSR1)
        d.wait_log(r"(?s)Stats: .*\n.*Stats: ")
        assert_still_serving(d, held, "SIGUSR1")
    assert d.stop() == 0


def test_sigusr2_is_logged_and_ignored(ipcd):
    d = ipcd(CONF).start_ready()
    with connect(d.sock) as held:
        assert echo(held, b"x") == b"x"
        d.signal(signal.SIGUSR2)
        d.wait_log(rf"Received SIGUSR2 from pid {os.getpid()}, which ipcd does not use, "
                   r"ignoring")
        assert_still_serving(d, held, "SIGUSR2")
    assert d.stop() == 0
