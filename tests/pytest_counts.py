# SPDX-License-Identifier: MIT
"""pytest plugin for the test runners (loaded with -p pytest_counts, tests/ on PYTHONPATH): the
closing "N passed, N failed" line CI reads, and the counts in $IPCD_COUNTS, which the runner
turns into its line of RESULTS."""

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
