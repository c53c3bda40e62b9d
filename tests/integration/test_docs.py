# SPDX-License-Identifier: MIT
"""The manual pages document every option --help shows, so neither can drift alone."""

import os
import re
import subprocess

import pytest

from conftest import IPC_CLIENT, IPCD, SRCDIR


def options_in_help(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    longs = set(re.findall(r"(?<![\w-])--([a-z][a-z-]+)", out))
    shorts = set(re.findall(r"(?:^|\s)-([a-zA-Z]),", out, re.M))
    return longs, shorts


@pytest.mark.parametrize("binary,page", [(IPCD, "ipcd.8"), (IPC_CLIENT, "ipc-client.1")])
def test_man_page_covers_help(binary, page):
    with open(os.path.join(SRCDIR, "man", page)) as f:
        text = f.read()
    longs, shorts = options_in_help(binary)
    assert longs and shorts
    # mdoc may escape the hyphen: "Fl -name" and "Fl \\-name" read the same
    missing = [f"--{o}" for o in sorted(longs) if not re.search(rf"\bFl \\?-{o}\b", text)]
    missing += [f"-{o}" for o in sorted(shorts) if not re.search(rf"\bFl {o}\b", text)]
    assert not missing, f"{page} lacks {missing}"
