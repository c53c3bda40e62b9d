# SPDX-License-Identifier: MIT
"""Harness hooks for the end-to-end test: the closing "N passed, N failed" line, and the counts
in $IPCD_COUNTS for tests/e2e/run."""

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
