# SPDX-License-Identifier: MIT
"""The log settings: level, per-connection lines, the periodic stats line."""

import re

from conftest import connect, is_closed_by_peer


def test_connections_are_logged_when_asked(ipcd):
    d = ipcd("log = { connections = true; };\n").start_ready()
    assert d.exchange(b"hello") == b"hello"
    d.wait_log(r"Connection \d+ from pid \d+ uid 0 gid 0 on 'ipcd'")
    d.wait_log(r"Connection \d+ from pid \d+ uid 0 gid 0 closed \(eof\) after .*, 5 B echoed")
    assert d.stop() == 0


def test_log_connections_off_keeps_limit_warnings(ipcd):
    d = ipcd("log = { connections = false; };\nlimits = { max_connections = 1; };\n")
    d.start_ready()
    with connect(d.sock) as held:
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        with connect(d.sock) as over:
            assert is_closed_by_peer(over)
        d.wait_log(r"Refused connection \d+ .*: max-connections")
    assert d.stop() == 0
    assert not re.search(r"Connection \d+ from .* on 'ipcd'", d.log())
    assert "closed (eof)" not in d.log()


def test_log_level_warning_hides_notices_and_info(ipcd):
    d = ipcd('log = { level = "warning"; };\nlimits = { max_connections = 1; };\n')
    d.start_ready()
    with connect(d.sock) as held:
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        with connect(d.sock) as over:
            assert is_closed_by_peer(over)
        d.wait_log(r"Refused connection")
    assert d.stop() == 0
    log = d.log()
    assert "Ready:" not in log and "Stopping on SIGTERM" not in log  # notices
    assert "Connection" not in log.replace("Refused connection", "")  # info


def test_verbose_flag_overrides_the_level(ipcd):
    d = ipcd('log = { level = "err"; };\n', args=["-v"]).start_ready()
    assert d.exchange(b"x") == b"x"
    assert d.stop() == 0
    assert "Ready:" in d.log()


def test_stats_line_every_interval(ipcd):
    d = ipcd("log = { stats_interval = 1; };\n").start_ready()
    assert d.exchange(b"12345") == b"12345"
    line = d.wait_log(r"Stats: 0 active, \d+ accepted, \d+ closed, [\d.]+ \w*B echoed, "
                      r"0 refused, 0 denied, 0 idle timeouts", timeout=4).group(0)
    assert "accepted" in line
    assert d.stop() == 0


def refuse(d, n):
    """n connections over max_connections = 1, each refused."""
    with connect(d.sock) as held:
        held.sendall(b"x")
        assert held.recv(1) == b"x"
        for _ in range(n):
            with connect(d.sock) as over:
                assert is_closed_by_peer(over)


def suppressed_counts(log):
    """Every count of dropped 'refused' lines the log states, however it states it."""
    return [int(n) for n in re.findall(r"(\d+) similar (?:'refused' )?messages suppressed", log)]


def test_suppressed_count_is_said_at_stop_when_nothing_follows(ipcd):
    # The rate limit lets 10 refusals a kind through per 5 s; the other 15 must be counted
    # somewhere, though no refusal comes after them to carry the count.
    d = ipcd("limits = { max_connections = 1; };\n").start_ready()
    refuse(d, 25)
    assert d.stop() == 0
    log = d.log()
    assert len(re.findall(r"Refused connection \d+ ", log)) == 10, log
    assert sum(suppressed_counts(log)) == 15, log


def test_suppressed_count_is_said_once_the_window_ends(ipcd):
    d = ipcd("limits = { max_connections = 1; };\n").start_ready()
    refuse(d, 13)
    d.wait_log(r"3 similar 'refused' messages suppressed", timeout=10)
    assert d.stop() == 0
    assert sum(suppressed_counts(d.log())) == 3, d.log()
