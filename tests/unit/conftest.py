# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the collection importable as ``ansible_collections.statecraft.podman`` and share fixtures.

Run from the repository root with ``python -m pytest tests/unit``. The
repository is the collection root, so pytest alone cannot import
``ansible_collections.statecraft.podman``: once per session this file makes a
temporary folder containing ``ansible_collections/statecraft/podman`` as a
symbolic link to the repository and puts that folder first on ``sys.path``.
Under ``ansible-test units`` the repository already sits at
``ansible_collections/statecraft/podman`` and nothing is linked.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_root():
    """Return the folder that contains ``ansible_collections``, linking one if needed."""
    parent = os.path.dirname(REPO_ROOT)
    if (os.path.basename(REPO_ROOT) == "podman" and os.path.basename(parent) == "statecraft"
            and os.path.basename(os.path.dirname(parent)) == "ansible_collections"):
        return os.path.dirname(os.path.dirname(parent))
    root = tempfile.mkdtemp(prefix="statecraft-podman-unit-")
    atexit.register(shutil.rmtree, root, True)
    namespace = os.path.join(root, "ansible_collections", "statecraft")
    os.makedirs(namespace)
    os.symlink(REPO_ROOT, os.path.join(namespace, "podman"))
    return root


if "ansible_collections.statecraft.podman" not in sys.modules:
    sys.path.insert(0, _collections_root())

# Imported only now, because the path above is what makes them importable.
from ansible_collections.statecraft.podman.tests.unit.harness import (  # noqa: E402
    FakePodman,
    ModuleHarness,
    Recorded,
)

VERSIONS = ("4.3", "5.4")


@pytest.fixture(params=VERSIONS, ids=lambda version: "podman-%s" % version)
def recorded(request):
    """Recorded output of one podman version; tests using it run once per version."""
    return Recorded(request.param)


@pytest.fixture
def fake_podman(tmp_path):
    """A ``run_command`` stand-in that replays podman output and keeps every argument list."""
    return FakePodman(str(tmp_path / "bin" / "podman"))


@pytest.fixture
def module_harness(monkeypatch, tmp_path):
    """Run a module's ``main()`` against a ``FakePodman`` with patched exit and fail."""
    return ModuleHarness(monkeypatch, tmp_path)
