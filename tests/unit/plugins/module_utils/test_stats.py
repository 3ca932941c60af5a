# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._stats import (
    CHECKPOINT_CRIU_KEYS,
    RESTORE_CRIU_KEYS,
    StatsFormatError,
    empty_stats,
    parse_checkpoint_stats,
    parse_restore_stats,
)

CHECKPOINT_CASES = [
    "checkpoint-print-stats", "checkpoint-export-print-stats", "checkpoint-export-none",
    "checkpoint-leave-running", "checkpoint-create-image",
]
RESTORE_CASES = [
    "restore-print-stats", "restore-import-print-stats", "restore-image-print-stats",
    "restore-after-failed-export",
]


def expected_stats(document, action, keys):
    entry = document["container_statistics"][0]
    criu = entry.get("criu_statistics") or {}
    return entry["Id"], {
        "podman_%s_duration" % action: document["podman_%s_duration" % action],
        "runtime_%s_duration" % action: entry["runtime_%s_duration" % action],
        "criu_statistics": dict((key, criu.get(key, 0)) for key in keys),
    }


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_parse_checkpoint_stats_of_recorded_output(recorded, case):
    document = recorded.json(case)
    assert parse_checkpoint_stats(document) == expected_stats(document, "checkpoint",
                                                              CHECKPOINT_CRIU_KEYS)


@pytest.mark.parametrize("case", RESTORE_CASES)
def test_parse_restore_stats_of_recorded_output(recorded, case):
    document = recorded.json(case)
    assert parse_restore_stats(document) == expected_stats(document, "restore", RESTORE_CRIU_KEYS)


def test_raw_input_key_differs_between_versions(recorded):
    # Podman 4.3 names the argument in RawInput ("" for an import); 5.4 has no such key.
    checkpoint = recorded.json("checkpoint-print-stats")["container_statistics"][0]
    imported = recorded.json("restore-import-print-stats")["container_statistics"][0]
    if recorded.version == "4.3":
        assert checkpoint["RawInput"] == recorded.name("a")
        assert imported["RawInput"] == ""
    else:
        assert "RawInput" not in checkpoint
        assert "RawInput" not in imported
    assert parse_checkpoint_stats(recorded.json("checkpoint-print-stats"))[0] == checkpoint["Id"]


def test_missing_criu_figures_are_zero(recorded):
    # CRIU leaves out pages_compared and pages_skipped_cow when they are zero,
    # as in the recorded import of both versions.
    document = recorded.json("restore-import-print-stats")
    criu = document["container_statistics"][0]["criu_statistics"]
    assert "pages_compared" not in criu
    stats = parse_restore_stats(document)[1]
    assert stats["criu_statistics"]["pages_compared"] == 0
    assert stats["criu_statistics"]["pages_skipped_cow"] == 0
    assert stats["criu_statistics"]["restore_time"] == criu["restore_time"]


@pytest.mark.parametrize("case, parser", [
    ("checkpoint-checkpointed", parse_checkpoint_stats),
    ("checkpoint-with-previous", parse_checkpoint_stats),
    ("restore-running", parse_restore_stats),
    ("restore-import-criu-failed", parse_restore_stats),
])
def test_failed_call_document_has_no_statistics(recorded, case, parser):
    # A failing --print-stats call still prints a document, with
    # container_statistics null.
    rc, stdout, stderr = recorded.result(case)
    assert rc == 125
    with pytest.raises(StatsFormatError, match="exactly one container, got 0 entries"):
        parser(recorded.json(case))


@pytest.mark.parametrize("case, parser", [
    ("checkpoint-two", parse_checkpoint_stats),
    ("restore-two", parse_restore_stats),
    ("checkpoint-partial", parse_checkpoint_stats),
])
def test_statistics_of_two_containers_are_rejected(recorded, case, parser):
    with pytest.raises(StatsFormatError, match="got 2 entries"):
        parser(recorded.json(case))


@pytest.mark.parametrize("document, message", [
    ([], "expected a JSON object, got list"),
    ("text", "expected a JSON object, got str"),
    ({}, "got 0 entries"),
    ({"container_statistics": ["id"]}, "exactly one container"),
    ({"podman_checkpoint_duration": "12", "container_statistics": [{"Id": "x"}]},
     "expected a number, got '12'"),
    ({"podman_checkpoint_duration": True, "container_statistics": [{"Id": "x"}]},
     "expected a number, got True"),
    ({"container_statistics": [{"Id": "x", "criu_statistics": {"frozen_time": [1]}}]},
     r"expected a number, got \[1\]"),
], ids=["list", "string", "no-entries", "entry-not-object", "string-number", "bool-number",
        "list-number"])
def test_malformed_documents_raise(document, message):
    with pytest.raises(StatsFormatError, match=message):
        parse_checkpoint_stats(document)


def test_floats_become_ints_and_absent_id_is_empty():
    container_id, stats = parse_restore_stats(
        {"podman_restore_duration": 10.9, "container_statistics": [{"criu_statistics": None}]})
    assert container_id == ""
    assert stats["podman_restore_duration"] == 10
    assert stats["runtime_restore_duration"] == 0
    assert set(stats["criu_statistics"].values()) == {0}


@pytest.mark.parametrize("action, keys", [
    ("checkpoint", CHECKPOINT_CRIU_KEYS), ("restore", RESTORE_CRIU_KEYS)])
def test_empty_stats_has_the_parsed_shape(action, keys):
    parser = parse_checkpoint_stats if action == "checkpoint" else parse_restore_stats
    parsed = parser({"container_statistics": [{"Id": "x"}]})[1]
    assert empty_stats(action) == parsed
    assert list(empty_stats(action)["criu_statistics"]) == list(keys)
