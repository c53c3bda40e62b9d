# SPDX-License-Identifier: MIT
"""Reloads and restarts while a verified load runs: nothing is dropped, every byte checked."""

import json
import os
import signal
import subprocess
import time

from conftest import IPC_CLIENT
from test_fdstore import Manager, write_conf


def run_load(sock, seconds, connections=16):
    return subprocess.Popen([IPC_CLIENT, "load", "-s", sock, "-c", str(connections), "-b", "1K",
                             "-t", str(seconds), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def clean_result(p, timeout=60):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, f"exit {p.returncode}: {err}\n{out}"
    result = json.loads(out)["result"]
    assert all(v == 0 for v in result["errors"].values()), result["errors"]
    assert result["round_trips"] > 0
    return result


def test_a_hundred_reloads_during_a_load(ipcd):
    d = ipcd("log = { connections = false; };\nlimits = { max_connections = 100; };\n")
    d.start_ready()
    load = run_load(d.sock, 4)
    time.sleep(0.3)
    for i in range(100):
        # Alternate two valid files, so each reload really changes something.
        d.write_conf("log = { connections = false; };\n"
                     f"limits = {{ max_connections = {100 + i % 2}; }};\n")
        d.signal(signal.SIGHUP)
        time.sleep(0.025)
    result = clean_result(load)
    assert result["connections"] == 16
    d.wait_log(r"Reloaded .*: 1 setting changed")
    assert d.log().count("Reloaded") >= 50  # signals may merge, but most are separate reloads
    assert d.stop() == 0


def test_restarts_through_the_fd_store_during_a_load(workdir):
    m = Manager(workdir)
    log = os.path.join(workdir, "ipcd.log")
    conf = write_conf(workdir, "log = { connections = false; };\n")
    try:
        current = m.start(conf, log)
        load = run_load(m.sock_path, 5)
        time.sleep(0.3)
        restarts = 0
        while load.poll() is None and restarts < 20:
            current.send_signal(signal.SIGTERM)
            assert current.wait(20) == 0
            m.poll()
            current = m.start(conf, log)
            restarts += 1
            time.sleep(0.1)
        result = clean_result(load)
        assert restarts >= 10, f"only {restarts} restarts happened during the load"
        assert result["connections"] == 16
        assert open(log).read().count("Adopted 16 connections") >= 1
        current.send_signal(signal.SIGINT)
        assert current.wait(20) == 0
    finally:
        m.close()
