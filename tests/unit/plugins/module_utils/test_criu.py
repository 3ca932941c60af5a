# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import shutil

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils import _criu
from ansible_collections.statecraft.podman.plugins.module_utils._errors import UnsupportedError
from ansible_collections.statecraft.podman.plugins.module_utils._transport import CliTransport
from ansible_collections.statecraft.podman.tests.unit.harness import CRIU

# What Debian 12's CRIU 3.17.1 prints for "criu check" on the project's
# kernel 6.18: a failure, with rc 1 assumed from its Error lines.
OLD_CRIU_CHECK = (1, "", "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when "
                  "initializing kerndat.\nError (criu/crtools.c:260): Could not initialize "
                  "kernel features detection.\n")


@pytest.fixture
def which_calls(monkeypatch):
    """Make ``criu`` resolve to the CRIU 4 wrapper and record each lookup."""
    calls = []
    real_which = shutil.which

    def which(name, mode=os.F_OK | os.X_OK, path=None):
        calls.append((name, path))
        if name == "criu":
            return CRIU
        return real_which(name, mode, path)

    monkeypatch.setattr(shutil, "which", which)
    return calls


@pytest.fixture
def transport(fake_podman):
    return CliTransport(fake_podman.executable, fake_podman)


def test_find_criu_searches_podman_path(which_calls, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/sbin:/usr/bin:/bin")
    assert _criu.find_criu() == CRIU
    assert which_calls == [("criu", "/usr/local/sbin:/usr/sbin:/usr/bin:/bin:/sbin")]


def test_require_criu_passes(which_calls, transport, fake_podman, recorded):
    fake_podman.criu_ok(recorded)
    assert _criu.require_criu(transport) == CRIU
    assert transport.commands == [[CRIU, "check"]]


def test_require_criu_without_criu(monkeypatch, transport, fake_podman):
    monkeypatch.setattr(shutil, "which", lambda name, mode=None, path=None: None)
    with pytest.raises(UnsupportedError) as raised:
        _criu.require_criu(transport)
    assert raised.value.msg.startswith("CRIU is not installed: no criu in PATH (/usr/local/sbin")
    assert raised.value.msg.endswith("Install CRIU (package criu) to checkpoint or restore "
                                     "containers.")
    assert fake_podman.calls == []


def test_require_criu_check_failing(which_calls, transport, fake_podman):
    fake_podman.on_other([CRIU, "check"], OLD_CRIU_CHECK)
    with pytest.raises(UnsupportedError) as raised:
        _criu.require_criu(transport)
    assert raised.value.msg == (
        'CRIU at %s fails "criu check" on this kernel (Error (criu/crtools.c:260): Could not '
        "initialize kernel features detection.), so podman cannot checkpoint or restore here. "
        "Install a CRIU release that supports kernel %s." % (CRIU, os.uname().release))
    assert raised.value.details == {"criu": CRIU, "rc": 1, "stdout": "",
                                    "stderr": OLD_CRIU_CHECK[2]}


def test_require_criu_check_failing_on_stdout(which_calls, transport, fake_podman):
    fake_podman.on_other([CRIU, "check"], (1, "Looks bad.\n", ""))
    with pytest.raises(UnsupportedError, match=r"\(Looks bad\.\)"):
        _criu.require_criu(transport)


def test_require_criu_check_failing_silently(which_calls, transport, fake_podman):
    fake_podman.on_other([CRIU, "check"], (139, "", ""))
    with pytest.raises(UnsupportedError, match=r"\(rc=139\)"):
        _criu.require_criu(transport)


def test_dirty_tracking_missing(transport, fake_podman, recorded):
    # Recorded on the project's kernel: no soft-dirty tracking, rc 1.
    fake_podman.replay(recorded, "criu-check-dirty-track")
    with pytest.raises(UnsupportedError) as raised:
        _criu.require_dirty_tracking(transport, CRIU, "pre_checkpoint")
    assert raised.value.msg.startswith("Option pre_checkpoint needs memory dirty tracking, "
                                       "which this kernel (")
    assert raised.value.msg.endswith("Take a full checkpoint without pre_checkpoint instead.")
    assert raised.value.details["rc"] == 1
    assert "Dirty tracking is OFF" in raised.value.details["stderr"]
    assert transport.commands == [[CRIU, "check", "--feature", "mem_dirty_track"]]


def test_dirty_tracking_present(transport, fake_podman):
    fake_podman.on_other([CRIU, "check", "--feature", "mem_dirty_track"], (0, "", ""))
    assert _criu.require_dirty_tracking(transport, CRIU, "with_previous") is None
