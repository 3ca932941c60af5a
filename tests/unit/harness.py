# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test doubles for the unit tests: recorded podman output, a fake podman and a module runner.

``Recorded`` reads ``fixtures/podman-<version>/index.json``, whose cases give
the argument list, exit code and output files of one real podman command.
``FakePodman`` replaces ``run_command``: it responds to each argument list
from rules that the test registers (usually recorded cases) and keeps every
argument list it was given. ``ModuleHarness`` runs a module's ``main()`` with
``AnsibleModule.run_command`` replaced by a ``FakePodman`` and with
``exit_json`` and ``fail_json`` raising, so a test reads the result.
"""

from __future__ import annotations

import copy
import json
import os

from ansible.module_utils import basic

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
CRIU = "/usr/local/sbin/criu"


class Recorded:
    """Recorded output of one podman version (``"4.3"`` or ``"5.4"``)."""

    def __init__(self, version):
        self.version = version
        self.folder = os.path.join(FIXTURES, "podman-%s" % version)
        with open(os.path.join(self.folder, "index.json")) as handle:
            index = json.load(handle)
        self.recording = index["recording"]
        self.cases = index["cases"]
        self.podman_version = self.recording["podman_version"]
        self.prefix = self.recording["container_prefix"]

    def __repr__(self):
        return "Recorded(%r)" % self.version

    def name(self, suffix):
        """Return the name of a container of the recording, such as ``name("a")``."""
        return "%s-%s" % (self.prefix, suffix)

    def text(self, filename):
        with open(os.path.join(self.folder, filename)) as handle:
            return handle.read()

    def result(self, case):
        """Return ``(rc, stdout, stderr)`` of a recorded case."""
        entry = self.cases[case]
        stdout = self.text(entry["stdout"]) if "stdout" in entry else ""
        stderr = self.text(entry["stderr"]) if "stderr" in entry else ""
        return entry["rc"], stdout, stderr

    def args(self, case):
        """Return the podman arguments of a case, without the leading ``podman``."""
        return list(self.cases[case]["argv"][1:])

    def json(self, case):
        """Return the parsed stdout of a case; a fresh copy each call."""
        return json.loads(self.result(case)[1])

    def container(self, case):
        """Return the first container of a recorded inspect case."""
        return self.json(case)[0]


def dump(document):
    """Return ``document`` as podman prints JSON, for responses that tests assemble."""
    return json.dumps(document, indent=4) + "\n"


def is_changing(argv):
    """Tell whether an argument list, as ``FakePodman`` keeps it, would change anything."""
    args = argv[1:]
    if args[:2] in (["container", "checkpoint"], ["container", "restore"]):
        return True
    if args[:1] == ["mount"]:
        return "--format" not in args
    return args[:1] in (["umount"], ["rm"], ["run"], ["create"], ["start"], ["stop"], ["rmi"])


class FakePodman:
    """Replay podman output by argument list and keep every argument list run.

    Argument lists are compared with ``argv[0]`` written as ``podman`` when it
    is the fake executable, so rules read like the recorded ones. A rule's
    response is ``(rc, stdout, stderr)`` or a callable taking the argument list
    and returning one. A rule given several responses uses them in turn and
    repeats the last. An argument list that no rule matches fails the test.
    """

    def __init__(self, executable):
        self.executable = executable
        self.calls = []
        self.data = []
        self._rules = []
        os.makedirs(os.path.dirname(executable), exist_ok=True)
        with open(executable, "w") as handle:
            handle.write("#!/bin/sh\necho 'the unit tests never run this file' >&2\nexit 99\n")
        os.chmod(executable, 0o755)

    # ------------------------------------------------------------------ rules

    def on(self, args, *responses):
        """Respond to ``podman ARGS`` (a list, or a predicate on the argument list)."""
        self._add(["podman"] + list(args) if isinstance(args, (list, tuple)) else args, responses)
        return self

    def on_other(self, argv, *responses):
        """Respond to a command that is not podman, such as ``criu check``."""
        self._add(list(argv), responses)
        return self

    def replay(self, recorded, case, args=None):
        """Respond to the arguments of a recorded case (or ``args``) with its recorded output."""
        argv = recorded.cases[case]["argv"]
        if argv[0] != "podman":
            return self.on_other(argv, recorded.result(case))
        return self.on(recorded.args(case) if args is None else args, recorded.result(case))

    def criu_ok(self, recorded):
        """Respond to ``criu check`` with its recorded success."""
        return self.replay(recorded, "criu-check")

    def _add(self, matcher, responses):
        if not responses:
            raise ValueError("a rule needs at least one response")
        self._rules.insert(0, [matcher, list(responses)])

    # ------------------------------------------------------------------ running

    def __call__(self, argv, data=None, **kwargs):
        argv = [str(part) for part in argv]
        displayed = ["podman"] + argv[1:] if argv[0] == self.executable else argv
        self.calls.append(displayed)
        self.data.append(data)
        for rule in self._rules:
            matcher, responses = rule
            if (matcher(displayed) if callable(matcher) else matcher == displayed):
                response = responses[0] if len(responses) == 1 else responses.pop(0)
                return response(displayed) if callable(response) else response
        raise AssertionError("unexpected command: %s\nrun so far: %s" % (displayed, self.calls[:-1]))

    def run_command(self, module, args, **kwargs):
        """Stand-in for ``AnsibleModule.run_command``; keeps the keyword arguments."""
        self.run_command_kwargs = kwargs
        return self(args, data=kwargs.get("data"))

    # ------------------------------------------------------------------ reading

    def podman_calls(self):
        return [argv for argv in self.calls if argv[0] == "podman"]

    def changing_calls(self):
        return [argv for argv in self.calls if is_changing(argv)]

    def calls_starting(self, *args):
        prefix = ["podman"] + list(args)
        return [argv for argv in self.calls if argv[:len(prefix)] == prefix]


class ExitJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class FailJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class ModuleHarness:
    """Run module ``main()`` functions against a ``FakePodman``.

    ``run`` returns ``("exit", result)`` or ``("fail", result)``. Warnings
    that the module gave through ``module.warn`` are in ``warnings``.
    """

    def __init__(self, monkeypatch, tmp_path):
        self.monkeypatch = monkeypatch
        self.tmp_path = tmp_path
        self.fake = FakePodman(str(tmp_path / "bin" / "podman"))
        self.warnings = []

    @property
    def executable(self):
        return self.fake.executable

    def new_fake(self):
        """Start over with an empty ``FakePodman``, for a second run of the same module."""
        self.fake = FakePodman(self.fake.executable)
        self.warnings = []
        return self.fake

    def run(self, main, args, check_mode=False, diff=False):
        module_args = dict(args)
        module_args.setdefault("executable", self.fake.executable)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        fake = self.fake
        warnings = self.warnings

        def exit_json(module, **result):
            raise ExitJson(result)

        def fail_json(module, msg=None, **result):
            result["msg"] = msg
            raise FailJson(result)

        def run_command(module, args, **kwargs):
            return fake.run_command(module, args, **kwargs)

        def warn(module, warning):
            warnings.append(warning)

        with self.monkeypatch.context() as patch:
            patch.setattr(basic.AnsibleModule, "exit_json", exit_json)
            patch.setattr(basic.AnsibleModule, "fail_json", fail_json)
            patch.setattr(basic.AnsibleModule, "run_command", run_command)
            patch.setattr(basic.AnsibleModule, "warn", warn)
            with _module_args(module_args):
                try:
                    main()
                except ExitJson as done:
                    return "exit", done.result
                except FailJson as failed:
                    return "fail", failed.result
        raise AssertionError("main() returned without exit_json or fail_json")


def _module_args(args):
    """Return a context manager that hands ``args`` to the next ``AnsibleModule``."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core before 2.19
        return _legacy_module_args(args)
    return patch_module_args(args)


class _legacy_module_args:
    def __init__(self, args):
        self.args = args

    def __enter__(self):
        self.saved = getattr(basic, "_ANSIBLE_ARGS", None)
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": self.args}).encode()

    def __exit__(self, *exc_info):
        basic._ANSIBLE_ARGS = self.saved


def with_changes(document, **changes):
    """Return a deep copy of a recorded container with top-level or ``State`` keys changed."""
    result = copy.deepcopy(document)
    for key, value in changes.items():
        if key.startswith("State_"):
            result.setdefault("State", {})[key[len("State_"):]] = value
        else:
            result[key] = value
    return result
