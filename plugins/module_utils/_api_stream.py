# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Streams of exported archives through the REST API: compression, tar members, CRIU stats.

An API export arrives as one uncompressed tar. These classes compress it as
it arrives, leave out members the options exclude, and capture the small
members (``stats-dump``, ``config.dump``) without holding the archive.
"""

from __future__ import annotations

import gzip
import struct
import subprocess

# CRIU's stats-dump image: two magic numbers, then one stats_entry protobuf
# message prefixed with its size. Field numbers of dump_stats_entry in CRIU's
# stats.proto, checked against "podman container checkpoint --print-stats" of
# the same checkpoint (CRIU 4.1.1).
CRIU_SERVICE_MAGIC = 0x55105940
CRIU_STATS_MAGIC = 0x57093306
CRIU_DUMP_STATS_FIELDS = {
    1: "freezing_time",
    2: "frozen_time",
    3: "memdump_time",
    4: "memwrite_time",
    5: "pages_scanned",
    7: "pages_written",
}


class ArchiveWriter:
    """File-like target of an export: writes the tar as it arrives, compressed or not.

    zstd runs as the ``zstd`` program, reading from a pipe; gzip uses Python's
    ``gzip`` module. A compression failure is kept in ``error`` (the export
    has happened on the service by then), and ``close`` must always be called.
    """

    def __init__(self, raw, compression, compressor, commands):
        self.error = None
        self._raw = raw
        self._process = None
        self._gzip = None
        if compression == "zstd":
            argv = [compressor, "-q", "-c"]
            commands.append(argv)
            self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=raw,
                                             stderr=subprocess.PIPE)
            self._sink = self._process.stdin
        elif compression == "gzip":
            self._gzip = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6)
            self._sink = self._gzip
        else:
            self._sink = raw

    def write(self, data):
        self._sink.write(data)

    def close(self):
        if self._gzip is not None:
            try:
                self._gzip.close()
            except OSError as exc:
                self.error = "gzip: %s" % exc
        if self._process is not None:
            try:
                self._process.stdin.close()
            except OSError:
                pass
            stderr = self._process.stderr.read().decode("utf-8", "replace")
            self._process.stderr.close()
            rc = self._process.wait()
            if rc != 0:
                reason = stderr.strip() or "no output"
                self.error = "%s exited with %d: %s" % (self._process.args[0], rc, reason)


class TarMemberFilter:
    """File-like filter of a tar stream that leaves out the members under one folder.

    Podman 4.3 and 5.4 ignore ``ignoreVolumes`` on ``checkpoint?export=true``
    and put every volume in the archive's ``volumes/`` folder. Dropping those
    members gives the archive that ``podman container checkpoint
    --ignore-volumes`` writes, which simply has no ``volumes/`` folder.
    ``write`` takes the stream in pieces of any size and passes the kept
    bytes to ``sink.write``. PAX and GNU long-name headers go with the member
    that they describe.
    """

    def __init__(self, sink, folder):
        self._sink = sink
        self._folder = folder.rstrip("/")
        self._buffer = bytearray()
        self._pending = bytearray()
        self._long_name = None
        self._data_left = 0
        self._keep_data = True
        self._extended = None
        self._ended = False

    def write(self, data):
        if self._ended:
            self._sink.write(data)
            return
        self._buffer += data
        while self._buffer and not self._ended:
            if self._data_left:
                take = min(self._data_left, len(self._buffer))
                chunk = bytes(self._buffer[:take])
                del self._buffer[:take]
                self._data_left -= take
                if self._extended is not None:
                    self._extended += chunk
                    if not self._data_left:
                        self._finish_extended_header()
                elif self._keep_data:
                    self._sink.write(chunk)
            elif len(self._buffer) >= 512:
                header = bytes(self._buffer[:512])
                del self._buffer[:512]
                self._read_header(header)
            else:
                return
        if self._ended and self._buffer:
            self._sink.write(bytes(self._buffer))
            del self._buffer[:]

    def _read_header(self, header):
        if header == b"\0" * 512:
            # The end of the archive: everything from here on is kept as it is.
            self._ended = True
            self._sink.write(bytes(self._pending) + header)
            return
        size = _tar_size(header[124:136])
        padded = size + (-size) % 512
        typeflag = header[156:157]
        if typeflag in (b"x", b"L"):
            self._pending += header
            self._extended = bytearray()
            self._extended_type = typeflag
            self._data_left = padded
            if not padded:
                self._finish_extended_header()
            return
        name = self._long_name or _tar_header_name(header)
        self._long_name = None
        if name.startswith("./"):
            name = name[2:]
        dropped = name.rstrip("/") == self._folder or name.startswith(self._folder + "/")
        if not dropped:
            self._sink.write(bytes(self._pending) + header)
        del self._pending[:]
        self._keep_data = not dropped
        self._data_left = padded

    def _finish_extended_header(self):
        data = bytes(self._extended)
        self._pending += data
        self._extended = None
        if self._extended_type == b"L":
            self._long_name = data.split(b"\0", 1)[0].decode("utf-8", "replace")
            return
        for record in data.rstrip(b"\0").split(b"\n"):
            length_and_field = record.split(b" ", 1)
            if len(length_and_field) == 2 and length_and_field[1].startswith(b"path="):
                self._long_name = length_and_field[1][5:].decode("utf-8", "replace")

    def close(self):
        """Raise ``ValueError`` when the stream stopped before the end-of-archive blocks."""
        if not self._ended:
            raise ValueError("the tar stream from the service stopped before its end")


class TarMemberCapture:
    """Follow a tar stream block by block and keep the content of a few small members.

    ``feed`` takes the stream in pieces of any size. Members named in
    ``names`` (at the top of the archive) and no larger than ``max_size``
    end up in ``members``. Everything else is skipped without being stored.
    """

    def __init__(self, names, max_size):
        self.members = {}
        self._wanted = set(names)
        self._max_size = max_size
        self._buffer = bytearray()
        self._data_left = 0
        self._padding_left = 0
        self._current = None
        self._done = False

    def feed(self, data):
        if self._done:
            return
        self._buffer += data
        while not self._done:
            if self._data_left or self._padding_left:
                if not self._consume_data():
                    return
            elif len(self._buffer) >= 512:
                self._read_header(bytes(self._buffer[:512]))
                del self._buffer[:512]
            else:
                return

    def _consume_data(self):
        if not self._buffer:
            return False
        if self._data_left:
            take = min(self._data_left, len(self._buffer))
            if self._current is not None:
                self._current += self._buffer[:take]
            del self._buffer[:take]
            self._data_left -= take
            if not self._data_left and self._current is not None:
                self.members[self._current_name] = bytes(self._current)
                self._current = None
                if self._wanted.issubset(self.members):
                    self._done = True
        else:
            take = min(self._padding_left, len(self._buffer))
            del self._buffer[:take]
            self._padding_left -= take
        return True

    def _read_header(self, header):
        if header == b"\0" * 512:
            self._done = True
            return
        name = _tar_header_name(header)
        size = _tar_size(header[124:136])
        if name.startswith("./"):
            name = name[2:]
        self._data_left = size
        self._padding_left = (-size) % 512
        typeflag = header[156:157]
        if name in self._wanted and typeflag in (b"0", b"\0") and size <= self._max_size:
            self._current = bytearray()
            self._current_name = name
            if size == 0:
                self.members[name] = b""
                self._current = None


def parse_criu_dump_stats(data):
    """Return the checkpoint figures from a CRIU ``stats-dump`` image.

    Raises ``ValueError`` when the data is not such an image.
    """
    if len(data) < 12:
        raise ValueError("stats-dump has %d bytes, too few for a CRIU image" % len(data))
    service_magic, stats_magic, size = struct.unpack_from("<III", data, 0)
    if service_magic != CRIU_SERVICE_MAGIC or stats_magic != CRIU_STATS_MAGIC:
        raise ValueError("stats-dump does not start with CRIU's stats magic numbers")
    message = data[12:12 + size]
    if len(message) != size:
        raise ValueError("stats-dump is truncated")
    dump = _protobuf_fields(message).get(1)
    if not isinstance(dump, bytes):
        raise ValueError("stats-dump has no dump statistics")
    fields = _protobuf_fields(dump)
    return dict((name, fields[number]) for number, name in CRIU_DUMP_STATS_FIELDS.items()
                if isinstance(fields.get(number), int))


def _protobuf_fields(data):
    """Decode one protobuf message into ``{field number: int or bytes}`` (last value wins)."""
    fields = {}
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            fields[number], position = _varint(data, position)
        elif wire_type == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ValueError("protobuf field %d runs past the end" % number)
            fields[number] = bytes(data[position:position + length])
            position += length
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wire_type)
    if position != len(data):
        raise ValueError("protobuf message is truncated")
    return fields


def _varint(data, position):
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ValueError("protobuf varint is truncated")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ValueError("protobuf varint is too long")


def _tar_header_name(header):
    name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "replace")
        if prefix:
            name = prefix + "/" + name
    return name


def _tar_size(field):
    if field[:1] and field[0] & 0x80:
        # GNU base-256 for sizes of 8 GiB and more.
        value = field[0] & 0x7F
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0
