# SPDX-License-Identifier: MIT
"""The command line and the configuration file, through the real binary."""

import os
import subprocess

from conftest import IPCD, SRCDIR, connect, is_closed_by_peer
from conftest import run_ipcd as run, write_file as write


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("ipcd ")
    r = run("--help")
    assert r.returncode == 0 and "--check-config" in r.stdout and r.stderr == ""


def test_usage_errors_are_one_line_and_exit_2():
    for args, problem in [(["--bogus"], "unknown option '--bogus'"),
                          (["-x"], "unknown option '-x'"),
                          (["-c"], "option '-c' needs an argument"),
                          (["stray"], "unexpected argument 'stray'"),
                          (["--listen", ""], "invalid socket address '': empty"),
                          (["--listen", "/" + "x" * 120], "too long")]:
        r = run(*args)
        assert r.returncode == 2, args
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 2 and problem in lines[0], r.stderr
        assert lines[1] == "Try 'ipcd --help'."


def test_check_config_prints_a_configuration_that_reads_back(workdir):
    conf = write(os.path.join(workdir, "a.conf"),
                 'limits = { buffer_size = "1M"; idle_timeout = "90s"; };\n'
                 'access = { allow_uids = ( "root", 1000 ); };\nworkers = 3;\n')
    r = run("--check-config", "-c", conf)
    assert r.returncode == 0, r.stderr
    assert "buffer_size = 1048576;" in r.stdout and "allow_uids = [ 0, 1000 ];" in r.stdout
    dump = write(os.path.join(workdir, "dump.conf"), r.stdout)
    again = run("--check-config", "-c", dump)
    assert again.returncode == 0 and again.stdout == r.stdout


def test_shipped_config_is_valid_and_all_defaults():
    shipped = run("--check-config", "-c", os.path.join(SRCDIR, "conf", "ipcd.conf"))
    assert shipped.returncode == 0, shipped.stderr
    assert shipped.stdout == run("--check-config", "-c", "/dev/null").stdout


def test_check_config_reports_every_error_with_file_and_line(workdir):
    conf = write(os.path.join(workdir, "bad.conf"),
                 "limits = {\n  max_conections = 5;\n  buffer_size = 12;\n"
                 "  max_connection_bytes = 5000000000;\n};\nworkers = \"two\";\n")
    r = run("--check-config", "-c", conf)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == (f'{conf}:2: unknown setting "limits.max_conections" '
                        '(did you mean "limits.max_connections"?)')
    assert lines[1].startswith(f"{conf}:3: limits.buffer_size = 12: out of range (allowed: 512 ")
    assert lines[2].startswith(f"{conf}:4: limits.max_connection_bytes = 5000000000: too large "
                               "for a plain integer")
    assert lines[3].startswith(f'{conf}:6: workers = "two": must be an integer')
    assert len(lines) == 5 and "not valid" in lines[4]


def test_missing_config_file(workdir):
    missing = os.path.join(workdir, "nope.conf")
    r = run("--check-config", "-c", missing)
    assert r.returncode == 1
    assert f"{missing}: cannot read: No such file or directory" in r.stderr


def test_daemon_never_runs_on_a_bad_file(ipcd):
    d = ipcd("limits = { max_connections = 0; };\n")
    d.start()
    with connect(d.sock) as c:  # wakes it: systemd-socket-activate execs ipcd now
        assert is_closed_by_peer(c)
    assert d.wait_exit() == 1
    assert d.notify.find("READY=1") is None
    assert "ipcd.conf:1: limits.max_connections = 0: out of range" in d.log()


def test_check_config_that_cannot_be_written_is_a_failure():
    with open("/dev/full", "w") as full:
        r = subprocess.run([IPCD, "--check-config", "-c", "/dev/null"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=10)
    assert r.returncode == 1
    assert "Failed to write the configuration" in r.stderr
