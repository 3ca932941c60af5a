# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Checkpoint archives on disk: path checks, atomic placement, format and contents.

Podman writes an exported checkpoint as a tar file, compressed with zstd by
default (whatever the file name), gzip, or not at all. The tar contains
``config.dump``, a JSON document with the container's ``name`` and ``id``,
and ``spec.dump``; both must be present for the file to be a checkpoint.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
TAR_MAGIC_OFFSET = 257
REQUIRED_MEMBERS = ("config.dump", "spec.dump")


class ArchiveError(InvalidRequestError):
    """The archive is missing, unreadable or not a checkpoint."""


def check_export_target(path):
    """Check before any checkpoint that podman can write ``path``.

    Returns True when a file already exists there. Raises ``InvalidRequestError``
    for a relative path, a missing or read-only folder, or a path that is a
    folder, because podman discovers these only after it has dumped (and so
    stopped) the container.
    """
    if not os.path.isabs(path):
        raise InvalidRequestError(
            'export "%s" is a relative path; give an absolute path.' % path, path=path)
    if os.path.isdir(path):
        raise InvalidRequestError(
            'export "%s" is a folder; give the path of the archive file to write.' % path,
            path=path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise InvalidRequestError(
            'Folder "%s" for the export archive does not exist; create it first.' % folder,
            path=path)
    # os.access() returns True for root even on a read-only file system such as
    # /proc, so create and remove a real file.
    probe = partial_path(path)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise InvalidRequestError(
            'Folder "%s" for the export archive is not writable; choose a writable folder.'
            % folder, path=path, error=str(exc))
    return os.path.lexists(path)


def partial_path(path):
    """Return a new hidden file name beside ``path`` for podman to write into."""
    folder, base = os.path.split(path)
    token = binascii.hexlify(os.urandom(6)).decode("ascii")
    return os.path.join(folder, ".%s.%s.partial" % (base, token))


def publish(partial, path, mode):
    """Give the complete archive its mode and move it to ``path`` in one rename."""
    os.chmod(partial, mode)
    os.replace(partial, path)


def discard(partial):
    """Remove a partial archive left by a failed export, if there is one."""
    try:
        os.unlink(partial)
    except FileNotFoundError:
        pass


def detect_compression(path):
    """Return ``zstd``, ``gzip`` or ``none`` from the file's first bytes, or None."""
    with open(path, "rb") as handle:
        head = handle.read(TAR_MAGIC_OFFSET + 8)
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head[TAR_MAGIC_OFFSET:TAR_MAGIC_OFFSET + 5] == b"ustar":
        return "none"
    return None


def sha256_of(path):
    """Return the hex SHA-256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(path):
    """Return the ``archive`` result for a finished export."""
    return {
        "path": path,
        "size": os.path.getsize(path),
        "sha256": sha256_of(path),
        "compression": detect_compression(path),
    }


def read_checkpoint_config(path):
    """Return the ``config.dump`` document of a checkpoint archive.

    Raises ``ArchiveError`` with what is wrong and what to do when the file
    is missing, unreadable, truncated before its config, or not a checkpoint.
    """
    if not os.path.exists(path):
        raise ArchiveError('Archive "%s" does not exist; check the path.' % path, path=path)
    if os.path.isdir(path):
        raise ArchiveError('Archive "%s" is a folder, not a checkpoint archive.' % path, path=path)
    if not os.access(path, os.R_OK):
        raise ArchiveError('Archive "%s" is not readable; check its permissions.' % path,
                           path=path)
    compression = detect_compression(path)
    if compression is None:
        raise ArchiveError(
            'Archive "%s" is not a checkpoint archive: it is neither a tar file nor '
            'gzip or zstd data.' % path, path=path)
    members = _read_members(path, compression)
    missing = [name for name in REQUIRED_MEMBERS if name not in members]
    if missing:
        raise ArchiveError(
            'Archive "%s" is not a complete checkpoint archive: %s missing. Export '
            'it again with podman container checkpoint --export.' % (path, ", ".join(missing)),
            path=path)
    try:
        config = json.loads(members["config.dump"].decode("utf-8"))
    except ValueError as exc:
        raise ArchiveError('Archive "%s" holds an unreadable config.dump: %s' % (path, exc),
                           path=path)
    if not isinstance(config, dict):
        raise ArchiveError('Archive "%s" holds a config.dump that is not a JSON object.' % path,
                           path=path)
    return config


def _read_members(path, compression):
    if compression != "zstd":
        with open(path, "rb") as handle:
            return _scan_tar(path, handle, "r|gz" if compression == "gzip" else "r|")
    zstd = shutil.which("zstd")
    if zstd is None:
        raise ArchiveError(
            'Archive "%s" is zstd-compressed and reading it needs the zstd program; '
            'install it (Debian and Fedora package "zstd").' % path, path=path)
    process = subprocess.Popen([zstd, "-dcq", path], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    try:
        return _scan_tar(path, process.stdout, "r|")
    finally:
        process.stdout.close()
        process.kill()
        process.wait()


def _scan_tar(path, stream, mode):
    # Stream the tar and stop once the small metadata files are read, so a
    # large archive is not decompressed in full.
    found = {}
    try:
        with tarfile.open(fileobj=stream, mode=mode) as archive:
            for member in archive:
                if member.name in REQUIRED_MEMBERS and member.isfile():
                    found[member.name] = archive.extractfile(member).read()
                    if len(found) == len(REQUIRED_MEMBERS):
                        break
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(
            'Archive "%s" is damaged or truncated (%s); export it again.' % (path, exc),
            path=path)
    return found
