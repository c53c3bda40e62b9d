# SPDX-License-Identifier: MIT
"""`make install` and `make uninstall` into a DESTDIR: an admin's ipcd.conf is data, never
overwritten or removed; the shipped one lands beside it as ipcd.conf.dist."""

import filecmp
import os
import subprocess

import pytest

from conftest import IPCD, SRCDIR

SHIPPED = os.path.join(SRCDIR, "conf", "ipcd.conf")


def make(target, destdir):
    """Runs the real install rules on the binaries under test, never rebuilding them."""
    build = os.path.dirname(IPCD)
    cmd = ["make", "-s", "-C", SRCDIR, target, f"DESTDIR={destdir}", f"BUILD={build}",
           "-o", os.path.join(build, "ipcd"), "-o", os.path.join(build, "ipc-client")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"make {target}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r.stdout.splitlines()


def installed(destdir):
    found = []
    for top, _dirs, files in os.walk(destdir):
        found += [os.path.relpath(os.path.join(top, f), destdir) for f in files]
    return sorted(found)


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / "dest")


def conf_of(dest):
    return os.path.join(dest, "etc", "ipcd", "ipcd.conf")


def test_fresh_install_puts_the_shipped_config_in_place_and_uninstall_removes_all(dest):
    assert make("install", dest) == []
    conf = conf_of(dest)
    assert filecmp.cmp(SHIPPED, conf, shallow=False)
    assert not os.path.exists(conf + ".dist")
    assert "usr/local/sbin/ipcd" in installed(dest)
    assert make("install", dest) == [], "a second install over the shipped file says nothing"

    assert make("uninstall", dest) == []
    assert installed(dest) == [], "an unmodified config is removed with everything else"
    assert not os.path.exists(os.path.dirname(conf))


def test_install_keeps_an_edited_config_and_ships_dist_beside_it(dest):
    make("install", dest)
    conf = conf_of(dest)
    edited = "# the admin's own\nlimits: { max_connections = 7; };\n"
    with open(conf, "w") as f:
        f.write(edited)
    os.chmod(conf, 0o600)

    out = make("install", dest)
    assert out == [f"install: kept {conf} as it is; the shipped one is {conf}.dist"]
    with open(conf) as f:
        assert f.read() == edited
    assert os.stat(conf).st_mode & 0o777 == 0o600, "not even its mode is touched"
    assert filecmp.cmp(SHIPPED, conf + ".dist", shallow=False)

    out = make("uninstall", dest)
    assert out == [f"uninstall: kept {conf}: it is not the shipped file"]
    assert installed(dest) == ["etc/ipcd/ipcd.conf"], "only the admin's file is left"
    with open(conf) as f:
        assert f.read() == edited


def test_a_symlinked_config_is_the_admins_and_never_written_through(dest, tmp_path):
    target = tmp_path / "elsewhere.conf"
    target.write_text("# kept elsewhere\n")
    conf = conf_of(dest)
    os.makedirs(os.path.dirname(conf))
    os.symlink(target, conf)

    out = make("install", dest)
    assert out == [f"install: kept {conf} as it is; the shipped one is {conf}.dist"]
    assert os.path.islink(conf) and target.read_text() == "# kept elsewhere\n"

    make("uninstall", dest)
    assert os.path.islink(conf) and target.read_text() == "# kept elsewhere\n"
