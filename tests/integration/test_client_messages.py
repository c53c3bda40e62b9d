# SPDX-License-Identifier: MIT
"""Usage errors of ipcd and ipc-client, through the real binaries (issue 12, items 2 and 8):
getopt's failures name the option as it was typed, ipc-client points from a wrong option to
the right one, and a warm-up that would leave nothing to measure is refused up front."""

import os
import subprocess

import pytest

from conftest import IPC_CLIENT, IPCD, SANITIZER_REPORT

NOWHERE = "/nonexistent/x.sock"  # were a usage error let through, it would connect to nothing


def run(binary, *args, timeout=10):
    env = dict(os.environ, IPCD_SOCKET=NOWHERE)
    p = subprocess.run([binary, *args], capture_output=True, timeout=timeout, env=env,
                       stdin=subprocess.DEVNULL)
    err = p.stderr.decode(errors="replace")
    assert not SANITIZER_REPORT.search(err), err
    return p


def usage_error(binary, *args):
    """Runs binary with args; checks that it is a usage error (exit 2, nothing on stdout, the
    two lines on stderr, only printable text) and returns the first line without the name."""
    name = os.path.basename(binary)
    p = run(binary, *args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert p.stdout == b""
    # A stray byte (an option's code printed as a character) is no text at all.
    assert all(b == 0x0a or 0x20 <= b < 0x7f for b in p.stderr), p.stderr
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 2, p.stderr
    assert lines[1] == f"Try '{name} --help'."
    assert lines[0].startswith(f"{name}: "), lines[0]
    return lines[0][len(name) + 2:]


@pytest.mark.parametrize("args, message", [
    (["--check-config=1"], "option '--check-config' takes no argument"),
    (["--check-config="], "option '--check-config' takes no argument"),
    (["--help=x"], "option '--help' takes no argument"),
    (["--verbose=yes"], "option '--verbose' takes no argument"),
    (["--bogus=1"], "unknown option '--bogus'"),
    (["-vc"], "option '-c' needs an argument"),
    (["--ver"], "option '--ver' is ambiguous (--verbose, --version)"),
])
def test_ipcd_getopt_errors_name_the_option_as_typed(args, message):
    assert usage_error(IPCD, *args) == message


@pytest.mark.parametrize("args, message", [
    (["load", "--json=1"], "option '--json' takes no argument"),
    (["load", "--json="], "option '--json' takes no argument"),
    (["ping", "--quiet=1"], "option '--quiet' takes no argument"),
    (["load", "--help=x"], "option '--help' takes no argument"),
    (["load", "--bogus=1"], "unknown option '--bogus'"),
    (["load", "-qs"], "option '-s' needs an argument"),
    (["load", "--ver"], "option '--ver' is ambiguous (--verify, --version)"),
    (["--json=1"], "option '--json' takes no argument"),
])
def test_client_getopt_errors_name_the_option_as_typed(args, message):
    assert usage_error(IPC_CLIENT, *args) == message


def test_client_ping_count_points_to_n():
    assert usage_error(IPC_CLIENT, "ping", "-c", "3") == \
        "-c is not an option of 'ping': its count of round trips is -n, as in 'ping -n 3'"
    assert usage_error(IPC_CLIENT, "ping", "--connections", "3") == \
        "-c is not an option of 'ping': its count of round trips is -n, as in 'ping -n 3'"


@pytest.mark.parametrize("args, message", [
    (["-c", "5", "load"], "options follow the command: ipc-client load -c 5"),
    (["--json", "ping", "-n", "3"], "options follow the command: ipc-client ping --json -n 3"),
    (["-q", "suite", "qt"], "options follow the command: ipc-client suite -q qt"),
])
def test_client_options_before_the_command(args, message):
    assert usage_error(IPC_CLIENT, *args) == message


@pytest.mark.parametrize("args, message", [
    (["load", "-t", "5s", "--warmup", "10s"], "--warmup 10s must be shorter than the run (-t 5s)"),
    (["load", "-t", "1s", "--warmup", "1s"], "--warmup 1s must be shorter than the run (-t 1s)"),
    (["load", "--warmup", "1h"], "--warmup 1h must be shorter than the run (-t 5s)"),
    (["rate", "-t", "2s", "--warmup", "1h"], "--warmup 1h must be shorter than the run (-t 2s)"),
])
def test_warmup_that_leaves_nothing_to_measure_is_refused(ipcd, args, message):
    # A live server, so that a run let through would measure (nothing) and exit 0.
    d = ipcd("log = { connections = false; };\n").start_ready()
    assert usage_error(IPC_CLIENT, *args, "-s", d.sock) == message


def test_warmup_shorter_than_the_run_is_taken(ipcd):
    d = ipcd("log = { connections = false; };\n").start_ready()
    p = run(IPC_CLIENT, "load", "-s", d.sock, "-t", "300ms", "--warmup", "100ms", "--json",
            timeout=30)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert b'"warmup_s": 0.1' in p.stdout
