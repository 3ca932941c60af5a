# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""The runtime helper: the only code that builds podman commands and reads their output.

``PodmanRuntime`` offers the operations the modules need (inspect, list,
mount, checkpoint, restore, remove) on top of a transport. Its methods return
plain Python data and raise the exceptions of ``_errors``; they never call
``fail_json``. A second transport can replace ``CliTransport`` as long as it
offers the same operations.
"""

from __future__ import annotations

import json
import os
import re
import time

from ansible_collections.statecraft.podman.plugins.module_utils import _criu
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    CommandError,
    ContainerNotFoundError,
    ContainerStateError,
    InvalidRequestError,
    PodmanError,
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._stats import (
    StatsFormatError,
    parse_checkpoint_stats,
    parse_restore_stats,
)
from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    parse_json_output,
)

MINIMUM_PODMAN = (4, 0, 0)

# Boolean options and the podman flag each one adds, in the order they are passed.
CHECKPOINT_FLAGS = (
    ("keep", "--keep"),
    ("leave_running", "--leave-running"),
    ("tcp_established", "--tcp-established"),
    ("file_locks", "--file-locks"),
    ("ignore_rootfs", "--ignore-rootfs"),
    ("ignore_volumes", "--ignore-volumes"),
    ("pre_checkpoint", "--pre-checkpoint"),
    ("with_previous", "--with-previous"),
)
CHECKPOINT_VALUES = (
    ("export", "--export"),
    ("compress", "--compress"),
    ("create_image", "--create-image"),
)
RESTORE_FLAGS = (
    ("keep", "--keep"),
    ("tcp_established", "--tcp-established"),
    ("tcp_close", "--tcp-close"),
    ("file_locks", "--file-locks"),
    ("ignore_rootfs", "--ignore-rootfs"),
    ("ignore_volumes", "--ignore-volumes"),
    ("ignore_static_ip", "--ignore-static-ip"),
    ("ignore_static_mac", "--ignore-static-mac"),
)
RESTORE_VALUES = (
    ("archive", "--import"),
    ("import_previous", "--import-previous"),
    ("pod", "--pod"),
)
# Options that need a newer Podman than MINIMUM_PODMAN: option -> (version, podman flag).
OPTION_MINIMUM_VERSIONS = {
    "tcp_close": ((5, 7, 0), "--tcp-close"),
}

HARMLESS_CRIU_ERROR = "rlimit: Can't setup RLIMIT_NOFILE"
LISTING_ATTEMPTS = 5
LISTING_RETRY_SECONDS = 0.1
REMOVAL_RACE_ERRORS = ("container not known", "no such container", "does not exist in database")
CHECKPOINT_NAME_ANNOTATION = "io.podman.annotations.checkpoint.name"
CRIU_LOG_LINES = 40
_LOG_FILE_PATTERN = re.compile(r"log file:\s*(\S+\.log)")
_VERSION_PATTERN = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text):
    """Return ``(major, minor, patch)`` from a version string such as ``5.4.2-dev``."""
    match = _VERSION_PATTERN.search(text or "")
    if not match:
        raise ValueError("no version number in %r" % (text,))
    return tuple(int(part or 0) for part in match.groups())


def format_version(version):
    return ".".join(str(part) for part in version)


def container_summary(container, mount_point=None):
    """Return the state fields that the modules diff: status, checkpoint flag, mount point.

    NOTE: only container_mount reports the mount point. Checkpoint and restore
    report None, because their check mode cannot predict it for a new container.
    """
    if not container:
        return {"exists": False, "status": None, "checkpointed": False, "mount_point": None}
    state = container.get("State") or {}
    return {
        "exists": True,
        "status": state.get("Status"),
        "checkpointed": bool(state.get("Checkpointed")),
        "mount_point": mount_point,
    }


def predicted_mount_point(container):
    """Return where ``podman mount`` would mount an overlay container, or None for other drivers."""
    graph_driver = container.get("GraphDriver") or {}
    upper = (graph_driver.get("Data") or {}).get("UpperDir")
    if graph_driver.get("Name") != "overlay" or not upper:
        return None
    return os.path.join(os.path.dirname(upper), "merged")


def matches_reference(container, reference):
    """Tell whether ``reference`` (a name, full ID or ID prefix) names ``container``."""
    name = (container.get("Name") or "").lstrip("/")
    container_id = container.get("Id") or container.get("ID") or ""
    names = container.get("Names") or [name]
    if reference in names or reference == name:
        return True
    return len(reference) >= 3 and container_id.startswith(reference.lower())


def find_missing(references, containers):
    """Return the references that name none of ``containers``, in linear time for names and IDs."""
    known = set()
    for container in containers:
        known.add((container.get("Name") or "").lstrip("/"))
        known.add(container.get("Id") or container.get("ID") or "")
        known.update(container.get("Names") or [])
    return [ref for ref in references
            if ref not in known and not any(matches_reference(c, ref) for c in containers)]


class SingleContainerLookup:
    """Lookups of one container, built on a runtime's ``inspect_containers``."""

    def inspect_container(self, reference):
        """Return one container's inspect data, or None when it does not exist."""
        containers, missing = self.inspect_containers([reference])
        return None if missing else containers[0]

    def get_container(self, reference):
        """Return one container's inspect data or raise ``ContainerNotFoundError``."""
        container = self.inspect_container(reference)
        if container is None:
            raise ContainerNotFoundError(reference)
        return container


class PodmanRuntime(SingleContainerLookup):
    """Podman operations for the modules, on top of a transport such as ``CliTransport``."""

    def __init__(self, transport, warn=None):
        self.transport = transport
        self._warn = warn or (lambda message: None)
        self._version = None

    @property
    def commands(self):
        return self.transport.commands

    # ------------------------------------------------------------------ version

    def version(self):
        """Return the podman client version as a tuple, asking podman once."""
        if self._version is None:
            result = self._run_ok(["version", "--format", "json"], "read the podman version")
            document = self._json(result, "read the podman version")
            client = document.get("Client") or document.get("Server") or {}
            try:
                self._version = parse_version(client.get("Version"))
            except ValueError:
                raise CommandError.from_result("read the podman version", result)
        return self._version

    def require_version(self, option, minimum, flag):
        """Raise ``UnsupportedError`` when the host's podman is older than ``minimum``."""
        current = self.version()
        if current < minimum:
            raise UnsupportedError(
                "Option %s (podman %s) needs Podman >= %s, this host has %s."
                % (option, flag, format_version(minimum), format_version(current)),
                podman_version=format_version(current))

    def check_option_versions(self, options):
        """Check every option set in ``options`` against ``OPTION_MINIMUM_VERSIONS``."""
        for option, (minimum, flag) in OPTION_MINIMUM_VERSIONS.items():
            if options.get(option):
                self.require_version(option, minimum, flag)

    # ------------------------------------------------------------------ host

    def require_criu(self):
        """Raise ``UnsupportedError`` unless ``criu check`` passes; return the criu path."""
        return _criu.require_criu(self.transport)

    def require_dirty_tracking(self, criu, option):
        """Raise ``UnsupportedError`` when the kernel cannot track dirty memory for ``option``."""
        _criu.require_dirty_tracking(self.transport, criu, option)

    # ------------------------------------------------------------------ reads

    def inspect_containers(self, references, size=False):
        """Inspect many containers in one call.

        Returns ``(containers, missing)``: the inspect data of those found and
        the references that name no container. Podman exits 125 when any name
        is missing but still prints the others, so the missing ones are found
        by matching the output against the references, not from error text.
        """
        if not references:
            return [], []
        args = ["container", "inspect"]
        if size:
            args.append("--size")
        result = self.transport.run(args + list(references))
        try:
            containers = parse_json_output(result.stdout) if result.stdout.strip() else []
        except ValueError:
            raise CommandError.from_result("inspect containers", result)
        missing = find_missing(references, containers)
        if not result.ok and not missing:
            raise CommandError.from_result("inspect containers", result)
        self._report_warnings(result)
        return containers, missing

    def list_containers(self, all_containers=True, filters=None, limit=None, sync=False,
                        external=False):
        """Return ``podman ps --format json`` entries selected by the options."""
        args = ["ps", "--format", "json", "--no-trunc"]
        if all_containers:
            args.append("--all")
        for key, values in sorted((filters or {}).items()):
            for value in values if isinstance(values, list) else [values]:
                args += ["--filter", "%s=%s" % (key, _filter_text(value))]
        if limit is not None:
            args += ["--last", str(limit)]
        if sync:
            args.append("--sync")
        if external:
            args.append("--external")
        result = self._run_ok(args, "list containers")
        return self._json(result, "list containers") or []

    def mounted_containers(self):
        """Return ``{container ID: mount point}`` for every mounted container, running ones included."""
        # Podman 4.3 fails the whole listing (rc 125, "container not known") when
        # another process removes a container while it runs, so retry a few times.
        for attempt in range(LISTING_ATTEMPTS):
            result = self.transport.run(["mount", "--format", "json"])
            if result.ok or not _is_removal_race(result) or attempt == LISTING_ATTEMPTS - 1:
                break
            time.sleep(LISTING_RETRY_SECONDS)
        if not result.ok:
            raise CommandError.from_result("list mounted containers", result)
        self._report_warnings(result)
        entries = self._json(result, "list mounted containers") or []
        return dict((entry.get("id") or entry.get("ID"), entry.get("mountpoint"))
                    for entry in entries)

    def image_exists(self, reference):
        """Tell whether a local image exists; ``podman image exists`` exits 1 when not."""
        result = self.transport.run(["image", "exists", reference])
        if result.rc == 0:
            return True
        if result.rc == 1 and not result.stderr.strip():
            return False
        raise CommandError.from_result("check whether image %s exists" % reference, result)

    def checkpoint_image_name(self, reference):
        """Return the container name stored in a checkpoint image's annotations."""
        if not self.image_exists(reference):
            raise InvalidRequestError(
                'Checkpoint image "%s" not found; check the name with "podman images".' % reference,
                image=reference)
        result = self._run_ok(["image", "inspect", reference], "inspect image %s" % reference)
        images = self._json(result, "inspect image %s" % reference) or [{}]
        annotations = images[0].get("Annotations") or {}
        name = annotations.get(CHECKPOINT_NAME_ANNOTATION)
        if not name:
            raise InvalidRequestError(
                'Image "%s" is not a checkpoint image (it has no %s annotation); create one with '
                'container_checkpoint create_image.' % (reference, CHECKPOINT_NAME_ANNOTATION),
                image=reference)
        return name

    def pod_id(self, reference):
        """Return the full ID of a pod given by name or ID; Podman 4.3 restores only by ID."""
        result = self.transport.run(["pod", "inspect", reference])
        if not result.ok:
            if "no such pod" in result.stderr:
                raise InvalidRequestError(
                    'Pod "%s" not found; create it first, or check the name with "podman pod ps".'
                    % reference, pod=reference)
            raise CommandError.from_result("inspect pod %s" % reference, result)
        document = self._json(result, "inspect pod %s" % reference)
        # Podman 4 prints one object, Podman 5 a list.
        pod = document[0] if isinstance(document, list) else document
        return pod.get("Id") or pod.get("ID")

    def storage_paths(self):
        """Return ``(run root, graph driver name)`` of the container store."""
        result = self._run_ok(["info", "--format", "json"], "read podman info")
        store = (self._json(result, "read podman info") or {}).get("store") or {}
        return store.get("runRoot"), store.get("graphDriverName")

    def mount_count(self, container):
        """Return how many mounts the storage layer of ``container`` holds, or None if unknown.

        No podman command reports the count; containers/storage keeps it in
        ``<run root>/<driver>-layers/mountpoints.json``.
        """
        layer_dir = container_layer_dir(container)
        if not layer_dir:
            return None
        run_root, driver = self.storage_paths()
        return read_mount_count(run_root, driver, layer_dir)

    # ------------------------------------------------------------------ changes

    def mount(self, reference):
        """Mount a container's root filesystem and return the mount point."""
        result = self._run_ok(["mount", reference], "mount container %s" % reference)
        return result.stdout.strip().splitlines()[-1]

    def unmount(self, reference, force=False):
        """Drop one mount of a container, or all of them with ``force``."""
        args = ["umount"] + (["--force"] if force else []) + [reference]
        self._run_ok(args, "unmount container %s" % reference)

    def remove(self, reference):
        """Remove a container by name or ID, running or not."""
        self._run_ok(["rm", "--force", "--ignore", reference], "remove container %s" % reference)

    def checkpoint(self, reference, options):
        """Checkpoint one container and return ``(container ID, stats)``.

        ``options`` maps the module's option names to values; the export path
        in it is where podman writes, which the caller makes a partial file.
        """
        self.check_option_versions(options)
        args = ["container", "checkpoint", "--print-stats"]
        args += _flag_args(CHECKPOINT_FLAGS, CHECKPOINT_VALUES, options)
        result = self.transport.run(args + [reference])
        if not result.ok:
            raise self._action_error("checkpoint container %s" % reference, result)
        return self._stats(result, parse_checkpoint_stats, "checkpoint")

    def restore(self, reference, options):
        """Restore a container and return ``(container ID, stats)``.

        ``reference`` is the container to restore in place, a checkpoint image,
        or None with ``options["archive"]``. ``options["name"]`` names the new
        container of an import.
        """
        self.check_option_versions(options)
        args = ["container", "restore", "--print-stats"]
        args += _flag_args(RESTORE_FLAGS, RESTORE_VALUES, options)
        for port in options.get("publish_ports") or []:
            args += ["--publish", str(port)]
        if options.get("new_name"):
            args += ["--name", options["new_name"]]
        if reference:
            args.append(reference)
        result = self.transport.run(args)
        if not result.ok:
            raise self._action_error("restore %s" % (reference or options.get("archive")), result)
        return self._stats(result, parse_restore_stats, "restore")

    # ------------------------------------------------------------------ internals

    def _run_ok(self, args, action):
        result = self.transport.run(args)
        if not result.ok:
            raise CommandError.from_result(action, result)
        self._report_warnings(result)
        return result

    def _json(self, result, action):
        try:
            return parse_json_output(result.stdout)
        except ValueError as exc:
            raise CommandError(
                "Failed to %s: podman printed output that is not JSON (%s): %s"
                % (action, exc, result.stdout[:500]),
                result.argv, result.rc, result.stdout, result.stderr)

    def _stats(self, result, parser, action):
        try:
            return parser(self._json(result, action))
        except StatsFormatError as exc:
            raise CommandError(
                "Podman finished the %s but its statistics could not be read: %s"
                % (action, exc), result.argv, result.rc, result.stdout, result.stderr)
        finally:
            self._report_warnings(result)

    def _report_warnings(self, result):
        for line in result.stderr.splitlines():
            text = line.strip()
            if "level=warning" in text or text.startswith(("WARN[", "Warning:")):
                self._warn("Podman warning: %s" % text)

    def _action_error(self, action, result):
        """Turn a failed checkpoint or restore into the most specific error type."""
        error = CommandError.from_result(action, result)
        text = result.stderr
        if "container state improper" in text:
            return ContainerStateError(error.msg, **error.details)
        if "already in use" in text:
            return InvalidRequestError(error.msg, **error.details)
        if "criu failed" in text or "CRIU" in text:
            log_path = _LOG_FILE_PATTERN.search(text)
            if log_path:
                log = read_log_tail(log_path.group(1))
                error.details["criu_log_path"] = log_path.group(1)
                error.details["criu_log"] = log
                reasons = criu_error_lines(log)
                if reasons:
                    error.msg += " CRIU reported: %s" % " | ".join(reasons)
        return error


def criu_error_lines(log, limit=3):
    """Return the last ``Error (`` lines of a CRIU log, leaving out the harmless rlimit one.

    CRIU logs "rlimit: Can't setup RLIMIT_NOFILE" on every run where the
    process may not raise its limits; it never causes the failure.
    """
    errors = [line.strip() for line in log
              if "Error (" in line and HARMLESS_CRIU_ERROR not in line]
    return errors[-limit:]


def container_layer_dir(container):
    """Return a folder of the container's storage layer (merged or upper), or None."""
    data = (container.get("GraphDriver") or {}).get("Data") or {}
    return data.get("MergedDir") or data.get("UpperDir")


def read_mount_count(run_root, driver, layer_dir):
    """Return the mount count that containers/storage records for a layer, or None if unknown.

    ``layer_dir`` is a folder of the layer, such as ``.../overlay/<layer ID>/merged``.
    """
    if not run_root or not driver:
        return None
    layer_id = os.path.basename(os.path.dirname(layer_dir))
    try:
        with open(os.path.join(run_root, "%s-layers" % driver, "mountpoints.json")) as handle:
            entries = json.load(handle) or []
    except (OSError, ValueError):
        return None
    for entry in entries:
        if entry.get("id") == layer_id:
            return int(entry.get("count") or 0)
    return 0


def read_log_tail(path, lines=CRIU_LOG_LINES):
    """Return the last ``lines`` lines of a CRIU log, or [] once podman has removed it."""
    try:
        with open(path, errors="replace") as handle:
            return handle.read().splitlines()[-lines:]
    except OSError:
        return []


def _is_removal_race(result):
    return result.rc == 125 and any(text in result.stderr for text in REMOVAL_RACE_ERRORS)


def _flag_args(flags, values, options):
    args = []
    for option, flag in flags:
        if options.get(option):
            args.append(flag)
    for option, flag in values:
        value = options.get(option)
        if value not in (None, ""):
            args += [flag, str(value)]
    return args


def _filter_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["PodmanRuntime", "PodmanError", "container_summary", "parse_version"]
