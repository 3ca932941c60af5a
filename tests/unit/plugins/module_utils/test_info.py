# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    CommandError,
    InvalidRequestError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._info import gather_containers
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import PodmanRuntime
from ansible_collections.statecraft.podman.plugins.module_utils._transport import CliTransport
from ansible_collections.statecraft.podman.tests.unit.harness import dump

MAX_CALLS = 3
FOUND_CASES = ("inspect-running", "inspect-created", "inspect-imported", "inspect-failed-import")


@pytest.fixture
def runtime(fake_podman):
    return PodmanRuntime(CliTransport(fake_podman.executable, fake_podman))


def params(**values):
    defaults = {"name": None, "all": True, "filters": None, "limit": None, "size": False,
                "sync": False, "external": False}
    defaults.update(values)
    return defaults


def found_containers(recorded):
    """Four recorded containers: running, created, imported and left by a failed import."""
    return [recorded.container(case) for case in FOUND_CASES]


def names_of(containers):
    return [c.get("Name") or c["Names"][0] for c in containers]


def inspect_response(recorded, containers, missing):
    """An inspect response assembled from recorded entries, with podman's error lines."""
    stderr = "".join("Error: inspecting object: no such container %s\n" % name for name in missing)
    return (125 if missing else 0), dump(containers), stderr


def ps_entries(recorded, containers):
    """``podman ps`` entries for recorded containers, from the recorded listing's shape."""
    template = recorded.json("ps-all")[0]
    entries = []
    for container in containers:
        entry = copy.deepcopy(template)
        entry.update(Id=container["Id"], Names=[container["Name"]],
                     State=container["State"]["Status"])
        entries.append(entry)
    return entries


def test_one_name_takes_two_calls(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "inspect-running", ["container", "inspect", recorded.name("a")])
    fake_podman.replay(recorded, "mount-list")

    result = gather_containers(runtime, params(name=[recorded.name("a")]))

    assert fake_podman.calls == [["podman", "container", "inspect", recorded.name("a")],
                                 ["podman", "mount", "--format", "json"]]
    running = recorded.container("inspect-running")
    assert result["containers"] == [running]
    assert result["missing"] == []
    mount_points = dict((e["id"], e["mountpoint"]) for e in recorded.json("mount-list"))
    assert result["mounted"] == {running["Id"]: mount_points[running["Id"]]}


def test_six_names_with_two_missing_take_two_calls(runtime, fake_podman, recorded):
    containers = found_containers(recorded)
    missing = [recorded.name("missing"), recorded.name("missing2")]
    names = names_of(containers)[:2] + [missing[0]] + names_of(containers)[2:] + [missing[1]]
    fake_podman.on(["container", "inspect"] + names, inspect_response(recorded, containers, missing))
    fake_podman.replay(recorded, "mount-list")

    result = gather_containers(runtime, params(name=names))

    assert len(fake_podman.calls) == 2 <= MAX_CALLS
    assert fake_podman.calls[0] == ["podman", "container", "inspect"] + names
    assert names_of(result["containers"]) == names_of(containers)
    assert result["missing"] == missing


def test_all_names_missing(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "inspect-all-missing").replay(recorded, "mount-list")
    names = recorded.args("inspect-all-missing")[2:]
    result = gather_containers(runtime, params(name=names))
    assert result == {"containers": [], "missing": names, "mounted": {}}
    assert len(fake_podman.calls) == 2


def test_repeated_names_are_inspected_once(runtime, fake_podman, recorded):
    name = recorded.name("a")
    fake_podman.replay(recorded, "inspect-running", ["container", "inspect", name])
    fake_podman.replay(recorded, "mount-list")
    result = gather_containers(runtime, params(name=[name, name, name]))
    assert fake_podman.calls[0] == ["podman", "container", "inspect", name]
    assert len(result["containers"]) == 1


def inspect_of(ids):
    """Match one ``container inspect`` of exactly ``ids``, in any order."""
    return lambda argv: argv[:3] == ["podman", "container", "inspect"] and (
        sorted(argv[3:]) == sorted(ids))


def test_no_names_lists_then_inspects_in_three_calls(runtime, fake_podman, recorded):
    listed = recorded.json("ps-all")
    ids = [entry["Id"] for entry in listed]
    fake_podman.replay(recorded, "ps-all", ["ps", "--format", "json", "--no-trunc", "--all"])
    fake_podman.on(inspect_of(ids), recorded.result("inspect-two"))
    fake_podman.replay(recorded, "mount-list")

    result = gather_containers(runtime, params())

    assert [argv[:3] for argv in fake_podman.calls] == [
        ["podman", "ps", "--format"], ["podman", "container", "inspect"],
        ["podman", "mount", "--format"]]
    assert fake_podman.calls[0] == ["podman", "ps", "--format", "json", "--no-trunc", "--all"]
    # Podman lists the oldest first (a, then b); the result is newest first.
    assert [c["Name"] for c in result["containers"]] == [recorded.name("b"), recorded.name("a")]
    assert result["missing"] == []


def test_no_containers_at_all(runtime, fake_podman, recorded):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-none"))
    fake_podman.replay(recorded, "mount-list")
    assert gather_containers(runtime, params()) == {"containers": [], "missing": [], "mounted": {}}
    assert len(fake_podman.calls) == 2


def test_container_removed_between_listing_and_inspect_is_left_out(
        runtime, fake_podman, recorded):
    listed = recorded.json("ps-all")
    vanished = dict(listed[0], Id="f" * 64, Names=[recorded.name("vanished")])
    ids = [vanished["Id"]] + [entry["Id"] for entry in listed]
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], (0, dump([vanished] + listed), ""))
    rc, stdout, unused = recorded.result("inspect-two")
    fake_podman.on(inspect_of(ids),
                   (125, stdout, "Error: inspecting object: no such container %s\n" % vanished["Id"]))
    fake_podman.replay(recorded, "mount-list")
    result = gather_containers(runtime, params())
    assert set(c["Id"] for c in result["containers"]) == set(e["Id"] for e in listed)
    assert result["missing"] == []


PARAM_CASES = [
    params(name=["x"]),
    params(name=["x", "y"], filters={"status": "running"}),
    params(name=["x"], limit=2),
    params(name=["x"], all=False),
    params(name=["x"], sync=True),
    params(name=["x"], external=True, size=True),
    params(),
    params(filters={"label": ["a=b", "c=d"]}, limit=5, sync=True, external=True, size=True),
    params(all=False),
]


@pytest.mark.parametrize("values", PARAM_CASES, ids=[
    "name", "name-filter", "name-limit", "name-running", "name-sync", "name-external-size",
    "everything", "all-options", "running"])
def test_never_more_than_three_calls(runtime, fake_podman, recorded, values):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-all"))
    fake_podman.on(lambda argv: argv[:3] == ["podman", "container", "inspect"],
                   recorded.result("inspect-two"))
    fake_podman.replay(recorded, "mount-list")
    gather_containers(runtime, values)
    assert len(fake_podman.calls) <= MAX_CALLS
    assert fake_podman.changing_calls() == []


@pytest.mark.parametrize("values, ps_flags", [
    (params(filters={"status": "running", "label": ["app=web", "tier=db"]}),
     ["--all", "--filter", "label=app=web", "--filter", "label=tier=db",
      "--filter", "status=running"]),
    (params(filters={"name": "^web$"}, all=False), ["--filter", "name=^web$"]),
    (params(limit=2), ["--all", "--last", "2"]),
    (params(sync=True, external=True), ["--all", "--sync", "--external"]),
], ids=["filters", "running-name-filter", "limit", "sync-external"])
def test_listing_argv(runtime, fake_podman, recorded, values, ps_flags):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-none"))
    fake_podman.replay(recorded, "mount-list")
    gather_containers(runtime, values)
    assert fake_podman.calls[0] == ["podman", "ps", "--format", "json", "--no-trunc"] + ps_flags


def test_size_adds_flag_to_inspect(runtime, fake_podman, recorded):
    name = recorded.name("a")
    fake_podman.on(["container", "inspect", "--size", name], recorded.result("inspect-running"))
    fake_podman.replay(recorded, "mount-list")
    gather_containers(runtime, params(name=[name], size=True))
    assert fake_podman.calls[0] == ["podman", "container", "inspect", "--size", name]


def test_names_with_filters_keep_only_listed_containers(runtime, fake_podman, recorded):
    running, created = recorded.json("inspect-two")
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"],
                   (0, dump(ps_entries(recorded, [running])), ""))
    fake_podman.replay(recorded, "inspect-two").replay(recorded, "mount-list")

    result = gather_containers(runtime, params(name=[running["Name"], created["Name"]],
                                               filters={"status": "running"}))

    assert result["containers"] == [running]
    # The created container exists, so it is not missing; the filter left it out.
    assert result["missing"] == []
    assert len(fake_podman.calls) == 3


def external_entry(recorded, flagged=True):
    """A ps entry for a container another tool made; synthetic, from a recorded entry's shape.

    Podman 4.3 and 5.4 print no ``IsExternal`` key and show the state
    ``storage``; ``flagged`` adds the key as well.
    """
    entry = copy.deepcopy(recorded.json("ps-all")[0])
    entry.update(Id="e" * 64, Names=["buildah-working-container"], State="storage",
                 Status="Storage")
    if flagged:
        entry["IsExternal"] = True
    return entry


@pytest.mark.parametrize("flagged", [True, False], ids=["IsExternal", "state-storage"])
def test_external_containers_come_from_the_listing(runtime, fake_podman, recorded, flagged):
    listed = recorded.json("ps-all")
    external = external_entry(recorded, flagged)
    fake_podman.on(["ps", "--format", "json", "--no-trunc", "--all", "--external"],
                   (0, dump(listed + [external]), ""))
    ids = [entry["Id"] for entry in listed]
    fake_podman.on(inspect_of(ids), recorded.result("inspect-two"))
    fake_podman.replay(recorded, "mount-list")

    result = gather_containers(runtime, params(external=True))

    # Podman cannot inspect it, so only the others are inspected.
    assert external["Id"] not in fake_podman.calls[1]
    returned = dict((c["Id"], c) for c in result["containers"])
    assert returned[external["Id"]]["IsExternal"] is True
    assert returned[external["Id"]]["Names"] == ["buildah-working-container"]
    assert len(result["containers"]) == len(listed) + 1


def test_external_container_by_name_is_not_missing(runtime, fake_podman, recorded):
    external = external_entry(recorded)
    running = recorded.container("inspect-running")
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"],
                   (0, dump(ps_entries(recorded, [running]) + [external]), ""))
    names = [running["Name"], "buildah-working-container", recorded.name("missing")]
    fake_podman.on(["container", "inspect"] + names,
                   inspect_response(recorded, [running], names[1:]))
    fake_podman.replay(recorded, "mount-list")

    result = gather_containers(runtime, params(name=names, external=True))

    assert [c["Id"] for c in result["containers"]] == [running["Id"], external["Id"]]
    assert result["containers"][0] == running
    assert result["missing"] == [recorded.name("missing")]
    assert len(fake_podman.calls) == 3


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_below_one_is_rejected(runtime, fake_podman, limit):
    with pytest.raises(InvalidRequestError, match="limit must be 1 or more, got %d" % limit):
        gather_containers(runtime, params(limit=limit))
    assert fake_podman.calls == []


def test_listing_failure_raises(runtime, fake_podman, recorded):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"],
                   recorded.result("image-exists-bad-config"))
    with pytest.raises(CommandError, match="Failed to list containers"):
        gather_containers(runtime, params())
