# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Readiness of a host: podman, the OCI runtime, CRIU and its optional features."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils import _readiness
from ansible_collections.statecraft.podman.tests.unit.harness import CRIU

KERNEL = "6.18.44-fc-v1252"
ZSTD = "/usr/bin/zstd"
CRIU_VERSION = (0, "Version: 4.1.1\n", "")
SUPPORTED = {
    "tcp_half_closed": (0, "tcp_half_closed is supported\n", ""),
    "fdinfo_lock": (0, "fdinfo_lock is supported\n", ""),
}
# Debian 12's CRIU 3.17.1 on kernel 6.18: "criu check" output, exit code 1.
OLD_CRIU_CHECK = (1, "", (
    "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n"
    "Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n"
    "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n"
    "Error (criu/crtools.c:260): Could not initialize kernel features detection.\n"))
# The lines CRIU 4.1.1 logs when it cannot dump a process with a TCP socket here.
TCP_DUMP_LOG = (
    "(00.256278) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: "
    "Operation not permitted\n"
    "(00.271470) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported\n"
    "(00.271494) Error (criu/cr-dump.c:1681): Dump files (pid: 28528) failed with -1\n"
    "(00.271813) Error (criu/cr-dump.c:2111): Dumping FAILED.\n")


class FakeHolder:
    """Stands in for the helper process that the dump probes dump."""

    def __init__(self, started):
        self.pid = 4242
        self.stopped = False
        started.append(self)

    def stop(self):
        self.stopped = True


@pytest.fixture
def holders():
    return []


@pytest.fixture
def spawn(holders):
    def spawn_holder(kind, lock_path):
        holder = FakeHolder(holders)
        holder.kind = kind
        holder.lock_path = lock_path
        return holder
    return spawn_holder


def which_from(found):
    """Return a ``which`` that finds only the names in ``found`` (name -> path)."""
    return lambda name, path: found.get(name)


def dump_response(log=None, rc=0):
    """Respond to ``criu dump``: write ``log`` into its images folder and return ``rc``."""
    def respond(argv):
        if log is not None:
            folder = argv[argv.index("--images-dir") + 1]
            with open(os.path.join(folder, "dump.log"), "w") as handle:
                handle.write(log)
        return rc, "", ""
    return respond


def is_dump(kind):
    def match(argv):
        return argv[:2] == [CRIU, "dump"] and ("--file-locks" in argv) == (kind == "lock")
    return match


def host_as_recorded(fake_podman, recorded, tcp_log=TCP_DUMP_LOG):
    """Set up the responses of the project's machine: CRIU 4.1.1, no dirty tracking, no TCP dump."""
    fake_podman.replay(recorded, "version")
    fake_podman.replay(recorded, "info")
    fake_podman.on_other([CRIU, "--version"], CRIU_VERSION)
    fake_podman.criu_ok(recorded)
    fake_podman.replay(recorded, "criu-check-dirty-track")
    for feature, response in SUPPORTED.items():
        fake_podman.on_other([CRIU, "check", "--feature", feature], response)
    fake_podman.on(is_dump("tcp"), dump_response(tcp_log, 1 if tcp_log else 0))
    fake_podman.on(is_dump("lock"), dump_response())


def gather(fake_podman, spawn, found=None, **kwargs):
    which = which_from(found if found is not None else {"criu": CRIU, "zstd": ZSTD})
    options = {"kernel": KERNEL, "euid": 0}
    options.update(kwargs)
    return _readiness.gather_readiness(
        fake_podman, executable=fake_podman.executable, path="/usr/local/sbin:/usr/bin",
        which=which, holder=spawn, **options)


def test_ready_host_as_recorded(fake_podman, recorded, spawn, holders):
    host_as_recorded(fake_podman, recorded)
    readiness = gather(fake_podman, spawn)

    assert readiness["ready"] is True
    assert readiness["kernel"] == KERNEL
    assert readiness["podman"] == {"path": fake_podman.executable,
                                   "version": recorded.podman_version,
                                   "api_version": recorded.podman_version}
    assert readiness["runtime"] == {"name": "runc", "path": "/usr/bin/runc", "version": "1.1.5",
                                    "can_checkpoint": True}
    assert readiness["criu"] == {"path": CRIU, "version": "4.1.1", "check": True,
                                 "check_output": "Looks good."}
    features = readiness["features"]
    assert features["mem_dirty_track"]["works"] is False
    assert features["mem_dirty_track"]["detail"] == \
        "Dirty tracking is OFF. Memory snapshot will not work."
    assert features["tcp_repair"]["works"] is False
    assert features["tcp_repair"]["detail"] == \
        "criu dump failed: sockets: Can't get 1:16 opt: Operation not supported"
    assert features["file_locks"] == {
        "works": True, "criu_feature": "fdinfo_lock", "detail": "a process holding a file lock was dumped",
        "used_for": _readiness.FEATURE_USES["file_locks"]}
    assert [entry["severity"] for entry in readiness["problems"]] == ["warning", "warning"]
    assert "pre_checkpoint" in readiness["problems"][0]["problem"]
    assert "TCP socket" in readiness["problems"][1]["problem"]
    assert all(entry["fix"] for entry in readiness["problems"])

    assert fake_podman.calls[:7] == [
        ["podman", "version", "--format", "json"],
        ["podman", "info", "--format", "json"],
        [CRIU, "--version"],
        [CRIU, "check"],
        [CRIU, "check", "--feature", "mem_dirty_track"],
        [CRIU, "check", "--feature", "tcp_half_closed"],
        [CRIU, "dump", "--tree", "4242", "--images-dir", fake_podman.calls[6][5],
         "--leave-running", "--log-file", "dump.log"],
    ]
    assert fake_podman.calls[7] == [CRIU, "check", "--feature", "fdinfo_lock"]
    assert fake_podman.calls[8][-1] == "--file-locks"
    assert len(fake_podman.calls) == 9
    # Both helper processes were stopped and their images folders removed.
    assert [holder.kind for holder in holders] == ["tcp", "lock"]
    assert all(holder.stopped for holder in holders)
    assert not os.path.exists(fake_podman.calls[6][5])
    assert not os.path.exists(fake_podman.calls[8][5])


def test_every_feature_works(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded, tcp_log=None)
    fake_podman.on_other([CRIU, "check", "--feature", "mem_dirty_track"],
                         (0, "mem_dirty_track is supported\n", ""))
    readiness = gather(fake_podman, spawn)
    assert readiness["ready"] is True
    assert [name for name, entry in readiness["features"].items() if entry["works"]] == \
        ["mem_dirty_track", "tcp_repair", "file_locks"]
    assert readiness["problems"] == []


def test_kernel_feature_missing_skips_the_dump(fake_podman, recorded, spawn, holders):
    host_as_recorded(fake_podman, recorded)
    fake_podman.on_other([CRIU, "check", "--feature", "fdinfo_lock"],
                         (1, "", "Error (criu/cr-check.c:611): fdinfo doesn't contain the lock field\n"))
    readiness = gather(fake_podman, spawn)
    assert readiness["features"]["file_locks"]["works"] is False
    assert readiness["features"]["file_locks"]["detail"] == "fdinfo doesn't contain the lock field"
    assert [holder.kind for holder in holders] == ["tcp"]
    assert "file lock" in readiness["problems"][-1]["problem"]


def test_podman_not_found(fake_podman, recorded, spawn):
    fake_podman.on_other([CRIU, "--version"], CRIU_VERSION)
    fake_podman.criu_ok(recorded)
    fake_podman.replay(recorded, "criu-check-dirty-track")
    for feature, response in SUPPORTED.items():
        fake_podman.on_other([CRIU, "check", "--feature", feature], response)
    fake_podman.on(is_dump("tcp"), dump_response())
    fake_podman.on(is_dump("lock"), dump_response())
    readiness = _readiness.gather_readiness(
        fake_podman, executable="podman", path="/usr/bin", kernel=KERNEL, euid=0,
        which=which_from({"criu": CRIU, "zstd": ZSTD}), holder=spawn)

    assert readiness["ready"] is False
    assert readiness["podman"] == {"path": None, "version": None, "api_version": None}
    assert readiness["runtime"]["can_checkpoint"] is False
    assert readiness["problems"][0]["problem"] == 'Podman executable "podman" not found.'
    assert "Install podman" in readiness["problems"][0]["fix"]
    assert readiness["criu"]["check"] is True
    assert not any(call[0] == "podman" for call in fake_podman.calls)


def test_podman_fails(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded)
    fake_podman.on(["version", "--format", "json"], (
        125, "", 'Error: reading configuration file "/nowhere/containers.conf": no such file\n'))
    readiness = gather(fake_podman, spawn)

    assert readiness["ready"] is False
    assert readiness["podman"]["version"] is None
    assert readiness["runtime"]["name"] is None
    assert readiness["problems"][0]["problem"].endswith('no such file')
    assert "CONTAINERS_CONF" in readiness["problems"][0]["fix"]
    assert ["podman", "info", "--format", "json"] not in fake_podman.calls


def test_podman_info_fails(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded)
    fake_podman.on(["info", "--format", "json"], (125, "", "Error: cannot open the store\n"))
    readiness = gather(fake_podman, spawn)
    assert readiness["ready"] is False
    assert readiness["podman"]["version"] == recorded.podman_version
    assert readiness["runtime"]["can_checkpoint"] is False
    assert readiness["problems"][0]["problem"].endswith("cannot open the store")


def test_podman_too_old(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded)
    fake_podman.on(["version", "--format", "json"],
                   (0, json.dumps({"Client": {"Version": "3.4.4", "APIVersion": "3.4.4"}}), ""))
    readiness = gather(fake_podman, spawn)
    assert readiness["ready"] is False
    assert readiness["podman"]["version"] == "3.4.4"
    assert "older than 4.0" in readiness["problems"][0]["problem"]


@pytest.mark.parametrize("name, version, works", [
    ("runc", "runc version 1.1.5\ncommit: x", True),
    ("crun", "crun version 1.21\ncommit: x\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +CRIU +YAJL",
     True),
    ("crun", "crun version 1.8.1\ncommit: x\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL",
     False),
    ("runsc", "runsc version release-20240101.0", False),
])
def test_runtime_can_checkpoint(name, version, works):
    result, reason = _readiness.runtime_can_checkpoint({"name": name, "version": version})
    assert result is works
    if not works:
        assert 'runtime = "runc"' in reason[1]


def test_crun_without_criu_is_a_problem(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded)
    info = recorded.json("info")
    info["host"]["ociRuntime"] = {"name": "crun", "path": "/usr/bin/crun",
                                  "version": "crun version 1.8.1\ncommit: abc\n+SYSTEMD +SECCOMP +YAJL"}
    fake_podman.on(["info", "--format", "json"], (0, json.dumps(info), ""))
    readiness = gather(fake_podman, spawn)
    assert readiness["ready"] is False
    assert readiness["runtime"] == {"name": "crun", "path": "/usr/bin/crun", "version": "1.8.1",
                                    "can_checkpoint": False}
    assert "built without CRIU" in readiness["problems"][0]["problem"]


def test_criu_not_found(fake_podman, recorded, spawn, holders):
    fake_podman.replay(recorded, "version")
    fake_podman.replay(recorded, "info")
    readiness = gather(fake_podman, spawn, found={"zstd": ZSTD})
    assert readiness["ready"] is False
    assert readiness["criu"] == {"path": None, "version": None, "check": False, "check_output": ""}
    assert "CRIU is not installed" in readiness["problems"][0]["problem"]
    assert all(entry["works"] is False for entry in readiness["features"].values())
    assert all(entry["detail"].startswith("not checked") for entry in readiness["features"].values())
    assert holders == []
    assert len(fake_podman.calls) == 2


def test_old_criu_on_new_kernel(fake_podman, recorded, spawn):
    fake_podman.replay(recorded, "version")
    fake_podman.replay(recorded, "info")
    fake_podman.on_other([CRIU, "--version"], (0, "Version: 3.17.1\n", ""))
    fake_podman.on_other([CRIU, "check"], OLD_CRIU_CHECK)
    readiness = gather(fake_podman, spawn)

    assert readiness["ready"] is False
    assert readiness["criu"]["version"] == "3.17.1"
    assert readiness["criu"]["check"] is False
    assert "kerndat_vdso_fill_symtable" in readiness["criu"]["check_output"]
    entry = readiness["problems"][0]
    assert entry["severity"] == "error"
    assert entry["problem"] == ('CRIU 3.17.1 at %s fails "criu check" on kernel %s: '
                                "vdso: Unexpected rt vDSO area bounds" % (CRIU, KERNEL))
    assert "Debian 12" in entry["fix"]
    assert "/usr/local/sbin" in entry["fix"]
    assert "scripts/setup.sh" in entry["fix"]
    # No feature check runs while the plain check fails.
    assert fake_podman.calls[-1] == [CRIU, "check"]


def test_criu_check_as_non_root(fake_podman, recorded, spawn):
    fake_podman.replay(recorded, "version")
    fake_podman.replay(recorded, "info")
    fake_podman.on_other([CRIU, "--version"], CRIU_VERSION)
    fake_podman.on_other([CRIU, "check"], (1, "", "Error (criu/crtools.c:250): Must be run as root\n"))
    readiness = gather(fake_podman, spawn, euid=1000)
    assert readiness["problems"][0]["problem"].endswith("Must be run as root")
    assert "become: true" in readiness["problems"][0]["fix"]


def test_criu_check_fails_for_another_reason(fake_podman, recorded, spawn):
    fake_podman.replay(recorded, "version")
    fake_podman.replay(recorded, "info")
    fake_podman.on_other([CRIU, "--version"], CRIU_VERSION)
    fake_podman.on_other([CRIU, "check"], (1, "Does not look good.\n", ""))
    readiness = gather(fake_podman, spawn)
    assert readiness["problems"][0]["problem"].endswith(": Does not look good.")
    assert readiness["problems"][0]["fix"].startswith('Run "%s check" as root' % CRIU)


def test_zstd_missing_is_a_warning(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded, tcp_log=None)
    fake_podman.on_other([CRIU, "check", "--feature", "mem_dirty_track"],
                         (0, "mem_dirty_track is supported\n", ""))
    readiness = gather(fake_podman, spawn, found={"criu": CRIU})
    assert readiness["ready"] is True
    assert readiness["problems"] == [{
        "problem": readiness["problems"][0]["problem"], "fix": "Install zstd (package zstd).",
        "severity": "warning"}]


@pytest.mark.parametrize("text, expected", [
    ("5.4.2-dev", "5.4.2"),
    ("podman version 4.3", "4.3.0"),
    ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1", "1.1.5"),
    ("", None),
    (None, None),
])
def test_parse_version(text, expected):
    assert _readiness.parse_version(text) == expected


def test_criu_error_lines():
    assert _readiness.criu_error_lines(TCP_DUMP_LOG) == [
        "sockets: Can't get 1:16 opt: Operation not supported",
        "Dump files (pid: 28528) failed with -1",
        "Dumping FAILED.",
    ]
    assert _readiness.first_error("Looks good.\n", "", 0) == "Looks good."
    assert _readiness.first_error("", "", 3) == "rc=3"


def test_dump_probe_with_a_real_helper_process(tmp_path):
    """The helper really starts, holds a socket or a lock while criu runs, and is gone after."""
    seen = []

    def run(argv):
        pid = int(argv[argv.index("--tree") + 1])
        folder = argv[argv.index("--images-dir") + 1]
        os.kill(pid, 0)  # running
        fds = [os.readlink("/proc/%d/fd/%s" % (pid, fd)) for fd in os.listdir("/proc/%d/fd" % pid)]
        seen.append((pid, folder, fds))
        return 0, "", ""

    assert _readiness.dump_probe(run, CRIU, "tcp", _readiness.spawn_holder) == (
        True, "a process holding a listening TCP socket was dumped")
    assert _readiness.dump_probe(run, CRIU, "lock", _readiness.spawn_holder) == (
        True, "a process holding a file lock was dumped")

    (tcp_pid, tcp_folder, tcp_fds), (lock_pid, lock_folder, lock_fds) = seen
    assert any(fd.startswith("socket:") for fd in tcp_fds)
    assert os.path.join(lock_folder, "locked") in lock_fds
    # stdout is /dev/null once the helper is ready, so no pipe to this process is dumped.
    assert not any(fd.startswith("pipe:") for fd in tcp_fds + lock_fds)
    for pid, folder in ((tcp_pid, tcp_folder), (lock_pid, lock_folder)):
        assert not os.path.exists("/proc/%d" % pid)
        assert not os.path.exists(folder)


def test_dump_probe_when_the_helper_does_not_start(tmp_path):
    def run(argv):
        raise AssertionError("criu must not run without a helper")

    assert _readiness.dump_probe(run, CRIU, "tcp", lambda kind, path: None) == (
        False, "the helper process for the dump probe did not start")
    holder = _readiness.spawn_holder("tcp", str(tmp_path / "x"), python="/bin/false")
    assert holder is None


class FakeModule:
    """Just enough of ``AnsibleModule`` for ``exit_with_readiness``."""

    class Exit(Exception):
        pass

    def __init__(self, fake_podman, **params):
        self.params = {"executable": fake_podman.executable, "name": None, "filters": None,
                       "limit": None, "size": False, "sync": False, "external": False}
        self.params.update(params)
        self.fake_podman = fake_podman
        self.result = None

    def run_command(self, argv, **kwargs):
        return self.fake_podman(argv)

    def exit_json(self, **result):
        self.result = result
        raise self.Exit()

    def fail_json(self, **result):
        self.result = dict(result, failed=True)
        raise self.Exit()


def test_exit_with_readiness(fake_podman, recorded, spawn):
    host_as_recorded(fake_podman, recorded)
    module = FakeModule(fake_podman)
    with pytest.raises(FakeModule.Exit):
        _readiness.exit_with_readiness(
            module, which=which_from({"criu": CRIU, "zstd": ZSTD}), kernel=KERNEL, euid=0,
            holder=spawn)
    result = module.result
    assert result["changed"] is False
    assert result["containers"] == []
    assert result["missing"] == []
    assert result["mounted"] == {}
    assert result["host"]["ready"] is True
    assert result["host"]["podman"]["version"] == recorded.podman_version
    assert result["commands"][0] == [fake_podman.executable, "version", "--format", "json"]
    assert len(result["commands"]) == len(fake_podman.calls)


@pytest.mark.parametrize("params, named", [
    ({"name": ["web"]}, "name"),
    ({"filters": {"status": "running"}, "sync": True}, "filters, sync"),
    ({"limit": 3, "external": True}, "limit, external"),
    ({"socket": "/run/podman/podman.sock"}, "socket"),
])
def test_exit_with_readiness_refuses_container_options(fake_podman, params, named):
    module = FakeModule(fake_podman, **params)
    with pytest.raises(FakeModule.Exit):
        _readiness.exit_with_readiness(module)
    assert module.result["failed"] is True
    assert "cannot be combined with %s." % named in module.result["msg"]
    assert fake_podman.calls == []
