# SPDX-License-Identifier: MIT
"""A minute of verified load with a reload every second and a restart through the fd store
every ten: zero errors, zero dropped connections, every byte checked."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from conftest import IPC_CLIENT  # noqa: E402
from test_fdstore import Manager, write_conf  # noqa: E402

SECONDS = int(os.environ.get("IPCD_SOAK_SECONDS", "60"))


def test_long_load_with_reloads_and_restarts(tmp_path):
    m = Manager(str(tmp_path))
    log = str(tmp_path / "ipcd.log")
    conf = write_conf(str(tmp_path), "log = { connections = false; };\n")
    try:
        current = m.start(conf, log)
        load = subprocess.Popen([IPC_CLIENT, "load", "-s", m.sock_path, "-c", "200", "-b", "2K",
                                 "-t", str(SECONDS), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        reloads = restarts = 0
        t0 = time.monotonic()
        while load.poll() is None and time.monotonic() - t0 < SECONDS + 30:
            time.sleep(1)
            m.poll()
            if reloads % 10 == 9:
                current.send_signal(signal.SIGTERM)
                assert current.wait(30) == 0
                m.poll()
                current = m.start(conf, log)
                restarts += 1
            else:
                current.send_signal(signal.SIGHUP)
            reloads += 1
        out, err = load.communicate(timeout=60)
        assert load.returncode == 0, err
        result = json.loads(out)["result"]
        record = (f"soak: {SECONDS} s of ipc-client load (200 connections, 2 KiB chunks) with "
                  f"{reloads - restarts} reloads and {restarts} fd-store restarts: "
                  f"{result['round_trips']} round trips ({result['round_trips_per_s']:.0f}/s, "
                  f"{result['mib_per_s']:.1f} MiB/s), p99 {result['latency_us']['p99']:.0f} us, "
                  f"max {result['latency_us']['max']:.0f} us, errors {result['errors']}\n")
        print("\n" + record)
        out_file = os.environ.get("IPCD_SOAK_RECORD")
        if out_file:
            with open(out_file, "a") as f:
                f.write(record)
        assert all(v == 0 for v in result["errors"].values())
        assert result["connections"] == 200 and restarts >= SECONDS // 15
        current.send_signal(signal.SIGINT)
        assert current.wait(30) == 0
    finally:
        m.close()
