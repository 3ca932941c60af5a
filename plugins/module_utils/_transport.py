# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Run podman as a process: argument lists in, (rc, stdout, stderr) out."""

from __future__ import annotations

import json
import os


class CommandResult:
    """Exit code and outputs of one command."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def ok(self):
        return self.rc == 0


class CliTransport:
    """Run the podman executable through a ``run_command`` callable.

    ``run_command(argv)`` returns ``(rc, stdout, stderr)``. In a module it is
    ``AnsibleModule.run_command`` with variable expansion off; unit tests pass
    a fake that replays recorded output. Every argument list run is kept in
    ``commands`` so the modules can return it.
    """

    def __init__(self, executable, run_command):
        self.executable = executable
        self._run_command = run_command
        self.commands = []

    def run(self, args, data=None):
        """Run ``podman ARGS`` and return its ``CommandResult``, whatever the exit code."""
        argv = [self.executable] + list(args)
        self.commands.append(argv)
        rc, stdout, stderr = self._run_command(argv, data=data)
        return CommandResult(argv, rc, stdout or "", stderr or "")

    def run_other(self, argv):
        """Run a command that is not podman (``criu check``), also recorded."""
        self.commands.append(list(argv))
        rc, stdout, stderr = self._run_command(list(argv), data=None)
        return CommandResult(argv, rc, stdout or "", stderr or "")


def module_runner(module):
    """Return a ``run_command`` callable for ``CliTransport`` backed by ``module``."""

    def run(argv, data=None):
        return module.run_command(
            argv, data=data, binary_data=False, expand_user_and_vars=False,
            environ_update=podman_environment())

    return run


def podman_environment():
    # runc finds criu through PATH. A criu installed in /usr/local/sbin must win
    # over the distribution's /usr/sbin/criu, as it does in a root login shell,
    # but Ansible's module environment may lack /usr/local/sbin or put it later.
    path = [folder for folder in os.environ.get("PATH", "").split(os.pathsep)
            if folder and folder != "/usr/local/sbin"]
    missing = [folder for folder in ("/usr/sbin", "/sbin") if folder not in path]
    return {"PATH": os.pathsep.join(["/usr/local/sbin"] + path + missing)}


def parse_json_output(text):
    """Parse podman's JSON output, skipping any warning lines printed before it.

    Returns the parsed value, or raises ``ValueError``.
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("[", "{")):
            return json.loads("\n".join(lines[index:]))
    raise ValueError("no JSON document in the output")
