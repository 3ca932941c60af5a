# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Tell whether a host can checkpoint and restore Podman containers.

``gather_readiness`` reads the podman version and OCI runtime, finds the
criu that the runtime will run, runs ``criu check`` and three feature checks,
and returns one dictionary: the versions found, what works, and a list of
problems, each with what to do about it. Nothing on the host is changed.

Every command runs through a ``run_command(argv)`` callable that returns
``(rc, stdout, stderr)``, so unit tests replay recorded output. The two dump
probes (can CRIU dump a TCP socket, a file lock) also need a helper process
to dump; ``spawn_holder`` starts it and is replaced in tests as well.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    module_runner,
    podman_environment,
)

MINIMUM_PODMAN = (4, 0, 0)

# Each feature and the ``criu check --feature`` name that tests its kernel
# support (names as in CRIU 4.1.1). The plain ``criu check`` already tests
# that TCP repair mode can be turned on.
FEATURE_CHECKS = (
    ("mem_dirty_track", "mem_dirty_track"),
    ("tcp_repair", "tcp_half_closed"),
    ("file_locks", "fdinfo_lock"),
)

# What each feature is needed for, as the modules' option names.
FEATURE_USES = {
    "mem_dirty_track": "container_checkpoint options pre_checkpoint and with_previous (pre-copy)",
    "tcp_repair": "containers with TCP sockets; options tcp_established and tcp_close",
    "file_locks": "containers whose processes hold file locks; option file_locks",
}

# CRIU writes this line on every dump where it may not raise its own
# RLIMIT_NOFILE (no CAP_SYS_RESOURCE); it does not make the dump fail.
_HARMLESS_CRIU_ERRORS = ("Can't setup RLIMIT_NOFILE",)

_VERSION_PATTERN = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
# The "Error (criu/file.c:123): " in front of CRIU's messages.
_CRIU_PREFIX = re.compile(r"^(?:Error|Warn)\s*\([^)]*\):\s*")

# A process for CRIU to dump: it holds either a listening TCP socket on the
# loopback address or an exclusive lock on a file, points stdout at
# /dev/null, says "ready" on (and closes) its copy of the old stdout, and
# waits to be killed. The reader waits for the end of that pipe, so no pipe
# to this process is left when CRIU dumps it.
HOLDER_SOURCE = r"""
import fcntl, os, socket, sys, time
if sys.argv[1] == "tcp":
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("127.0.0.1", 0))
    held.listen(1)
else:
    held = open(sys.argv[2], "w")
    fcntl.flock(held.fileno(), fcntl.LOCK_EX)
ready = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
os.write(ready, b"ready\n")
os.close(ready)
time.sleep(120)
"""
HOLDER_START_SECONDS = 20


def parse_version(text):
    """Return the first ``major.minor[.patch]`` in ``text`` as a string, or None."""
    match = _VERSION_PATTERN.search(text or "")
    if not match:
        return None
    return ".".join(part or "0" for part in match.groups())


def version_tuple(text):
    """Return ``(major, minor, patch)`` of a version string, or None."""
    version = parse_version(text)
    return tuple(int(part) for part in version.split(".")) if version else None


def problem(text, fix, severity="error"):
    """Return one entry of the ``problems`` list."""
    return {"problem": text, "fix": fix, "severity": severity}


def last_line(*texts):
    """Return the last non-empty line of the first text that has one."""
    for text in texts:
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return ""


def criu_error_lines(text):
    """Return CRIU's ``Error`` and ``Warn`` messages in ``text``, without the harmless ones.

    The ``Error (criu/file.c:123):`` prefix is left out.
    """
    lines = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("("):
            # A line of a log file: "(00.256278) Error (criu/...): ...".
            line = line.split(")", 1)[-1].strip()
        if _CRIU_PREFIX.match(line) and not any(
                harmless in line for harmless in _HARMLESS_CRIU_ERRORS):
            lines.append(_CRIU_PREFIX.sub("", line))
    return lines


def first_error(stdout, stderr, rc):
    """Return CRIU's first error message, else the last line of output, else the exit code."""
    errors = criu_error_lines(stdout + "\n" + stderr)
    return errors[0] if errors else (last_line(stderr, stdout) or "rc=%d" % rc)


def default_which(name, path):
    return shutil.which(name, path=path)


def resolve_executable(executable, path, which=default_which):
    """Return the path of ``executable`` (a name looked up in ``path``, or a path), or None."""
    if os.sep in executable:
        found = executable
    else:
        found = which(executable, path)
    if found and os.path.isfile(found) and os.access(found, os.X_OK):
        return found
    return None


# ---------------------------------------------------------------- podman

def podman_facts(run, podman):
    """Return ``(podman, runtime, problems)`` from ``podman version`` and ``podman info``."""
    facts = {"path": podman, "version": None, "api_version": None}
    runtime = {"name": None, "path": None, "version": None, "can_checkpoint": False}
    problems = []
    rc, stdout, stderr = run([podman, "version", "--format", "json"])
    document = _json_or_none(stdout) if rc == 0 else None
    client = document.get("Client") if isinstance(document, dict) else None
    if not isinstance(client, dict) or not parse_version(client.get("Version")):
        problems.append(problem(
            '"%s version" failed: %s' % (podman, last_line(stderr, stdout) or "rc=%d" % rc),
            'Run "%s version" on the host and fix what it reports; a CONTAINERS_CONF '
            "variable that names a missing file makes every podman command fail." % podman))
        return facts, runtime, problems
    facts["version"] = parse_version(client.get("Version"))
    facts["api_version"] = parse_version(client.get("APIVersion"))
    if version_tuple(facts["version"]) < MINIMUM_PODMAN:
        problems.append(problem(
            "Podman %s is older than 4.0, the oldest this collection supports." % facts["version"],
            "Install Podman 4.0 or newer from the distribution's packages."))

    rc, stdout, stderr = run([podman, "info", "--format", "json"])
    document = _json_or_none(stdout) if rc == 0 else None
    host = document.get("host") if isinstance(document, dict) else None
    oci = host.get("ociRuntime") if isinstance(host, dict) else None
    if not isinstance(oci, dict):
        problems.append(problem(
            '"%s info" failed, so the OCI runtime is unknown: %s'
            % (podman, last_line(stderr, stdout) or "rc=%d" % rc),
            'Run "%s info" on the host and fix what it reports.' % podman))
        return facts, runtime, problems
    runtime.update(name=oci.get("name"), path=oci.get("path"),
                   version=parse_version((oci.get("version") or "").split("\n")[0]))
    runtime["can_checkpoint"], fix = runtime_can_checkpoint(oci)
    if not runtime["can_checkpoint"]:
        problems.append(problem(
            "Podman's OCI runtime %s cannot checkpoint containers%s."
            % (oci.get("name") or "(unnamed)", fix[0]), fix[1]))
    return facts, runtime, problems


def runtime_can_checkpoint(oci):
    """Tell whether an OCI runtime from ``podman info`` can checkpoint.

    Returns ``(True, None)`` or ``(False, (reason, fix))``. runc always
    checkpoints through CRIU; crun only when built with CRIU, which its
    version text shows as ``+CRIU``.
    """
    name = (oci.get("name") or "").lower()
    text = oci.get("version") or ""
    use_runc = ('Install runc and set runtime = "runc" in the [engine] table of '
                "containers.conf (or pass --runtime runc when creating containers).")
    if name == "runc":
        return True, None
    if name == "crun":
        if "+CRIU" in text:
            return True, None
        return False, (": this crun was built without CRIU (no +CRIU in its version)", use_runc)
    return False, (": only runc, and crun built with CRIU, can", use_runc)


# ---------------------------------------------------------------- CRIU

def criu_facts(run, criu, kernel, euid):
    """Return ``(criu, problems)`` from ``criu --version`` and ``criu check``."""
    facts = {"path": criu, "version": None, "check": False, "check_output": ""}
    if criu is None:
        return facts, [problem(
            "CRIU is not installed: no criu in the PATH that podman and the OCI runtime use.",
            "Install CRIU (package criu) or put a working criu in /usr/local/sbin.")]
    rc, stdout, stderr = run([criu, "--version"])
    facts["version"] = parse_version(stdout) if rc == 0 else None
    rc, stdout, stderr = run([criu, "check"])
    facts["check_output"] = (stdout + stderr).strip()
    facts["check"] = rc == 0 and "Looks good" in facts["check_output"]
    if facts["check"]:
        return facts, []
    reason = first_error(stdout, stderr, rc)
    if euid != 0:
        fix = ("Checkpoint and restore need root: run as root (become: true), "
               "then check again.")
    elif facts["version"] and version_tuple(facts["version"]) < (4, 0, 0) \
            and (version_tuple(kernel) or (0,)) >= (6, 0, 0):
        fix = ("CRIU %s is too old for kernel %s: install a newer CRIU (4.1.1 passes "
               "\"criu check\" on kernel 6.18). Where the distribution has none, as on "
               "Debian 12, unpack a newer distribution's criu package with the libraries "
               "it needs into a private folder and put a criu wrapper that runs it in "
               "/usr/local/sbin, which the OCI runtime finds first (statecraft.podman's "
               "scripts/setup.sh does this with Debian 13's packages)."
               % (facts["version"], kernel))
    else:
        fix = ('Run "%s check" as root on the host to see the whole report, and install '
               "a CRIU release that supports kernel %s." % (criu, kernel))
    return facts, [problem(
        'CRIU %s at %s fails "criu check" on kernel %s: %s'
        % (facts["version"] or "(unknown version)", criu, kernel, reason),
        fix)]


def feature_facts(run, criu, criu_works, spawn_holder):
    """Return ``(features, problems)`` for memory dirty tracking, TCP repair and file locks."""
    features = {}
    problems = []
    for name, criu_feature in FEATURE_CHECKS:
        entry = {"works": False, "criu_feature": criu_feature, "used_for": FEATURE_USES[name],
                 "detail": ""}
        features[name] = entry
        if not criu_works:
            entry["detail"] = 'not checked: "criu check" does not pass'
            continue
        rc, stdout, stderr = run([criu, "check", "--feature", criu_feature])
        supported = rc == 0 and "is supported" in stdout + stderr
        if not supported:
            entry["detail"] = first_error(stdout, stderr, rc)
        elif name == "mem_dirty_track":
            entry["works"] = True
            entry["detail"] = "%s is supported" % criu_feature
        else:
            # The kernel check passes; only a real dump shows whether CRIU can
            # dump such a process on this kernel.
            kind = "tcp" if name == "tcp_repair" else "lock"
            entry["works"], entry["detail"] = dump_probe(run, criu, kind, spawn_holder)
        if not entry["works"]:
            problems.append(feature_problem(name, entry["detail"]))
    return features, problems


def feature_problem(name, detail):
    if name == "mem_dirty_track":
        return problem(
            "No memory dirty tracking (%s), so pre-copy checkpoints cannot work: "
            "container_checkpoint's pre_checkpoint and with_previous fail." % detail,
            "Take full checkpoints without pre_checkpoint or with_previous. Pre-copy needs "
            "a kernel with the soft-dirty bit (CONFIG_MEM_SOFT_DIRTY) that CRIU reads from "
            "/proc/PID/pagemap.", "warning")
    if name == "tcp_repair":
        return problem(
            "CRIU cannot checkpoint a process with a TCP socket here (%s), so containers "
            "with listening or connected TCP sockets cannot be checkpointed." % detail,
            "Checkpoint only containers without TCP sockets (start network servers after "
            "a restore), or use a kernel and CRIU release where this check passes.",
            "warning")
    return problem(
        "CRIU cannot checkpoint a process that holds a file lock here (%s)." % detail,
        "Release file locks before a checkpoint, or use a kernel that lists locks in "
        "/proc/PID/fdinfo (criu check --feature fdinfo_lock).", "warning")


def dump_probe(run, criu, kind, spawn_holder):
    """Dump a helper process that holds a TCP socket (``tcp``) or a file lock (``lock``).

    The helper keeps running (``--leave-running``) and is killed afterwards;
    the images go to a temporary folder that is removed. Returns ``(works, detail)``.
    """
    workdir = tempfile.mkdtemp(prefix="statecraft-criu-probe-")
    holder = None
    try:
        holder = spawn_holder(kind, os.path.join(workdir, "locked"))
        if holder is None:
            return False, "the helper process for the dump probe did not start"
        argv = [criu, "dump", "--tree", str(holder.pid), "--images-dir", workdir,
                "--leave-running", "--log-file", "dump.log"]
        if kind == "lock":
            argv.append("--file-locks")
        rc, stdout, stderr = run(argv)
        if rc == 0:
            return True, "a process holding a %s was dumped" % (
                "listening TCP socket" if kind == "tcp" else "file lock")
        # The first error names the cause; the last only says that the dump failed.
        log = _read(os.path.join(workdir, "dump.log"))
        return False, "criu dump failed: %s" % first_error(log + "\n" + stdout, stderr, rc)
    finally:
        if holder is not None:
            holder.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class Holder:
    """A running helper process for ``dump_probe``."""

    def __init__(self, process):
        self.process = process
        self.pid = process.pid

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        self.process.wait()


def spawn_holder(kind, lock_path, python=None):
    """Start the helper process in its own session; return a ``Holder`` once it is ready."""
    process = subprocess.Popen(
        [python or sys.executable, "-c", HOLDER_SOURCE, kind, lock_path],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        close_fds=True, start_new_session=True)
    holder = Holder(process)
    output = b""
    deadline = time.time() + HOLDER_START_SECONDS
    while time.time() < deadline:
        readable = select.select([process.stdout], [], [], max(0, deadline - time.time()))[0]
        if not readable:
            break
        chunk = os.read(process.stdout.fileno(), 64)
        if not chunk:
            break  # the end of the pipe: the helper closed it, or died
        output += chunk
    process.stdout.close()
    if output.strip() != b"ready":
        holder.stop()
        return None
    return holder


# ---------------------------------------------------------------- all of it

def gather_readiness(run, executable="podman", path=None, which=default_which,
                     kernel=None, euid=None, holder=spawn_holder):
    """Return the readiness dictionary of this host.

    ``run(argv)`` returns ``(rc, stdout, stderr)``. ``path`` is the PATH that
    podman and the OCI runtime get (see ``_transport.podman_environment``).
    """
    path = path if path is not None else os.environ.get("PATH", "")
    kernel = kernel if kernel is not None else os.uname().release
    euid = euid if euid is not None else os.geteuid()
    problems = []

    podman = resolve_executable(executable, path, which)
    if podman is None:
        podman_info = {"path": None, "version": None, "api_version": None}
        runtime = {"name": None, "path": None, "version": None, "can_checkpoint": False}
        problems.append(problem(
            'Podman executable "%s" not found.' % executable,
            "Install podman from the distribution's packages, or set executable to the "
            "full path of the podman program."))
    else:
        podman_info, runtime, found = podman_facts(run, podman)
        problems.extend(found)

    criu_path = resolve_executable("criu", path, which)
    criu, found = criu_facts(run, criu_path, kernel, euid)
    problems.extend(found)
    features, found = feature_facts(run, criu_path, criu["check"], holder)
    problems.extend(found)

    if resolve_executable("zstd", path, which) is None:
        problems.append(problem(
            "The zstd program is not installed: container_restore cannot read the "
            "container's name and image from zstd-compressed archives (podman's default).",
            "Install zstd (package zstd).", "warning"))

    return {
        "ready": not any(entry["severity"] == "error" for entry in problems),
        "kernel": kernel,
        "podman": podman_info,
        "runtime": runtime,
        "criu": criu,
        "features": features,
        "problems": problems,
    }


def _json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = (text or "").splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")):
            try:
                return json.loads("\n".join(lines[index:]))
            except ValueError:
                return None
    return None


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


# ---------------------------------------------------------------- the module side

# container_info options that host=true rejects: those that select containers
# (it selects none), and socket, because it checks the podman program.
REJECTED_WITH_HOST = ("name", "filters", "limit", "size", "sync", "external", "socket")


def exit_with_readiness(module, **options):
    """Exit ``module`` (container_info with ``host=true``) with the host's readiness.

    The container results stay empty: ``host=true`` selects no containers,
    and options that select containers are rejected. Podman or CRIU missing is a problem in
    the result, never a module failure. ``options`` go to ``gather_readiness``.
    """
    given = [option for option in REJECTED_WITH_HOST
             if module.params.get(option) not in (None, False, [], {}, "")]
    if given:
        module.fail_json(
            msg="host=true checks this host's podman program and CRIU and returns no containers, "
                "so it cannot be combined with %s. Run the module once with host=true and once "
                "without." % ", ".join(given))
    commands = []
    runner = module_runner(module)

    def run(argv):
        commands.append(list(argv))
        rc, stdout, stderr = runner(argv)
        return rc, stdout or "", stderr or ""

    readiness = gather_readiness(run, executable=module.params["executable"],
                                 path=podman_environment()["PATH"], **options)
    module.exit_json(changed=False, host=readiness, containers=[], missing=[], mounted={},
                     commands=commands)
