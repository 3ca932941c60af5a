# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""The runtime helper on the libpod REST API: the same operations as ``PodmanRuntime``.

``PodmanApiRuntime`` offers every public method of ``PodmanRuntime`` with the
same arguments, results and exception types, so the modules cannot tell which
transport they use. Where the API behaves differently from the podman program,
the method hides it (measured with Podman 4.3.1 and 5.4.2):

- Only ``/_ping`` works without a version prefix; every path here starts
  with ``/v4.0.0/libpod``, which both versions serve.
- An export (``checkpoint?export=true``) is always an uncompressed tar in the
  response body, and ``printStats`` is ignored with it. The archive is
  compressed here as it arrives, and CRIU's figures are read from the
  archive's ``stats-dump`` member.
- ``ignoreVolumes`` is ignored with ``export=true``, so the ``volumes/``
  members are left out of the stream here.
- The API reports no ``podman_*_duration``; it is measured here around the request.
- ``unmount`` of a container that is not mounted fails with HTTP 500
  ``layer is not mounted``, where ``podman umount`` exits 0.
- An import needs ``Content-Type: application/x-tar`` (with a form type
  podman reads an empty archive), and the container name in its path is ignored.
- ``publishPorts`` is read as one value with the ports separated by spaces.
- The API restores with ``tcpEstablished`` and a new ``name``, a pair that
  ``podman container restore`` rejects, so it is rejected here too.
- A failed runc call names only the runc command line. CRIU's log, which
  podman prints the path of, is found in runc's work path.
- Unknown query parameters are ignored without an error, so options that an
  older service lacks are checked against its version before the request.

``commands`` records every request as ``[METHOD, PATH?QUERY]``, plus
``--upload-file FILE`` or ``--output FILE`` when a file is sent or written, and
every local program run (``criu check``, ``zstd``) as its argument list.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
from datetime import datetime, timezone
from urllib.parse import quote

from ansible_collections.statecraft.podman.plugins.module_utils import _criu
from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
    CLIENT_TIMEOUT,
    build_target,
    elapsed_microseconds,
)
from ansible_collections.statecraft.podman.plugins.module_utils._api_stream import (
    ArchiveWriter,
    TarMemberCapture,
    TarMemberFilter,
    parse_criu_dump_stats,
)
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ApiError,
    ContainerStateError,
    InvalidRequestError,
    PodmanError,
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    CHECKPOINT_NAME_ANNOTATION,
    SingleContainerLookup,
    container_layer_dir,
    criu_error_lines,
    format_version,
    parse_version,
    read_log_tail,
    read_mount_count,
)
from ansible_collections.statecraft.podman.plugins.module_utils._stats import (
    CHECKPOINT_CRIU_KEYS,
    StatsFormatError,
    parse_checkpoint_stats,
    parse_restore_stats,
)
from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    CliTransport,
)

API_PREFIX = "/v4.0.0/libpod"
MINIMUM_PODMAN = (4, 0, 0)
TAR_CONTENT_TYPE = "application/x-tar"
ARCHIVE_MODE = 0o600

# Boolean module options and the API query parameter each one sets.
CHECKPOINT_PARAMETERS = (
    ("keep", "keep"),
    ("leave_running", "leaveRunning"),
    ("tcp_established", "tcpEstablished"),
    ("file_locks", "fileLocks"),
    ("ignore_rootfs", "ignoreRootFS"),
    ("ignore_volumes", "ignoreVolumes"),
    ("pre_checkpoint", "preCheckpoint"),
    ("with_previous", "withPrevious"),
)
RESTORE_PARAMETERS = (
    ("keep", "keep"),
    ("tcp_established", "tcpEstablished"),
    ("tcp_close", "tcpClose"),
    ("file_locks", "fileLocks"),
    ("ignore_rootfs", "ignoreRootFS"),
    ("ignore_volumes", "ignoreVolumes"),
    ("ignore_static_ip", "ignoreStaticIP"),
    ("ignore_static_mac", "ignoreStaticMAC"),
)
# Options that need a newer service than MINIMUM_PODMAN: option -> (version, API parameter).
# Checkpoint images came with Podman 4.1. tcp_close follows the podman program's minimum.
# NOTE: tcpClose is the name that Podman's bindings use. Podman 4.3.1 and 5.4.2 lack it,
# so no restore with tcp_close has been tested against a service that has it.
API_OPTION_MINIMUM_VERSIONS = {
    "tcp_close": ((5, 7, 0), "tcpClose"),
    "create_image": ((4, 1, 0), "createImage"),
    "image": ((4, 1, 0), "restore from a checkpoint image"),
}
# Options that the podman program has and the libpod REST API does not.
API_MISSING_OPTIONS = {
    "import_previous": "podman container restore --import-previous",
}
ARCHIVE_MEMBERS_READ = ("stats-dump", "config.dump")
ARCHIVE_MEMBER_MAX_SIZE = 1 << 20

FORCE_UNMOUNT_MAX_TRIES = 64
SHOWMOUNTED_TRIES = 3
REMOVAL_RACE_ERRORS = (b"container not known", b"no such container", b"does not exist in database")
LOG_FILE_PATTERN = re.compile(r"log file:\s*(\S+\.log)")
# The error body of a failed runc or crun call: "`/usr/bin/runc checkpoint
# --image-path DIR --work-path DIR ID` failed: exit status 1".
RUNTIME_FAILURE_PATTERN = re.compile(r"`\S+ (checkpoint|restore) .*?--work-path (\S+) .*?` failed")


class PodmanApiRuntime(SingleContainerLookup):
    """Podman operations for the modules, through a ``UnixHttpClient``.

    ``run_command`` runs local programs such as ``criu check``, with the
    signature that ``CliTransport`` expects.
    """

    def __init__(self, client, run_command, warn=None):
        self.client = client
        # Runs and records the local programs. The API requests join its list.
        self.transport = CliTransport(None, run_command)
        self._warn = warn or (lambda message: None)
        self._version = None

    @property
    def commands(self):
        return self.transport.commands

    @property
    def socket_path(self):
        return self.client.socket_path

    # ------------------------------------------------------------------ version

    def version(self):
        """Return the service's Podman version as a tuple.

        Every libpod response carries it in ``Libpod-Api-Version``, so after
        the first request no other is needed. Before it, ``/_ping`` is sent,
        because ``/version`` runs conmon and the OCI runtime and costs far more.
        """
        if self._version is None:
            header = self.client.last_headers.get("libpod-api-version")
            if not header:
                self._call("GET", "/_ping", "read the Podman version", versioned=False)
                header = self.client.last_headers.get("libpod-api-version")
            if not header:
                document = self._json_call("GET", "/version", "read the Podman version")
                header = document.get("Version")
            try:
                self._version = parse_version(header)
            except ValueError:
                raise UnsupportedError(
                    "The service at %s did not report a Podman version (%r); check that the "
                    "socket belongs to podman system service." % (self.socket_path, header),
                    socket=self.socket_path)
        return self._version

    def require_version(self, option, minimum, parameter):
        """Raise ``UnsupportedError`` when the service's Podman is older than ``minimum``."""
        current = self.version()
        if current < minimum:
            raise UnsupportedError(
                "Option %s (API parameter %s) needs Podman >= %s, the Podman API service at %s "
                "has %s. Upgrade Podman there, or leave the option out."
                % (option, parameter, format_version(minimum), self.socket_path,
                   format_version(current)),
                podman_version=format_version(current), socket=self.socket_path)

    def check_option_versions(self, options):
        """Check every option set in ``options`` against what the service offers."""
        for option, command in API_MISSING_OPTIONS.items():
            if options.get(option):
                raise UnsupportedError(
                    "Option %s (%s) is not available through the Podman REST API, which the "
                    "socket option selects (%s). Leave socket unset to run the podman program, "
                    "or leave the option out." % (option, command, self.socket_path),
                    socket=self.socket_path)
        for option, (minimum, parameter) in API_OPTION_MINIMUM_VERSIONS.items():
            if options.get(option):
                self.require_version(option, minimum, parameter)

    # ------------------------------------------------------------------ host

    def require_criu(self):
        """Run ``criu check`` when this host has a criu; return its path or None.

        No API endpoint reports CRIU support, and the service may run on
        another host or in a VM whose CRIU this host cannot see.
        """
        # NOTE: a local criu is assumed to be the one the service uses. Without
        # one nothing is probed, and a CRIU fault shows only in the service's error.
        if _criu.find_criu() is None:
            return None
        return _criu.require_criu(self.transport)

    def require_dirty_tracking(self, criu, option):
        """Probe memory dirty tracking with the local criu; skipped without one."""
        if criu is not None:
            _criu.require_dirty_tracking(self.transport, criu, option)

    # ------------------------------------------------------------------ reads

    def inspect_containers(self, references, size=False):
        """Inspect containers, one request each; return ``(containers, missing)``."""
        containers = []
        missing = []
        for reference in references:
            response = self._request("GET", "/containers/%s/json" % _segment(reference),
                                     query=[("size", True if size else None)])
            if response.status == 404:
                missing.append(reference)
                continue
            containers.append(self._decode(response, "GET", "inspect container %s" % reference))
        return containers, missing

    def list_containers(self, all_containers=True, filters=None, limit=None, sync=False,
                        external=False):
        """Return the container list in the shape of ``podman ps --format json``."""
        query = [("all", bool(all_containers))]
        if filters:
            encoded = {}
            for key, values in sorted(filters.items()):
                encoded[key] = [_filter_text(value) for value in
                                (values if isinstance(values, list) else [values])]
            query.append(("filters", json.dumps(encoded, sort_keys=True, separators=(",", ":"))))
        query += [("limit", limit), ("sync", True if sync else None),
                  ("external", True if external else None)]
        entries = self._json_call("GET", "/containers/json", "list containers", query=query) or []
        now = time.time()
        return [ps_entry(entry, now) for entry in entries]

    def mounted_containers(self):
        """Return ``{container ID: mount point}`` for every mounted container, running ones included.

        Podman 4.3 fails the listing with "no such container" when another
        client removes a container meanwhile, so that error is tried again.
        """
        for attempt in range(SHOWMOUNTED_TRIES):
            response = self._request("GET", "/containers/showmounted")
            if (response.status == 500 and attempt + 1 < SHOWMOUNTED_TRIES
                    and any(text in response.body for text in REMOVAL_RACE_ERRORS)):
                continue
            return self._decode(response, "GET", "list mounted containers") or {}
        raise AssertionError("unreachable")

    def image_exists(self, reference):
        """Tell whether a local image exists in the service's store."""
        response = self._request("GET", "/images/%s/exists" % _segment(reference))
        if response.status == 404:
            return False
        self._check(response, "GET", "check whether image %s exists" % reference)
        return True

    def checkpoint_image_name(self, reference):
        """Return the container name stored in a checkpoint image's annotations."""
        if not self.image_exists(reference):
            raise InvalidRequestError(
                'Checkpoint image "%s" not found; check the name with "podman images".' % reference,
                image=reference)
        image = self._json_call("GET", "/images/%s/json" % _segment(reference),
                                "inspect image %s" % reference) or {}
        name = (image.get("Annotations") or {}).get(CHECKPOINT_NAME_ANNOTATION)
        if not name:
            raise InvalidRequestError(
                'Image "%s" is not a checkpoint image (it has no %s annotation); create one with '
                'container_checkpoint create_image.' % (reference, CHECKPOINT_NAME_ANNOTATION),
                image=reference)
        return name

    def pod_id(self, reference):
        """Return the full ID of a pod given by name or ID; Podman 4.3 restores only by ID."""
        response = self._request("GET", "/pods/%s/json" % _segment(reference))
        if response.status == 404:
            raise InvalidRequestError(
                'Pod "%s" not found; create it first, or check the name with "podman pod ps".'
                % reference, pod=reference)
        pod = self._decode(response, "GET", "inspect pod %s" % reference) or {}
        return pod.get("Id") or pod.get("ID")

    def storage_paths(self):
        """Return ``(run root, graph driver name)`` of the service's container store."""
        store = (self._json_call("GET", "/info", "read podman info") or {}).get("store") or {}
        return store.get("runRoot"), store.get("graphDriverName")

    def mount_count(self, container):
        """Return how many mounts the storage layer of ``container`` holds, or None if unknown.

        The count is only in ``<run root>/<driver>-layers/mountpoints.json``,
        which is readable only where the service's store is on this host. A
        store elsewhere (a VM, another container) may have the same paths, so
        the count is used only when the container's own layer folder is here.
        """
        layer_dir = container_layer_dir(container)
        if not layer_dir or not os.path.isdir(os.path.dirname(layer_dir)):
            return None
        run_root, driver = self.storage_paths()
        return read_mount_count(run_root, driver, layer_dir)

    # ------------------------------------------------------------------ changes

    def mount(self, reference):
        """Mount a container's root filesystem and return the mount point."""
        response = self._request("POST", "/containers/%s/mount" % _segment(reference))
        self._check(response, "POST", "mount container %s" % reference)
        text = response.body.decode("utf-8", "replace").strip()
        if text.startswith('"'):
            text = json.loads(text)
        return text

    def unmount(self, reference, force=False):
        """Drop one mount of a container, or all of them with ``force``.

        Unlike ``podman umount``, the API fails on a container that is not
        mounted ("layer is not mounted"); that counts as done here. It also
        rejects a running container, which ``podman umount NAME`` unmounts.
        """
        container_id = None
        if force:
            container_id = self.get_container(reference)["Id"]
        for unused_try in range(FORCE_UNMOUNT_MAX_TRIES if force else 1):
            if not self._unmount_once(reference):
                return
            if force and container_id not in self.mounted_containers():
                return
        if force:
            raise ContainerStateError(
                'Container "%s" is still mounted after %d unmount requests to the Podman API '
                'service at %s.' % (reference, FORCE_UNMOUNT_MAX_TRIES, self.socket_path),
                name=reference)

    def remove(self, reference):
        """Remove a container by name or ID, running or not; a missing one is no error."""
        response = self._request("DELETE", "/containers/%s" % _segment(reference),
                                 query=[("force", True)])
        if response.status == 404:
            return
        reports = self._decode(response, "DELETE", "remove container %s" % reference) or []
        for report in reports if isinstance(reports, list) else []:
            if report.get("Err"):
                raise PodmanError("Failed to remove container %s: %s (socket: %s)"
                                  % (reference, report["Err"], self.socket_path),
                                  socket=self.socket_path)

    def checkpoint(self, reference, options):
        """Checkpoint one container and return ``(container ID, stats)``.

        With ``options["export"]`` (a partial file name that the caller
        chose), the archive that the service streams is compressed with
        ``options["compress"]``, zstd by default as in podman, and written there.
        """
        self.check_option_versions(options)
        query = _flag_query(CHECKPOINT_PARAMETERS, options)
        if options.get("create_image"):
            query.append(("createImage", options["create_image"]))
        action = "checkpoint container %s" % reference
        path = "/containers/%s/checkpoint" % _segment(reference)
        if options.get("export"):
            container_id, stats = self._export(path, query, options, action)
        else:
            query.append(("printStats", True))
            started = time.monotonic()
            response = self._request("POST", path, query=query, timeout=None)
            duration = elapsed_microseconds(started)
            report = self._action_json(response, "POST", action)
            container_id, stats = self._parse_stats(
                parse_checkpoint_stats, "checkpoint", report, duration)
        if options.get("create_image") and not self.image_exists(options["create_image"]):
            raise UnsupportedError(
                'The Podman API service at %s reported the checkpoint done but created no image '
                '"%s"; it does not support createImage. Upgrade Podman there, or checkpoint with '
                'export instead.' % (self.socket_path, options["create_image"]),
                socket=self.socket_path)
        return container_id, stats

    def restore(self, reference, options):
        """Restore a container and return ``(container ID, stats)``.

        ``reference`` is the container to restore in place, a checkpoint image,
        or None with ``options["archive"]``, which is sent as the request body.
        """
        self.check_option_versions(options)
        source = reference or options.get("archive")
        if options.get("new_name") and options.get("tcp_established"):
            # podman container restore rejects this pair before it sends a
            # request, but the API restores without an error.
            raise InvalidRequestError(
                "Failed to restore %s: --tcp-established cannot be used with --name, as podman "
                "container restore reports. Remove tcp_established or name." % source,
                option="tcp_established")
        query = _flag_query(RESTORE_PARAMETERS, options)
        if options.get("pod"):
            query.append(("pod", options["pod"]))
        if options.get("publish_ports"):
            # Podman 4.3 and 5.4 read one value and split it at spaces; a
            # repeated parameter keeps only one of the ports.
            query.append(("publishPorts", " ".join(str(port) for port in options["publish_ports"])))
        if options.get("new_name"):
            query.append(("name", options["new_name"]))
        query.append(("printStats", True))
        archive = options.get("archive")
        action = "restore %s" % source
        started = time.monotonic()
        if archive:
            query.insert(0, ("import", True))
            # The service ignores the container name in an import's path.
            path = "/containers/import/restore"
            try:
                body = open(archive, "rb")
            except OSError as exc:
                raise InvalidRequestError('Archive "%s" cannot be read: %s' % (archive, exc),
                                          path=archive)
            with body:
                response = self._request("POST", path, query=query, body_file=body,
                                         content_type=TAR_CONTENT_TYPE, timeout=None,
                                         record_extra=["--upload-file", archive])
        else:
            path = "/containers/%s/restore" % _segment(reference)
            response = self._request("POST", path, query=query, timeout=None)
        duration = elapsed_microseconds(started)
        report = self._action_json(response, "POST", action)
        return self._parse_stats(parse_restore_stats, "restore", report, duration)

    # ------------------------------------------------------------------ export

    def _export(self, path, query, options, action):
        compression = options.get("compress") or "zstd"
        compressor = None
        if compression == "zstd":
            compressor = shutil.which("zstd")
            if compressor is None:
                raise UnsupportedError(
                    "compress=zstd (the default) needs the zstd program on this host, because "
                    "the Podman API exports an uncompressed tar: install zstd, or set compress "
                    "to gzip or none.", socket=self.socket_path)
        query = query + [("export", True)]
        target = options["export"]
        capture = TarMemberCapture(ARCHIVE_MEMBERS_READ, ARCHIVE_MEMBER_MAX_SIZE)
        started = time.monotonic()
        descriptor = _create_archive_file(target)
        write_error = None
        with os.fdopen(descriptor, "wb") as raw:
            writer = ArchiveWriter(raw, compression, compressor, self.transport.commands)
            destination = writer
            if options.get("ignore_volumes"):
                destination = TarMemberFilter(writer, "volumes")
            try:
                response = self._request("POST", path, query=query, timeout=None,
                                         dest_file=destination, on_block=capture.feed,
                                         record_extra=["--output", target])
                if destination is not writer and 200 <= response.status < 300:
                    destination.close()
            except (OSError, ValueError) as exc:
                # Connection faults arrive as ApiConnectionError, so this is a
                # local write error or a tar stream cut inside a member.
                write_error = exc
            finally:
                writer.close()
        duration = elapsed_microseconds(started)
        if write_error is not None or writer.error:
            raise PodmanError(
                "Failed to %s: the Podman API service at %s exported the checkpoint, but writing "
                "it to %s failed: %s" % (action, self.socket_path, target, writer.error or write_error),
                socket=self.socket_path, path=target)
        if not 200 <= response.status < 300:
            raise self._action_error(action, "POST", response)
        config = _json_or_empty(capture.members.get("config.dump"))
        stats = {
            "podman_checkpoint_duration": duration,
            # The API does not report the OCI runtime's share of an export.
            "runtime_checkpoint_duration": 0,
            "criu_statistics": dict((key, 0) for key in CHECKPOINT_CRIU_KEYS),
        }
        if "stats-dump" in capture.members:
            try:
                stats["criu_statistics"].update(parse_criu_dump_stats(capture.members["stats-dump"]))
            except ValueError as exc:
                self._warn("CRIU statistics of the export could not be read, so they are 0: %s" % exc)
        else:
            self._warn("The exported archive has no stats-dump, so CRIU's statistics are 0.")
        return config.get("id", ""), stats

    # ------------------------------------------------------------------ requests

    def _request(self, method, path, query=None, body_file=None, content_type=None,
                 timeout=CLIENT_TIMEOUT, dest_file=None, on_block=None, record_extra=None,
                 versioned=True):
        full_path = (API_PREFIX + path) if versioned else path
        self.commands.append([method, build_target(full_path, query)] + list(record_extra or []))
        if dest_file is not None:
            return self.client.request_to_file(method, full_path, dest_file, query=query,
                                               body_file=body_file, content_type=content_type,
                                               timeout=timeout, on_block=on_block)
        return self.client.request(method, full_path, query=query, body_file=body_file,
                                   content_type=content_type, timeout=timeout)

    def _call(self, method, path, action, query=None, versioned=True):
        response = self._request(method, path, query=query, versioned=versioned)
        self._check(response, method, action)
        return response

    def _json_call(self, method, path, action, query=None):
        response = self._request(method, path, query=query)
        return self._decode(response, method, action)

    def _check(self, response, method, action):
        if not 200 <= response.status < 300:
            raise self._error(action, method, response)

    def _decode(self, response, method, action):
        self._check(response, method, action)
        try:
            return json.loads(response.body.decode("utf-8"))
        except ValueError as exc:
            raise PodmanError(
                "Failed to %s: the Podman API service at %s sent a body that is not JSON (%s): %s"
                % (action, self.socket_path, exc, response.body[:500]), socket=self.socket_path)

    def _error(self, action, method, response):
        return ApiError.from_response(
            action, method, self.commands[-1][1], response.status,
            response.body.decode("utf-8", "replace"), self.socket_path)

    def _action_json(self, response, method, action):
        if not 200 <= response.status < 300:
            raise self._action_error(action, method, response)
        return self._decode(response, method, action)

    def _action_error(self, action, method, response):
        """Turn a failed checkpoint or restore into the error type the CLI runtime raises."""
        error = self._error(action, method, response)
        text = error.message
        if "container state improper" in text:
            return ContainerStateError(error.msg, **error.details)
        if "already in use" in text:
            return InvalidRequestError(error.msg, **error.details)
        log_path = None
        if "criu failed" in text or "CRIU" in text:
            log_path = _log_path(text)
        else:
            runtime_failure = RUNTIME_FAILURE_PATTERN.search(text)
            if runtime_failure:
                log_path = self._runtime_log(error, runtime_failure)
        if log_path:
            log = read_log_tail(log_path)
            error.details["criu_log_path"] = log_path
            error.details["criu_log"] = log
            reasons = criu_error_lines(log)
            if reasons:
                error.msg += " CRIU reported: %s" % " | ".join(reasons)
        return error

    def _runtime_log(self, error, runtime_failure):
        """Name CRIU's log in the message of a failed runc call; return its path if readable.

        The podman program passes on what runc prints ("criu failed: ...
        log file: ..."), but the service only logs it, and its error body
        names the runc command alone. CRIU's log is in runc's work path, and
        readable here only when the service runs on this host.
        """
        log_name = "dump.log" if runtime_failure.group(1) == "checkpoint" else "restore.log"
        log_path = os.path.join(runtime_failure.group(2), log_name)
        if not os.access(log_path, os.R_OK):
            error.msg += (" CRIU's log %s is not readable on this host; read it, or the log of the "
                          "Podman service at %s, on the service's host." % (log_path, self.socket_path))
            return None
        error.msg += " runc: criu failed, log file: %s." % log_path
        return log_path

    def _unmount_once(self, reference):
        """Send one unmount; return False when the container was not mounted."""
        response = self._request("POST", "/containers/%s/unmount" % _segment(reference))
        if 200 <= response.status < 300:
            return True
        error = self._error("unmount container %s" % reference, "POST", response)
        if response.status == 500 and "not mounted" in error.message:
            return False
        if "container state improper" in error.message:
            raise ContainerStateError(
                'The Podman API cannot unmount container "%s" while it is running: %s. Stop the '
                'container first, or leave socket unset to run podman umount, which can.'
                % (reference, error.message), **error.details)
        raise error

    def _parse_stats(self, parser, action, report, duration):
        if not isinstance(report, dict):
            raise PodmanError("Podman finished the %s but its report is not a JSON object: %r"
                              % (action, report), socket=self.socket_path)
        document = {"podman_%s_duration" % action: duration, "container_statistics": [report]}
        try:
            return parser(document)
        except StatsFormatError as exc:
            raise PodmanError(
                "Podman finished the %s but its statistics could not be read: %s" % (action, exc),
                socket=self.socket_path)


# ---------------------------------------------------------------------- podman ps shape

def ps_entry(entry, now):
    """Return an API list entry with ``Created``, ``CreatedAt`` and ``Status`` as podman ps prints them.

    The API gives ``Created`` as an RFC 3339 time and leaves ``CreatedAt`` and
    ``Status`` empty. ``podman ps --format json`` gives Unix seconds and
    human-readable ages such as "5 minutes ago" and "Up 5 minutes ago".
    """
    entry = dict(entry)
    created = entry.get("Created")
    if isinstance(created, str):
        created = _unix_seconds(created)
        if created is not None:
            entry["Created"] = created
    if isinstance(entry.get("Created"), (int, float)) and not entry.get("CreatedAt"):
        entry["CreatedAt"] = "%s ago" % human_duration(now - entry["Created"])
    if not entry.get("Status"):
        entry["Status"] = _ps_status(entry, now)
    return entry


def _ps_status(entry, now):
    state = entry.get("State") or ""
    started = entry.get("StartedAt")
    exited = entry.get("ExitedAt")
    if state == "running" and isinstance(started, (int, float)) and started > 0:
        return "Up %s ago" % human_duration(now - started)
    if state in ("exited", "stopped") and isinstance(exited, (int, float)) and exited > 0:
        return "Exited (%s) %s ago" % (entry.get("ExitCode", 0), human_duration(now - exited))
    if state in ("created", "configured", "initialized"):
        return "Created"
    return state[:1].upper() + state[1:]


def human_duration(seconds):
    """Return an age in the words podman ps uses, such as ``About a minute``."""
    seconds = int(seconds)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return "%d seconds" % seconds
    minutes = seconds // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return "%d minutes" % minutes
    hours = int(seconds / 3600.0 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return "%d hours" % hours
    if hours < 24 * 7 * 2:
        return "%d days" % (hours // 24)
    if hours < 24 * 30 * 2:
        return "%d weeks" % (hours // 24 // 7)
    if hours < 24 * 365 * 2:
        return "%d months" % (hours // 24 // 30)
    return "%d years" % (seconds // 3600 // 24 // 365)


def _unix_seconds(text):
    """Return the Unix seconds of an RFC 3339 time with up to nanoseconds, or None."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    zone_at = max(value.rfind("+"), value.rfind("-"))
    zone = value[zone_at:] if zone_at > 10 else ""
    main = value[:zone_at] if zone else value
    if "." in main:
        main, fraction = main.split(".", 1)
        main += "." + fraction[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(main + zone)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


# ---------------------------------------------------------------------- helpers

def _segment(reference):
    """Quote a name, ID or image reference as one path segment (slashes included)."""
    return quote(str(reference), safe="")


def _flag_query(parameters, options):
    return [(parameter, True) for option, parameter in parameters if options.get(option)]


def _filter_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _create_archive_file(path):
    """Create the export's partial file before the request, so a failure stops nothing."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, ARCHIVE_MODE)
    except OSError as exc:
        folder = os.path.dirname(path)
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
            # The same message as the module's own check of the folder.
            raise InvalidRequestError(
                'Folder "%s" for the export archive is not writable; choose a writable folder.'
                % folder, path=path, reason=str(exc))
        raise InvalidRequestError('Cannot create the export archive "%s": %s' % (path, exc),
                                  path=path)


def _log_path(text):
    match = LOG_FILE_PATTERN.search(text)
    return match.group(1) if match else None


def _json_or_empty(data):
    if not data:
        return {}
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


__all__ = ["PodmanApiRuntime", "parse_criu_dump_stats", "ps_entry"]
