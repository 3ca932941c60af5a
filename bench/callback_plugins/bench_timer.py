# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Write the wall time and result of every task to a JSON file
description:
  - Used by the benchmark scripts in C(bench/), not shipped with the collection.
  - Writes a list with one entry per task, each with C(name), C(seconds), C(status) and C(result),
    to the file named by the environment variable C(BENCH_TIMINGS_FILE).
  - A task's time runs from the task start callback to its result callback, measured with
    C(time.monotonic) in the controller, so it includes forking the worker and sending the module.
requirements:
  - Enabled with C(ANSIBLE_CALLBACKS_ENABLED=bench_timer).
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Record per-task wall times for bench/run.py."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._output_path = os.environ.get("BENCH_TIMINGS_FILE")
        self._tasks = []
        self._started = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started = (task.get_name(), time.monotonic())

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        if not self._output_path:
            return
        with open(self._output_path, "w", encoding="utf-8") as handle:
            json.dump(self._tasks, handle, default=str)

    def _record(self, result, status):
        ended = time.monotonic()
        name, started = self._started or (result.task_name, ended)
        # ansible-core 2.19 added the result property; older releases only have _result.
        data = result.result if hasattr(type(result), "result") else result._result
        self._tasks.append({"name": name, "seconds": ended - started, "status": status,
                            "result": data})
