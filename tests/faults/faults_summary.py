# SPDX-License-Identifier: MIT
"""pytest plugin for tests/faults/run (loaded with -p, not a conftest.py, so that collecting
tests/integration in the same session keeps its own conftest): the closing "N passed, N failed"
line, and the counts file that run turns into a RESULTS line."""

import os


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    terminalreporter.write_line(f"{passed} passed, {failed} failed")
    counts = os.environ.get("IPCD_COUNTS")
    if counts:
        with open(counts, "w") as f:
            f.write(f"{passed} {failed}\n")
