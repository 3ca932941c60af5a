# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.statecraft.podman.plugins.modules.container_mount import main
from ansible_collections.statecraft.podman.tests.unit.harness import dump

MOUNT_LIST = ["mount", "--format", "json"]


def mount_list(recorded, without=()):
    """The recorded ``podman mount --format json`` response, less the containers in ``without``."""
    entries = [entry for entry in recorded.json("mount-list") if entry["id"] not in without]
    return 0, dump(entries), ""


def setup_store(module_harness, recorded, created_count):
    """Point ``podman info`` at a run root containing the recorded mountpoints.json.

    ``created_count`` replaces the recorded count (2) of the created container's layer.
    """
    info = recorded.json("info")
    run_root = module_harness.tmp_path / "run"
    folder = run_root / ("%s-layers" % info["store"]["graphDriverName"])
    folder.mkdir(parents=True)
    entries = recorded.json("mountpoints")
    for entry in entries:
        if entry["count"] == 2:
            entry["count"] = created_count
    (folder / "mountpoints.json").write_text(json.dumps(entries))
    info["store"]["runRoot"] = str(run_root)
    module_harness.fake.on(["info", "--format", "json"], (0, dump(info), ""))


def inspect_rules(fake, recorded, case, name):
    container = recorded.container(case)
    for reference in (name, container["Id"]):
        fake.on(["container", "inspect", reference], recorded.result(case))
    return container


# ---------------------------------------------------------------------- mounted


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_mount_created_container(module_harness, recorded, check_mode):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    fake.on(MOUNT_LIST, mount_list(recorded, without=[created["Id"]]))
    fake.on(["mount", created["Id"]], recorded.result("mount-created"))

    kind, result = module_harness.run(main, {"name": name}, check_mode=check_mode, diff=True)

    assert kind == "exit"
    assert result["changed"] is True
    path = recorded.result("mount-created")[1].strip()
    if check_mode:
        # The prediction from the overlay layer folder matches where podman mounts it.
        assert fake.changing_calls() == []
        assert result["mount_point"] == path
    else:
        assert fake.calls == [["podman", "container", "inspect", name], ["podman"] + MOUNT_LIST,
                              ["podman", "mount", created["Id"]],
                              ["podman", "container", "inspect", created["Id"]]]
        assert result["mount_point"] == path
        assert result["diff"]["after"]["mount_point"] == path
    assert result["diff"]["before"] == {"exists": True, "status": "created",
                                        "checkpointed": False, "mount_point": None}


@pytest.mark.parametrize("case, suffix", [("inspect-created", "b"), ("inspect-running", "a")])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_already_mounted_is_no_change(module_harness, recorded, case, suffix, check_mode):
    # The running container is mounted by its runtime; the created one by podman mount.
    fake = module_harness.fake
    container = inspect_rules(fake, recorded, case, recorded.name(suffix))
    fake.replay(recorded, "mount-list")

    kind, result = module_harness.run(main, {"name": recorded.name(suffix)},
                                      check_mode=check_mode)

    assert kind == "exit"
    assert result["changed"] is False
    expected = dict((e["id"], e["mountpoint"]) for e in recorded.json("mount-list"))
    assert result["mount_point"] == expected[container["Id"]]
    assert fake.changing_calls() == []


def test_mount_missing_container(module_harness, recorded):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("missing")],
            recorded.result("inspect-all-missing"))
    kind, result = module_harness.run(main, {"name": recorded.name("missing")})
    assert kind == "fail"
    assert result["msg"] == ('Container "%s" not found. Check the name or ID with '
                             '"podman ps --all".' % recorded.name("missing"))


def test_mount_failure_reports_podman_error(module_harness, recorded):
    fake = module_harness.fake
    created = inspect_rules(fake, recorded, "inspect-created", recorded.name("b"))
    fake.on(MOUNT_LIST, mount_list(recorded, without=[created["Id"]]))
    fake.on(["mount", created["Id"]], recorded.result("mount-missing"))
    kind, result = module_harness.run(main, {"name": recorded.name("b")})
    assert kind == "fail"
    assert result["msg"].startswith("Failed to mount container %s: Error: " % created["Id"])
    assert result["rc"] == 125


# ---------------------------------------------------------------------- unmounted


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_unmount_last_mount(module_harness, recorded, check_mode):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    setup_store(module_harness, recorded, created_count=1)
    fake.on(MOUNT_LIST, mount_list(recorded), mount_list(recorded, without=[created["Id"]]))
    fake.on(["umount", created["Id"]], recorded.result("umount-created-last"))

    kind, result = module_harness.run(main, {"name": name, "state": "unmounted"},
                                      check_mode=check_mode, diff=True)

    assert kind == "exit"
    assert result["changed"] is True
    assert result["mount_point"] is None
    assert result["diff"]["after"]["mount_point"] is None
    assert result["diff"]["before"]["mount_point"]
    if check_mode:
        assert fake.changing_calls() == []
    else:
        assert fake.changing_calls() == [["podman", "umount", created["Id"]]]


def test_unmount_shared_mount_is_rejected(module_harness, recorded):
    # The recorded store: the created container's layer mounted twice.
    fake = module_harness.fake
    name = recorded.name("b")
    inspect_rules(fake, recorded, "inspect-created", name)
    setup_store(module_harness, recorded, created_count=2)
    fake.replay(recorded, "mount-list")

    kind, result = module_harness.run(main, {"name": name, "state": "unmounted"})

    assert kind == "fail"
    assert result["msg"] == ('Container "%s" is mounted 2 times: other users still hold mounts. '
                             'Set force=true to unmount it for all of them.' % name)
    assert result["mount_count"] == 2
    assert fake.changing_calls() == []


def test_unmount_with_unknown_count_unmounts_once(module_harness, recorded):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    info = recorded.json("info")
    info["store"]["runRoot"] = str(module_harness.tmp_path / "no-run-root")
    fake.on(["info", "--format", "json"], (0, dump(info), ""))
    fake.on(MOUNT_LIST, mount_list(recorded))
    fake.on(["umount", created["Id"]], recorded.result("umount-created"))
    kind, result = module_harness.run(main, {"name": name, "state": "unmounted"})
    assert kind == "exit"
    assert result["changed"] is True
    # One mount is left, and the result reports its mount point.
    assert result["mount_point"] == dict(
        (e["id"], e["mountpoint"]) for e in recorded.json("mount-list"))[created["Id"]]


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_unmount_shared_mount_with_force(module_harness, recorded, check_mode):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    fake.on(MOUNT_LIST, mount_list(recorded), mount_list(recorded, without=[created["Id"]]))
    fake.on(["umount", "--force", created["Id"]], recorded.result("umount-created"))

    kind, result = module_harness.run(main, {"name": name, "state": "unmounted", "force": True},
                                      check_mode=check_mode)

    assert kind == "exit"
    assert result["changed"] is True
    assert result["mount_point"] is None
    # With force the count does not matter, so the store is not read.
    assert ["podman", "info", "--format", "json"] not in fake.calls
    expected = [] if check_mode else [["podman", "umount", "--force", created["Id"]]]
    assert fake.changing_calls() == expected


def test_forced_unmount_that_leaves_a_mount_fails(module_harness, recorded):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    fake.replay(recorded, "mount-list")
    fake.on(["umount", "--force", created["Id"]], recorded.result("umount-created"))
    kind, result = module_harness.run(main, {"name": name, "state": "unmounted", "force": True})
    assert kind == "fail"
    assert 'exited 0 but container "%s" is still mounted' % name in result["msg"]


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_unmount_running_container_needs_force(module_harness, recorded, check_mode):
    fake = module_harness.fake
    name = recorded.name("a")
    inspect_rules(fake, recorded, "inspect-running", name)
    fake.replay(recorded, "mount-list")

    kind, result = module_harness.run(main, {"name": name, "state": "unmounted"},
                                      check_mode=check_mode)

    assert kind == "fail"
    assert result["msg"].startswith('Container "%s" is running, so its root filesystem is '
                                    'mounted by the OCI runtime' % name)
    assert result["name"] == name
    assert fake.changing_calls() == []


def test_unmount_running_container_with_force(module_harness, recorded):
    fake = module_harness.fake
    name = recorded.name("a")
    running = inspect_rules(fake, recorded, "inspect-running", name)
    fake.on(MOUNT_LIST, mount_list(recorded), mount_list(recorded, without=[running["Id"]]))
    fake.on(["umount", "--force", name], (0, name + "\n", ""))
    kind, result = module_harness.run(main, {"name": name, "state": "unmounted", "force": True})
    assert kind == "exit"
    assert result["changed"] is True
    # Podman skips a running container named by its ID, so the name is passed.
    assert fake.changing_calls() == [["podman", "umount", "--force", name]]


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_unmount_not_mounted_is_no_change(module_harness, recorded, check_mode):
    fake = module_harness.fake
    name = recorded.name("b")
    created = inspect_rules(fake, recorded, "inspect-created", name)
    fake.on(MOUNT_LIST, mount_list(recorded, without=[created["Id"]]))
    kind, result = module_harness.run(main, {"name": name, "state": "unmounted"},
                                      check_mode=check_mode)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["mount_point"] is None
    assert fake.changing_calls() == []
    assert len(fake.calls) == 2


@pytest.mark.parametrize("state, force, mounted", [
    ("mounted", False, False), ("mounted", False, True), ("unmounted", True, True),
    ("unmounted", False, False),
])
def test_check_mode_predicts_the_real_change(module_harness, recorded, state, force, mounted):
    results = {}
    for check_mode in (True, False):
        fake = module_harness.new_fake()
        name = recorded.name("b")
        created = inspect_rules(fake, recorded, "inspect-created", name)
        before = mount_list(recorded) if mounted else mount_list(recorded, without=[created["Id"]])
        fake.on(MOUNT_LIST, before, mount_list(recorded, without=[created["Id"]]))
        fake.on(["mount", created["Id"]], recorded.result("mount-created"))
        fake.on(["umount", "--force", created["Id"]], recorded.result("umount-created"))
        kind, result = module_harness.run(main, {"name": name, "state": state, "force": force},
                                          check_mode=check_mode)
        assert kind == "exit"
        results[check_mode] = result["changed"]
        if check_mode:
            assert fake.changing_calls() == []
    assert results[True] == results[False]


@pytest.mark.parametrize("args, message", [
    ({}, "missing required arguments: name"),
    ({"name": "x", "state": "absent"}, "value of state must be one of: mounted, unmounted"),
    ({"name": "x", "force": "maybe"}, "force"),
])
def test_bad_input(module_harness, args, message):
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert message in result["msg"]
    assert module_harness.fake.calls == []
