# SPDX-License-Identifier: MIT
"""--check-config and the start-up line, through the real binary: what check mode says when
something is wrong, what it prints when all is well, and what the daemon says as it starts."""

import os
import subprocess

import pytest

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


# libconfig says "syntax error" and a line; the line shows why.
SYNTAX_HINTS = [
    ("limits = { buffer_size = 64K; };\n", 1,
     "syntax error at '64K': write sizes and durations as strings: \"64K\""),
    ("limits = {\n  idle_timeout =\n    90s;\n};\n", 3,
     "syntax error at '90s': write sizes and durations as strings: \"90s\""),
    ("log = { connections = yes; };\n", 1, "syntax error at 'yes': a boolean is true or false"),
    ("preserve_connections = off;\n", 1, "syntax error at 'off': a boolean is true or false"),
    ("log = { level = info; };\n", 1,
     "syntax error at 'info': write strings in double quotes: \"info\""),
    ('access = { allow_uids = [ "root", 0 ]; };\n', 1,
     "syntax error: mismatched element type in array: an array [ … ] holds values of one "
     "type: quote every entry, or write a list ( … )"),
    ("limits = {\n  max_connections = 5;\n\nworkers = 1;\n", 5,
     "syntax error at the end of the file: the '{' on line 1 is not closed"),
    ("limits = { max_connections = 5; };\n};\n", 2,
     "syntax error at '}': nothing is open for it to close"),
    ("limits { max_connections = 5; };\n", 1, "syntax error at '{': write \"limits = { … }\""),
    ('log = ( level = "info" );\n', 1,
     "syntax error at 'level': settings go in a group, { … }"),
]


@pytest.mark.parametrize("text,line,message", SYNTAX_HINTS)
def test_syntax_errors_say_what_to_write(workdir, text, line, message):
    conf, lines = check_errors(workdir, text)
    assert lines[0] == f"{conf}:{line}: {message}", lines
    assert lines[1] == f"Configuration '{conf}' is not valid"


def test_syntax_error_without_a_clear_cause_says_no_more(workdir):
    conf, lines = check_errors(workdir, "workers = 2 3;\n")
    assert lines[0] == f"{conf}:1: syntax error", lines
    conf, lines = check_errors(workdir, "limits = { a = 1; a = 2; };\n")
    assert lines[0] == f"{conf}:1: syntax error: duplicate setting name", lines


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
