# SPDX-License-Identifier: MIT
"""--check-config and the start-up line, through the real binary: what check mode says when
something is wrong, what it prints when all is well, and what the daemon says as it starts."""

import os
import subprocess

from conftest import IPCD


def run(*args, timeout=10):
    return subprocess.run([IPCD, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def check_errors(workdir, text):
    """--check-config on text: it must fail; its stderr lines."""
    conf = write(os.path.join(workdir, "t.conf"), text)
    r = run("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == "", r.stderr
    return conf, r.stderr.splitlines()


def test_socket_mode_is_shown_as_written(workdir):
    conf, lines = check_errors(workdir, "socket_mode = 0660;\n")
    assert lines[0] == (f'{conf}:1: socket_mode = 0660: must be an octal string, in quotes '
                        '(allowed: an octal string from "0000" to "0777")'), lines


def test_numbers_in_messages_are_as_written(workdir):
    conf, lines = check_errors(workdir, "limits = { max_connections = 0x0;\n"
                                        "  buffer_size = 0100; };\n")
    assert lines[0].startswith(f"{conf}:1: limits.max_connections = 0x0: out of range"), lines
    assert lines[1].startswith(f"{conf}:2: limits.buffer_size = 0100: out of range"), lines


def test_socket_mode_in_the_dump_is_octal(workdir):
    conf = write(os.path.join(workdir, "m.conf"), 'socket_mode = "600";\n')
    r = run("--check-config", "-c", conf)
    assert r.returncode == 0, r.stderr
    assert 'socket_mode = "0600";' in r.stdout.splitlines()
