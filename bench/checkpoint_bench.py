# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""container_checkpoint with export, then container_restore of the archive under a new name.

For each compression, three rounds, each on a fresh container running
``/bin/memhog MIB`` (started, then waited on until its log contains ``ready``):

- bare: ``podman container checkpoint --export F --compress C NAME``, then
  ``podman container restore --import F --name NEW``;
- module, ad hoc: one ``ansible`` call per module, each timed as a whole;
- module task: both modules as tasks of one playbook, each minus a ping task
  that runs after check-mode runs of both modules (those build the modules'
  AnsiballZ payloads, which are then not counted).

Each round checks that the restored container runs, then removes both
containers and the archive, so at most two memhog containers exist at a time.
``os.sync()`` runs before every timed step, so that writing back the previous
archive does not fall into the next measurement.
"""

from __future__ import annotations

import os

from harness import BenchError, log, module_seconds, timing_task

ARCHIVE_SUFFIXES = {"zstd": ".tar.zst", "gzip": ".tar.gz", "none": ".tar"}


class Round:
    """The container, its restored copy and the archive of one measurement round."""

    def __init__(self, cleanup, workdir, compress, method):
        self.name = cleanup.container("%s%s-%s" % (cleanup.prefix, compress, method))
        self.restored = cleanup.container(self.name + "-restored")
        self.archive = cleanup.path(os.path.join(
            workdir, "%s-%s%s" % (compress, method, ARCHIVE_SUFFIXES[compress])))
        self.cleanup = cleanup

    def finish(self, podman):
        """Check that the restored container runs, then remove both containers and the archive."""
        running = podman.is_running(self.restored)
        self.cleanup.remove_containers([self.name, self.restored])
        if os.path.exists(self.archive):
            os.unlink(self.archive)
        if not running:
            raise BenchError("restored container %s is not running" % self.restored)


def bare_round(podman, cleanup, workdir, compress, mib):
    trial = Round(cleanup, workdir, compress, "bare")
    podman.start_memhog(trial.name, mib)
    os.sync()
    checkpoint_seconds, checkpointed = podman.run(["container", "checkpoint", "--export", trial.archive,
                                                   "--compress", compress, trial.name])
    archive_bytes = os.path.getsize(trial.archive)
    os.sync()
    restore_seconds, restored = podman.run(["container", "restore", "--import", trial.archive,
                                            "--name", trial.restored])
    trial.finish(podman)
    return {"checkpoint_seconds": checkpoint_seconds, "restore_seconds": restore_seconds,
            "checkpoint_cpu_seconds": checkpointed.cpu_seconds,
            "restore_cpu_seconds": restored.cpu_seconds, "archive_bytes": archive_bytes}


def checkpoint_args(podman, trial, compress):
    return {"name": trial.name, "export": trial.archive, "compress": compress,
            "executable": podman.executable}


def restore_args(podman, trial):
    return {"archive": trial.archive, "name": trial.restored, "executable": podman.executable}


def summarize(checkpoint_result, restore_result):
    """Return the figures of one module round that the report shows."""
    return {
        "archive_bytes": checkpoint_result["archive"]["size"],
        "archive_compression": checkpoint_result["archive"]["compression"],
        "checkpoint_stats": checkpoint_result["stats"],
        "restore_stats": restore_result["stats"],
        "checkpoint_commands": [" ".join(c[:3]) for c in checkpoint_result["commands"]],
        "restore_commands": [" ".join(c[:3]) for c in restore_result["commands"]],
    }


def adhoc_round(podman, ansible, cleanup, workdir, compress, mib):
    trial = Round(cleanup, workdir, compress, "adhoc")
    podman.start_memhog(trial.name, mib)
    os.sync()
    checkpoint_seconds, checkpoint_result = ansible.adhoc(
        "container_checkpoint", checkpoint_args(podman, trial, compress))
    os.sync()
    restore_seconds, restore_result = ansible.adhoc("container_restore", restore_args(podman, trial))
    trial.finish(podman)
    figures = summarize(checkpoint_result, restore_result)
    figures.update(checkpoint_seconds=checkpoint_seconds, restore_seconds=restore_seconds,
                   checkpoint_cpu_seconds=checkpoint_result["_bench_cpu_seconds"],
                   restore_cpu_seconds=restore_result["_bench_cpu_seconds"])
    return figures


def playbook_round(podman, ansible, cleanup, workdir, compress, mib):
    trial = Round(cleanup, workdir, compress, "task")
    podman.start_memhog(trial.name, mib)
    os.sync()
    # Check-mode runs of both modules build their AnsiballZ payloads, which
    # Ansible caches per run, so the measured tasks pay only for running.
    # They only read: container_checkpoint predicts a change, and
    # container_restore leaves the running container alone.
    tasks = [
        timing_task("warm-up"),
        {"name": "warm-up checkpoint", "check_mode": True,
         "statecraft.podman.container_checkpoint": checkpoint_args(podman, trial, compress)},
        {"name": "warm-up restore", "check_mode": True,
         "statecraft.podman.container_restore": {"name": trial.name, "executable": podman.executable}},
        timing_task("baseline"),
        {"name": "checkpoint", "statecraft.podman.container_checkpoint": checkpoint_args(podman, trial, compress)},
        {"name": "restore", "statecraft.podman.container_restore": restore_args(podman, trial)},
    ]
    playbook_seconds, timings = ansible.playbook("checkpoint-%s" % compress, tasks, {})
    checkpoint_task, checkpoint_work, checkpoint_result = module_seconds(timings, "checkpoint")
    restore_task, restore_work, restore_result = module_seconds(timings, "restore")
    trial.finish(podman)
    figures = summarize(checkpoint_result, restore_result)
    figures.update(checkpoint_task_seconds=checkpoint_task, checkpoint_seconds=checkpoint_work,
                   restore_task_seconds=restore_task, restore_seconds=restore_work,
                   playbook_seconds=playbook_seconds)
    return figures


def run(podman, ansible, cleanup, workdir, compressions, mib):
    """Run the three rounds for every compression; return one row per compression."""
    rows = []
    for compress in compressions:
        log("checkpoint: %s, bare podman" % compress)
        bare = bare_round(podman, cleanup, workdir, compress, mib)
        log("checkpoint: %s, modules ad hoc" % compress)
        adhoc = adhoc_round(podman, ansible, cleanup, workdir, compress, mib)
        log("checkpoint: %s, modules as playbook tasks" % compress)
        task = playbook_round(podman, ansible, cleanup, workdir, compress, mib)
        rows.append({"compress": compress, "memhog_mib": mib, "bare": bare, "adhoc": adhoc,
                     "task": task})
    return rows
