# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import tarfile

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._stats import (
    parse_checkpoint_stats,
)
from ansible_collections.statecraft.podman.plugins.modules import container_checkpoint
from ansible_collections.statecraft.podman.plugins.modules.container_checkpoint import main
from ansible_collections.statecraft.podman.tests.unit.harness import CRIU, with_changes, dump

CHECKPOINT = ["container", "checkpoint"]
DIRTY_TRACK = [CRIU, "check", "--feature", "mem_dirty_track"]


@pytest.fixture(autouse=True)
def criu_found(monkeypatch):
    """Find criu at the CRIU 4 wrapper's path whatever this machine has."""
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: CRIU if name == "criu"
                        else real_which(name, *args, **kwargs))


def export_value(argv):
    return argv[argv.index("--export") + 1] if "--export" in argv else None


def checkpoint_response(recorded, case="checkpoint-print-stats"):
    """Respond to a checkpoint with a recorded result, writing the archive podman would write."""
    def response(argv):
        path = export_value(argv)
        if path:
            with open(path, "wb") as handle:
                handle.write(b"archive bytes from podman")
            os.chmod(path, 0o600)
        return recorded.result(case)
    return response


def running_container(fake, recorded, after="inspect-checkpointed"):
    """Respond to inspect of the running container by name, and by ID with the state after."""
    container = recorded.container("inspect-running")
    fake.on(["container", "inspect", container["Name"]], recorded.result("inspect-running"))
    fake.on(["container", "inspect", container["Id"]], recorded.result(after))
    return container


def make_archive(path, config):
    """Write an uncompressed checkpoint archive with ``config`` as its config.dump."""
    with tarfile.open(str(path), "w") as archive:
        for name, data in (("config.dump", json.dumps(config).encode()), ("spec.dump", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


# Module options, the podman flags they add (in podman's order), and the
# inspect case of the container after the checkpoint.
OPTION_TABLE = [
    ({}, [], "inspect-checkpointed"),
    ({"keep": True}, ["--keep"], "inspect-checkpointed"),
    ({"leave_running": True}, ["--leave-running"], "inspect-leave-running"),
    ({"tcp_established": True}, ["--tcp-established"], "inspect-checkpointed"),
    ({"file_locks": True}, ["--file-locks"], "inspect-checkpointed"),
    ({"export": "EXPORT"}, ["--export", "PARTIAL"], "inspect-checkpointed"),
    ({"export": "EXPORT", "compress": "none"}, ["--export", "PARTIAL", "--compress", "none"],
     "inspect-checkpointed"),
    ({"export": "EXPORT", "compress": "gzip"}, ["--export", "PARTIAL", "--compress", "gzip"],
     "inspect-checkpointed"),
    ({"export": "EXPORT", "compress": "zstd"}, ["--export", "PARTIAL", "--compress", "zstd"],
     "inspect-checkpointed"),
    ({"export": "EXPORT", "ignore_rootfs": True}, ["--ignore-rootfs", "--export", "PARTIAL"],
     "inspect-checkpointed"),
    ({"export": "EXPORT", "ignore_volumes": True}, ["--ignore-volumes", "--export", "PARTIAL"],
     "inspect-checkpointed"),
    ({"export": "EXPORT", "mode": "0640"}, ["--export", "PARTIAL"], "inspect-checkpointed"),
    ({"create_image": "localhost/ck:1"}, ["--create-image", "localhost/ck:1"],
     "inspect-checkpointed"),
    ({"pre_checkpoint": True}, ["--pre-checkpoint"], "inspect-running"),
    ({"with_previous": True}, ["--with-previous"], "inspect-checkpointed"),
    ({"keep": True, "leave_running": True, "tcp_established": True, "file_locks": True,
      "export": "EXPORT", "compress": "gzip", "ignore_rootfs": True, "ignore_volumes": True},
     ["--keep", "--leave-running", "--tcp-established", "--file-locks", "--ignore-rootfs",
      "--ignore-volumes", "--export", "PARTIAL", "--compress", "gzip"], "inspect-leave-running"),
]
OPTION_IDS = [" ".join(flags) or "plain" for unused, flags, unused2 in OPTION_TABLE]


def prepare(module_harness, recorded, options, after):
    """Register every response a checkpoint with ``options`` needs; return (args, container)."""
    fake = module_harness.fake
    container = running_container(fake, recorded, after)
    fake.criu_ok(recorded)
    fake.on_other(DIRTY_TRACK, (0, "", ""))
    fake.on(["image", "exists", "localhost/ck:1"], (1, "", ""))
    fake.on(lambda argv: argv[1:3] == CHECKPOINT, checkpoint_response(recorded))
    args = dict(options, name=container["Name"])
    if args.get("export") == "EXPORT":
        args["export"] = str(module_harness.tmp_path / "out" / "ck.tar.zst")
        os.makedirs(os.path.dirname(args["export"]), exist_ok=True)
    return args, container


@pytest.mark.parametrize("options, flags, after", OPTION_TABLE, ids=OPTION_IDS)
def test_options_map_to_flags(module_harness, recorded, options, flags, after):
    args, container = prepare(module_harness, recorded, options, after)
    fake = module_harness.fake

    kind, result = module_harness.run(main, args)

    assert kind == "exit", result
    assert result["changed"] is True
    checkpoints = fake.calls_starting(*CHECKPOINT)
    assert len(checkpoints) == 1
    argv = checkpoints[0]
    expected = ["podman", "container", "checkpoint", "--print-stats"] + flags + [container["Name"]]
    partial = export_value(argv)
    if partial:
        folder, base = os.path.split(partial)
        assert folder == os.path.dirname(args["export"])
        assert base.startswith(".ck.tar.zst.")
        assert base.endswith(".partial")
        expected[expected.index("PARTIAL")] = partial
    assert argv == expected
    assert result["stats"] == parse_checkpoint_stats(recorded.json("checkpoint-print-stats"))[1]
    assert result["container"] == recorded.container(after)
    if options.get("pre_checkpoint") or options.get("with_previous"):
        assert DIRTY_TRACK in fake.calls
    assert [CRIU, "check"] in fake.calls
    assert result["commands"][-1] == [module_harness.executable, "container", "inspect",
                                      container["Id"]]


@pytest.mark.parametrize("options, flags, after", OPTION_TABLE, ids=OPTION_IDS)
def test_check_mode_changes_nothing_and_predicts_changed(module_harness, recorded, options, flags,
                                                         after):
    results = {}
    for check_mode in (True, False):
        module_harness.new_fake()
        args, unused = prepare(module_harness, recorded, options, after)
        kind, result = module_harness.run(main, args, check_mode=check_mode, diff=True)
        assert kind == "exit", result
        results[check_mode] = result
        if check_mode:
            assert module_harness.fake.changing_calls() == []
            assert "stats" not in result
            assert "archive" not in result
            if args.get("export"):
                assert os.listdir(os.path.dirname(args["export"])) == []
    assert results[True]["changed"] is True
    assert results[False]["changed"] is True
    assert results[True]["diff"]["before"] == results[False]["diff"]["before"]
    predicted, real = results[True]["diff"]["after"], results[False]["diff"]["after"]
    assert (predicted["status"], predicted["checkpointed"]) == (real["status"], real["checkpointed"])


# ---------------------------------------------------------------------- export archives


def run_export(module_harness, recorded, **options):
    args, container = prepare(module_harness, recorded, dict(options, export="EXPORT"),
                              "inspect-checkpointed")
    kind, result = module_harness.run(main, args)
    return kind, result, args["export"]


def test_export_publishes_complete_archive(module_harness, recorded):
    kind, result, path = run_export(module_harness, recorded)
    assert kind == "exit"
    assert os.listdir(os.path.dirname(path)) == ["ck.tar.zst"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert result["archive"]["path"] == path
    assert result["archive"]["size"] == len(b"archive bytes from podman")
    assert result["archive"]["compression"] is None


@pytest.mark.parametrize("mode, expected", [
    ("0640", 0o640), ("644", 0o644), (0o604, 0o604), ("0400", 0o400)])
def test_export_mode(module_harness, recorded, mode, expected):
    kind, result, path = run_export(module_harness, recorded, mode=mode)
    assert kind == "exit"
    assert stat.S_IMODE(os.stat(path).st_mode) == expected


def test_export_mode_zero(module_harness, recorded):
    kind, result, path = run_export(module_harness, recorded, mode="0000")
    assert kind == "exit"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0


def test_existing_archive_of_same_container_is_no_change(module_harness, recorded):
    fake = module_harness.fake
    container = running_container(fake, recorded)
    path = make_archive(module_harness.tmp_path / "ck.tar",
                        {"id": container["Id"], "name": container["Name"]})
    kind, result = module_harness.run(main, {"name": container["Name"], "export": path})
    assert kind == "exit"
    assert result["changed"] is False
    assert result["archive"]["path"] == path
    assert result["archive"]["compression"] == "none"
    assert fake.calls == [["podman", "container", "inspect", container["Name"]]]


@pytest.mark.parametrize("content, holds", [
    (b"not an archive", "no checkpoint of this container"),
    ("other", "a checkpoint of container 0123abcd"),
], ids=["plain-file", "other-container"])
def test_existing_other_file_needs_force(module_harness, recorded, content, holds):
    fake = module_harness.fake
    container = running_container(fake, recorded)
    path = module_harness.tmp_path / "ck.tar"
    if content == "other":
        make_archive(path, {"id": "0123abcd", "name": "other"})
    else:
        path.write_bytes(content)
    kind, result = module_harness.run(main, {"name": container["Name"], "export": str(path)},
                                      check_mode=True)
    assert kind == "fail"
    assert result["msg"] == ('Archive "%s" already exists and holds %s. Set force=true to replace '
                             'it, or choose another export path.' % (path, holds))
    assert fake.changing_calls() == []


def test_existing_file_replaced_with_force(module_harness, recorded):
    args, container = prepare(module_harness, recorded, {"export": "EXPORT", "force": True},
                              "inspect-checkpointed")
    with open(args["export"], "w") as handle:
        handle.write("old")
    kind, result = module_harness.run(main, args)
    assert kind == "exit"
    assert result["changed"] is True
    with open(args["export"], "rb") as handle:
        assert handle.read() == b"archive bytes from podman"
    assert os.listdir(os.path.dirname(args["export"])) == ["ck.tar.zst"]


RECORDED_EXPORT = "/tmp/sc-unit-record/missing/x.tar"


def failed_export_response(recorded):
    """Fail the export as recorded, naming the path given to podman, after writing to it."""
    def response(argv):
        partial = export_value(argv)
        with open(partial, "wb") as handle:
            handle.write(b"half")
        rc, stdout, stderr = recorded.result("checkpoint-export-missing-folder")
        assert RECORDED_EXPORT in stderr
        return rc, stdout, stderr.replace(RECORDED_EXPORT, partial)
    return response


def failed_export(module_harness, recorded, restore_response, after=None):
    """Run an export that podman fails; ``after`` lists the inspect responses that follow it."""
    fake = module_harness.fake
    container = recorded.container("inspect-running")
    # By name: running before the checkpoint, then stopped after the failed export.
    after = after or [recorded.result("inspect-after-failed-export")]
    fake.on(["container", "inspect", container["Name"]], recorded.result("inspect-running"),
            *after)
    fake.criu_ok(recorded)
    fake.on(lambda argv: argv[1:3] == CHECKPOINT, failed_export_response(recorded))
    fake.on(["container", "restore", "--print-stats", container["Id"]], restore_response)
    folder = module_harness.tmp_path / "out"
    folder.mkdir()
    kind, result = module_harness.run(main, {"name": container["Name"],
                                             "export": str(folder / "ck.tar")})
    return kind, result, folder, container


@pytest.fixture
def sleeps(monkeypatch):
    """Record the module's sleeps instead of sleeping."""
    slept = []
    monkeypatch.setattr(container_checkpoint.time, "sleep", slept.append)
    return slept


def test_failed_export_restores_the_container(module_harness, recorded, sleeps):
    # Podman stops the container before it opens the export file.
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-after-failed-export"))
    assert kind == "fail"
    assert result["msg"].startswith("Failed to checkpoint container %s: Error: creating "
                                    "checkpoint export file" % container["Name"])
    assert result["msg"].endswith(" The container was restored from its local checkpoint and is "
                                  "running again.")
    assert os.listdir(str(folder)) == []
    assert module_harness.fake.changing_calls()[-1] == [
        "podman", "container", "restore", "--print-stats", container["Id"]]
    assert sleeps == []


def test_failed_export_names_user_path(module_harness, recorded, sleeps):
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-after-failed-export"))
    path = str(folder / "ck.tar")
    assert kind == "fail"
    assert result["msg"] == (
        'Failed to checkpoint container {name}: Error: creating checkpoint export file "{path}": '
        'open {path}: no such file or directory (rc=125, command: {podman} container checkpoint '
        '--print-stats --export {path} {name}) The container was restored from its local '
        'checkpoint and is running again.'.format(name=container["Name"], path=path,
                                                  podman=module_harness.executable))


def test_failed_export_waits_for_stop(module_harness, recorded, sleeps):
    # Podman 4.3 can still report the container running just after the failed export.
    running = recorded.result("inspect-running")
    stopping = (0, dump([with_changes(recorded.container("inspect-running"),
                                      State_Status="stopping")]), "")
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-after-failed-export"),
        after=[running, stopping, recorded.result("inspect-after-failed-export")])
    assert kind == "fail"
    assert sleeps == [container_checkpoint.STOP_POLL_SECONDS] * 2
    assert module_harness.fake.calls_starting("container", "restore") == [
        ["podman", "container", "restore", "--print-stats", container["Id"]]]
    assert result["msg"].endswith(" The container was restored from its local checkpoint and is "
                                  "running again.")


def test_failed_export_still_running(module_harness, recorded, sleeps):
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-after-failed-export"),
        after=[recorded.result("inspect-running")])
    assert kind == "fail"
    assert sleeps == [container_checkpoint.STOP_POLL_SECONDS] * container_checkpoint.STOP_POLLS
    assert container_checkpoint.STOP_POLLS * container_checkpoint.STOP_POLL_SECONDS == 5
    assert module_harness.fake.calls_starting("container", "restore") == []
    assert result["msg"].endswith(" no such file or directory (rc=125, command: %s container "
                                  "checkpoint --print-stats --export %s %s)"
                                  % (module_harness.executable, folder / "ck.tar",
                                     container["Name"]))


def test_failed_export_container_gone(module_harness, recorded, sleeps):
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-after-failed-export"),
        after=[recorded.result("inspect-all-missing")])
    assert kind == "fail"
    assert sleeps == []
    assert module_harness.fake.calls_starting("container", "restore") == []


def test_failed_export_and_failed_recovery(module_harness, recorded, sleeps):
    kind, result, folder, container = failed_export(
        module_harness, recorded, recorded.result("restore-not-checkpointed"))
    assert kind == "fail"
    assert ("The container was left stopped, and restoring it from its local checkpoint failed "
            "too: Failed to restore %s" % container["Id"]) in result["msg"]
    assert os.listdir(str(folder)) == []


# ---------------------------------------------------------------------- states


@pytest.mark.parametrize("case, suffix", [("inspect-created", "b"),
                                          ("inspect-after-failed-export", "a")])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_container_not_running_fails_naming_its_state(module_harness, recorded, case, suffix,
                                                      check_mode):
    fake = module_harness.fake
    container = recorded.container(case)
    fake.on(["container", "inspect", recorded.name(suffix)], recorded.result(case))
    kind, result = module_harness.run(main, {"name": recorded.name(suffix)},
                                      check_mode=check_mode)
    assert kind == "fail"
    status = container["State"]["Status"]
    assert result["msg"] == ('Container "%s" is "%s", not running: only a running container can '
                             'be checkpointed. Start it first.' % (recorded.name(suffix), status))
    assert result["status"] == status
    assert fake.changing_calls() == []


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_checkpointed_container_is_no_change(module_harness, recorded, check_mode):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("a")], recorded.result("inspect-checkpointed"))
    kind, result = module_harness.run(main, {"name": recorded.name("a")}, check_mode=check_mode,
                                      diff=True)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]
    assert len(fake.calls) == 1


def test_checkpointed_container_cannot_be_exported(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("a")], recorded.result("inspect-checkpointed"))
    kind, result = module_harness.run(main, {"name": recorded.name("a"),
                                             "export": str(tmp_path / "ck.tar")})
    assert kind == "fail"
    assert "is already checkpointed and not running, so podman cannot export it" in result["msg"]


def test_leave_running_with_checkpoint_files_is_no_change(module_harness, recorded):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("a")], recorded.result("inspect-leave-running"))
    kind, result = module_harness.run(main, {"name": recorded.name("a"), "leave_running": True})
    assert kind == "exit"
    assert result["changed"] is False
    assert fake.changing_calls() == []


def test_leave_running_with_force_checkpoints_again(module_harness, recorded):
    args, unused = prepare(module_harness, recorded, {"leave_running": True, "force": True},
                           "inspect-leave-running")
    module_harness.fake.on(["container", "inspect", args["name"]],
                           recorded.result("inspect-leave-running"))
    kind, result = module_harness.run(main, args)
    assert kind == "exit"
    assert result["changed"] is True
    assert len(module_harness.fake.calls_starting(*CHECKPOINT)) == 1


def test_state_changed_under_the_module(module_harness, recorded):
    # Inspect reported the container running, but podman found it exited.
    args, unused = prepare(module_harness, recorded, {}, "inspect-checkpointed")
    module_harness.fake.on(lambda argv: argv[1:3] == CHECKPOINT,
                           recorded.result("checkpoint-checkpointed"))
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert '"exited" is not running, cannot checkpoint: container state improper' in result["msg"]
    assert result["rc"] == 125


def test_removed_after_checkpoint_returns_empty_container(module_harness, recorded):
    # A container started with --rm is gone after its exported checkpoint.
    args, container = prepare(module_harness, recorded, {"export": "EXPORT"},
                              "inspect-checkpointed")
    module_harness.fake.on(["container", "inspect", container["Id"]],
                           (125, "[]\n", "Error: inspecting object: no such container\n"))
    kind, result = module_harness.run(main, args)
    assert kind == "exit"
    assert result["container"] == {}
    assert result["archive"]["path"] == args["export"]


def test_missing_container(module_harness, recorded):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("missing")],
            recorded.result("inspect-all-missing"))
    kind, result = module_harness.run(main, {"name": recorded.name("missing")})
    assert kind == "fail"
    assert result["msg"].startswith('Container "%s" not found.' % recorded.name("missing"))


# ---------------------------------------------------------------------- images


def existing_image(fake, recorded, container):
    """Respond to inspect of ``container`` and report the recorded checkpoint image as existing."""
    image = recorded.args("image-inspect-checkpoint")[-1]
    fake.on(["container", "inspect", container["Name"]], (0, dump([container]), ""))
    fake.on(["image", "exists", image], (0, "", ""))
    fake.replay(recorded, "image-inspect-checkpoint")
    return image


def image_message(image, owner):
    return ('Image "%s" already exists and holds a checkpoint of container "%s". Set force=true '
            'to replace it, or choose another create_image name.' % (image, owner))


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_image_of_this_checkpoint_is_no_change(module_harness, recorded, check_mode):
    fake = module_harness.fake
    image = existing_image(fake, recorded, recorded.container("inspect-checkpointed"))
    kind, result = module_harness.run(main, {"name": recorded.name("a"), "create_image": image},
                                      check_mode=check_mode)
    assert kind == "exit", result
    assert result["changed"] is False
    assert ["podman", "image", "inspect", image] in fake.calls
    assert fake.changing_calls() == []


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_image_of_running_container_fails(module_harness, recorded, check_mode):
    # The image contains an older checkpoint of the container, which is running again.
    fake = module_harness.fake
    image = existing_image(fake, recorded, recorded.container("inspect-running"))
    kind, result = module_harness.run(main, {"name": recorded.name("a"), "create_image": image},
                                      check_mode=check_mode)
    assert kind == "fail"
    assert result["msg"] == image_message(image, recorded.name("a"))
    assert result["image"] == image
    assert fake.changing_calls() == []


@pytest.mark.parametrize("case", ["inspect-checkpointed", "inspect-running"])
def test_image_of_other_container_fails(module_harness, recorded, case):
    fake = module_harness.fake
    container = with_changes(recorded.container(case), Name=recorded.name("b"))
    image = existing_image(fake, recorded, container)
    kind, result = module_harness.run(main, {"name": recorded.name("b"), "create_image": image})
    assert kind == "fail"
    assert result["msg"] == image_message(image, recorded.name("a"))
    assert fake.changing_calls() == []


def test_existing_plain_image_needs_force(module_harness, recorded):
    fake = module_harness.fake
    image = recorded.args("image-inspect-plain")[-1]
    fake.on(["container", "inspect", recorded.name("a")], recorded.result("inspect-running"))
    fake.replay(recorded, "image-exists").replay(recorded, "image-inspect-plain")
    kind, result = module_harness.run(main, {"name": recorded.name("a"), "create_image": image})
    assert kind == "fail"
    assert "Set force=true to replace it" in result["msg"]


def test_existing_image_replaced_with_force(module_harness, recorded):
    args, unused = prepare(module_harness, recorded,
                           {"create_image": "localhost/ck:1", "force": True},
                           "inspect-checkpointed")
    kind, result = module_harness.run(main, args)
    assert kind == "exit"
    assert result["changed"] is True
    assert ["podman", "image", "exists", "localhost/ck:1"] not in module_harness.fake.calls


# ---------------------------------------------------------------------- CRIU


def substitute_log(result, log_path):
    rc, stdout, stderr = result
    start = stderr.index("log file: ") + len("log file: ")
    end = stderr.index(".log", start) + len(".log")
    return rc, stdout, stderr[:start] + str(log_path) + stderr[end:]


def test_criu_failure_returns_the_log_tail(module_harness, recorded, tmp_path):
    args, unused = prepare(module_harness, recorded, {"with_previous": True},
                           "inspect-running")
    log = tmp_path / "dump.log"
    log.write_text(recorded.result("criu-restore-log-tail")[1])
    module_harness.fake.on(lambda argv: argv[1:3] == CHECKPOINT,
                           substitute_log(recorded.result("checkpoint-with-previous"), log))
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert "criu failed: type DUMP errno 56" in result["msg"]
    assert result["criu_log_path"] == str(log)
    assert result["criu_log"] == log.read_text().splitlines()


def test_criu_not_installed(module_harness, recorded, monkeypatch):
    fake = module_harness.fake
    running_container(fake, recorded)
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    for check_mode in (True, False):
        kind, result = module_harness.run(main, {"name": recorded.name("a")},
                                          check_mode=check_mode)
        assert kind == "fail"
        assert result["msg"].startswith("CRIU is not installed: no criu in PATH")
    assert fake.changing_calls() == []


def test_criu_check_failing(module_harness, recorded):
    fake = module_harness.fake
    running_container(fake, recorded)
    fake.on_other([CRIU, "check"], (1, "", "Error (criu/crtools.c:260): Could not initialize "
                                           "kernel features detection.\n"))
    kind, result = module_harness.run(main, {"name": recorded.name("a")})
    assert kind == "fail"
    assert result["msg"].startswith('CRIU at %s fails "criu check" on this kernel' % CRIU)
    assert fake.changing_calls() == []


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
@pytest.mark.parametrize("option", ["pre_checkpoint", "with_previous"])
def test_dirty_tracking_missing(module_harness, recorded, option, check_mode):
    fake = module_harness.fake
    running_container(fake, recorded)
    fake.criu_ok(recorded).replay(recorded, "criu-check-dirty-track")
    kind, result = module_harness.run(main, {"name": recorded.name("a"), option: True},
                                      check_mode=check_mode)
    assert kind == "fail"
    assert result["msg"].startswith("Option %s needs memory dirty tracking" % option)
    assert fake.changing_calls() == []


@pytest.mark.parametrize("options, probes", [
    ({}, [[CRIU, "check"]]),
    ({"pre_checkpoint": True}, [[CRIU, "check"], DIRTY_TRACK]),
    ({"with_previous": True}, [[CRIU, "check"], DIRTY_TRACK]),
], ids=["plain", "pre-checkpoint", "with-previous"])
def test_check_mode_probes_criu(module_harness, recorded, options, probes):
    args, container = prepare(module_harness, recorded, options, "inspect-checkpointed")
    kind, result = module_harness.run(main, args, check_mode=True)
    assert kind == "exit", result
    inspect = ["podman", "container", "inspect", container["Name"]]
    assert module_harness.fake.calls == [inspect] + probes


def test_criu_check_failing_in_check_mode(module_harness, recorded):
    fake = module_harness.fake
    running_container(fake, recorded)
    fake.on_other([CRIU, "check"], (1, "", "Error (criu/crtools.c:260): Could not initialize "
                                           "kernel features detection.\n"))
    kind, result = module_harness.run(main, {"name": recorded.name("a")}, check_mode=True)
    assert kind == "fail"
    assert result["msg"].startswith('CRIU at %s fails "criu check" on this kernel' % CRIU)


def test_criu_failure_names_criu_error(module_harness, recorded, tmp_path):
    args, unused = prepare(module_harness, recorded, {"with_previous": True},
                           "inspect-running")
    log = tmp_path / "dump.log"
    log.write_text(recorded.result("criu-dump-log-tail")[1])
    module_harness.fake.on(lambda argv: argv[1:3] == CHECKPOINT,
                           substitute_log(recorded.result("checkpoint-with-previous"), log))
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    # The recorded dump log ends with CRIU's only error line.
    assert result["msg"].endswith(") CRIU reported: %s" % log.read_text().splitlines()[-1])


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("options, message", [
    ({"compress": "gzip"}, "Option compress=gzip needs export (an archive path); set it or "
                           "remove compress."),
    ({"ignore_rootfs": True}, "Option ignore_rootfs=True needs export"),
    ({"ignore_volumes": True}, "Option ignore_volumes=True needs export"),
    ({"mode": "0640"}, "Option mode=0640 needs export"),
    ({"export": "EXPORT", "mode": "rw-r-----"},
     'Option mode="rw-r-----" is not an octal permission mode; write it like "0600".'),
    ({"export": "EXPORT", "mode": "0689"}, "is not an octal permission mode"),
    ({"export": "EXPORT", "mode": "17777"},
     'Option mode=17777 is out of range; write an octal mode between "0000" and "7777".'),
    ({"export": "ck.tar"}, 'export "ck.tar" is a relative path; give an absolute path.'),
    ({"export": "MISSING"}, "for the export archive does not exist; create it first."),
    ({"export": "FOLDER"}, "is a folder; give the path of the archive file to write."),
    ({"export": "/proc/ck.tar"}, 'Folder "/proc" for the export archive is not writable; choose '
                                 'a writable folder.'),
    ({"compress": "xz", "export": "EXPORT"}, "value of compress must be one of: none, gzip, zstd"),
    ({"pre_checkpoint": True, "with_previous": True},
     "parameters are mutually exclusive: pre_checkpoint|with_previous"),
    ({"name": None}, "missing required arguments: name"),
    ({"keep": "often"}, "keep"),
    ({"export": "EXPORT", "create_image": "localhost/ck:1"},
     "Options export and create_image cannot be combined: podman writes only the archive. "
     "Checkpoint to an archive, or to an image, in separate tasks."),
], ids=["compress", "ignore-rootfs", "ignore-volumes", "mode", "mode-letters", "mode-not-octal",
        "mode-range", "relative", "missing-folder", "folder", "read-only", "compress-choice",
        "exclusive", "no-name", "bool", "export-and-image"])
def test_bad_input_fails_before_any_command(module_harness, recorded, options, message):
    args = dict({"name": recorded.name("a")}, **options)
    if args.get("export") == "EXPORT":
        args["export"] = str(module_harness.tmp_path / "ck.tar")
    elif args.get("export") == "MISSING":
        args["export"] = str(module_harness.tmp_path / "missing" / "ck.tar")
    elif args.get("export") == "FOLDER":
        args["export"] = str(module_harness.tmp_path)
    if args["name"] is None:
        del args["name"]
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert message in result["msg"]
    assert module_harness.fake.calls == []


def test_failure_result_lists_commands(module_harness, recorded):
    fake = module_harness.fake
    running = with_changes(recorded.container("inspect-running"), State_Status="paused")
    fake.on(["container", "inspect", recorded.name("a")], (0, dump([running]), ""))
    kind, result = module_harness.run(main, {"name": recorded.name("a")})
    assert kind == "fail"
    assert '"paused", not running' in result["msg"]
    assert result["commands"] == [[module_harness.executable, "container", "inspect",
                                   recorded.name("a")]]
    assert "Traceback" in result["exception"]
