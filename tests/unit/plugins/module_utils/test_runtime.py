# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import time

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    CommandError,
    ContainerNotFoundError,
    ContainerStateError,
    InvalidRequestError,
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    CRIU_LOG_LINES,
    LISTING_ATTEMPTS,
    PodmanRuntime,
    container_summary,
    criu_error_lines,
    format_version,
    matches_reference,
    parse_version,
    read_log_tail,
)
from ansible_collections.statecraft.podman.plugins.module_utils._transport import CliTransport
from ansible_collections.statecraft.podman.tests.unit.harness import Recorded, dump


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def runtime(fake_podman, warnings):
    return PodmanRuntime(CliTransport(fake_podman.executable, fake_podman), warn=warnings.append)


def version_response(version):
    """A ``podman version --format json`` response for a version no machine here has."""
    return 0, dump({"Client": {"APIVersion": version, "Version": version}}), ""


# ---------------------------------------------------------------------- helpers


@pytest.mark.parametrize("text, expected", [
    ("4.3.1", (4, 3, 1)), ("5.4.2", (5, 4, 2)), ("5.4.2-dev", (5, 4, 2)), ("4.9", (4, 9, 0)),
    ("podman version 5.7.0", (5, 7, 0)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", None, "dev"])
def test_parse_version_rejects_text_without_a_number(text):
    with pytest.raises(ValueError):
        parse_version(text)


def test_format_version():
    assert format_version((5, 7, 0)) == "5.7.0"


def test_matches_reference_by_name_id_and_prefix(recorded):
    container = recorded.container("inspect-running")
    assert matches_reference(container, recorded.name("a"))
    assert matches_reference(container, container["Id"])
    assert matches_reference(container, container["Id"][:12])
    assert matches_reference(container, container["Id"][:3])
    assert matches_reference(container, container["Id"][:12].upper())
    assert not matches_reference(container, container["Id"][:2])
    assert not matches_reference(container, recorded.name("b"))


def test_matches_reference_reads_ps_entries(recorded):
    entry = recorded.json("ps-all")[0]
    assert matches_reference(entry, entry["Names"][0])
    assert matches_reference(entry, entry["Id"][:12])


@pytest.mark.parametrize("case, expected", [
    ("inspect-running", ("running", False)),
    ("inspect-checkpointed", ("exited", True)),
    ("inspect-created", ("created", False)),
    ("inspect-leave-running", ("running", False)),
    ("inspect-after-failed-export", (None, False)),
])
def test_container_summary_of_recorded_states(recorded, case, expected):
    # After a failed export, podman 4.3 reports "exited" and 5.4 "stopped".
    if case == "inspect-after-failed-export":
        expected = ({"4.3": "exited", "5.4": "stopped"}[recorded.version], False)
    summary = container_summary(recorded.container(case), mount_point="/m")
    assert (summary["status"], summary["checkpointed"]) == expected
    assert summary["exists"]
    assert summary["mount_point"] == "/m"


def test_container_summary_of_no_container():
    assert container_summary(None) == {
        "exists": False, "status": None, "checkpointed": False, "mount_point": None}
    assert container_summary({})["exists"] is False


def test_read_log_tail_returns_last_lines(tmp_path):
    log = tmp_path / "restore.log"
    log.write_text("".join("line %d\n" % number for number in range(100)))
    tail = read_log_tail(str(log))
    assert len(tail) == CRIU_LOG_LINES
    assert tail[-1] == "line 99"
    assert tail[0] == "line 60"
    assert read_log_tail(str(log), lines=2) == ["line 98", "line 99"]


def test_read_log_tail_of_removed_log_is_empty(tmp_path):
    assert read_log_tail(str(tmp_path / "gone.log")) == []


# ---------------------------------------------------------------------- version


def test_version_is_read_once(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "version")
    assert runtime.version() == parse_version(recorded.podman_version)
    assert runtime.version() == parse_version(recorded.podman_version)
    assert fake_podman.calls == [["podman", "version", "--format", "json"]]


@pytest.mark.parametrize("response", [
    (0, "podman version 4.3.1\n", ""),
    (0, dump({"Client": {"Version": "unknown"}}), ""),
    (125, "", "Error: cannot connect\n"),
], ids=["not-json", "no-number", "failed"])
def test_version_errors_raise_command_error(runtime, fake_podman, response):
    fake_podman.on(["version", "--format", "json"], response)
    with pytest.raises(CommandError, match="read the podman version"):
        runtime.version()


def test_tcp_close_needs_podman_5_7(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "version")
    with pytest.raises(UnsupportedError) as raised:
        runtime.check_option_versions({"tcp_close": True})
    assert raised.value.msg == (
        "Option tcp_close (podman --tcp-close) needs Podman >= 5.7.0, this host has %s."
        % recorded.podman_version)
    assert raised.value.details == {"podman_version": recorded.podman_version}


@pytest.mark.parametrize("version", ["5.7.0", "5.8.1", "6.0.0"])
def test_tcp_close_passes_on_newer_podman(runtime, fake_podman, version):
    # Synthetic version responses: no podman >= 5.7 runs on these machines.
    fake_podman.on(["version", "--format", "json"], version_response(version))
    runtime.check_option_versions({"tcp_close": True})


def test_unset_options_need_no_version(runtime, fake_podman):
    runtime.check_option_versions({"tcp_close": False, "keep": True})
    assert fake_podman.calls == []


# ---------------------------------------------------------------------- inspect


def test_inspect_two_found(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "inspect-two")
    containers, missing = runtime.inspect_containers([recorded.name("a"), recorded.name("b")])
    assert [c["Name"] for c in containers] == [recorded.name("a"), recorded.name("b")]
    assert missing == []
    assert fake_podman.calls == [["podman"] + recorded.args("inspect-two")]


def test_inspect_one_missing_returns_found_and_missing(runtime, fake_podman, recorded):
    # rc 125: JSON for A on stdout, the error for B on stderr.
    fake_podman.replay(recorded, "inspect-one-missing")
    containers, missing = runtime.inspect_containers([recorded.name("a"), recorded.name("missing")])
    assert [c["Name"] for c in containers] == [recorded.name("a")]
    assert missing == [recorded.name("missing")]


def test_inspect_all_missing(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "inspect-all-missing")
    names = [recorded.name("missing"), recorded.name("missing2")]
    assert runtime.inspect_containers(names) == ([], names)


def test_inspect_by_id_prefix_is_not_missing(runtime, fake_podman, recorded):
    container = recorded.container("inspect-running")
    prefix = container["Id"][:12]
    fake_podman.on(["container", "inspect", prefix], recorded.result("inspect-running"))
    assert runtime.inspect_containers([prefix]) == ([container], [])


def test_inspect_with_size_adds_the_flag(runtime, fake_podman, recorded):
    fake_podman.on(["container", "inspect", "--size", recorded.name("a")],
                   recorded.result("inspect-running"))
    assert runtime.inspect_containers([recorded.name("a")], size=True)[1] == []


def test_inspect_nothing_runs_nothing(runtime, fake_podman):
    assert runtime.inspect_containers([]) == ([], [])
    assert fake_podman.calls == []


def test_inspect_failure_with_everything_found_raises(runtime, fake_podman, recorded):
    # rc 125 although every name was found: some other failure, not a missing name.
    rc, stdout, unused = recorded.result("inspect-running")
    fake_podman.on(recorded.args("inspect-running"), (125, stdout, "Error: something else\n"))
    with pytest.raises(CommandError, match="Failed to inspect containers: Error: something else"):
        runtime.inspect_containers([recorded.name("a")])


def test_inspect_output_that_is_not_json_raises(runtime, fake_podman, recorded):
    fake_podman.on(recorded.args("inspect-running"), (0, "sc-unit\n", ""))
    with pytest.raises(CommandError) as raised:
        runtime.inspect_containers([recorded.name("a")])
    assert raised.value.rc == 0
    assert raised.value.stdout == "sc-unit\n"


def test_inspect_reports_recorded_warning(runtime, fake_podman, recorded, warnings):
    # A warning on stderr with valid JSON on stdout: the data is used and the
    # warning is passed on.
    fake_podman.replay(recorded, "inspect-warning")
    containers, missing = runtime.inspect_containers([recorded.name("a")])
    assert containers[0]["Name"] == recorded.name("a")
    assert missing == []
    stderr = recorded.result("inspect-warning")[2]
    assert warnings == ["Podman warning: %s" % stderr.strip()]


def test_terminal_style_warning_is_reported(runtime, fake_podman, recorded, warnings):
    # The recorded terminal form, colours removed: WARN[0000] ...
    rc, stdout, stderr = recorded.result("inspect-warning-tty")
    plain = stderr.replace("\x1b[33m", "").replace("\x1b[0m", "")
    fake_podman.on(recorded.args("inspect-warning-tty"), (rc, stdout, plain))
    runtime.inspect_containers([recorded.name("a")])
    assert warnings == ["Podman warning: %s" % plain.strip()]


def test_error_lines_on_success_are_not_warnings(runtime, fake_podman, recorded, warnings):
    # The container a failed import leaves behind inspects with rc 0 and a
    # level=error line about its network namespace.
    fake_podman.replay(recorded, "inspect-failed-import")
    assert "level=error" in recorded.result("inspect-failed-import")[2]
    containers, unused = runtime.inspect_containers([recorded.name("broken")])
    assert containers[0]["State"]["Status"] == "created"
    assert warnings == []


def test_get_container_raises_not_found(runtime, fake_podman, recorded):
    fake_podman.on(["container", "inspect", recorded.name("missing")],
                   recorded.result("inspect-all-missing"))
    assert runtime.inspect_container(recorded.name("missing")) is None
    with pytest.raises(ContainerNotFoundError) as raised:
        runtime.get_container(recorded.name("missing"))
    assert raised.value.msg == ('Container "%s" not found. Check the name or ID with '
                                '"podman ps --all".' % recorded.name("missing"))
    assert raised.value.details == {"name": recorded.name("missing")}


# ---------------------------------------------------------------------- listing


@pytest.mark.parametrize("kwargs, extra", [
    ({}, ["--all"]),
    ({"all_containers": False}, []),
    ({"filters": {"status": "running"}}, ["--all", "--filter", "status=running"]),
    ({"filters": {"status": "exited", "label": ["app=web", "tier=db"]}},
     ["--all", "--filter", "label=app=web", "--filter", "label=tier=db",
      "--filter", "status=exited"]),
    ({"filters": {"restart-policy": True}}, ["--all", "--filter", "restart-policy=true"]),
    ({"filters": {"exited": 0}}, ["--all", "--filter", "exited=0"]),
    ({"limit": 3}, ["--all", "--last", "3"]),
    ({"sync": True}, ["--all", "--sync"]),
    ({"external": True}, ["--all", "--external"]),
    ({"all_containers": False, "filters": {"name": "^web$"}, "limit": 1, "sync": True,
      "external": True},
     ["--filter", "name=^web$", "--last", "1", "--sync", "--external"]),
], ids=["default", "running-only", "one-filter", "sorted-and-lists", "bool-filter",
        "int-filter", "limit", "sync", "external", "everything"])
def test_list_containers_argv(runtime, fake_podman, recorded, kwargs, extra):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-all"))
    listed = runtime.list_containers(**kwargs)
    assert fake_podman.calls == [["podman", "ps", "--format", "json", "--no-trunc"] + extra]
    assert listed == recorded.json("ps-all")


def test_list_containers_empty(runtime, fake_podman, recorded):
    fake_podman.on(lambda argv: argv[:2] == ["podman", "ps"], recorded.result("ps-none"))
    assert runtime.list_containers() == []


def test_mounted_containers_maps_ids_to_mount_points(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "mount-list")
    mounted = runtime.mounted_containers()
    expected = dict((entry["id"], entry["mountpoint"]) for entry in recorded.json("mount-list"))
    assert mounted == expected
    assert recorded.container("inspect-running")["Id"] in mounted


# Only Podman 4.3 fails the whole listing when another process removes a
# container during it; the race was recorded on 4.3 only.
RACE_CASES = ["mount-list-race", "mount-list-race-database"]


@pytest.fixture
def podman43():
    return Recorded("4.3")


@pytest.mark.parametrize("race", RACE_CASES)
def test_mounted_containers_retries_race(runtime, fake_podman, podman43, race):
    fake_podman.on(["mount", "--format", "json"], podman43.result(race),
                   podman43.result("mount-list"))
    mounted = runtime.mounted_containers()
    expected = dict((entry["id"], entry["mountpoint"]) for entry in podman43.json("mount-list"))
    assert mounted == expected
    assert fake_podman.calls == [["podman", "mount", "--format", "json"]] * 2


@pytest.mark.parametrize("race", RACE_CASES)
def test_mounted_containers_gives_up_after_five(runtime, fake_podman, podman43, race, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    fake_podman.on(["mount", "--format", "json"], podman43.result(race))
    with pytest.raises(CommandError) as raised:
        runtime.mounted_containers()
    assert raised.value.msg.startswith("Failed to list mounted containers: %s (rc=125, "
                                       % podman43.result(race)[2].strip())
    assert LISTING_ATTEMPTS == 5
    assert fake_podman.calls == [["podman", "mount", "--format", "json"]] * 5


@pytest.mark.parametrize("response", [
    (125, "", "Error: something else\n"),
    (1, "", "Error: container not known\n"),
], ids=["other-error", "other-rc"])
def test_mounted_containers_no_retry_otherwise(runtime, fake_podman, response):
    fake_podman.on(["mount", "--format", "json"], response)
    with pytest.raises(CommandError, match="list mounted containers"):
        runtime.mounted_containers()
    assert len(fake_podman.calls) == 1


# ---------------------------------------------------------------------- images and storage


def test_image_exists(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "image-exists").replay(recorded, "image-exists-missing")
    assert runtime.image_exists(recorded.args("image-exists")[-1]) is True
    assert runtime.image_exists(recorded.args("image-exists-missing")[-1]) is False


def test_image_exists_with_broken_configuration_raises(runtime, fake_podman, recorded):
    # A missing CONTAINERS_CONF makes every command exit 1, "exists" included.
    rc, stdout, stderr = recorded.result("image-exists-bad-config")
    assert rc == 1
    assert "CONTAINERS_CONF" in stderr
    fake_podman.replay(recorded, "image-exists-bad-config")
    with pytest.raises(CommandError, match="check whether image .* exists"):
        runtime.image_exists(recorded.args("image-exists-bad-config")[-1])


def test_checkpoint_image_name_from_annotation(runtime, fake_podman, recorded):
    image = recorded.args("image-inspect-checkpoint")[-1]
    fake_podman.on(["image", "exists", image], (0, "", ""))
    fake_podman.replay(recorded, "image-inspect-checkpoint")
    assert runtime.checkpoint_image_name(image) == recorded.name("a")


def test_checkpoint_image_name_of_plain_image_raises(runtime, fake_podman, recorded):
    image = recorded.args("image-inspect-plain")[-1]
    fake_podman.replay(recorded, "image-exists").replay(recorded, "image-inspect-plain")
    with pytest.raises(InvalidRequestError, match="is not a checkpoint image"):
        runtime.checkpoint_image_name(image)


def test_checkpoint_image_name_of_missing_image_raises(runtime, fake_podman, recorded):
    image = recorded.args("image-exists-missing")[-1]
    fake_podman.replay(recorded, "image-exists-missing")
    with pytest.raises(InvalidRequestError, match='Checkpoint image ".*" not found'):
        runtime.checkpoint_image_name(image)
    assert fake_podman.calls == [["podman", "image", "exists", image]]


def test_pod_id_from_name(runtime, fake_podman, recorded):
    # Podman 4.3 prints the pod as an object, 5.4 as a list of one.
    fake_podman.replay(recorded, "pod-inspect")
    document = recorded.json("pod-inspect")
    pod = document[0] if recorded.version == "5.4" else document
    assert runtime.pod_id(recorded.args("pod-inspect")[-1]) == pod["Id"]
    assert fake_podman.calls == [["podman"] + recorded.args("pod-inspect")]


def test_pod_inspect_shape_differs(recorded):
    expected = {"4.3": dict, "5.4": list}[recorded.version]
    assert isinstance(recorded.json("pod-inspect"), expected)


def test_pod_id_of_missing_pod_raises(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "pod-inspect-missing")
    pod = recorded.args("pod-inspect-missing")[-1]
    with pytest.raises(InvalidRequestError) as raised:
        runtime.pod_id(pod)
    assert raised.value.msg == ('Pod "%s" not found; create it first, or check the name with '
                                '"podman pod ps".' % pod)
    assert raised.value.details == {"pod": pod}


@pytest.mark.parametrize("response, message", [
    ((125, "", "Error: something else\n"), "Failed to inspect pod web: Error: something else"),
    ((0, "web\n", ""), "Failed to inspect pod web: podman printed output that is not JSON"),
], ids=["failed", "not-json"])
def test_pod_id_other_errors(runtime, fake_podman, response, message):
    fake_podman.on(["pod", "inspect", "web"], response)
    with pytest.raises(CommandError) as raised:
        runtime.pod_id("web")
    assert raised.type is CommandError
    assert raised.value.msg.startswith(message)


def test_storage_paths_from_info(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "info")
    store = recorded.json("info")["store"]
    assert runtime.storage_paths() == (store["runRoot"], store["graphDriverName"])


def info_with_run_root(recorded, run_root):
    info = recorded.json("info")
    info["store"]["runRoot"] = str(run_root)
    return 0, dump(info), ""


def write_mountpoints(recorded, run_root):
    driver = recorded.json("info")["store"]["graphDriverName"]
    folder = run_root / ("%s-layers" % driver)
    folder.mkdir(parents=True)
    (folder / "mountpoints.json").write_text(recorded.result("mountpoints")[1])


def test_mount_count_reads_mountpoints_file(runtime, fake_podman, recorded, tmp_path):
    # The recorded counts: the running container 1, the created one mounted twice 2.
    write_mountpoints(recorded, tmp_path)
    fake_podman.on(["info", "--format", "json"], info_with_run_root(recorded, tmp_path))
    assert runtime.mount_count(recorded.container("inspect-running")) == 1
    # The created container was inspected before it was mounted: its layer
    # comes from UpperDir, as it has no MergedDir yet.
    created = recorded.container("inspect-created")
    assert "MergedDir" not in created["GraphDriver"]["Data"]
    assert runtime.mount_count(created) == 2


def test_mount_count_of_unlisted_layer_is_zero(runtime, fake_podman, recorded, tmp_path):
    write_mountpoints(recorded, tmp_path)
    fake_podman.on(["info", "--format", "json"], info_with_run_root(recorded, tmp_path))
    container = recorded.container("inspect-running")
    container["GraphDriver"]["Data"]["MergedDir"] = "/var/lib/containers/storage/overlay/0000/merged"
    assert runtime.mount_count(container) == 0


def test_mount_count_unknown_without_file(runtime, fake_podman, recorded, tmp_path):
    fake_podman.on(["info", "--format", "json"], info_with_run_root(recorded, tmp_path))
    assert runtime.mount_count(recorded.container("inspect-running")) is None


def test_mount_count_unknown_without_layer_data(runtime, fake_podman, recorded):
    container = recorded.container("inspect-running")
    container["GraphDriver"] = {"Name": "overlay", "Data": {}}
    assert runtime.mount_count(container) is None
    assert fake_podman.calls == []


# ---------------------------------------------------------------------- mount, unmount, remove


def test_mount_returns_mount_point(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "mount-created")
    assert runtime.mount(recorded.name("b")) == recorded.result("mount-created")[1].strip()


@pytest.mark.parametrize("force, args", [(False, ["umount"]), (True, ["umount", "--force"])])
def test_unmount_argv(runtime, fake_podman, recorded, force, args):
    fake_podman.on(args + [recorded.name("b")], recorded.result("umount-created"))
    runtime.unmount(recorded.name("b"), force=force)
    assert fake_podman.calls == [["podman"] + args + [recorded.name("b")]]


def test_mount_of_missing_container_raises(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "mount-missing")
    with pytest.raises(CommandError, match="no such container"):
        runtime.mount(recorded.name("missing"))


def test_remove_argv(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "rm-force")
    runtime.remove(recorded.name("broken"))
    assert fake_podman.calls == [["podman", "rm", "--force", "--ignore", recorded.name("broken")]]


# ---------------------------------------------------------------------- checkpoint and restore


CHECKPOINT_OPTIONS = [
    ({}, []),
    ({"keep": True}, ["--keep"]),
    ({"leave_running": True}, ["--leave-running"]),
    ({"tcp_established": True}, ["--tcp-established"]),
    ({"file_locks": True}, ["--file-locks"]),
    ({"ignore_rootfs": True}, ["--ignore-rootfs"]),
    ({"ignore_volumes": True}, ["--ignore-volumes"]),
    ({"pre_checkpoint": True}, ["--pre-checkpoint"]),
    ({"with_previous": True}, ["--with-previous"]),
    ({"export": "/b/x.tar"}, ["--export", "/b/x.tar"]),
    ({"compress": "gzip"}, ["--compress", "gzip"]),
    ({"create_image": "localhost/ck:1"}, ["--create-image", "localhost/ck:1"]),
    ({"keep": True, "leave_running": True, "export": "/b/x.tar", "compress": "none",
      "ignore_rootfs": True, "mode": "0640", "force": True, "name": "ignored"},
     ["--keep", "--leave-running", "--ignore-rootfs", "--export", "/b/x.tar",
      "--compress", "none"]),
    ({"keep": False, "export": "", "compress": None}, []),
]


@pytest.mark.parametrize("options, flags", CHECKPOINT_OPTIONS,
                         ids=[" ".join(flags) or "none" for unused, flags in CHECKPOINT_OPTIONS])
def test_checkpoint_argv_and_stats(runtime, fake_podman, recorded, options, flags):
    response = recorded.result("checkpoint-print-stats")
    fake_podman.on(lambda argv: argv[1:3] == ["container", "checkpoint"], response)
    container_id, stats = runtime.checkpoint(recorded.name("a"), options)
    assert fake_podman.calls == [
        ["podman", "container", "checkpoint", "--print-stats"] + flags + [recorded.name("a")]]
    document = recorded.json("checkpoint-print-stats")
    assert container_id == document["container_statistics"][0]["Id"]
    assert stats["podman_checkpoint_duration"] == document["podman_checkpoint_duration"]


RESTORE_OPTIONS = [
    ({}, []),
    ({"keep": True}, ["--keep"]),
    ({"tcp_established": True}, ["--tcp-established"]),
    ({"file_locks": True}, ["--file-locks"]),
    ({"ignore_rootfs": True}, ["--ignore-rootfs"]),
    ({"ignore_volumes": True}, ["--ignore-volumes"]),
    ({"ignore_static_ip": True}, ["--ignore-static-ip"]),
    ({"ignore_static_mac": True}, ["--ignore-static-mac"]),
    ({"archive": "/b/x.tar"}, ["--import", "/b/x.tar"]),
    ({"import_previous": "/b/pre.tar"}, ["--import-previous", "/b/pre.tar"]),
    ({"pod": "web"}, ["--pod", "web"]),
    ({"publish_ports": ["8080:80", "9090:90/udp"]},
     ["--publish", "8080:80", "--publish", "9090:90/udp"]),
    ({"new_name": "copy"}, ["--name", "copy"]),
    ({"keep": True, "file_locks": True, "archive": "/b/x.tar", "pod": "web",
      "publish_ports": ["1:2"], "new_name": "copy", "name": "ignored", "image": None},
     ["--keep", "--file-locks", "--import", "/b/x.tar", "--pod", "web", "--publish", "1:2",
      "--name", "copy"]),
]


@pytest.mark.parametrize("options, flags", RESTORE_OPTIONS,
                         ids=[" ".join(flags) or "none" for unused, flags in RESTORE_OPTIONS])
def test_restore_argv_and_stats(runtime, fake_podman, recorded, options, flags):
    fake_podman.on(lambda argv: argv[1:3] == ["container", "restore"],
                   recorded.result("restore-print-stats"))
    container_id, stats = runtime.restore(recorded.name("a"), options)
    assert fake_podman.calls == [
        ["podman", "container", "restore", "--print-stats"] + flags + [recorded.name("a")]]
    assert container_id == recorded.json("restore-print-stats")["container_statistics"][0]["Id"]
    assert set(stats) == {"podman_restore_duration", "runtime_restore_duration",
                          "criu_statistics"}


def test_restore_import_has_no_positional_argument(runtime, fake_podman, recorded):
    args = recorded.args("restore-import-print-stats")
    fake_podman.replay(recorded, "restore-import-print-stats")
    archive, name = args[args.index("--import") + 1], args[args.index("--name") + 1]
    container_id, unused = runtime.restore(None, {"archive": archive, "new_name": name})
    assert fake_podman.calls == [["podman"] + args]
    assert container_id == recorded.container("inspect-imported")["Id"]


def test_restore_from_image(runtime, fake_podman, recorded):
    args = recorded.args("restore-image-print-stats")
    fake_podman.replay(recorded, "restore-image-print-stats")
    runtime.restore(args[-1], {"new_name": args[args.index("--name") + 1]})
    assert fake_podman.calls == [["podman"] + args]


def test_restore_tcp_close_fails_before_restoring(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "version")
    with pytest.raises(UnsupportedError, match="needs Podman >= 5.7.0, this host has %s"
                       % recorded.podman_version):
        runtime.restore(recorded.name("a"), {"tcp_close": True})
    assert fake_podman.changing_calls() == []


def test_restore_tcp_close_flag_on_newer_podman(runtime, fake_podman, recorded):
    # Synthetic: podman 5.7 accepts --tcp-close; 4.3 and 5.4 response "unknown flag".
    fake_podman.on(["version", "--format", "json"], version_response("5.7.0"))
    fake_podman.on(lambda argv: argv[1:3] == ["container", "restore"],
                   recorded.result("restore-print-stats"))
    runtime.restore(recorded.name("a"), {"tcp_close": True})
    assert fake_podman.calls[-1] == ["podman", "container", "restore", "--print-stats",
                                     "--tcp-close", recorded.name("a")]


def test_unknown_tcp_close_flag_of_old_podman_is_a_command_error(runtime, fake_podman, recorded):
    # What 4.3 and 5.4 print when --tcp-close reaches them anyway.
    fake_podman.on(lambda argv: argv[1:3] == ["container", "restore"],
                   recorded.result("restore-tcp-close"))
    with pytest.raises(CommandError, match="unknown flag: --tcp-close"):
        runtime.restore(recorded.name("a"), {})


@pytest.mark.parametrize("case, action, state", [
    ("checkpoint-checkpointed", "checkpoint", '"exited" is not running'),
    ("checkpoint-created", "checkpoint", '"created" is not running'),
    ("restore-running", "restore", "is running or paused"),
])
def test_state_improper_becomes_container_state_error(runtime, fake_podman, recorded, case,
                                                      action, state):
    fake_podman.on(lambda argv: True, recorded.result(case))
    operation = runtime.checkpoint if action == "checkpoint" else runtime.restore
    with pytest.raises(ContainerStateError) as raised:
        operation(recorded.name("a"), {})
    assert state in raised.value.msg
    assert raised.value.details["rc"] == 125
    assert raised.value.details["cmd"] == [fake_podman.executable] + fake_podman.calls[-1][1:]


@pytest.mark.parametrize("case", ["restore-import-name-in-use", "restore-import-id-in-use"])
def test_name_in_use_becomes_invalid_request(runtime, fake_podman, recorded, case):
    fake_podman.replay(recorded, case)
    args = recorded.args(case)
    options = {"archive": args[args.index("--import") + 1]}
    if "--name" in args:
        options["new_name"] = args[args.index("--name") + 1]
    with pytest.raises(InvalidRequestError, match="already in use"):
        runtime.restore(None, options)


def substitute_log(recorded, case, log_path):
    """Return a case's result with its CRIU log path replaced by ``log_path``."""
    rc, stdout, stderr = recorded.result(case)
    start = stderr.index("log file: ") + len("log file: ")
    end = stderr.index(".log", start) + len(".log")
    return rc, stdout, stderr[:start] + str(log_path) + stderr[end:]


@pytest.mark.parametrize("case, action", [
    ("restore-import-criu-failed", "restore"),
    ("checkpoint-with-previous", "checkpoint"),
])
def test_criu_failure_carries_the_log_tail(runtime, fake_podman, recorded, tmp_path, case,
                                           action):
    # The recorded CRIU log tail, at a path this test owns.
    log = tmp_path / "userdata" / "criu.log"
    log.parent.mkdir()
    log.write_text(recorded.result("criu-restore-log-tail")[1])
    fake_podman.on(lambda argv: True, substitute_log(recorded, case, log))
    operation = runtime.checkpoint if action == "checkpoint" else runtime.restore
    with pytest.raises(CommandError) as raised:
        operation(recorded.name("a"), {})
    assert raised.type is CommandError
    assert raised.value.details["criu_log_path"] == str(log)
    assert raised.value.details["criu_log"] == log.read_text().splitlines()
    assert "Restoring FAILED." in raised.value.details["criu_log"][-2]


# The "Error (" lines of the recorded restore log tails, oldest first. 4.3's
# tail has four; the last three of them are reported.
RESTORE_LOG_ERRORS = {
    "4.3": ["(00.132282) pie: 1: Error (criu/pie/restorer.c:2253): Restorer fail 1",
            "(00.133409) Error (criu/cr-restore.c:2320): Restoring FAILED.",
            "(00.134679) Error (criu/cgroup.c:1998): cg: cgroupd: recv req error: No such file "
            "or directory"],
    "5.4": ["(00.134107) pie: 1: Error (criu/pie/util-vdso.c:117): vdso: ELF header magic "
            "mismatch",
            "(00.142454) Error (criu/cr-restore.c:2320): Restoring FAILED.",
            "(00.143939) Error (criu/cgroup.c:1998): cg: cgroupd: recv req error: No such file "
            "or directory"],
}
DUMP_LOG_ERROR = {
    "4.3": "(00.072855) Error (criu/config.c:1128): Tracking memory is not available. "
           "Consider omitting --track-mem option.",
    "5.4": "(00.037671) Error (criu/config.c:1128): Tracking memory is not available. "
           "Consider omitting --track-mem option.",
}


def log_lines(recorded, case):
    return recorded.result(case)[1].splitlines()


def test_criu_error_lines_last_three(recorded):
    lines = log_lines(recorded, "criu-restore-log-tail")
    assert criu_error_lines(lines) == RESTORE_LOG_ERRORS[recorded.version]


def test_criu_error_lines_limit(recorded):
    lines = log_lines(recorded, "criu-restore-log-tail")
    assert criu_error_lines(lines, limit=1) == RESTORE_LOG_ERRORS[recorded.version][-1:]


def test_criu_error_lines_skip_rlimit(recorded):
    # CRIU stopped early here, so the tail contains the rlimit error line,
    # and it is the only "Error (" line.
    lines = log_lines(recorded, "criu-restore-early-log-tail")
    assert any("Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE" in line
               for line in lines)
    assert criu_error_lines(lines) == []


def test_criu_error_lines_keep_other_rlimit_errors():
    # The format of CRIU 4.1.1's "sfd: Can't get rlimit" error (criu/servicefd.c);
    # the timestamp and line number are made up.
    line = ("(00.000412) Error (criu/servicefd.c:100): sfd: Can't get rlimit: Operation not "
            "permitted")
    assert criu_error_lines([line]) == [line]


def test_criu_error_lines_of_dump_log(recorded):
    lines = log_lines(recorded, "criu-dump-log-tail")
    assert criu_error_lines(lines) == [DUMP_LOG_ERROR[recorded.version]]


def write_log(tmp_path, recorded, case):
    log = tmp_path / "userdata" / "criu.log"
    log.parent.mkdir()
    log.write_text(recorded.result(case)[1])
    return log


def test_restore_failure_names_criu_errors(runtime, fake_podman, recorded, tmp_path):
    log = write_log(tmp_path, recorded, "criu-restore-log-tail")
    fake_podman.on(lambda argv: True, substitute_log(recorded, "restore-import-criu-failed", log))
    with pytest.raises(CommandError) as raised:
        runtime.restore(None, {"archive": "/x.tar"})
    assert raised.value.msg.startswith("Failed to restore /x.tar: Error: OCI runtime error: "
                                       "runc: criu failed: type NOTIFY errno 0")
    assert raised.value.msg.endswith(
        ") CRIU reported: " + " | ".join(RESTORE_LOG_ERRORS[recorded.version]))


def test_checkpoint_failure_names_criu_error(runtime, fake_podman, recorded, tmp_path):
    log = write_log(tmp_path, recorded, "criu-dump-log-tail")
    fake_podman.on(lambda argv: True, substitute_log(recorded, "checkpoint-with-previous", log))
    with pytest.raises(CommandError) as raised:
        runtime.checkpoint(recorded.name("a"), {"with_previous": True})
    assert raised.value.msg.endswith(") CRIU reported: " + DUMP_LOG_ERROR[recorded.version])


def test_criu_failure_rlimit_only_adds_nothing(runtime, fake_podman, recorded, tmp_path):
    log = write_log(tmp_path, recorded, "criu-restore-early-log-tail")
    fake_podman.on(lambda argv: True, substitute_log(recorded, "restore-import-criu-failed", log))
    with pytest.raises(CommandError) as raised:
        runtime.restore(None, {"archive": "/x.tar"})
    assert "CRIU reported" not in raised.value.msg
    assert raised.value.details["criu_log"] == log.read_text().splitlines()


def test_criu_failure_after_log_was_removed(runtime, fake_podman, recorded):
    # Podman deletes the log with the container; the path is still reported.
    fake_podman.on(lambda argv: True, recorded.result("restore-import-criu-failed"))
    with pytest.raises(CommandError) as raised:
        runtime.restore(None, {"archive": "/x.tar"})
    assert raised.value.details["criu_log"] == []
    assert raised.value.details["criu_log_path"].endswith("/userdata/restore.log")
    assert "criu failed: type NOTIFY errno 0" in raised.value.msg
    assert "CRIU reported" not in raised.value.msg


def test_pre_checkpoint_failure_has_no_log(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "checkpoint-pre-checkpoint")
    with pytest.raises(CommandError) as raised:
        runtime.checkpoint(recorded.name("a"), {"pre_checkpoint": True})
    assert "CRIU is missing features" in raised.value.msg
    assert "criu_log" not in raised.value.details


@pytest.mark.parametrize("case", ["checkpoint-missing", "checkpoint-export-missing-folder"])
def test_other_checkpoint_failures_are_command_errors(runtime, fake_podman, recorded, case):
    fake_podman.on(lambda argv: True, recorded.result(case))
    with pytest.raises(CommandError) as raised:
        runtime.checkpoint(recorded.name("a"), {})
    assert raised.type is CommandError
    assert raised.value.msg.startswith("Failed to checkpoint container %s: Error: "
                                       % recorded.name("a"))
    assert "(rc=125, command: " in raised.value.msg
    assert raised.value.error_lines == [
        line[len("Error: "):] for line in recorded.result(case)[2].splitlines()
        if line.startswith("Error: ")]


def test_checkpoint_without_statistics_document_raises(runtime, fake_podman, recorded):
    # rc 0 but the plain output of a call without --print-stats.
    fake_podman.on(lambda argv: True, (0, recorded.name("a") + "\n", ""))
    with pytest.raises(CommandError, match="not JSON"):
        runtime.checkpoint(recorded.name("a"), {})


def test_checkpoint_with_unreadable_statistics_raises(runtime, fake_podman, recorded, warnings):
    rc, stdout, stderr = recorded.result("checkpoint-checkpointed")
    fake_podman.on(lambda argv: True, (0, stdout, "WARN[0000] late warning\n"))
    with pytest.raises(CommandError, match="statistics could not be read: expected statistics "
                       "for exactly one container, got 0 entries"):
        runtime.checkpoint(recorded.name("a"), {})
    assert warnings == ["Podman warning: WARN[0000] late warning"]


def test_checkpoint_reports_warnings(runtime, fake_podman, recorded, warnings):
    rc, stdout, unused = recorded.result("checkpoint-print-stats")
    warning = recorded.result("inspect-warning")[2]
    fake_podman.on(lambda argv: True, (rc, stdout, warning))
    runtime.checkpoint(recorded.name("a"), {})
    assert warnings == ["Podman warning: %s" % warning.strip()]


def test_commands_property_is_the_transport_list(runtime, fake_podman, recorded):
    fake_podman.replay(recorded, "version")
    runtime.version()
    assert runtime.commands == [[fake_podman.executable, "version", "--format", "json"]]
