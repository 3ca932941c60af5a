# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import shutil
import tarfile

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._stats import parse_restore_stats
from ansible_collections.statecraft.podman.plugins.modules.container_restore import main
from ansible_collections.statecraft.podman.tests.unit.harness import CRIU, dump, with_changes

RESTORE = ["container", "restore"]
IMAGE = "localhost/ck:1"


@pytest.fixture(autouse=True)
def criu_found(monkeypatch):
    """Find criu at the CRIU 4 wrapper's path whatever this machine has."""
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: CRIU if name == "criu"
                        else real_which(name, *args, **kwargs))


def make_archive(path, container, **config):
    """Write an uncompressed checkpoint archive whose config.dump names ``container``.

    ``config`` adds keys to config.dump, such as ``pod``.
    """
    config = dict({"id": container["Id"], "name": container["Name"]}, **config)
    return write_archive(path, config)


def write_archive(path, config):
    """Write an uncompressed checkpoint archive with ``config`` as its config.dump."""
    with tarfile.open(str(path), "w") as archive:
        for name, data in (("config.dump", json.dumps(config).encode()), ("spec.dump", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path)


def pod_of(recorded):
    """Return the recorded pod's ``(name, ID)``; 4.3 prints it as an object, 5.4 as a list."""
    document = recorded.json("pod-inspect")
    pod = document[0] if isinstance(document, list) else document
    return pod["Name"], pod["Id"]


def missing_response(references):
    stderr = "".join("Error: inspecting object: no such container %s\n" % r for r in references)
    return 125, "[]\n", stderr


def prepare_in_place(fake, recorded):
    """A checkpointed container restored in place; returns it."""
    container = recorded.container("inspect-checkpointed")
    fake.on(["container", "inspect", container["Name"]], recorded.result("inspect-checkpointed"))
    fake.on(["container", "inspect", container["Id"]], recorded.result("inspect-restored"))
    fake.criu_ok(recorded)
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-print-stats"))
    return container


def prepare_import(fake, recorded, tmp_path, name=None, pod=None):
    """An archive of the recorded container, imported as ``name``; returns (archive, names).

    With ``pod``, the archive's container was in a pod, and ``pod inspect POD``
    returns the recorded pod.
    """
    original = recorded.container("inspect-running")
    extra = {}
    if pod:
        extra["pod"] = pod_of(recorded)[1]
        fake.on(["pod", "inspect", pod], recorded.result("pod-inspect"))
    archive = make_archive(tmp_path / "ck.tar", original, **extra)
    names = [name] if name else [original["Name"], original["Id"]]
    fake.on(["container", "inspect"] + names, missing_response(names))
    imported = recorded.container("inspect-imported")
    fake.on(["container", "inspect", imported["Id"]], recorded.result("inspect-imported"))
    fake.criu_ok(recorded)
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-import-print-stats"))
    return archive, names


def prepare_image(fake, recorded, name=None):
    image = recorded.args("image-inspect-checkpoint")[-1]
    fake.on(["image", "exists", image], (0, "", ""))
    fake.replay(recorded, "image-inspect-checkpoint")
    names = [name or recorded.name("a")]
    fake.on(["container", "inspect"] + names, missing_response(names))
    restored = recorded.json("restore-image-print-stats")["container_statistics"][0]["Id"]
    # No inspect of the container restored from the image was recorded: the
    # imported container's data is used instead, with that container's ID and name.
    container = with_changes(recorded.container("inspect-imported"), Id=restored,
                             Name=names[0])
    fake.on(["container", "inspect", restored], (0, dump([container]), ""))
    fake.criu_ok(recorded)
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-image-print-stats"))
    return image


# ---------------------------------------------------------------------- in place

IN_PLACE_OPTIONS = [
    ({}, []),
    ({"keep": True}, ["--keep"]),
    ({"tcp_established": True}, ["--tcp-established"]),
    ({"file_locks": True}, ["--file-locks"]),
    ({"ignore_static_ip": True}, ["--ignore-static-ip"]),
    ({"ignore_static_mac": True}, ["--ignore-static-mac"]),
    ({"keep": True, "tcp_established": True, "file_locks": True, "ignore_static_ip": True,
      "ignore_static_mac": True},
     ["--keep", "--tcp-established", "--file-locks", "--ignore-static-ip",
      "--ignore-static-mac"]),
]


@pytest.mark.parametrize("options, flags", IN_PLACE_OPTIONS,
                         ids=[" ".join(flags) or "plain" for unused, flags in IN_PLACE_OPTIONS])
def test_restore_in_place(module_harness, recorded, options, flags):
    fake = module_harness.fake
    container = prepare_in_place(fake, recorded)

    kind, result = module_harness.run(main, dict(options, name=container["Name"]), diff=True)

    assert kind == "exit", result
    assert result["changed"] is True
    assert fake.calls == [
        ["podman", "container", "inspect", container["Name"]],
        [CRIU, "check"],
        ["podman", "container", "restore", "--print-stats"] + flags + [container["Name"]],
        ["podman", "container", "inspect", container["Id"]],
    ]
    assert result["stats"] == parse_restore_stats(recorded.json("restore-print-stats"))[1]
    assert result["container"] == recorded.container("inspect-restored")
    assert result["diff"] == {
        "before": {"exists": True, "status": "exited", "checkpointed": True, "mount_point": None},
        "after": {"exists": True, "status": "running", "checkpointed": False,
                  "mount_point": None}}


# ---------------------------------------------------------------------- import

IMPORT_OPTIONS = [
    ({}, []),
    ({"name": "NEW"}, ["--name", "NEW"]),
    ({"ignore_rootfs": True}, ["--ignore-rootfs"]),
    ({"ignore_volumes": True}, ["--ignore-volumes"]),
    ({"publish_ports": ["8081:8080", "9000:9000/udp"]},
     ["--publish", "8081:8080", "--publish", "9000:9000/udp"]),
    ({"pod": "web"}, ["--pod", "POD_ID"]),
    ({"import_previous": "/b/pre.tar"}, ["--import-previous", "/b/pre.tar"]),
    ({"tcp_established": True}, ["--tcp-established"]),
    ({"keep": True, "ignore_static_ip": True, "ignore_rootfs": True, "pod": "web",
      "publish_ports": ["1:2"], "name": "NEW"},
     ["--keep", "--ignore-rootfs", "--ignore-static-ip", "--pod", "POD_ID", "--publish", "1:2",
      "--name", "NEW"]),
]


def expected_import_argv(flags, archive):
    """Podman's order: boolean flags, --import, the other values, --publish, --name."""
    booleans = [flag for flag in flags if flag in (
        "--keep", "--tcp-established", "--ignore-rootfs", "--ignore-volumes", "--ignore-static-ip")]
    rest = [part for part in flags if part not in booleans]
    return ["podman", "container", "restore", "--print-stats"] + booleans + [
        "--import", archive] + rest


@pytest.mark.parametrize("options, flags", IMPORT_OPTIONS,
                         ids=[" ".join(flags) or "plain" for unused, flags in IMPORT_OPTIONS])
def test_restore_from_archive(module_harness, recorded, tmp_path, options, flags):
    fake = module_harness.fake
    new_name = recorded.name("copy") if options.get("name") == "NEW" else None
    options = dict(options, name=new_name) if new_name else options
    flags = [new_name if part == "NEW" else part for part in flags]
    flags = [pod_of(recorded)[1] if part == "POD_ID" else part for part in flags]
    archive, names = prepare_import(fake, recorded, tmp_path, new_name, options.get("pod"))

    kind, result = module_harness.run(main, dict(options, archive=archive))

    assert kind == "exit", result
    assert result["changed"] is True
    pod_inspect = [["podman", "pod", "inspect", "web"]] if options.get("pod") else []
    assert fake.calls == pod_inspect + [
        ["podman", "container", "inspect"] + names,
        [CRIU, "check"],
        expected_import_argv(flags, archive),
        ["podman", "container", "inspect", recorded.container("inspect-imported")["Id"]],
    ]
    assert result["stats"] == parse_restore_stats(recorded.json("restore-import-print-stats"))[1]


def test_restore_into_pod_recorded(module_harness, recorded, tmp_path):
    # The real config.dump of a container in a pod, and the real restore into that pod by ID.
    fake = module_harness.fake
    args = recorded.args("restore-import-pod")
    recorded_archive = args[args.index("--import") + 1]
    name = args[args.index("--name") + 1]
    pod_name, pod_id = pod_of(recorded)
    archive = write_archive(tmp_path / "inpod.tar", recorded.json("config-dump-pod"))
    fake.replay(recorded, "pod-inspect")
    fake.on(["container", "inspect", name], missing_response([name]))
    fake.criu_ok(recorded)
    fake.on([archive if part == recorded_archive else part for part in args],
            recorded.result("restore-import-pod"))
    restored = recorded.container("inspect-imported-pod")
    fake.on(["container", "inspect", restored["Id"]], recorded.result("inspect-imported-pod"))

    kind, result = module_harness.run(main, {"archive": archive, "name": name, "pod": pod_name})

    assert kind == "exit", result
    assert fake.calls_starting(*RESTORE) == [
        ["podman", "container", "restore", "--print-stats", "--import", archive, "--pod", pod_id,
         "--name", name]]
    assert result["container"]["Pod"] == pod_id


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_missing_pod_fails(module_harness, recorded, tmp_path, check_mode):
    fake = module_harness.fake
    pod = recorded.args("pod-inspect-missing")[-1]
    archive = make_archive(tmp_path / "ck.tar", recorded.container("inspect-running"),
                           pod=pod_of(recorded)[1])
    fake.replay(recorded, "pod-inspect-missing")
    kind, result = module_harness.run(main, {"archive": archive, "pod": pod},
                                      check_mode=check_mode)
    assert kind == "fail"
    assert result["msg"] == ('Pod "%s" not found; create it first, or check the name with '
                             '"podman pod ps".' % pod)
    assert result["pod"] == pod
    assert fake.calls == [["podman", "pod", "inspect", pod]]


def test_pod_of_image_restore(module_harness, recorded):
    fake = module_harness.fake
    image = prepare_image(fake, recorded)
    pod_name, pod_id = pod_of(recorded)
    fake.replay(recorded, "pod-inspect")
    kind, result = module_harness.run(main, {"image": image, "pod": pod_name})
    assert kind == "exit", result
    assert fake.calls_starting(*RESTORE) == [
        ["podman", "container", "restore", "--print-stats", "--pod", pod_id, image]]


def test_archive_of_pod_needs_pod(module_harness, recorded, tmp_path):
    # The recorded config.dump of a container that ran in a pod.
    archive = write_archive(tmp_path / "inpod.tar", recorded.json("config-dump-pod"))
    kind, result = module_harness.run(main, {"archive": archive})
    assert kind == "fail"
    assert result["msg"] == ('Archive "%s" holds a container of a pod; set pod to the existing '
                             'pod to restore it into.' % archive)
    assert result["path"] == archive
    assert module_harness.fake.calls == []


def test_archive_without_pod_rejects_pod(module_harness, recorded, tmp_path):
    archive = make_archive(tmp_path / "ck.tar", recorded.container("inspect-running"))
    kind, result = module_harness.run(main, {"archive": archive, "pod": "web"})
    assert kind == "fail"
    assert result["msg"] == ('Archive "%s" holds a container that was in no pod, so it cannot be '
                             'restored into pod "web"; remove pod.' % archive)
    assert result["path"] == archive
    assert module_harness.fake.calls == []


def test_tcp_established_original_name(module_harness, recorded, tmp_path):
    # Podman 4.3 and 5.4 reject --tcp-established with any --name, the original one included.
    fake = module_harness.fake
    original = recorded.container("inspect-running")
    archive, names = prepare_import(fake, recorded, tmp_path, original["Name"])
    kind, result = module_harness.run(main, {"archive": archive, "name": original["Name"],
                                             "tcp_established": True})
    assert kind == "exit", result
    assert fake.calls_starting(*RESTORE) == [
        ["podman", "container", "restore", "--print-stats", "--tcp-established", "--import",
         archive]]


@pytest.mark.parametrize("name", [None, "NEW"])
def test_restore_from_image(module_harness, recorded, name):
    fake = module_harness.fake
    name = recorded.name("fromimg") if name else None
    image = prepare_image(fake, recorded, name)
    kind, result = module_harness.run(main, {"image": image, "name": name})
    assert kind == "exit", result
    assert result["changed"] is True
    restore = fake.calls_starting(*RESTORE)
    expected = ["podman", "container", "restore", "--print-stats"]
    expected += (["--name", name] if name else []) + [image]
    assert restore == [expected]
    assert ["podman", "image", "inspect", image] in fake.calls


# ---------------------------------------------------------------------- check mode


def prepare_case(case, module_harness, recorded):
    fake = module_harness.fake
    if case == "in-place":
        return {"name": prepare_in_place(fake, recorded)["Name"]}
    if case == "archive":
        return {"archive": prepare_import(fake, recorded, module_harness.tmp_path)[0]}
    if case == "archive-named":
        name = recorded.name("copy")
        return {"archive": prepare_import(fake, recorded, module_harness.tmp_path, name)[0],
                "name": name}
    return {"image": prepare_image(fake, recorded)}


@pytest.mark.parametrize("case", ["in-place", "archive", "archive-named", "image"])
def test_check_mode_changes_nothing_and_predicts_changed(module_harness, recorded, case):
    results = {}
    for check_mode in (True, False):
        module_harness.new_fake()
        args = prepare_case(case, module_harness, recorded)
        kind, result = module_harness.run(main, args, check_mode=check_mode, diff=True)
        assert kind == "exit", result
        results[check_mode] = result
        if check_mode:
            assert module_harness.fake.changing_calls() == []
            assert [CRIU, "check"] in module_harness.fake.calls
    assert results[True]["changed"] is True
    assert results[False]["changed"] is True
    for key in ("exists", "status", "checkpointed"):
        assert results[True]["diff"]["after"][key] == results[False]["diff"]["after"][key]


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_running_container_is_no_change(module_harness, recorded, check_mode):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("a")], recorded.result("inspect-restored"))
    kind, result = module_harness.run(main, {"name": recorded.name("a")}, check_mode=check_mode)
    assert kind == "exit"
    assert result["changed"] is False
    assert result["container"] == recorded.container("inspect-restored")
    assert fake.calls == [["podman", "container", "inspect", recorded.name("a")]]


# ---------------------------------------------------------------------- version gate


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_tcp_close_needs_podman_5_7(module_harness, recorded, check_mode):
    fake = module_harness.fake
    prepare_in_place(fake, recorded)
    fake.replay(recorded, "version")
    kind, result = module_harness.run(main, {"name": recorded.name("a"), "tcp_close": True},
                                      check_mode=check_mode)
    assert kind == "fail"
    assert result["msg"] == ("Option tcp_close (podman --tcp-close) needs Podman >= 5.7.0, this "
                             "host has %s." % recorded.podman_version)
    assert result["podman_version"] == recorded.podman_version
    assert fake.changing_calls() == []


def test_tcp_close_on_podman_5_7(module_harness, recorded):
    # Synthetic version response: no podman >= 5.7 runs on these machines.
    fake = module_harness.fake
    container = prepare_in_place(fake, recorded)
    fake.on(["version", "--format", "json"], (0, dump({"Client": {"Version": "5.7.0"}}), ""))
    kind, result = module_harness.run(main, {"name": container["Name"], "tcp_close": True})
    assert kind == "exit", result
    assert fake.calls_starting(*RESTORE) == [
        ["podman", "container", "restore", "--print-stats", "--tcp-close", container["Name"]]]


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_not_checkpointed_container_fails_naming_its_state(module_harness, recorded, check_mode):
    fake = module_harness.fake
    container = recorded.container("inspect-after-failed-export")
    fake.on(["container", "inspect", recorded.name("a")],
            recorded.result("inspect-after-failed-export"))
    kind, result = module_harness.run(main, {"name": recorded.name("a")}, check_mode=check_mode)
    assert kind == "fail"
    status = container["State"]["Status"]
    assert result["msg"] == ('Container "%s" is "%s" and has no checkpoint to restore; only a '
                             'checkpointed container can be restored in place.'
                             % (recorded.name("a"), status))
    assert result["status"] == status


def test_missing_container_in_place(module_harness, recorded):
    fake = module_harness.fake
    fake.on(["container", "inspect", recorded.name("missing")],
            recorded.result("inspect-all-missing"))
    kind, result = module_harness.run(main, {"name": recorded.name("missing")})
    assert kind == "fail"
    assert result["msg"].startswith('Container "%s" not found.' % recorded.name("missing"))


def test_import_over_existing_container_fails(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    original = recorded.container("inspect-running")
    archive = make_archive(tmp_path / "ck.tar", original)
    fake.on(["container", "inspect", recorded.name("b")], recorded.result("inspect-created"))
    kind, result = module_harness.run(main, {"archive": archive, "name": recorded.name("b")})
    assert kind == "fail"
    assert result["msg"].startswith('Cannot restore archive "%s": container "%s" already exists '
                                    'here and is "created".' % (archive, recorded.name("b")))
    assert fake.changing_calls() == []


def test_state_improper_from_podman(module_harness, recorded):
    # Inspect reported the container checkpointed, but podman found it running.
    fake = module_harness.fake
    container = prepare_in_place(fake, recorded)
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-running"))
    kind, result = module_harness.run(main, {"name": container["Name"]})
    assert kind == "fail"
    assert "is running or paused, cannot restore: container state improper" in result["msg"]


def test_name_in_use_from_podman(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    archive, names = prepare_import(fake, recorded, tmp_path, recorded.name("copy"))
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-import-name-in-use"))
    kind, result = module_harness.run(main, {"archive": archive, "name": recorded.name("copy")})
    assert kind == "fail"
    assert ('the container name "%s" is already in use' % recorded.name("copy")) in result["msg"]
    assert result["rc"] == 125
    assert fake.calls_starting("rm") == []


def substitute_log(result, log_path):
    rc, stdout, stderr = result
    start = stderr.index("log file: ") + len("log file: ")
    end = stderr.index(".log", start) + len(".log")
    return rc, stdout, stderr[:start] + str(log_path) + stderr[end:]


def test_failed_import_removes_the_created_container(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    name = recorded.name("broken")
    archive, names = prepare_import(fake, recorded, tmp_path, name)
    left = recorded.container("inspect-failed-import")
    fake.on(["container", "inspect", name], missing_response([name]),
            recorded.result("inspect-failed-import"))
    log = tmp_path / "restore.log"
    log.write_text(recorded.result("criu-restore-log-tail")[1])
    fake.on(lambda argv: argv[1:3] == RESTORE,
            substitute_log(recorded.result("restore-import-criu-failed"), log))
    fake.on(["rm", "--force", "--ignore", left["Id"]], (0, left["Id"] + "\n", ""))

    kind, result = module_harness.run(main, {"archive": archive, "name": name})

    assert kind == "fail"
    assert "criu failed: type NOTIFY errno 0" in result["msg"]
    assert result["msg"].endswith(' The container "%s" that the failed restore left in state '
                                  '"created" was removed.' % name)
    assert fake.calls_starting("rm") == [["podman", "rm", "--force", "--ignore", left["Id"]]]
    assert result["criu_log_path"] == str(log)
    assert result["criu_log"] == log.read_text().splitlines()
    assert result["criu_log"][-2].endswith("Restoring FAILED.")


def test_failed_import_without_name_removes_once(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    archive, names = prepare_import(fake, recorded, tmp_path)
    left = recorded.container("inspect-failed-import")
    # Podman 5.4 printed a container twice for "inspect NAME ID" (checked by hand).
    fake.on(["container", "inspect"] + names, missing_response(names), (0, dump([left, left]), ""))
    fake.on(lambda argv: argv[1:3] == RESTORE, recorded.result("restore-import-criu-failed"))
    fake.on(["rm", "--force", "--ignore", left["Id"]], (0, left["Id"] + "\n", ""))

    kind, result = module_harness.run(main, {"archive": archive})

    assert kind == "fail"
    assert len(fake.calls_starting("rm")) == 1
    assert result["msg"].count("was removed") == 1


def test_broken_archive_fails_before_any_command(module_harness, tmp_path):
    path = tmp_path / "broken.tar"
    path.write_bytes(b"\0" * 257 + b"ustar\x0000" + b"\0" * 1000)
    kind, result = module_harness.run(main, {"archive": str(path)})
    assert kind == "fail"
    assert "is damaged or truncated" in result["msg"] or "not a complete" in result["msg"]
    assert module_harness.fake.calls == []


def test_criu_not_installed(module_harness, recorded, monkeypatch):
    fake = module_harness.fake
    prepare_in_place(fake, recorded)
    monkeypatch.setattr(shutil, "which", lambda *args, **kwargs: None)
    kind, result = module_harness.run(main, {"name": recorded.name("a")})
    assert kind == "fail"
    assert result["msg"].startswith("CRIU is not installed")
    assert fake.changing_calls() == []


TCP_NEW_NAME = ("Option tcp_established cannot restore a checkpoint under a new name: podman keeps "
                "TCP connections only for the original container. Remove name or tcp_established.")


@pytest.mark.parametrize("args, message", [
    ({}, "Set name to the checkpointed container to restore in place, or set archive or image."),
    ({"name": "x", "publish_ports": ["80:80"]},
     "Option publish_ports=80:80 needs archive or image; set it or remove publish_ports."),
    ({"name": "x", "publish_ports": ["80:80", "443:443"]},
     "Option publish_ports=80:80,443:443 needs archive or image; set it or remove publish_ports."),
    ({"name": "x", "pod": "web"}, "Option pod=web needs archive or image"),
    ({"name": "x", "ignore_rootfs": True}, "Option ignore_rootfs=True needs archive or image"),
    ({"name": "x", "ignore_volumes": True}, "Option ignore_volumes=True needs archive or image"),
    ({"name": "x", "import_previous": "/b/pre.tar"}, "Option import_previous=/b/pre.tar needs "
                                                     "archive"),
    ({"image": "x", "import_previous": "/b/pre.tar"}, "needs archive; set it or remove"),
    ({"archive": "/b/x.tar", "image": "x"}, "parameters are mutually exclusive: archive|image"),
    ({"archive": "MISSING"}, "does not exist; check the path."),
    ({"archive": "FOLDER"}, "is a folder, not a checkpoint archive."),
    ({"archive": "TEXT"}, "is not a checkpoint archive: it is neither a tar file nor gzip or "
                          "zstd data."),
    ({"name": "x", "publish_ports": "80:80,81:81", "tcp_close": "no", "bogus": 1},
     "Unsupported parameters"),
], ids=["nothing", "publish", "publish-two", "pod", "ignore-rootfs", "ignore-volumes",
        "import-previous", "import-previous-image", "exclusive", "archive-missing",
        "archive-folder", "archive-text", "unknown"])
def test_bad_input_fails_before_any_command(module_harness, tmp_path, args, message):
    if args.get("archive") == "MISSING":
        args = dict(args, archive=str(tmp_path / "missing.tar"))
    elif args.get("archive") == "FOLDER":
        args = dict(args, archive=str(tmp_path))
    elif args.get("archive") == "TEXT":
        (tmp_path / "notes.txt").write_text("hello\n")
        args = dict(args, archive=str(tmp_path / "notes.txt"))
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert message in result["msg"]
    assert module_harness.fake.calls == []


@pytest.mark.parametrize("name", [None, "NEW"])
def test_image_that_is_not_a_checkpoint(module_harness, recorded, name):
    fake = module_harness.fake
    image = recorded.args("image-inspect-plain")[-1]
    fake.replay(recorded, "image-exists").replay(recorded, "image-inspect-plain")
    args = {"image": image, "name": recorded.name("copy") if name else None}
    kind, result = module_harness.run(main, args)
    assert kind == "fail"
    assert result["msg"] == ('Image "%s" is not a checkpoint image (it has no '
                             'io.podman.annotations.checkpoint.name annotation); create one with '
                             'container_checkpoint create_image.' % image)
    assert result["image"] == image
    assert fake.changing_calls() == []


def test_tcp_established_new_name_rejected(module_harness, recorded, tmp_path):
    fake = module_harness.fake
    archive, unused_names = prepare_import(fake, recorded, tmp_path, "NEW")
    kind, result = module_harness.run(main, {"archive": archive, "name": "NEW",
                                             "tcp_established": True})
    assert kind == "fail"
    assert result["msg"] == TCP_NEW_NAME
    assert fake.changing_calls() == []
