# SPDX-License-Identifier: MIT
"""How the docs tell an operator to signal ipcd: the one instance meant, never every process
called ipcd. Under systemd through systemctl (the unit's ExecReload= sends SIGHUP to its own
main process); by hand, to the pid ipcd names in its first line."""

import os
import re

import pytest

from conftest import SRCDIR

DOCS = ["README.md", os.path.join("man", "ipcd.8")]


def read(path):
    with open(os.path.join(SRCDIR, path)) as f:
        return f.read()


@pytest.mark.parametrize("doc", DOCS)
def test_docs_never_signal_every_ipcd(doc):
    text = read(doc)
    # As a command to run, not as the warning against it.
    commands = [line for line in text.splitlines()
                if re.match(r"\s*(\$ |# )?(kill|pkill|killall)\b", line)]
    assert commands, f"{doc} shows no signal command"
    wrong = [line for line in commands if re.search(r"pidof|pgrep|pkill|killall", line)]
    assert not wrong, f"{doc} signals every ipcd: {wrong}"


@pytest.mark.parametrize("doc", DOCS)
def test_docs_show_systemctl_and_the_pid_of_the_first_line(doc):
    text = read(doc)
    assert "systemctl reload ipcd" in text
    assert re.search(r"kill -HUP +1234\b", text) and re.search(r"kill -TERM +1234\b", text)
    assert "starting (pid 1234)" in text  # where 1234 comes from


def test_service_reloads_its_own_main_process():
    reloads = re.findall(r"^ExecReload=(.*)$", read(os.path.join("systemd", "ipcd.service")),
                         re.M)
    assert reloads and re.fullmatch(r"\S*kill -HUP \$MAINPID", reloads[-1]), reloads
