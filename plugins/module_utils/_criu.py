# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Probe CRIU the way the OCI runtime will find it.

No podman command or API endpoint reports whether CRIU works, so the modules
run ``criu check`` themselves before a checkpoint or restore, with the PATH
that podman and runc get.
"""

from __future__ import annotations

import os
import shutil

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    podman_environment,
)


def find_criu():
    """Return the path of the criu that runc will run, or None."""
    return shutil.which("criu", path=podman_environment()["PATH"])


def require_criu(transport):
    """Raise ``UnsupportedError`` unless ``criu check`` passes on this host."""
    criu = find_criu()
    if criu is None:
        raise UnsupportedError(
            "CRIU is not installed: no criu in PATH (%s). Install CRIU (package criu) "
            "to checkpoint or restore containers." % podman_environment()["PATH"])
    result = transport.run_other([criu, "check"])
    if result.rc != 0:
        reason = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise UnsupportedError(
            "CRIU at %s fails \"criu check\" on this kernel (%s), so podman cannot "
            "checkpoint or restore here. Install a CRIU release that supports kernel %s."
            % (criu, reason[-1] if reason else "rc=%d" % result.rc, os.uname().release),
            criu=criu, rc=result.rc, stdout=result.stdout, stderr=result.stderr)
    return criu


def require_dirty_tracking(transport, criu, option):
    """Raise ``UnsupportedError`` when the kernel has no memory dirty tracking for ``option``."""
    result = transport.run_other([criu, "check", "--feature", "mem_dirty_track"])
    if result.rc != 0:
        raise UnsupportedError(
            "Option %s needs memory dirty tracking, which this kernel (%s) does not offer: "
            "\"criu check --feature mem_dirty_track\" failed. Take a full checkpoint "
            "without %s instead." % (option, os.uname().release, option),
            criu=criu, rc=result.rc, stdout=result.stdout, stderr=result.stderr)
