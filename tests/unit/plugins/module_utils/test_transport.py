# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from unittest import mock

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    CliTransport,
    CommandResult,
    module_runner,
    parse_json_output,
    podman_environment,
)


def test_command_result_ok_only_for_rc_zero():
    assert CommandResult(["podman"], 0, "", "").ok
    assert not CommandResult(["podman"], 1, "", "").ok
    assert not CommandResult(["podman"], 125, "[]", "Error").ok


def test_run_prefixes_executable_and_keeps_every_command(fake_podman, recorded):
    fake_podman.replay(recorded, "version").replay(recorded, "inspect-running")
    transport = CliTransport(fake_podman.executable, fake_podman)

    version = transport.run(["version", "--format", "json"])
    inspect = transport.run(recorded.args("inspect-running"), data="input")

    assert version.argv == [fake_podman.executable, "version", "--format", "json"]
    assert version.ok
    assert json.loads(version.stdout)["Client"]["Version"] == recorded.podman_version
    assert inspect.rc == 0
    assert inspect.stderr == ""
    assert transport.commands == [version.argv, inspect.argv]
    assert fake_podman.data == [None, "input"]


def test_run_turns_missing_output_into_empty_strings(fake_podman):
    fake_podman.on(["ps"], (0, None, None))
    result = CliTransport(fake_podman.executable, fake_podman).run(["ps"])
    assert (result.stdout, result.stderr) == ("", "")


def test_run_returns_failures_without_raising(fake_podman, recorded):
    fake_podman.replay(recorded, "inspect-all-missing")
    result = CliTransport(fake_podman.executable, fake_podman).run(recorded.args("inspect-all-missing"))
    assert result.rc == 125
    assert result.stdout.strip() == "[]"
    assert "no such container" in result.stderr


def test_run_other_keeps_the_command_as_given(fake_podman, recorded):
    fake_podman.criu_ok(recorded)
    transport = CliTransport(fake_podman.executable, fake_podman)
    result = transport.run_other(["/usr/local/sbin/criu", "check"])
    assert result.ok
    assert result.stdout.strip() == "Looks good."
    assert transport.commands == [["/usr/local/sbin/criu", "check"]]


def test_module_runner_disables_expansion_and_sets_path(monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    module = mock.Mock()
    module.run_command.return_value = (0, "out", "err")

    response = module_runner(module)(["/usr/bin/podman", "ps"], data="x")

    assert response == (0, "out", "err")
    module.run_command.assert_called_once_with(
        ["/usr/bin/podman", "ps"], data="x", binary_data=False, expand_user_and_vars=False,
        environ_update={"PATH": "/usr/local/sbin:/usr/bin:/bin:/usr/sbin:/sbin"})


@pytest.mark.parametrize("path, expected", [
    ("/usr/bin:/bin", "/usr/local/sbin:/usr/bin:/bin:/usr/sbin:/sbin"),
    ("/usr/sbin:/usr/local/sbin:/usr/bin:/sbin", "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin"),
    ("/usr/local/sbin:/usr/sbin:/sbin", "/usr/local/sbin:/usr/sbin:/sbin"),
    ("", "/usr/local/sbin:/usr/sbin:/sbin"),
    ("/usr/bin::/bin", "/usr/local/sbin:/usr/bin:/bin:/usr/sbin:/sbin"),
], ids=["plain", "local-sbin-late", "already-first", "empty", "empty-entry"])
def test_podman_environment_puts_local_sbin_first(monkeypatch, path, expected):
    monkeypatch.setenv("PATH", path)
    assert podman_environment() == {"PATH": expected}


@pytest.mark.parametrize("case", [
    "inspect-running", "inspect-two", "ps-all", "mount-list", "version", "info",
    "checkpoint-print-stats", "restore-import-print-stats",
])
def test_parse_json_output_reads_recorded_documents(recorded, case):
    stdout = recorded.result(case)[1]
    assert parse_json_output(stdout) == json.loads(stdout)


def test_parse_json_output_reads_partial_inspect_output(recorded):
    # rc 125 with one name missing: stdout still contains the found container.
    rc, stdout, stderr = recorded.result("inspect-one-missing")
    assert rc == 125
    containers = parse_json_output(stdout)
    assert [c["Name"] for c in containers] == [recorded.name("a")]


@pytest.mark.parametrize("case", ["inspect-all-missing", "ps-none"])
def test_parse_json_output_reads_empty_lists(recorded, case):
    assert parse_json_output(recorded.result(case)[1]) == []


def test_parse_json_output_skips_warning_lines_before_the_document(recorded):
    # Podman prints its warnings on stderr; a caller that merges the streams
    # gets them before the JSON. Built from the recorded warning and stdout.
    rc, stdout, stderr = recorded.result("inspect-warning")
    assert "level=warning" in stderr
    merged = stderr + stdout
    assert parse_json_output(merged) == json.loads(stdout)


def test_parse_json_output_skips_terminal_style_warnings(recorded):
    # The recorded warning as podman writes it to a terminal, colours removed.
    stderr = recorded.result("inspect-warning-tty")[2].replace("\x1b[33m", "").replace("\x1b[0m", "")
    assert stderr.startswith("WARN[0000] ")
    stdout = recorded.result("inspect-warning-tty")[1]
    assert parse_json_output(stderr + stdout)[0]["Name"] == recorded.name("a")


@pytest.mark.parametrize("text", [
    "",
    "sc-unit-a\n",
    "Error: no such container\n",
    "WARN[0000] something\n[not json\n",
    "{\"truncated\": \n",
], ids=["empty", "name-only", "error-text", "broken-after-warning", "truncated-object"])
def test_parse_json_output_rejects_text_without_a_document(text):
    with pytest.raises(ValueError):
        parse_json_output(text)
