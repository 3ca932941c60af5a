# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Parse the JSON document that ``--print-stats`` prints for checkpoint and restore.

The document contains one entry per container under ``container_statistics``.
Podman and CRIU leave out figures that are zero (CRIU drops ``pages_compared``
and ``pages_skipped_cow``), so every key is optional and reported as 0 when
absent. Podman 5 entries have no ``RawInput`` key. Durations are microseconds.
"""

from __future__ import annotations

CHECKPOINT_CRIU_KEYS = (
    "freezing_time", "frozen_time", "memdump_time", "memwrite_time",
    "pages_scanned", "pages_written",
)
RESTORE_CRIU_KEYS = (
    "pages_compared", "pages_skipped_cow", "forking_time", "restore_time",
    "pages_restored",
)


class StatsFormatError(ValueError):
    """The statistics document does not have the expected shape."""


def parse_checkpoint_stats(document):
    """Return ``(container_id, stats)`` from a checkpoint ``--print-stats`` document."""
    return _parse(document, "checkpoint", CHECKPOINT_CRIU_KEYS)


def parse_restore_stats(document):
    """Return ``(container_id, stats)`` from a restore ``--print-stats`` document."""
    return _parse(document, "restore", RESTORE_CRIU_KEYS)


def _parse(document, action, criu_keys):
    if not isinstance(document, dict):
        raise StatsFormatError("expected a JSON object, got %s" % type(document).__name__)
    entries = document.get("container_statistics") or []
    if len(entries) != 1 or not isinstance(entries[0], dict):
        raise StatsFormatError(
            "expected statistics for exactly one container, got %d entries" % len(entries))
    entry = entries[0]
    criu = entry.get("criu_statistics") or {}
    stats = {
        "podman_%s_duration" % action: _number(document.get("podman_%s_duration" % action)),
        "runtime_%s_duration" % action: _number(entry.get("runtime_%s_duration" % action)),
        "criu_statistics": dict((key, _number(criu.get(key))) for key in criu_keys),
    }
    return entry.get("Id", ""), stats


def empty_stats(action):
    """Return the statistics shape for ``action`` with every figure 0."""
    keys = CHECKPOINT_CRIU_KEYS if action == "checkpoint" else RESTORE_CRIU_KEYS
    return {
        "podman_%s_duration" % action: 0,
        "runtime_%s_duration" % action: 0,
        "criu_statistics": dict((key, 0) for key in keys),
    }


def _number(value):
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StatsFormatError("expected a number, got %r" % (value,))
    return int(value)
