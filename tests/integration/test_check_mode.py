# SPDX-License-Identifier: MIT
"""--check-config and the start-up line, through the real binary: what check mode says when
something is wrong, what it prints when all is well, and what the daemon says as it starts."""

import os
import re
import signal
import subprocess

import pytest

from conftest import IPCD, unix_listening, wait_until
from conftest import run_ipcd as run, write_file as write


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


def version():
    return run("--version").stdout.split()[1]


def default_config_path():
    """The build's default file, as --help names it."""
    m = re.search(r"read FILE instead of (\S+)", run("--help").stdout)
    assert m, "--help names no default file"
    return m.group(1)


def test_every_check_mode_failure_says_not_valid_and_never_not_starting(workdir):
    ww = os.path.join(workdir, "ww")
    os.mkdir(ww)
    os.chmod(ww, 0o777)
    bad = write(os.path.join(workdir, "bad.conf"), "workers = -1;\n")
    big = write(os.path.join(workdir, "big.conf"),
                'limits = { buffer_size = "16M"; max_message_size = "16M"; };\n')
    cases = [
        (["-c", bad], f"Configuration '{bad}' is not valid"),
        # the probe of what this system can send (reload.c)
        (["-c", big], f"Configuration '{big}' is not valid"),
        (["-c", "/dev/null", "--listen", os.path.join(ww, "a.sock")],
         "Configuration '/dev/null' is not valid with the --listen addresses given"),
        (["-c", "/dev/null", "--listen", os.path.join(workdir, "a.sock"),
          "--listen", os.path.join(workdir, ".", "a.sock")],
         "Configuration '/dev/null' is not valid with the --listen addresses given"),
    ]
    for args, last in cases:
        r = run("--check-config", *args)
        assert r.returncode == 1 and r.stdout == "", (args, r.stderr)
        assert r.stderr.splitlines()[-1] == last, (args, r.stderr)
        assert "not starting" not in r.stderr, (args, r.stderr)
    conf = write(os.path.join(workdir, "ww.conf"), f'listen = [ "{ww}/a.sock" ];\n')
    r = run("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == \
        f"Configuration '{conf}' is not valid", r.stderr


def test_start_up_failure_still_says_not_starting(ipcd):
    d = ipcd("workers = -1;\n", activate=False, args=["--listen", "@ipcd-test-not-starting"])
    d.start()
    assert d.wait_exit() == 1
    assert f"Configuration '{d.conf_path}' is not valid, not starting" in d.log()


def test_check_config_prints_what_the_command_line_overrides(workdir):
    conf = write(os.path.join(workdir, "c.conf"),
                 f'listen = [ "{workdir}/file.sock" ];\nlog = {{ level = "notice"; }};\n')
    plain = run("--check-config", "-c", conf)
    assert plain.returncode == 0, plain.stderr
    assert f'listen = [ "{workdir}/file.sock" ];' in plain.stdout.splitlines()
    assert '\tlevel = "notice";' in plain.stdout.splitlines()
    a, b = os.path.join(workdir, "a.sock"), "@ipcd-test-b"
    r = run("--check-config", "-c", conf, "--listen", a, "--listen", b, "-v")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f'listen = [ "{a}", "{b}" ];' in lines, r.stdout
    assert '\tlevel = "debug";' in lines, r.stdout
    # Everything else is the file's.
    differ = [(x, y) for x, y in zip(plain.stdout.splitlines(), lines) if x != y]
    assert len(differ) == 2, differ


def test_check_config_checks_the_listen_paths_that_override_the_file(workdir):
    conf = write(os.path.join(workdir, "c.conf"), f'listen = [ "{workdir}/ok.sock" ];\n')
    missing = os.path.join(workdir, "no", "such", "a.sock")
    r = run("--check-config", "-c", conf, "--listen", missing)
    assert r.returncode == 1, r.stderr
    assert "does not exist" in r.stderr


def test_missing_parent_directory_is_reported_in_check_mode(workdir):
    top = os.path.join(workdir, "no")
    path = os.path.join(top, "such", "ipcd.sock")
    conf = write(os.path.join(workdir, "c.conf"), f'listen = [ "{path}" ];\n')
    r = run("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == "", r.stderr
    assert r.stderr.splitlines() == [
        f"Cannot listen on '{path}': directory '{top}' does not exist, and ipcd creates "
        f"only the last one, '{top}/such'",
        f"Configuration '{conf}' is not valid"], r.stderr
    # The last level alone is made at start: that is valid.
    one = os.path.join(workdir, "one", "ipcd.sock")
    ok = run("--check-config", "-c", "/dev/null", "--listen", one)
    assert ok.returncode == 0, ok.stderr
    plain = write(os.path.join(workdir, "plain"), "")
    r = run("--check-config", "-c", "/dev/null", "--listen", os.path.join(plain, "x.sock"))
    assert r.returncode == 1
    assert f"'{plain}' is not a directory" in r.stderr


def test_missing_parent_directory_is_reported_at_start(ipcd, workdir):
    top = os.path.join(workdir, "gone")
    path = os.path.join(top, "deeper", "ipcd.sock")
    d = ipcd("", activate=False, args=["--listen", path])
    d.start()
    assert d.wait_exit() == 1
    assert (f"Cannot listen on '{path}': directory '{top}' does not exist, and ipcd creates "
            f"only the last one, '{top}/deeper'") in d.log()
    assert not os.path.exists(top)


def test_start_up_line_carries_the_pid(ipcd, workdir):
    path = os.path.join(workdir, "own.sock")
    d = ipcd("", activate=False, args=["--listen", path]).start()
    d.notify.wait_for("READY=1")
    assert f"ipcd {version()} starting (pid {d.pid}) with '{d.conf_path}'" in d.log(), d.log()
    assert d.stop() == 0


needs_no_default_file = pytest.mark.skipif(
    os.path.exists(default_config_path()), reason="the default configuration file exists here")


@needs_no_default_file
def test_check_mode_says_a_missing_default_file_means_the_defaults():
    default = default_config_path()
    r = run("--check-config")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[0] == \
        f"Configuration '{default}' does not exist; using the defaults", r.stderr
    assert r.stdout == run("--check-config", "-c", "/dev/null").stdout


@needs_no_default_file
def test_start_up_says_a_missing_default_file_means_the_defaults(workdir):
    default = default_config_path()
    path = os.path.join(workdir, "own.sock")
    log_path = os.path.join(workdir, "ipcd.log")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
    with open(log_path, "wb") as log:
        p = subprocess.Popen([IPCD, "--listen", path], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_until(lambda: unix_listening(path) or p.poll() is not None, 5, "listening")
        with open(log_path) as f:
            text = f.read()
        assert (f"ipcd {version()} starting (pid {p.pid}) with the defaults ('{default}' does not "
                "exist)") in text, text
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(20)


def test_an_explicit_missing_file_is_still_an_error(workdir):
    missing = os.path.join(workdir, "nope.conf")
    r = run("--check-config", "-c", missing)
    assert r.returncode == 1 and "does not exist; using the defaults" not in r.stderr
