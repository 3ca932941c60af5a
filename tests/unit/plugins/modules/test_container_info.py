# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.statecraft.podman.plugins.modules.container_info import main


def test_names_return_containers_missing_and_mounted(module_harness, recorded):
    fake = module_harness.fake
    fake.replay(recorded, "inspect-one-missing").replay(recorded, "mount-list")
    names = recorded.args("inspect-one-missing")[2:]

    kind, result = module_harness.run(main, {"name": names})

    assert kind == "exit"
    running = recorded.container("inspect-running")
    assert result["changed"] is False
    assert result["containers"] == [running]
    assert result["missing"] == [recorded.name("missing")]
    assert list(result["mounted"]) == [running["Id"]]
    assert result["commands"] == [
        [module_harness.executable] + recorded.args("inspect-one-missing"),
        [module_harness.executable, "mount", "--format", "json"]]


def test_every_name_missing_is_no_failure(module_harness, recorded):
    fake = module_harness.fake
    fake.replay(recorded, "inspect-all-missing").replay(recorded, "mount-list")
    names = recorded.args("inspect-all-missing")[2:]
    kind, result = module_harness.run(main, {"name": names})
    assert kind == "exit"
    assert result["containers"] == []
    assert result["missing"] == names


def test_no_names_lists_every_container(module_harness, recorded):
    fake = module_harness.fake
    fake.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-all"))
    fake.on(lambda argv: argv[:3] == ["podman", "container", "inspect"],
            recorded.result("inspect-two"))
    fake.replay(recorded, "mount-list")

    kind, result = module_harness.run(main, {"filters": {"status": ["running", "created"]},
                                             "last": 5})

    assert kind == "exit"
    assert fake.calls[0] == ["podman", "ps", "--format", "json", "--no-trunc", "--all",
                             "--filter", "status=running", "--filter", "status=created",
                             "--last", "5"]
    assert len(fake.calls) == 3
    expected = [recorded.name("a"), recorded.name("b")]
    assert sorted(c["Name"] for c in result["containers"]) == expected


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_check_mode_runs_the_same_read_only_commands(module_harness, recorded, check_mode):
    fake = module_harness.fake
    fake.replay(recorded, "inspect-two").replay(recorded, "mount-list")
    kind, result = module_harness.run(main, {"name": recorded.args("inspect-two")[2:]},
                                      check_mode=check_mode)
    assert kind == "exit"
    assert result["changed"] is False
    assert fake.changing_calls() == []
    assert len(fake.calls) == 2


def test_warning_is_passed_on(module_harness, recorded):
    fake = module_harness.fake
    fake.replay(recorded, "inspect-warning").replay(recorded, "mount-list")
    kind, result = module_harness.run(main, {"name": [recorded.name("a")]})
    assert kind == "exit"
    assert module_harness.warnings == [
        "Podman warning: %s" % recorded.result("inspect-warning")[2].strip()]


def test_run_command_gets_no_expansion(module_harness, recorded):
    fake = module_harness.fake
    fake.replay(recorded, "inspect-running", ["container", "inspect", recorded.name("a")])
    fake.replay(recorded, "mount-list")
    module_harness.run(main, {"name": [recorded.name("a")]})
    assert fake.run_command_kwargs["expand_user_and_vars"] is False
    assert fake.run_command_kwargs["environ_update"]["PATH"].startswith("/usr/local/sbin:")


@pytest.mark.parametrize("args, message", [
    ({"limit": 0}, "limit must be 1 or more, got 0; omit it to return every container."),
    ({"last": -2}, "limit must be 1 or more, got -2"),
    ({"nmae": ["x"]}, "Unsupported parameters"),
    ({"limit": "many"}, "limit"),
    ({"filters": ["status"]}, "filters"),
], ids=["limit-0", "alias-negative", "typo", "limit-not-int", "filters-not-dict"])
def test_bad_input(module_harness, args, message):
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert message in result["msg"]
    assert module_harness.fake.calls == []


def test_missing_executable(module_harness, tmp_path):
    missing = str(tmp_path / "nowhere" / "podman")
    kind, result = module_harness.run(main, {"name": ["x"], "executable": missing})
    assert kind == "fail"
    assert result["msg"] == ('Podman executable "%s" not found. Install podman, or set the '
                             'executable option to the full path of the podman program.'
                             % missing)
    assert result["commands"] == []


def test_podman_failure_carries_command_and_outputs(module_harness, recorded):
    fake = module_harness.fake
    fake.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("image-exists-bad-config"))
    kind, result = module_harness.run(main, {})
    assert kind == "fail"
    assert result["msg"].startswith("Failed to list containers: ")
    assert result["rc"] == 1
    assert "CONTAINERS_CONF" in result["stderr"]
    assert result["cmd"] == result["commands"][0]
    assert result["cmd"][0] == module_harness.executable
