# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of PodmanApiRuntime against libpod REST API responses recorded from Podman 4.3 and 5.4.

``fixtures/api-<version>/index.json`` lists each recorded request with its
status, headers and body file (``fixtures/api-record/record_api.py`` made
them). ``FakeClient`` replaces ``UnixHttpClient``. It returns the
responses that a test registers and keeps every request it was sent.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils import _api_runtime
from ansible_collections.statecraft.podman.plugins.module_utils import _archive
from ansible_collections.statecraft.podman.plugins.module_utils import _criu
from ansible_collections.statecraft.podman.plugins.module_utils import _module
from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
    CLIENT_TIMEOUT,
    ApiResponse,
    UnixHttpClient,
    build_target,
)
from ansible_collections.statecraft.podman.plugins.module_utils._api_runtime import (
    PodmanApiRuntime,
    TarMemberCapture,
    human_duration,
    parse_criu_dump_stats,
    ps_entry,
)
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ApiError,
    ContainerNotFoundError,
    ContainerStateError,
    InvalidRequestError,
    PodmanError,
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import PodmanRuntime
from ansible_collections.statecraft.podman.plugins.module_utils._stats import (
    CHECKPOINT_CRIU_KEYS,
    RESTORE_CRIU_KEYS,
)

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "fixtures")
SOCKET = "/run/statecraft-test/podman.sock"
API = "/v4.0.0/libpod"


class ApiRecorded:
    """Recorded API responses of one Podman version (``"4.3"`` or ``"5.4"``)."""

    def __init__(self, version):
        self.version = version
        self.folder = os.path.join(FIXTURES, "api-%s" % version)
        with open(os.path.join(self.folder, "index.json")) as handle:
            index = json.load(handle)
        self.cases = index["cases"]
        self.podman_version = index["recording"]["podman_version"]
        self.prefix = index["recording"]["container_prefix"]

    def __repr__(self):
        return "ApiRecorded(%r)" % self.version

    def name(self, suffix):
        return "%s-%s" % (self.prefix, suffix)

    def data(self, filename):
        with open(os.path.join(self.folder, filename), "rb") as handle:
            return handle.read()

    def response(self, case):
        entry = self.cases[case]
        return ApiResponse(entry["status"], dict(entry["headers"]), self.data(entry["body"]))

    def json(self, case):
        return json.loads(self.data(self.cases[case]["body"]))


class FakeClient:
    """Stand-in for ``UnixHttpClient`` that returns registered responses."""

    def __init__(self, socket_path=SOCKET):
        self.socket_path = socket_path
        self.last_headers = {}
        self.sent = []
        self._rules = {}

    def on(self, method, target, *responses):
        self._rules[(method, target)] = list(responses)
        return self

    def replay(self, recorded, case, target=None):
        entry = recorded.cases[case]
        return self.on(entry["method"], target or entry["path"], recorded.response(case))

    def request(self, method, path, query=None, body_file=None, content_type=None,
                timeout=CLIENT_TIMEOUT):
        response = self._respond(method, path, query, body_file, content_type, timeout)
        return response

    def request_to_file(self, method, path, dest_file, query=None, body_file=None,
                        content_type=None, timeout=CLIENT_TIMEOUT, on_block=None):
        response = self._respond(method, path, query, body_file, content_type, timeout)
        if not 200 <= response.status < 300:
            return response
        for start in range(0, len(response.body), 7000):
            block = response.body[start:start + 7000]
            if on_block is not None:
                on_block(block)
            dest_file.write(block)
        return ApiResponse(response.status, response.headers, b"")

    def _respond(self, method, path, query, body_file, content_type, timeout):
        target = build_target(path, query)
        body = body_file.read() if body_file is not None else None
        self.sent.append({"method": method, "target": target, "body": body,
                          "content_type": content_type, "timeout": timeout})
        responses = self._rules.get((method, target))
        if not responses:
            raise AssertionError("unexpected request %s %s; sent so far: %s"
                                 % (method, target, [s["target"] for s in self.sent[:-1]]))
        response = responses[0] if len(responses) == 1 else responses.pop(0)
        self.last_headers = dict(response.headers)
        return response

    def targets(self):
        return ["%s %s" % (entry["method"], entry["target"]) for entry in self.sent]


class FakeRunner:
    """``run_command`` stand-in for the local programs (``criu check``)."""

    def __init__(self, rc=0, stdout="Looks good.\n", stderr=""):
        self.calls = []
        self.result = (rc, stdout, stderr)

    def __call__(self, argv, data=None):
        self.calls.append(list(argv))
        return self.result


def response(status, document=None, text=None, version="5.4.2"):
    if text is not None:
        body = text.encode()
    elif document is not None:
        body = json.dumps(document).encode()
    else:
        body = b""
    return ApiResponse(status, {"libpod-api-version": version, "content-type": "application/json"}, body)


@pytest.fixture(params=("4.3", "5.4"), ids=lambda version: "api-%s" % version)
def recorded(request):
    return ApiRecorded(request.param)


@pytest.fixture
def client():
    return FakeClient()


@pytest.fixture
def runtime(client):
    return PodmanApiRuntime(client, FakeRunner())


@pytest.fixture
def no_criu(monkeypatch):
    monkeypatch.setattr(_criu, "find_criu", lambda: None)


# ---------------------------------------------------------------------- interface

def test_same_public_methods_as_cli_runtime():
    cli = set(name for name in dir(PodmanRuntime) if not name.startswith("_"))
    api = set(name for name in dir(PodmanApiRuntime) if not name.startswith("_"))
    assert cli - api == set()


# ---------------------------------------------------------------------- version

def test_version_from_ping_header(client, runtime, recorded):
    client.replay(recorded, "ping")
    assert runtime.version() == tuple(int(part) for part in recorded.podman_version.split("."))
    assert runtime.commands == [["GET", "/_ping"]]


def test_version_from_earlier_response(client, runtime, recorded):
    client.replay(recorded, "inspect-running")
    runtime.inspect_container(recorded.name("a"))
    runtime.version()
    assert client.targets() == ["GET %s" % recorded.cases["inspect-running"]["path"]]


def test_option_too_new_for_service(client, runtime, recorded):
    client.replay(recorded, "ping")
    with pytest.raises(UnsupportedError) as caught:
        runtime.check_option_versions({"tcp_close": True})
    assert caught.value.msg == (
        "Option tcp_close (API parameter tcpClose) needs Podman >= 5.7.0, the Podman API "
        "service at %s has %s. Upgrade Podman there, or leave the option out."
        % (SOCKET, recorded.podman_version))
    assert caught.value.details["socket"] == SOCKET


def test_option_missing_from_api(client, runtime):
    with pytest.raises(UnsupportedError) as caught:
        runtime.check_option_versions({"import_previous": "/tmp/pre.tar"})
    assert "import_previous" in caught.value.msg
    assert "Leave socket unset" in caught.value.msg
    assert client.sent == []


def test_checkpoint_image_needs_podman_4_1(client, runtime):
    client.on("GET", "/_ping", response(200, text="OK", version="4.0.2"))
    with pytest.raises(UnsupportedError) as caught:
        runtime.check_option_versions({"create_image": "localhost/x:1"})
    assert "needs Podman >= 4.1.0" in caught.value.msg


# ---------------------------------------------------------------------- reads

def test_inspect_found_and_missing(client, runtime, recorded):
    client.replay(recorded, "inspect-running").replay(recorded, "inspect-missing")

    containers, missing = runtime.inspect_containers([recorded.name("a"), recorded.name("missing")])

    assert [c["Name"] for c in containers] == [recorded.name("a")]
    assert containers[0]["State"]["Status"] == "running"
    assert missing == [recorded.name("missing")]
    assert runtime.commands == [
        ["GET", "%s/containers/%s/json" % (API, recorded.name("a"))],
        ["GET", "%s/containers/%s/json" % (API, recorded.name("missing"))],
    ]


def test_inspect_with_size(client, runtime, recorded):
    client.on("GET", "%s/containers/x/json?size=true" % API, recorded.response("inspect-created"))
    containers, missing = runtime.inspect_containers(["x"], size=True)
    assert len(containers) == 1
    assert missing == []


def test_inspect_quotes_the_reference(client, runtime, recorded):
    client.on("GET", "%s/containers/a%%2Fb%%20c/json" % API, recorded.response("inspect-missing"))
    assert runtime.inspect_container("a/b c") is None


def test_get_missing_container_message(client, runtime, recorded):
    client.replay(recorded, "inspect-missing")
    with pytest.raises(ContainerNotFoundError) as caught:
        runtime.get_container(recorded.name("missing"))
    assert caught.value.msg == ('Container "%s" not found. Check the name or ID with "podman ps --all".'
                                % recorded.name("missing"))


def test_list_in_podman_ps_shape(client, runtime, recorded):
    client.replay(recorded, "list-all")

    entries = runtime.list_containers(filters={"name": "^" + recorded.prefix})

    assert sorted(entry["Names"][0] for entry in entries) == [recorded.name("a"), recorded.name("b")]
    for entry in entries:
        assert isinstance(entry["Created"], int)
        assert entry["Created"] > 1700000000
        assert entry["CreatedAt"].endswith(" ago")
        assert entry["Status"]
    by_name = dict((entry["Names"][0], entry) for entry in entries)
    assert by_name[recorded.name("a")]["Status"].startswith("Up ")
    assert by_name[recorded.name("b")]["Status"] == "Created"


def test_list_options_become_parameters(client, runtime):
    target = ("%s/containers/json?all=false&filters=%%7B%%22label%%22%%3A%%5B%%22a%%3Db%%22%%2C%%22c%%22%%5D%%2C"
              "%%22status%%22%%3A%%5B%%22running%%22%%5D%%7D&limit=2&sync=true&external=true" % API)
    client.on("GET", target, response(200, []))
    runtime.list_containers(all_containers=False, filters={"status": "running", "label": ["a=b", "c"]},
                            limit=2, sync=True, external=True)
    assert client.sent[0]["target"] == target


def test_mounted_containers(client, runtime, recorded):
    client.replay(recorded, "showmounted")
    mounted = runtime.mounted_containers()
    assert mounted == recorded.json("showmounted")
    assert all(point.endswith("/merged") for point in mounted.values())


def test_mounted_containers_retries_removal_race(client, runtime):
    race = response(500, text='{"cause":"no such container","message":"updating container 5: '
                              'no such container","response":500}\n{"a": "/m"}')
    client.on("GET", "%s/containers/showmounted" % API, race, response(200, {"b": "/n"}))
    assert runtime.mounted_containers() == {"b": "/n"}
    assert len(client.sent) == 2


def test_image_exists_and_checkpoint_name(client, runtime, recorded):
    client.replay(recorded, "image-exists").replay(recorded, "image-missing")
    client.replay(recorded, "image-inspect-checkpoint")
    image = "localhost/statecraft/%s-image:latest" % recorded.prefix

    assert runtime.image_exists(image)
    assert not runtime.image_exists(image + "-missing")
    assert runtime.checkpoint_image_name(image) == recorded.name("copy")


def test_pod_id(client, runtime):
    client.on("GET", "%s/pods/web/json" % API, response(200, {"Id": "f00d" * 16, "Name": "web"}))
    missing = {"cause": "no such pod", "response": 404, "message": "no pod with name or ID gone found"}
    client.on("GET", "%s/pods/gone/json" % API, response(404, missing))
    assert runtime.pod_id("web") == "f00d" * 16
    with pytest.raises(InvalidRequestError) as caught:
        runtime.pod_id("gone")
    assert caught.value.msg == 'Pod "gone" not found; create it first, or check the name with "podman pod ps".'


def test_storage_paths(client, runtime, recorded):
    client.replay(recorded, "info")
    run_root, driver = runtime.storage_paths()
    assert run_root.startswith("/run/")
    assert driver == "overlay"


def test_mount_count_of_local_store(client, runtime, recorded, tmp_path):
    layer = tmp_path / "storage" / "overlay" / "layer1"
    (layer / "diff").mkdir(parents=True)
    (tmp_path / "run" / "overlay-layers").mkdir(parents=True)
    (tmp_path / "run" / "overlay-layers" / "mountpoints.json").write_text(
        json.dumps([{"id": "layer1", "count": 2}, {"id": "other", "count": 1}]))
    client.on("GET", "%s/info" % API, response(200, {"store": {"runRoot": str(tmp_path / "run"),
                                                               "graphDriverName": "overlay"}}))
    container = {"GraphDriver": {"Data": {"UpperDir": str(layer / "diff")}}}
    assert runtime.mount_count(container) == 2


def test_mount_count_of_remote_store(client, runtime, recorded):
    container = recorded.json("inspect-created")
    container["GraphDriver"]["Data"]["UpperDir"] = "/nonexistent/overlay/layer1/diff"
    assert runtime.mount_count(container) is None
    assert client.sent == []


# ---------------------------------------------------------------------- mount and unmount

def test_mount_returns_path(client, runtime, recorded):
    client.replay(recorded, "mount-created")
    point = runtime.mount(recorded.name("b"))
    assert point == recorded.data("mount-created.txt").decode().strip()
    assert "\n" not in point


def test_mount_of_json_string(client, runtime):
    client.on("POST", "%s/containers/x/mount" % API, response(200, text='"/var/lib/x/merged"\n'))
    assert runtime.mount("x") == "/var/lib/x/merged"


def test_unmount_not_mounted_is_no_error(client, runtime, recorded):
    client.replay(recorded, "unmount-not-mounted")
    runtime.unmount(recorded.name("b"))
    assert runtime.commands == [["POST", "%s/containers/%s/unmount" % (API, recorded.name("b"))]]


def test_unmount_running_is_rejected(client, runtime, recorded):
    client.replay(recorded, "unmount-running")
    with pytest.raises(ContainerStateError) as caught:
        runtime.unmount(recorded.name("a"), force=False)
    assert caught.value.msg.startswith(
        'The Podman API cannot unmount container "%s" while it is running: ' % recorded.name("a"))
    assert "leave socket unset" in caught.value.msg


def test_unmount_missing(client, runtime, recorded):
    client.on("POST", "%s/containers/%s/unmount" % (API, recorded.name("missing")),
              recorded.response("mount-missing"))
    with pytest.raises(ApiError) as caught:
        runtime.unmount(recorded.name("missing"))
    assert caught.value.msg.startswith("Failed to unmount container %s: " % recorded.name("missing"))
    assert caught.value.status == 404


def test_force_unmount_repeats_until_unlisted(client, runtime, recorded):
    container = recorded.json("inspect-created")
    name = recorded.name("b")
    client.on("GET", "%s/containers/%s/json" % (API, name), response(200, container))
    client.on("POST", "%s/containers/%s/unmount" % (API, name), recorded.response("unmount-created"))
    client.on("GET", "%s/containers/showmounted" % API,
              response(200, {container["Id"]: "/m"}), response(200, {container["Id"]: "/m"}),
              response(200, {}))

    runtime.unmount(name, force=True)

    assert client.targets().count("POST %s/containers/%s/unmount" % (API, name)) == 3


def test_force_unmount_stops_when_not_mounted(client, runtime, recorded):
    container = recorded.json("inspect-created")
    name = recorded.name("b")
    client.on("GET", "%s/containers/%s/json" % (API, name), response(200, container))
    client.on("POST", "%s/containers/%s/unmount" % (API, name), recorded.response("unmount-created"),
              recorded.response("unmount-not-mounted"))
    client.on("GET", "%s/containers/showmounted" % API, response(200, {container["Id"]: "/m"}))
    runtime.unmount(name, force=True)
    assert client.targets().count("POST %s/containers/%s/unmount" % (API, name)) == 2


def test_remove_and_remove_missing(client, runtime, recorded):
    target = recorded.cases["remove-copy"]["path"]
    client.on("DELETE", target, recorded.response("remove-copy"), recorded.response("remove-missing"))
    runtime.remove(recorded.name("copy"))
    runtime.remove(recorded.name("copy"))
    assert len(client.sent) == 2


def test_remove_report_error(client, runtime):
    client.on("DELETE", "%s/containers/x?force=true" % API,
              response(200, [{"Id": "abc", "Err": "device busy"}]))
    with pytest.raises(Exception) as caught:
        runtime.remove("x")
    assert "Failed to remove container x: device busy" in caught.value.msg


# ---------------------------------------------------------------------- checkpoint

def test_checkpoint_in_place(client, runtime, recorded):
    client.replay(recorded, "checkpoint-running")
    report = recorded.json("checkpoint-running")

    container_id, stats = runtime.checkpoint(recorded.name("a"), {"export": None})

    assert container_id == report["Id"]
    assert stats["runtime_checkpoint_duration"] == report["runtime_checkpoint_duration"]
    assert stats["podman_checkpoint_duration"] >= 0
    assert sorted(stats["criu_statistics"]) == sorted(CHECKPOINT_CRIU_KEYS)
    for key, value in report["criu_statistics"].items():
        assert stats["criu_statistics"][key] == value
    assert client.sent[0]["timeout"] is None
    assert runtime.commands == [["POST", recorded.cases["checkpoint-running"]["path"]]]


def test_checkpoint_options_become_parameters(client, runtime, recorded):
    target = ("%s/containers/x/checkpoint?keep=true&leaveRunning=true&tcpEstablished=true"
              "&fileLocks=true&printStats=true" % API)
    client.on("POST", target, recorded.response("checkpoint-running"))
    runtime.checkpoint("x", {"keep": True, "leave_running": True, "tcp_established": True,
                             "file_locks": True, "ignore_rootfs": False})
    assert client.sent[0]["target"] == target


def test_checkpoint_wrong_state(client, runtime, recorded):
    client.replay(recorded, "checkpoint-created")
    with pytest.raises(ContainerStateError) as caught:
        runtime.checkpoint(recorded.name("b"), {})
    assert caught.value.msg.startswith(
        'Failed to checkpoint container %s: "created" is not running, cannot checkpoint: '
        'container state improper (HTTP 500' % recorded.name("b"))
    assert caught.value.details["socket"] == SOCKET


def test_checkpoint_runtime_failure_reads_criu_log(client, runtime, tmp_path):
    userdata = tmp_path / "userdata"
    userdata.mkdir()
    (userdata / "dump.log").write_text(
        "(00.04) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n"
        "(00.22) Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! "
        "You can try --file-locks to dump them.\n"
        "(00.29) Error (criu/cr-dump.c:2111): Dumping FAILED.\n")
    message = ("`/usr/bin/runc checkpoint --image-path %s/checkpoint --work-path %s abc` failed: exit status 1"
               % (userdata, userdata))
    client.on("POST", "%s/containers/lock/checkpoint?printStats=true" % API,
              response(500, {"cause": message, "message": message, "response": 500}))

    with pytest.raises(ApiError) as caught:
        runtime.checkpoint("lock", {})

    assert caught.value.msg.startswith("Failed to checkpoint container lock: `/usr/bin/runc checkpoint")
    assert caught.value.msg.endswith(
        " runc: criu failed, log file: %s/dump.log. CRIU reported: (00.22) Error (criu/file-lock.c:110): "
        "Some file locks are hold by dumping tasks! You can try --file-locks to dump them. | "
        "(00.29) Error (criu/cr-dump.c:2111): Dumping FAILED." % userdata)
    assert caught.value.details["criu_log_path"] == "%s/dump.log" % userdata
    assert len(caught.value.details["criu_log"]) == 3


def test_checkpoint_runtime_failure_remote_log(client, runtime):
    message = ("`/usr/bin/runc checkpoint --image-path /nonexistent/u/checkpoint --work-path /nonexistent/u abc`"
               " failed: exit status 1")
    client.on("POST", "%s/containers/lock/checkpoint?printStats=true" % API,
              response(500, {"cause": message, "message": message, "response": 500}))
    with pytest.raises(ApiError) as caught:
        runtime.checkpoint("lock", {})
    assert "CRIU's log /nonexistent/u/dump.log is not readable on this host" in caught.value.msg
    assert "criu_log" not in caught.value.details


def test_checkpoint_missing_container(client, runtime, recorded):
    client.replay(recorded, "checkpoint-missing")
    with pytest.raises(ApiError) as caught:
        runtime.checkpoint(recorded.name("missing"), {})
    assert "no container with" in caught.value.msg
    assert caught.value.status == 404


def test_checkpoint_create_image(client, runtime, recorded):
    image = "localhost/statecraft/%s-image:latest" % recorded.prefix
    client.replay(recorded, "ping").replay(recorded, "image-exists")
    client.replay(recorded, "checkpoint-create-image")
    container_id, stats = runtime.checkpoint(recorded.name("copy"), {"create_image": image})
    assert container_id == recorded.json("checkpoint-create-image")["Id"]
    assert stats["criu_statistics"]["pages_written"] > 0


def test_checkpoint_image_not_created(client, runtime, recorded):
    image = "localhost/statecraft/%s-image:latest" % recorded.prefix
    client.replay(recorded, "ping").replay(recorded, "checkpoint-create-image")
    client.on("GET", recorded.cases["image-exists"]["path"], recorded.response("image-missing"))
    with pytest.raises(UnsupportedError) as caught:
        runtime.checkpoint(recorded.name("copy"), {"create_image": image})
    assert "created no image" in caught.value.msg


def _export_target(recorded):
    # The recording also sent printStats=true, which the API ignores with export=true.
    return "%s/containers/%s/checkpoint?export=true" % (API, recorded.name("a"))


def _tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getnames()


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd", None])
def test_export_compressed_locally(client, runtime, recorded, tmp_path, compress):
    if compress in ("zstd", None) and shutil.which("zstd") is None:
        pytest.skip("needs the zstd program")
    client.on("POST", _export_target(recorded), recorded.response("checkpoint-export"))
    partial = str(tmp_path / ".worker.tar.abc.partial")

    container_id, stats = runtime.checkpoint(recorded.name("a"), {"export": partial, "compress": compress})

    expected = compress or "zstd"
    assert _archive.detect_compression(partial) == expected
    assert os.stat(partial).st_mode & 0o777 == 0o600
    with open(partial, "rb") as handle:
        data = handle.read()
    if expected == "gzip":
        data = gzip.decompress(data)
    elif expected == "zstd":
        data = subprocess.run(["zstd", "-dcq"], input=data, stdout=subprocess.PIPE, check=True).stdout
    assert data == recorded.data("checkpoint-export.tar")
    assert container_id == recorded.json("inspect-running")["Id"]
    assert stats["runtime_checkpoint_duration"] == 0
    assert stats["podman_checkpoint_duration"] >= 0
    assert stats["criu_statistics"]["pages_written"] > 0
    assert stats["criu_statistics"]["frozen_time"] > 0
    assert ["POST", _export_target(recorded), "--output", partial] in runtime.commands
    if expected == "zstd":
        assert runtime.commands[0] == [shutil.which("zstd"), "-q", "-c"]
    else:
        assert len(runtime.commands) == 1


def test_export_without_zstd_program(client, runtime, recorded, tmp_path, monkeypatch):
    monkeypatch.setattr(_api_runtime.shutil, "which", lambda name: None)
    partial = str(tmp_path / ".a.partial")
    with pytest.raises(UnsupportedError) as caught:
        runtime.checkpoint(recorded.name("a"), {"export": partial})
    assert "needs the zstd program" in caught.value.msg
    assert client.sent == []
    assert not os.path.exists(partial)


def test_export_failure_writes_nothing(client, runtime, recorded, tmp_path):
    client.on("POST", "%s/containers/%s/checkpoint?export=true" % (API, recorded.name("b")),
              recorded.response("checkpoint-created"))
    partial = str(tmp_path / ".b.partial")
    with pytest.raises(ContainerStateError):
        runtime.checkpoint(recorded.name("b"), {"export": partial, "compress": "none"})
    assert os.path.getsize(partial) == 0


def test_export_compressor_failure(client, runtime, recorded, tmp_path, monkeypatch):
    monkeypatch.setattr(_api_runtime.shutil, "which", lambda name: "/bin/false")
    client.on("POST", _export_target(recorded), recorded.response("checkpoint-export"))
    partial = str(tmp_path / ".a.partial")
    with pytest.raises(PodmanError) as caught:
        runtime.checkpoint(recorded.name("a"), {"export": partial})
    assert caught.value.msg.startswith("Failed to checkpoint container %s: the Podman API service at %s "
                                       "exported the checkpoint, but writing it to %s failed: "
                                       % (recorded.name("a"), SOCKET, partial))
    assert "/bin/false exited with 1" in caught.value.msg


def test_export_write_failure(client, runtime, recorded, tmp_path, monkeypatch):
    def full_disk(writer, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_api_runtime.ArchiveWriter, "write", full_disk)
    client.on("POST", _export_target(recorded), recorded.response("checkpoint-export"))
    partial = str(tmp_path / ".a.partial")
    with pytest.raises(PodmanError) as caught:
        runtime.checkpoint(recorded.name("a"), {"export": partial, "compress": "none"})
    assert "No space left on device" in caught.value.msg


def test_export_to_unwritable_folder(client, runtime, recorded):
    with pytest.raises(InvalidRequestError) as caught:
        runtime.checkpoint(recorded.name("a"), {"export": "/proc/.x.tar.1.partial", "compress": "none"})
    assert caught.value.msg == 'Folder "/proc" for the export archive is not writable; choose a writable folder.'
    assert client.sent == []


def test_export_with_options(client, runtime, recorded, tmp_path):
    target = ("%s/containers/x/checkpoint?leaveRunning=true&ignoreRootFS=true&ignoreVolumes=true"
              "&export=true" % API)
    client.on("POST", target, recorded.response("checkpoint-export"))
    runtime.checkpoint("x", {"export": str(tmp_path / "p"), "compress": "none", "leave_running": True,
                             "ignore_rootfs": True, "ignore_volumes": True})
    assert client.sent[0]["target"] == target
    assert client.sent[0]["timeout"] is None


# ---------------------------------------------------------------------- restore

def test_restore_in_place(client, runtime, recorded):
    client.replay(recorded, "restore-in-place")
    report = recorded.json("restore-in-place")

    container_id, stats = runtime.restore(recorded.name("a"), {})

    assert container_id == report["Id"]
    assert stats["runtime_restore_duration"] == report["runtime_restore_duration"]
    assert sorted(stats["criu_statistics"]) == sorted(RESTORE_CRIU_KEYS)
    assert stats["criu_statistics"]["restore_time"] == report["criu_statistics"]["restore_time"]
    assert stats["podman_restore_duration"] >= 0


def test_restore_running(client, runtime, recorded):
    client.replay(recorded, "restore-running")
    with pytest.raises(ContainerStateError) as caught:
        runtime.restore(recorded.name("a"), {})
    assert caught.value.msg.startswith("Failed to restore %s: container " % recorded.name("a"))
    assert "is running or paused, cannot restore" in caught.value.msg


def test_restore_without_checkpoint(client, runtime, recorded):
    client.replay(recorded, "restore-not-checkpointed")
    with pytest.raises(ApiError) as caught:
        runtime.restore(recorded.name("b"), {})
    assert "a complete checkpoint for this container cannot be found" in caught.value.msg


def _import_target(recorded, name="copy"):
    return "%s/containers/import/restore?import=true&name=%s&printStats=true" % (API, recorded.name(name))


def _write_archive(recorded, tmp_path):
    archive = tmp_path / "worker.tar"
    archive.write_bytes(recorded.data("checkpoint-export.tar"))
    return str(archive)


def test_restore_import_sends_archive(client, runtime, recorded, tmp_path):
    client.on("POST", _import_target(recorded), recorded.response("import"))
    archive = _write_archive(recorded, tmp_path)

    container_id, stats = runtime.restore(None, {"archive": archive, "new_name": recorded.name("copy")})

    sent = client.sent[0]
    assert sent["body"] == recorded.data("checkpoint-export.tar")
    assert sent["content_type"] == "application/x-tar"
    assert sent["timeout"] is None
    assert container_id == recorded.json("import")["Id"]
    assert stats["criu_statistics"]["pages_restored"] > 0
    assert runtime.commands == [["POST", _import_target(recorded), "--upload-file", archive]]


@pytest.mark.parametrize("case, error_type, words", [
    ("import-name-in-use", InvalidRequestError, "is already in use"),
    ("import-truncated", ApiError, "unexpected EOF"),
    ("import-not-tar", ApiError, "invalid tar header"),
])
def test_restore_import_failures(client, runtime, recorded, tmp_path, case, error_type, words):
    name = recorded.cases[case]["path"].split("name=")[1].split("&")[0]
    client.on("POST", recorded.cases[case]["path"], recorded.response(case))
    archive = _write_archive(recorded, tmp_path)
    with pytest.raises(error_type) as caught:
        runtime.restore(None, {"archive": archive, "new_name": name})
    assert caught.value.msg.startswith("Failed to restore %s: " % archive)
    assert words in caught.value.msg


def test_restore_options_become_parameters(client, runtime, recorded, tmp_path):
    target = ("%s/containers/import/restore?import=true&keep=true&ignoreStaticIP=true&ignoreStaticMAC=true"
              "&pod=web&publishPorts=8080%%3A80%%208443%%3A443&name=n&printStats=true" % API)
    client.on("POST", target, recorded.response("import"))
    runtime.restore(None, {"archive": _write_archive(recorded, tmp_path), "new_name": "n", "keep": True,
                           "ignore_static_ip": True, "ignore_static_mac": True, "pod": "web",
                           "publish_ports": ["8080:80", "8443:443"]})
    assert client.sent[0]["target"] == target


def test_restore_from_image_quotes_reference(client, runtime, recorded):
    image = "localhost/statecraft/x:latest"
    target = "%s/containers/localhost%%2Fstatecraft%%2Fx%%3Alatest/restore?name=n&printStats=true" % API
    client.on("POST", target, recorded.response("import"))
    runtime.restore(image, {"new_name": "n"})
    assert client.sent[0]["target"] == target


# ---------------------------------------------------------------------- CRIU

def test_criu_probe_skipped_without_local_criu(runtime, no_criu):
    assert runtime.require_criu() is None
    runtime.require_dirty_tracking(None, "pre_checkpoint")
    assert runtime.commands == []


def test_criu_probe_with_local_criu(client, monkeypatch):
    monkeypatch.setattr(_criu, "find_criu", lambda: "/usr/local/sbin/criu")
    runner = FakeRunner()
    runtime = PodmanApiRuntime(client, runner)
    assert runtime.require_criu() == "/usr/local/sbin/criu"
    assert runner.calls == [["/usr/local/sbin/criu", "check"]]
    assert runtime.commands == [["/usr/local/sbin/criu", "check"]]


def test_criu_probe_failure(client, monkeypatch):
    monkeypatch.setattr(_criu, "find_criu", lambda: "/usr/sbin/criu")
    runtime = PodmanApiRuntime(client, FakeRunner(rc=1, stdout="", stderr="Error: vdso\n"))
    with pytest.raises(UnsupportedError) as caught:
        runtime.require_criu()
    assert "fails \"criu check\"" in caught.value.msg


def test_stats_dump_matches_podman_figures(recorded):
    podman_output = json.loads(recorded.data("cli-print-stats.json"))
    expected = podman_output["container_statistics"][0]["criu_statistics"]
    figures = parse_criu_dump_stats(recorded.data("cli-stats-dump.img"))
    for key in CHECKPOINT_CRIU_KEYS:
        assert figures.get(key, 0) == expected.get(key, 0), key


@pytest.mark.parametrize("data, words", [
    (b"", "too few"),
    (b"\0" * 16, "magic"),
    (bytes.fromhex("40591055063309572200000001"), "truncated"),
])
def test_stats_dump_rejected(data, words):
    with pytest.raises(ValueError) as caught:
        parse_criu_dump_stats(data)
    assert words in str(caught.value)


def test_tar_capture_in_any_pieces(recorded):
    data = recorded.data("checkpoint-export.tar")
    whole = TarMemberCapture(("stats-dump", "config.dump"), 1 << 20)
    whole.feed(data)
    tiny = TarMemberCapture(("stats-dump", "config.dump"), 1 << 20)
    for start in range(0, len(data), 511):
        tiny.feed(data[start:start + 511])

    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        stats_dump = archive.extractfile("stats-dump").read()
        config = archive.extractfile("config.dump").read()
    assert whole.members == {"stats-dump": stats_dump, "config.dump": config}
    assert tiny.members == whole.members


def test_tar_capture_skips_large_members():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, size in (("config.dump", 5000), ("stats-dump", 10)):
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(b"x" * size))
    capture = TarMemberCapture(("stats-dump", "config.dump"), 1000)
    capture.feed(buffer.getvalue())
    assert capture.members == {"stats-dump": b"x" * 10}


def _archive_with_volumes(tar_format):
    buffer = io.BytesIO()
    members = [
        ("config.dump", b'{"id": "abc"}'),
        ("volumes/", None),
        ("volumes/0123.tar", os.urandom(3000)),
        ("volumes/" + "v" * 150 + ".tar", os.urandom(700)),
        ("checkpoint/" + "p" * 120 + ".img", os.urandom(1025)),
        ("volumesextra", b"kept: only the volumes folder goes"),
        ("stats-dump", b"x" * 46),
    ]
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("piece", [1, 511, 512, 4096, 1 << 20])
def test_tar_filter_drops_volumes(tar_format, piece):
    data = _archive_with_volumes(tar_format)
    output = io.BytesIO()
    tar_filter = _api_runtime.TarMemberFilter(output, "volumes")
    for start in range(0, len(data), piece):
        tar_filter.write(data[start:start + piece])
    tar_filter.close()

    with tarfile.open(fileobj=io.BytesIO(output.getvalue())) as archive:
        kept = dict((member.name, archive.extractfile(member).read()) for member in archive
                    if member.isfile())
        names = archive.getnames()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        expected = dict((member.name, archive.extractfile(member).read()) for member in archive
                        if member.isfile() and not member.name.startswith("volumes/"))
    assert kept == expected
    assert [name for name in names if name.startswith("volumes")] == ["volumesextra"]
    assert len(output.getvalue()) % 512 == 0


def test_tar_filter_keeps_archive_without_volumes(recorded):
    data = recorded.data("checkpoint-export.tar")
    output = io.BytesIO()
    tar_filter = _api_runtime.TarMemberFilter(output, "volumes")
    tar_filter.write(data)
    tar_filter.close()
    assert output.getvalue() == data


def test_tar_filter_detects_cut_stream():
    data = _archive_with_volumes(tarfile.GNU_FORMAT)
    tar_filter = _api_runtime.TarMemberFilter(io.BytesIO(), "volumes")
    for end in (1500, 1536, 4000):
        tar_filter = _api_runtime.TarMemberFilter(io.BytesIO(), "volumes")
        tar_filter.write(data[:end])
        with pytest.raises(ValueError):
            tar_filter.close()


def test_export_ignore_volumes_filters_stream(client, runtime, tmp_path):
    data = _archive_with_volumes(tarfile.PAX_FORMAT)
    target = "%s/containers/x/checkpoint?ignoreVolumes=true&export=true" % API
    client.on("POST", target, ApiResponse(200, {"libpod-api-version": "4.3.1"}, data))
    partial = str(tmp_path / ".x.partial")

    runtime.checkpoint("x", {"export": partial, "compress": "none", "ignore_volumes": True})

    assert client.sent[0]["target"] == target
    with tarfile.open(partial) as archive:
        names = archive.getnames()
    assert "config.dump" in names
    assert [name for name in names if name.startswith("volumes/")] == []


# ---------------------------------------------------------------------- podman ps shape

@pytest.mark.parametrize("seconds, words", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
    (20 * 86400, "2 weeks"), (90 * 86400, "3 months"), (800 * 86400, "2 years"),
])
def test_human_duration(seconds, words):
    assert human_duration(seconds) == words


def test_ps_entry_of_exited_container():
    entry = ps_entry({"Created": "2026-12-04T21:56:21.461011399Z", "State": "exited", "ExitCode": 137,
                      "ExitedAt": 1796421441, "StartedAt": 1796421381, "CreatedAt": "", "Status": ""},
                     now=1796421441 + 300)
    assert entry["Created"] == 1796421381
    assert entry["CreatedAt"] == "6 minutes ago"
    assert entry["Status"] == "Exited (137) 5 minutes ago"


# ---------------------------------------------------------------------- choosing the transport

class FakeModule:
    def __init__(self, **params):
        self.params = dict({"executable": "/nonexistent/podman", "socket": None, "timeout": 30.0}, **params)

    def run_command(self, *args, **kwargs):
        raise AssertionError("no command should run")

    def warn(self, message):
        pass


def test_socket_option_selects_api_runtime():
    runtime = _module.create_runtime(FakeModule(socket="unix:///run/podman/podman.sock", timeout=4.5))
    assert isinstance(runtime, PodmanApiRuntime)
    assert isinstance(runtime.client, UnixHttpClient)
    assert runtime.client.socket_path == "/run/podman/podman.sock"
    assert runtime.client.timeout == 4.5


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeout_must_be_positive(timeout):
    with pytest.raises(InvalidRequestError) as caught:
        _module.create_runtime(FakeModule(socket="/run/podman/podman.sock", timeout=timeout))
    assert "timeout must be a number of seconds above 0" in caught.value.msg


def test_tcp_socket_rejected_by_module():
    with pytest.raises(InvalidRequestError) as caught:
        _module.create_runtime(FakeModule(socket="tcp://localhost:8888"))
    assert "connect only to unix sockets" in caught.value.msg
