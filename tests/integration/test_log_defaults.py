# SPDX-License-Identifier: MIT
"""What the default configuration logs: nothing per connection for ordinary traffic, so a
busy host's journal is not filled with two lines a connection, but every refusal and every
connection a limit closed, as (rate-limited) warnings."""

import os
import re

import pytest

from conftest import SRCDIR, connect, is_closed_by_peer, recv_exact

LIMITS = {"max_connections": "1", "max_connection_bytes": "10"}


def builtin_defaults():
    """No log group at all: the settings table's defaults."""
    return "limits = { %s };\n" % " ".join(f"{k} = {v};" for k, v in LIMITS.items())


def shipped_file():
    """conf/ipcd.conf as installed, with only the limits this test needs to hit lowered."""
    with open(os.path.join(SRCDIR, "conf", "ipcd.conf")) as f:
        text = f.read()
    for key, value in LIMITS.items():
        text, n = re.subn(rf"^(\s*{key}) = [^;]*;", rf"\1 = {value};", text, flags=re.M)
        assert n == 1, f"{key} is not set exactly once in the shipped ipcd.conf"
    return text


@pytest.mark.parametrize("conf", [builtin_defaults, shipped_file], ids=["built-in", "shipped"])
def test_default_logs_refusals_and_limit_closes_but_not_each_connection(ipcd, conf):
    d = ipcd(conf()).start_ready()
    assert d.exchange(b"ordinary") == b"ordinary"
    with connect(d.sock) as held:
        held.sendall(b"12345")
        assert recv_exact(held, 5) == b"12345"
        with connect(d.sock) as over:
            assert is_closed_by_peer(over)
        d.wait_log(r"Refused connection \d+ from pid \d+ uid \d+ gid \d+: max-connections")
        held.sendall(b"678901")  # past max_connection_bytes = 10
        assert is_closed_by_peer(held)
    d.wait_log(r"Connection \d+ from pid \d+ uid \d+ gid \d+ closed \(max-connection-bytes\)")
    assert d.stop() == 0
    log = d.log()
    assert not re.search(r"Connection \d+ .*on 'ipcd'", log), log
    assert "closed (eof)" not in log, log
