# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils import _archive as archives
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
)

ZSTD = shutil.which("zstd")
needs_zstd = pytest.mark.skipif(ZSTD is None, reason="the zstd program is not installed")
running_as_root = os.geteuid() == 0

CONFIG = {"id": "91395b236aac8c415acb475c29591176d382601101a25d24780db1c7ba8dc1af",
          "name": "lab4", "rootfsImageName": "localhost/statecraft/testbox:latest",
          # Padding, so that a cut after 1,000 bytes falls inside config.dump.
          "padding": "x" * 4000}


def member(archive, name, data=None, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    if data is None:
        archive.addfile(info)
        return
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def make_tar(path, members=None, compression="none"):
    """Write a checkpoint-like tar in podman's member order; return its path.

    ``members`` maps names to bytes (None for a folder); the default is a
    complete checkpoint with ``CONFIG``.
    """
    if members is None:
        members = {
            "artifacts/": None,
            "devshm-checkpoint.tar": b"\0" * 1536,
            "config.dump": json.dumps(CONFIG).encode(),
            "spec.dump": json.dumps({"ociVersion": "1.0.2-dev"}).encode(),
            "network.status": b"[]",
            "checkpoint/": None,
            "checkpoint/pages-1.img": os.urandom(64 * 1024),
        }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            member(archive, name.rstrip("/"), data,
                   tarfile.DIRTYPE if data is None else tarfile.REGTYPE)
    raw = buffer.getvalue()
    if compression == "gzip":
        raw = gzip.compress(raw)
    elif compression == "zstd":
        raw = subprocess.run([ZSTD, "-q", "-c"], input=raw, stdout=subprocess.PIPE,
                             check=True).stdout
    with open(str(path), "wb") as handle:
        handle.write(raw)
    return str(path)


def cut(path, size):
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[:size])
    return path


COMPRESSIONS = [
    pytest.param("none", id="plain"),
    pytest.param("gzip", id="gzip"),
    pytest.param("zstd", id="zstd", marks=needs_zstd),
]


# ---------------------------------------------------------------------- reading


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_read_checkpoint_config(tmp_path, compression):
    path = make_tar(tmp_path / "ck.tar", compression=compression)
    assert archives.detect_compression(path) == compression
    assert archives.read_checkpoint_config(path) == CONFIG


@needs_zstd
def test_read_stops_early_on_large_zstd_archive(tmp_path):
    # The metadata comes first; the 8 MiB after it is never decompressed in full.
    members = {"config.dump": json.dumps(CONFIG).encode(), "spec.dump": b"{}",
               "checkpoint/pages-1.img": os.urandom(8 * 1024 * 1024)}
    path = make_tar(tmp_path / "big.tar.zst", members, "zstd")
    assert archives.read_checkpoint_config(path)["name"] == "lab4"


def test_plain_archive_cut_inside_config_dump_is_damaged(tmp_path):
    # config.dump's data starts at byte 3072 (three headers and 1536 bytes before it).
    path = cut(make_tar(tmp_path / "ck.tar"), 4000)
    with pytest.raises(archives.ArchiveError, match="is damaged or truncated") as raised:
        archives.read_checkpoint_config(path)
    assert raised.value.details == {"path": path}


def test_plain_archive_cut_before_config_dump_is_incomplete(tmp_path):
    # tarfile ends the member list quietly at a cut between members, so the
    # archive reads as one without config.dump.
    path = cut(make_tar(tmp_path / "ck.tar"), 1000)
    with pytest.raises(archives.ArchiveError, match="not a complete checkpoint archive: "
                       "config.dump, spec.dump missing"):
        archives.read_checkpoint_config(path)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("size", [10, 100, 300])
def test_truncated_archive_raises_archive_error(tmp_path, compression, size):
    path = cut(make_tar(tmp_path / "ck.tar", compression=compression), size)
    with pytest.raises(archives.ArchiveError,
                       match="is damaged or truncated|is not a complete checkpoint archive|"
                             "neither a tar file"):
        archives.read_checkpoint_config(path)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_archive_cut_after_the_metadata_still_reads(tmp_path, compression):
    # Podman's import would fail later, but config.dump and spec.dump are
    # whole. zstd writes blocks of up to 128 KiB, so the pages are made large
    # enough for the metadata to sit in an earlier block.
    members = {"config.dump": json.dumps(CONFIG).encode(), "spec.dump": b"{}",
               "checkpoint/pages-1.img": os.urandom(512 * 1024)}
    path = make_tar(tmp_path / "ck.tar", members, compression)
    cut(path, os.path.getsize(path) - 4096)
    assert archives.read_checkpoint_config(path)["id"] == CONFIG["id"]


def test_random_bytes_are_not_an_archive(tmp_path):
    path = tmp_path / "random.tar"
    path.write_bytes(os.urandom(4096).replace(b"\x1f\x8b", b"ab").replace(b"\x28\xb5", b"ab"))
    with pytest.raises(archives.ArchiveError, match="neither a tar file nor gzip or zstd data"):
        archives.read_checkpoint_config(str(path))


def test_random_bytes_after_gzip_magic_are_damaged(tmp_path):
    path = tmp_path / "fake.tar.gz"
    path.write_bytes(b"\x1f\x8b" + os.urandom(4096))
    with pytest.raises(archives.ArchiveError, match="damaged or truncated"):
        archives.read_checkpoint_config(str(path))


@needs_zstd
def test_random_bytes_after_zstd_magic_are_damaged(tmp_path):
    path = tmp_path / "fake.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(4096))
    with pytest.raises(archives.ArchiveError, match="damaged or truncated"):
        archives.read_checkpoint_config(str(path))


@pytest.mark.parametrize("members, missing", [
    ({"spec.dump": b"{}", "network.status": b"[]"}, "config.dump missing"),
    ({"config.dump": json.dumps(CONFIG).encode()}, "spec.dump missing"),
    ({"stats-dump": b"x"}, "config.dump, spec.dump missing"),
    ({"config.dump/": None, "spec.dump": b"{}"}, "config.dump missing"),
    ({"sub/config.dump": b"{}", "spec.dump": b"{}"}, "config.dump missing"),
], ids=["no-config", "no-spec", "neither", "config-is-folder", "config-in-subfolder"])
def test_incomplete_checkpoint(tmp_path, members, missing):
    path = make_tar(tmp_path / "ck.tar", members)
    with pytest.raises(archives.ArchiveError, match="is not a complete checkpoint archive: %s"
                       % missing):
        archives.read_checkpoint_config(path)


def test_empty_tar_is_incomplete(tmp_path):
    path = make_tar(tmp_path / "empty.tar", {})
    # An empty tar is only end-of-archive blocks, without the ustar magic.
    with pytest.raises(archives.ArchiveError):
        archives.read_checkpoint_config(path)


@pytest.mark.parametrize("config, message", [
    (b"{not json", "holds an unreadable config.dump"),
    (b"\xff\xfe", "holds an unreadable config.dump"),
    (b"[1, 2]", "holds a config.dump that is not a JSON object"),
], ids=["not-json", "not-utf8", "list"])
def test_bad_config_dump(tmp_path, config, message):
    path = make_tar(tmp_path / "ck.tar", {"config.dump": config, "spec.dump": b"{}"})
    with pytest.raises(archives.ArchiveError, match=message):
        archives.read_checkpoint_config(path)


def test_missing_archive(tmp_path):
    path = str(tmp_path / "nope.tar")
    with pytest.raises(archives.ArchiveError, match='Archive ".*nope.tar" does not exist'):
        archives.read_checkpoint_config(path)


def test_folder_is_not_an_archive(tmp_path):
    with pytest.raises(archives.ArchiveError, match="is a folder, not a checkpoint archive"):
        archives.read_checkpoint_config(str(tmp_path))


def test_unreadable_archive_simulated(tmp_path, monkeypatch):
    # Root reads any file, so the permission check is simulated here and
    # exercised for real by the next test when not root.
    path = make_tar(tmp_path / "ck.tar")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if p == path else real_access(p, mode))
    with pytest.raises(archives.ArchiveError, match="is not readable; check its permissions"):
        archives.read_checkpoint_config(path)


@pytest.mark.skipif(running_as_root, reason="root can read a file with mode 0000")
def test_unreadable_archive(tmp_path):
    path = make_tar(tmp_path / "ck.tar")
    os.chmod(path, 0)
    with pytest.raises(archives.ArchiveError, match="is not readable"):
        archives.read_checkpoint_config(path)


def test_zstd_archive_without_zstd_program(tmp_path, monkeypatch):
    path = tmp_path / "ck.tar.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 600)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *args, **kwargs: None if name == "zstd"
                        else real_which(name, *args, **kwargs))
    with pytest.raises(archives.ArchiveError, match='needs the zstd program; install it'):
        archives.read_checkpoint_config(str(path))


def test_archive_error_is_an_invalid_request():
    assert issubclass(archives.ArchiveError, InvalidRequestError)


@pytest.mark.parametrize("head, expected", [
    (b"\x28\xb5\x2f\xfd" + b"\0" * 10, "zstd"),
    (b"\x1f\x8b\x08" + b"\0" * 10, "gzip"),
    (b"\0" * 257 + b"ustar\x0000", "none"),
    (b"\0" * 257 + b"ustar  \0", "none"),
    (b"", None),
    (b"hello world\n", None),
], ids=["zstd", "gzip", "posix-tar", "gnu-tar", "empty", "text"])
def test_detect_compression(tmp_path, head, expected):
    path = tmp_path / "file"
    path.write_bytes(head)
    assert archives.detect_compression(str(path)) == expected


def test_describe(tmp_path):
    path = make_tar(tmp_path / "ck.tar", compression="gzip")
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert archives.describe(path) == {
        "path": path, "size": os.path.getsize(path), "sha256": digest, "compression": "gzip"}


# ---------------------------------------------------------------------- export target


def test_export_target_new_file(tmp_path):
    assert archives.check_export_target(str(tmp_path / "ck.tar.zst")) is False


def test_export_target_existing_file(tmp_path):
    target = tmp_path / "ck.tar"
    target.write_text("old")
    assert archives.check_export_target(str(target)) is True


def test_export_target_dangling_symlink_exists(tmp_path):
    target = tmp_path / "ck.tar"
    target.symlink_to(tmp_path / "nowhere")
    assert archives.check_export_target(str(target)) is True


@pytest.mark.parametrize("path, message", [
    ("ck.tar", 'export "ck.tar" is a relative path; give an absolute path.'),
    ("./backups/ck.tar", "is a relative path"),
    ("~/ck.tar", "is a relative path"),
])
def test_export_target_relative(path, message):
    with pytest.raises(InvalidRequestError, match=message.replace(".", r"\.")) as raised:
        archives.check_export_target(path)
    assert raised.value.details == {"path": path}


def test_export_target_is_folder(tmp_path):
    with pytest.raises(InvalidRequestError, match="is a folder; give the path of the archive"):
        archives.check_export_target(str(tmp_path))


def test_export_target_folder_missing(tmp_path):
    path = str(tmp_path / "missing" / "ck.tar")
    with pytest.raises(InvalidRequestError, match='Folder ".*missing" for the export archive '
                       "does not exist; create it first"):
        archives.check_export_target(path)


def test_export_target_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidRequestError, match="does not exist"):
        archives.check_export_target(str(tmp_path / "file" / "ck.tar"))


def fail_open_in(monkeypatch, folder, code):
    """Make ``os.open`` fail with ``code`` for every file in ``folder``; return the paths tried."""
    tried = []
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if os.path.dirname(str(path)) == folder:
            tried.append(str(path))
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    return tried


def test_export_target_read_only_simulated(tmp_path, monkeypatch):
    # os.access() returns True for root on a read-only file system, so the
    # check creates a file, which fails there with EROFS.
    folder = str(tmp_path / "ro")
    os.mkdir(folder)
    fail_open_in(monkeypatch, folder, errno.EROFS)
    path = os.path.join(folder, "ck.tar")
    with pytest.raises(InvalidRequestError) as raised:
        archives.check_export_target(path)
    assert raised.value.msg == ('Folder "%s" for the export archive is not writable; choose a '
                                'writable folder.' % folder)
    assert raised.value.details["path"] == path
    assert "Read-only file system" in raised.value.details["error"]


def test_export_target_probe_is_hidden(tmp_path, monkeypatch):
    tried = fail_open_in(monkeypatch, str(tmp_path), errno.EACCES)
    with pytest.raises(InvalidRequestError):
        archives.check_export_target(str(tmp_path / "ck.tar"))
    assert len(tried) == 1
    base = os.path.basename(tried[0])
    assert base.startswith(".ck.tar.")
    assert base.endswith(".partial")


def test_export_target_ignores_os_access(tmp_path, monkeypatch):
    # Creating the probe file decides, so a writable folder passes whatever os.access() returns.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert archives.check_export_target(str(tmp_path / "ck.tar")) is False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_export_target_in_proc(tmp_path):
    # Even root cannot create a file in /proc, although os.access() reports it writable for root.
    with pytest.raises(InvalidRequestError) as raised:
        archives.check_export_target("/proc/ck.tar")
    assert raised.value.msg == ('Folder "/proc" for the export archive is not writable; choose '
                                'a writable folder.')


def test_export_target_probe_leaves_no_file(tmp_path):
    archives.check_export_target(str(tmp_path / "ck.tar"))
    assert os.listdir(str(tmp_path)) == []


def test_export_target_keeps_existing_file(tmp_path):
    target = tmp_path / "ck.tar"
    target.write_text("old")
    assert archives.check_export_target(str(target)) is True
    assert target.read_text() == "old"
    assert os.listdir(str(tmp_path)) == ["ck.tar"]


@pytest.mark.skipif(running_as_root, reason="root can write into a folder with mode 0555")
def test_export_target_folder_not_writable(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    with pytest.raises(InvalidRequestError, match="is not writable"):
        archives.check_export_target(str(folder / "ck.tar"))


# ---------------------------------------------------------------------- partial files


def test_partial_path_is_hidden_beside_the_target(tmp_path):
    target = str(tmp_path / "worker.tar.zst")
    partial = archives.partial_path(target)
    folder, base = os.path.split(partial)
    assert folder == str(tmp_path)
    assert base.startswith(".worker.tar.zst.")
    assert base.endswith(".partial")
    assert not os.path.exists(partial)


def test_partial_paths_differ(tmp_path):
    target = str(tmp_path / "worker.tar")
    assert len(set(archives.partial_path(target) for unused in range(50))) == 50


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o400])
def test_publish_sets_mode_and_moves(tmp_path, mode):
    target = str(tmp_path / "ck.tar")
    partial = archives.partial_path(target)
    with open(partial, "w") as handle:
        handle.write("new")
    os.chmod(partial, 0o600)
    archives.publish(partial, target, mode)
    assert stat.S_IMODE(os.stat(target).st_mode) == mode
    assert not os.path.exists(partial)
    with open(target) as handle:
        assert handle.read() == "new"


def test_publish_replaces_existing_file_by_rename(tmp_path, monkeypatch):
    target = tmp_path / "ck.tar"
    target.write_text("old")
    old_inode = os.stat(str(target)).st_ino
    partial = archives.partial_path(str(target))
    with open(partial, "w") as handle:
        handle.write("new")
    new_inode = os.stat(partial).st_ino
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda *args: (renames.append(args), real_replace(*args)))

    archives.publish(partial, str(target), 0o640)

    # One rename: the target is the partial file itself, never a half-written copy.
    assert renames == [(partial, str(target))]
    assert os.stat(str(target)).st_ino == new_inode != old_inode
    assert target.read_text() == "new"
    assert os.listdir(str(tmp_path)) == ["ck.tar"]


def test_discard_removes_partial_and_ignores_missing(tmp_path):
    partial = archives.partial_path(str(tmp_path / "ck.tar"))
    with open(partial, "w") as handle:
        handle.write("half")
    archives.discard(partial)
    assert not os.path.exists(partial)
    archives.discard(partial)
