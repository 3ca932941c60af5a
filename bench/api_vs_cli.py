# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time the modules on the podman program (CLI) against the libpod REST API, in one run.

Usage, as root on a machine prepared by scripts/setup.sh, from the repository root:

    .venv/bin/python bench/api_vs_cli.py [--podman /opt/statecraft/bin/podman4]
        [--containers 100] [--repeat 5] [--rounds 3]

The script starts ``PODMAN system service`` on a socket in a temporary folder
and creates ``--containers`` containers named ``sc-api-bench-<random>-<i>``.
It then times, alternating CLI and API so that both see the same machine load:

- container_info for every container by name, two ways: the whole module
  process (``python container_info.py ARGS``, so Python start-up and imports
  count) and the runtime helper alone inside this process
  (``gather_containers`` with ``PodmanRuntime`` or ``PodmanApiRuntime``),
  each ``--repeat`` times;
- ``--rounds`` rounds of container_checkpoint with ``export`` (zstd) of a
  running container, then container_restore of the archive under a new name,
  each module as its own process.

It prints medians and the API/CLI ratio of each, from this one run. Every
container and file it creates is removed at the end and the service is
stopped by its process ID, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "localhost/statecraft/testbox:latest"


class Bench:
    def __init__(self, args):
        self.args = args
        self.podman = args.podman
        self.prefix = "sc-api-bench-%s" % secrets.token_hex(3)
        self.work = tempfile.mkdtemp(prefix="sc-api-bench-")
        self.socket = os.path.join(self.work, "podman.sock")
        self.containers = []
        self.service = None
        # The modules import ansible_collections.statecraft.podman, which this
        # folder provides as a link to the work tree.
        namespace = os.path.join(self.work, "collections", "ansible_collections", "statecraft")
        os.makedirs(namespace)
        os.symlink(REPO, os.path.join(namespace, "podman"))
        self.collections = os.path.join(self.work, "collections")
        sys.path.insert(0, self.collections)

    # ------------------------------------------------------------------ set-up

    def run_podman(self, *args, check=True):
        result = subprocess.run([self.podman] + list(args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, check=False)
        if check and result.returncode != 0:
            raise RuntimeError("podman %s failed: %s" % (" ".join(args), result.stderr.decode()))
        return result.stdout.decode().strip()

    def start_service(self):
        log = open(os.path.join(self.work, "service.log"), "wb")
        self.service = subprocess.Popen(
            [self.podman, "system", "service", "--time=0", "unix://" + self.socket],
            stdout=log, stderr=subprocess.STDOUT)
        from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
            UnixHttpClient,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.socket):
                try:
                    if UnixHttpClient(self.socket, 2).request("GET", "/_ping").status == 200:
                        return
                except Exception:  # noqa: BLE001 - the service is still starting
                    pass
            time.sleep(0.2)
        raise RuntimeError("podman system service did not start; see %s/service.log" % self.work)

    def stop_service(self):
        if self.service is None or self.service.poll() is not None:
            return
        self.service.send_signal(signal.SIGTERM)
        try:
            self.service.wait(30)
        except subprocess.TimeoutExpired:
            self.service.kill()
            self.service.wait()

    def create_containers(self, count):
        names = ["%s-%d" % (self.prefix, index) for index in range(count)]
        for name in names:
            self.containers.append(name)
            self.run_podman("create", "--name", name, IMAGE, "true")
        return names

    def cleanup(self):
        if self.containers:
            self.run_podman("rm", "--force", "--ignore", "--time=0", *self.containers, check=False)
        self.stop_service()
        shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------------ timing

    def module_process(self, module, params):
        """Run one module as its own Python process; return (seconds, result)."""
        args_file = os.path.join(self.work, "args.json")
        with open(args_file, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": params}, handle)
        env = dict(os.environ, PYTHONPATH=self.collections)
        path = os.path.join(REPO, "plugins", "modules", "%s.py" % module)
        started = time.monotonic()
        result = subprocess.run([sys.executable, path, args_file], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, check=False)
        elapsed = time.monotonic() - started
        output = json.loads(result.stdout.decode())
        if output.get("failed"):
            raise RuntimeError("%s failed: %s" % (module, output.get("msg")))
        return elapsed, output

    def transport_params(self, transport):
        if transport == "api":
            return {"socket": self.socket}
        return {"executable": self.podman}

    def runtime_in_process(self, transport):
        from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
            UnixHttpClient,
        )
        from ansible_collections.statecraft.podman.plugins.module_utils._api_runtime import (
            PodmanApiRuntime,
        )
        from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
            PodmanRuntime,
        )
        from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
            CliTransport,
            podman_environment,
        )

        def run_command(argv, data=None):
            env = dict(os.environ, **podman_environment())
            result = subprocess.run(argv, input=data, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env, check=False)
            return result.returncode, result.stdout.decode(), result.stderr.decode()

        if transport == "api":
            return PodmanApiRuntime(UnixHttpClient(self.socket, 30), run_command)
        return PodmanRuntime(CliTransport(self.podman, run_command))

    def bench_info(self, names):
        from ansible_collections.statecraft.podman.plugins.module_utils._info import (
            gather_containers,
        )
        figures = {"process": {"cli": [], "api": []}, "helper": {"cli": [], "api": []},
                   "requests": {}}
        for unused in range(self.args.repeat):
            for transport in ("cli", "api"):
                params = dict(self.transport_params(transport), name=names)
                elapsed, output = self.module_process("container_info", params)
                if len(output["containers"]) != len(names):
                    raise RuntimeError("container_info returned %d containers, expected %d"
                                       % (len(output["containers"]), len(names)))
                figures["process"][transport].append(elapsed)
                figures["requests"][transport] = len(output["commands"])

                runtime = self.runtime_in_process(transport)
                started = time.monotonic()
                gather_containers(runtime, {"name": names, "all": True})
                figures["helper"][transport].append(time.monotonic() - started)
        return figures

    def bench_checkpoint(self):
        figures = {"checkpoint": {"cli": [], "api": []}, "restore": {"cli": [], "api": []}}
        for round_index in range(self.args.rounds):
            for transport in ("cli", "api"):
                source = "%s-ck%d-%s" % (self.prefix, round_index, transport)
                copy = source + "-copy"
                self.containers += [source, copy]
                self.run_podman("run", "--detach", "--name", source, IMAGE, "sleep", "1000")
                archive = os.path.join(self.work, "%s.tar.zst" % source)
                params = self.transport_params(transport)
                elapsed, unused_output = self.module_process(
                    "container_checkpoint", dict(params, name=source, export=archive))
                figures["checkpoint"][transport].append(elapsed)
                elapsed, output = self.module_process(
                    "container_restore", dict(params, archive=archive, name=copy))
                if output["container"]["State"]["Status"] != "running":
                    raise RuntimeError("the restored container %s is not running" % copy)
                figures["restore"][transport].append(elapsed)
                self.run_podman("rm", "--force", "--time=0", source, copy, check=False)
                os.unlink(archive)
        return figures


def report(title, figures, unit=1000.0):
    cli = statistics.median(figures["cli"]) * unit
    api = statistics.median(figures["api"]) * unit
    print("| %s | %.1f | %.1f | %.2f |" % (title, cli, api, api / cli))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--podman", default="/opt/statecraft/bin/podman4")
    parser.add_argument("--containers", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    try:
        print("starting the service and creating %d containers ..." % args.containers, file=sys.stderr)
        bench.start_service()
        names = bench.create_containers(args.containers)
        print("timing container_info ...", file=sys.stderr)
        info = bench.bench_info(names)
        print("timing checkpoint and restore ...", file=sys.stderr)
        checkpoint = bench.bench_checkpoint()
    finally:
        bench.cleanup()

    version = subprocess.run([args.podman, "--version"], stdout=subprocess.PIPE,
                             check=False).stdout.decode().strip()
    print("%s, %d containers, load average %s, medians of %d (info) and %d (checkpoint) runs"
          % (version, args.containers, " ".join("%.2f" % value for value in os.getloadavg()),
             args.repeat, args.rounds))
    print()
    print("| measurement | CLI ms | API ms | API/CLI |")
    print("| --- | ---: | ---: | ---: |")
    report("container_info, %d names, module process" % args.containers, info["process"])
    report("container_info, %d names, runtime helper only" % args.containers, info["helper"])
    report("container_checkpoint with export (zstd), module process", checkpoint["checkpoint"])
    report("container_restore from the archive, module process", checkpoint["restore"])
    print()
    print("podman commands (CLI) or requests (API) of one container_info run: CLI %d, API %d"
          % (info["requests"]["cli"], info["requests"]["api"]))


if __name__ == "__main__":
    main()
