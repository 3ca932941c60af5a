# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark the collection's modules against the podman commands they replace.

Run by hand, never in CI, as root on a machine set up by scripts/setup.sh:

    .venv/bin/python bench/run.py [--podman /opt/statecraft/bin/podman5] [--only info|checkpoint]

Progress goes to stderr and a Markdown report to stdout; --json also writes
the raw figures. Every container and file the run creates is removed at the
end, also after an error, Ctrl-C, SIGTERM or SIGHUP. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import checkpoint_bench
import info_bench
from harness import (
    REPO_DIR,
    Ansible,
    BenchError,
    Cleanup,
    Podman,
    ignore_interrupts,
    log,
    raise_on_termination,
    run_command,
)

DEFAULT_PODMAN = "/opt/statecraft/bin/podman4"
DEFAULT_SIZES = "10,100,500"
DEFAULT_COMPRESS = "zstd,none"
DEFAULT_MEMHOG_MIB = 200


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark container_info, container_checkpoint and container_restore "
                    "against plain podman commands.")
    parser.add_argument("--podman", metavar="WRAPPER", default=DEFAULT_PODMAN,
                        help="podman executable or wrapper to benchmark (default: %(default)s)")
    parser.add_argument("--only", choices=["info", "checkpoint"],
                        help="run only this benchmark (default: both)")
    parser.add_argument("--sizes", metavar="LIST", default=DEFAULT_SIZES,
                        help="comma-separated container counts for the info benchmark "
                             "(default: %(default)s)")
    parser.add_argument("--compress", metavar="LIST", default=DEFAULT_COMPRESS,
                        help="comma-separated archive compressions for the checkpoint benchmark, "
                             "from zstd, gzip and none (default: %(default)s)")
    parser.add_argument("--memhog-mib", metavar="MIB", type=int, default=DEFAULT_MEMHOG_MIB,
                        help="MiB of memory that memhog writes in the checkpointed container "
                             "(default: %(default)s)")
    parser.add_argument("--venv", metavar="PATH", default=os.path.join(REPO_DIR, ".venv"),
                        help="virtual environment with ansible-core (default: %(default)s)")
    parser.add_argument("--link", action="store_true",
                        help="symlink the work tree as the collection instead of building and "
                             "installing it with ansible-galaxy")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures to FILE")
    args = parser.parse_args(argv)

    try:
        args.sizes = sorted(set(int(size) for size in args.sizes.split(",")))
    except ValueError:
        parser.error("--sizes must be comma-separated whole numbers, got %r" % args.sizes)
    if not args.sizes or args.sizes[0] < 1:
        parser.error("--sizes must be 1 or more")

    args.compress = [value.strip() for value in args.compress.split(",") if value.strip()]
    unknown = [value for value in args.compress if value not in checkpoint_bench.ARCHIVE_SUFFIXES]
    if not args.compress or unknown:
        parser.error("--compress takes zstd, gzip and none, got %r" % ",".join(args.compress))
    if args.memhog_mib < 1:
        parser.error("--memhog-mib must be 1 or more")

    if not os.access(args.podman, os.X_OK):
        parser.error("podman executable %s not found or not executable" % args.podman)
    if not os.access(os.path.join(args.venv, "bin", "ansible"), os.X_OK):
        parser.error("no ansible in %s/bin; run scripts/setup.sh first" % args.venv)
    return args


def read_first_line(path, default="?"):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip()
    except OSError:
        return default


def collection_version():
    with open(os.path.join(REPO_DIR, "galaxy.yml"), encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip()
    return "?"


def criu_version():
    """Return the version of the criu that runc finds: /usr/local/sbin comes first in the wrappers."""
    criu = shutil.which("criu", path="/usr/local/sbin:" + os.environ.get("PATH", ""))
    if not criu:
        return "not installed"
    output = run_command([criu, "--version"])[1].stdout
    return "%s (%s)" % (output.splitlines()[0].replace("Version:", "").strip() if output else "?", criu)


def memory_gib():
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def git_commit():
    try:
        completed = subprocess.run(["git", "-C", REPO_DIR, "rev-parse", "--short", "HEAD"],
                                   capture_output=True, text=True, check=False)
    except OSError:
        return "?"
    return completed.stdout.strip() if completed.returncode == 0 else "no commit yet"


def machine_facts(podman, ansible):
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "kernel": platform.release(),
        "os": "Debian " + read_first_line("/etc/debian_version"),
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_gib(), 1),
        "podman_wrapper": podman.executable,
        "podman_version": podman.version(),
        "criu": criu_version(),
        "ansible": ansible.version(),
        "python": platform.python_version(),
        "collection_version": collection_version(),
        "git_commit": git_commit(),
        "collection_install": ansible.install_commands,
        "containers_in_store_at_start": podman.container_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


# ---------------------------------------------------------------------- report


def seconds_text(value):
    return "%.3f s" % value


def ratio_text(numerator, denominator):
    if denominator <= 0:
        return "n/a"
    return "%.2fx" % (numerator / denominator)


def mib_text(size):
    return "%.1f MiB" % (size / 1048576.0)


def ms_text(microseconds):
    return "%.1f ms" % (microseconds / 1000.0)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def info_report(rows):
    header = ["containers", "bare: inspect + mount", "naive: inspect per name",
              "module, ad hoc call", "module task - ping", "ad hoc call / bare",
              "module task / bare", "naive / module task", "naive / ad hoc call"]
    body = []
    for row in rows:
        body.append([
            "%d (+1 missing)" % row["containers"],
            seconds_text(row["bare_seconds"]),
            "%s (%d calls)" % (seconds_text(row["naive_seconds"]), row["naive_calls"]),
            seconds_text(row["module_adhoc_seconds"]),
            seconds_text(row["module_work_seconds"]),
            ratio_text(row["module_adhoc_seconds"], row["bare_seconds"]),
            ratio_text(row["module_work_seconds"], row["bare_seconds"]),
            ratio_text(row["naive_seconds"], row["module_work_seconds"]),
            ratio_text(row["naive_seconds"], row["module_adhoc_seconds"]),
        ])
    return table(header, body)


def info_cpu_report(rows):
    header = ["containers", "bare CPU", "naive CPU", "module, ad hoc call CPU",
              "ad hoc call / bare", "naive / ad hoc call"]
    body = []
    for row in rows:
        body.append([
            "%d (+1 missing)" % row["containers"],
            seconds_text(row["bare_cpu_seconds"]),
            seconds_text(row["naive_cpu_seconds"]),
            seconds_text(row["module_adhoc_cpu_seconds"]),
            ratio_text(row["module_adhoc_cpu_seconds"], row["bare_cpu_seconds"]),
            ratio_text(row["naive_cpu_seconds"], row["module_adhoc_cpu_seconds"]),
        ])
    return table(header, body)


def checkpoint_time_report(rows):
    header = ["compress", "step", "bare podman", "module, ad hoc call", "module task - ping",
              "ad hoc call / bare", "module task / bare", "bare CPU", "ad hoc call CPU"]
    body = []
    for row in rows:
        for step in ("checkpoint", "restore"):
            key = step + "_seconds"
            cpu_key = step + "_cpu_seconds"
            bare, adhoc, task = row["bare"][key], row["adhoc"][key], row["task"][key]
            body.append([row["compress"], step, seconds_text(bare), seconds_text(adhoc),
                         seconds_text(task), ratio_text(adhoc, bare), ratio_text(task, bare),
                         seconds_text(row["bare"][cpu_key]), seconds_text(row["adhoc"][cpu_key])])
    return table(header, body)


def checkpoint_stats_report(rows):
    header = ["compress", "round", "archive size", "frozen_time", "pages_written",
              "pages_restored", "podman_checkpoint_duration", "podman_restore_duration"]
    body = []
    for row in rows:
        body.append([row["compress"], "bare", mib_text(row["bare"]["archive_bytes"]),
                     "-", "-", "-", "-", "-"])
        for label, key in (("module, ad hoc", "adhoc"), ("module task", "task")):
            figures = row[key]
            checkpoint = figures["checkpoint_stats"]
            restore = figures["restore_stats"]
            body.append([
                row["compress"], label, mib_text(figures["archive_bytes"]),
                ms_text(checkpoint["criu_statistics"]["frozen_time"]),
                checkpoint["criu_statistics"]["pages_written"],
                restore["criu_statistics"]["pages_restored"],
                ms_text(checkpoint["podman_checkpoint_duration"]),
                ms_text(restore["podman_restore_duration"]),
            ])
    return table(header, body)


def report(results):
    facts = results["machine"]
    lines = [
        "# statecraft.podman benchmark: podman %s" % facts["podman_version"],
        "",
        "One run of each measurement. Machine: %d CPUs, %.1f GiB, %s, kernel %s; CRIU %s; %s; "
        "collection %s (%s)." % (facts["cpus"], facts["memory_gib"], facts["os"], facts["kernel"],
                                 facts["criu"], facts["ansible"], facts["collection_version"],
                                 facts["git_commit"]),
        "Store held %d containers before the run; load average %s at start, %s at end; "
        "run took %.0f s." % (facts["containers_in_store_at_start"], facts["load_average_at_start"],
                              facts["load_average_at_end"], facts["total_seconds"]),
        "An ad hoc call of ansible.builtin.ping took %s (CPU %s)."
        % (seconds_text(facts["adhoc_ping_seconds"]), seconds_text(facts["adhoc_ping_cpu_seconds"])),
    ]
    if "info" in results:
        lines += ["", "## container_info", "", info_report(results["info"]), "",
                  info_cpu_report(results["info"])]
    if "checkpoint" in results:
        lines += ["", "## container_checkpoint and container_restore (memhog %d MiB)"
                  % results["checkpoint"][0]["memhog_mib"], "",
                  checkpoint_time_report(results["checkpoint"]), "",
                  checkpoint_stats_report(results["checkpoint"])]
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


def run_benchmarks(args, podman, cleanup):
    workdir = cleanup.path(tempfile.mkdtemp(prefix="sc-bench-"))
    log("installing the collection into %s" % workdir)
    ansible = Ansible(args.venv, workdir, link=args.link)
    results = {"machine": machine_facts(podman, ansible), "options": {
        "podman": args.podman, "only": args.only, "sizes": args.sizes,
        "compress": args.compress, "memhog_mib": args.memhog_mib, "link": args.link}}
    log("podman %s, prefix %s" % (results["machine"]["podman_version"], cleanup.prefix))
    # The fixed cost of an ad hoc call, for reading the module's ad hoc figures.
    ansible.adhoc("ansible.builtin.ping", {})
    ping_seconds, ping_result = ansible.adhoc("ansible.builtin.ping", {})
    results["machine"]["adhoc_ping_seconds"] = ping_seconds
    results["machine"]["adhoc_ping_cpu_seconds"] = ping_result["_bench_cpu_seconds"]
    started = time.monotonic()
    if args.only in (None, "info"):
        results["info"] = info_bench.run(podman, ansible, cleanup, args.sizes)
    if args.only in (None, "checkpoint"):
        archives = cleanup.path(os.path.join(workdir, "archives"))
        os.mkdir(archives)
        results["checkpoint"] = checkpoint_bench.run(podman, ansible, cleanup, archives,
                                                     args.compress, args.memhog_mib)
    results["machine"]["total_seconds"] = time.monotonic() - started
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return results


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    podman = Podman(args.podman)
    cleanup = Cleanup(podman, "sc-bench-%s-" % secrets.token_hex(3))
    raise_on_termination()
    status = 0
    try:
        results = run_benchmarks(args, podman, cleanup)
    except BenchError as error:
        log("ERROR: %s" % error)
        status = 1
    except KeyboardInterrupt as interrupt:
        log("interrupted (%s), cleaning up" % (interrupt or "Ctrl-C"))
        status = 130
    finally:
        ignore_interrupts()
        cleanup.run()
    if status:
        return status
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
