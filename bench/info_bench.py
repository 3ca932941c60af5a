# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""container_info over many containers, against the podman commands doing the same work.

For each size N, the request is the N benchmark containers by name plus one
name that matches no container. Four measurements, one run each, in this order:

- bare: one ``podman container inspect`` of all N+1 names, then
  ``podman mount --format json`` (the two commands the module runs);
- naive: one ``podman container inspect NAME`` per name, N+1 calls;
- module, ad hoc: one ``ansible localhost -m statecraft.podman.container_info``
  call, timed as a whole;
- module task: the same module as a playbook task, minus a ping task before it.
  A first container_info task asking only for the missing name runs before
  both, so that building the module's AnsiballZ payload is not counted.

Containers are created once with ``podman create`` and reused by the larger
sizes, so the 100 include the 10.
"""

from __future__ import annotations

import json

from harness import (
    TEST_IMAGE,
    BenchError,
    log,
    module_seconds,
    timing_task,
)


def create_containers(podman, cleanup, names, count):
    """Create containers named ``<prefix><i>`` until ``names`` has ``count`` of them."""
    while len(names) < count:
        name = cleanup.container("%s%d" % (cleanup.prefix, len(names)))
        podman.run(["create", "--name", name, TEST_IMAGE, "true"])
        names.append(name)


def time_bare(podman, requested):
    """Time one inspect of every name plus ``podman mount``; return seconds, CPU seconds and entries found."""
    inspect_seconds, inspected = podman.run(["container", "inspect"] + requested, check=False)
    mount_seconds, mounted = podman.run(["mount", "--format", "json"])
    # podman exits 125 for the missing name but still prints the others.
    if inspected.returncode not in (0, 125):
        raise BenchError("podman container inspect failed: %s" % inspected.stderr[-500:])
    found = len(json.loads(inspected.stdout or "[]"))
    return inspect_seconds + mount_seconds, inspected.cpu_seconds + mounted.cpu_seconds, found


def time_naive(podman, requested):
    """Time one ``podman container inspect NAME`` per name; return seconds, CPU seconds and entries found."""
    seconds = 0.0
    cpu_seconds = 0.0
    found = 0
    for name in requested:
        call_seconds, inspected = podman.run(["container", "inspect", name], check=False)
        seconds += call_seconds
        cpu_seconds += inspected.cpu_seconds
        if inspected.returncode == 0:
            found += 1
    return seconds, cpu_seconds, found


def check_module_result(result, size, missing_name):
    if len(result["containers"]) != size or result["missing"] != [missing_name]:
        raise BenchError("container_info returned %d containers and missing=%s, expected %d and [%s]"
                         % (len(result["containers"]), result["missing"], size, missing_name))


def run(podman, ansible, cleanup, sizes):
    """Run the container_info benchmark for every size; return one row per size."""
    missing_name = cleanup.prefix + "missing"
    names = []
    rows = []

    log("info: warm-up (not measured)")
    podman.run(["container", "inspect", missing_name], check=False)
    ansible.adhoc("container_info", {"name": [missing_name], "executable": podman.executable})

    for size in sorted(sizes):
        log("info: creating containers up to %d" % size)
        create_containers(podman, cleanup, names, size)
        requested = names[:size] + [missing_name]
        args = {"name": requested, "executable": podman.executable}

        log("info: N=%d bare inspect + mount" % size)
        bare_seconds, bare_cpu_seconds, bare_found = time_bare(podman, requested)
        log("info: N=%d naive, %d inspect calls" % (size, len(requested)))
        naive_seconds, naive_cpu_seconds, naive_found = time_naive(podman, requested)
        if bare_found != size or naive_found != size:
            raise BenchError("podman found %d (bare) and %d (naive) containers, expected %d"
                             % (bare_found, naive_found, size))

        log("info: N=%d module, ad hoc" % size)
        adhoc_seconds, adhoc_result = ansible.adhoc("container_info", args)
        check_module_result(adhoc_result, size, missing_name)

        log("info: N=%d module, playbook task" % size)
        # The warm-up call of the module builds its AnsiballZ payload, which
        # Ansible caches per run, so the measured task pays only for running.
        warm_up = {"name": "warm-up module", "statecraft.podman.container_info": {
            "name": ["{{ missing_name }}"], "executable": "{{ podman_executable }}"}}
        module_task = {"name": "module", "statecraft.podman.container_info": {
            "name": "{{ requested }}", "executable": "{{ podman_executable }}"}}
        playbook_seconds, tasks = ansible.playbook(
            "info-%d" % size,
            [timing_task("warm-up"), warm_up, timing_task("baseline"), module_task],
            {"requested": requested, "missing_name": missing_name,
             "podman_executable": podman.executable})
        task_seconds, work_seconds, task_result = module_seconds(tasks, "module")
        check_module_result(task_result, size, missing_name)

        rows.append({
            "containers": size,
            "bare_seconds": bare_seconds,
            "bare_cpu_seconds": bare_cpu_seconds,
            "naive_seconds": naive_seconds,
            "naive_cpu_seconds": naive_cpu_seconds,
            "naive_calls": len(requested),
            "module_adhoc_seconds": adhoc_seconds,
            "module_adhoc_cpu_seconds": adhoc_result["_bench_cpu_seconds"],
            "module_playbook_seconds": playbook_seconds,
            "module_task_seconds": task_seconds,
            "module_work_seconds": work_seconds,
            "module_commands": [" ".join(command[1:3]) for command in adhoc_result["commands"]],
        })
    return rows
