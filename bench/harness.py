# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared parts of the benchmarks: timed commands, podman, Ansible and clean-up.

Every child process runs in its own session. An interrupted benchmark ends
only the processes it started (its child's process group, then any remaining
descendant by PID) before it removes its containers and files.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_DIR = os.path.join(REPO_DIR, "bench")
TEST_IMAGE = "localhost/statecraft/testbox:latest"
COMMAND_TIMEOUT = 600
# Left out of the copy that the collection is built from: tool caches and the
# virtual environment, none of which the collection ships.
COPY_IGNORE = (".git", ".venv", ".pytest_cache", ".mypy_cache", "__pycache__", "*.pyc", "*.tar.gz")
# How long an interrupted run waits for the podman command of a running module.
DESCENDANT_GRACE_SECONDS = 60
_STARTED = time.monotonic()


class BenchError(Exception):
    """A benchmark step failed, so its figures would be meaningless."""


def log(message):
    """Print a progress line to stderr, prefixed with the seconds since the start.

    A closed stderr, such as a pipe to a ``tee`` that Ctrl-C ended, is ignored
    so that it cannot stop the clean-up.
    """
    try:
        print("[%6.1fs] %s" % (time.monotonic() - _STARTED, message), file=sys.stderr, flush=True)
    except OSError:
        pass


def run_command(argv, env=None, cwd=None, timeout=COMMAND_TIMEOUT):
    """Run ``argv`` and return ``(seconds, CompletedProcess)``; the time covers start to exit.

    The output is captured through pipes, as Ansible's ``run_command`` does.
    The CompletedProcess gets a ``cpu_seconds`` attribute: the user and system
    time of the child and of every descendant that was waited for, which
    other load on the machine inflates less than the wall time. On any
    exception, a KeyboardInterrupt included, the child and its descendants
    are ended before the exception goes on.
    """
    cpu_before = _children_cpu_seconds()
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, cwd=cwd, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        _kill_group(process)
        raise
    seconds = time.monotonic() - started
    completed = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    completed.cpu_seconds = _children_cpu_seconds() - cpu_before
    return seconds, completed


def _children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kill_group(process):
    """End ``process`` and every process it started, then wait for them to exit.

    Ansible's workers call setsid(), so the module and its podman command are
    outside the child's process group. They are listed as descendants before
    the group is signalled and then given time to finish, because stopping
    podman in the middle of a checkpoint could leave a container that no
    removal handles. Those still running after that get SIGTERM by PID.
    """
    descendants = _descendants(process.pid)
    for signum, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    deadline = time.monotonic() + DESCENDANT_GRACE_SECONDS
    while time.monotonic() < deadline and any(_is_alive(entry) for entry in descendants):
        time.sleep(0.2)
    for pid, start_time in descendants:
        if _is_alive((pid, start_time)):
            log("ending process %d, still running %d s after the interrupt"
                % (pid, DESCENDANT_GRACE_SECONDS))
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _process_stat(pid):
    """Return ``(parent PID, start time)`` of a process from /proc, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name in brackets may hold spaces, so split after its closing bracket.
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[19]


def _descendants(root):
    """Return ``(PID, start time)`` of every process below ``root``; the start time distinguishes reused PIDs."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _process_stat(int(entry))
            if stat:
                children.setdefault(stat[0], []).append((int(entry), stat[1]))
    found = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child[0])
    return found


def _is_alive(entry):
    pid, start_time = entry
    stat = _process_stat(pid)
    return stat is not None and stat[1] == start_time


def require_success(completed, action):
    """Raise ``BenchError`` with the command's output when it exited non-zero."""
    if completed.returncode != 0:
        raise BenchError("%s failed (rc=%d): %s\n%s" % (
            action, completed.returncode, " ".join(completed.args)[:300],
            (completed.stderr or completed.stdout)[-2000:]))


class Podman:
    """One podman wrapper, such as /opt/statecraft/bin/podman4."""

    def __init__(self, executable):
        self.executable = executable

    def run(self, args, check=True, timeout=COMMAND_TIMEOUT):
        """Run ``podman ARGS`` and return ``(seconds, CompletedProcess)``."""
        seconds, completed = run_command([self.executable] + list(args), timeout=timeout)
        if check:
            require_success(completed, "podman %s" % args[0])
        return seconds, completed

    def version(self):
        """Return the client version string, such as ``4.3.1``."""
        document = json.loads(self.run(["version", "--format", "json"])[1].stdout)
        return (document.get("Client") or document.get("Server") or {}).get("Version", "?")

    def container_count(self):
        """Return how many containers the store contains, those of other users of the store included."""
        return len(self.run(["ps", "--all", "--quiet"])[1].stdout.split())

    def names_with_prefix(self, prefix):
        """Return the names of all containers whose name starts with ``prefix``."""
        completed = self.run(["ps", "--all", "--filter", "name=^" + prefix,
                              "--format", "{{.Names}}"], check=False)[1]
        return completed.stdout.split() if completed.returncode == 0 else []

    def start_memhog(self, name, mib, timeout=60):
        """Run a container with ``/bin/memhog MIB`` and return once its log contains ``ready``."""
        self.run(["run", "--detach", "--name", name, TEST_IMAGE, "/bin/memhog", str(mib)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            completed = self.run(["logs", name], check=False)[1]
            if "ready" in completed.stdout:
                return
            time.sleep(0.1)
        raise BenchError("container %s did not print 'ready' within %d s" % (name, timeout))

    def is_running(self, name):
        """Tell whether container ``name`` exists and is running."""
        completed = self.run(["container", "inspect", "--format", "{{.State.Running}}", name],
                             check=False)[1]
        return completed.returncode == 0 and completed.stdout.strip() == "true"

    def remove(self, names):
        """Remove containers by name, running or not, ignoring those that do not exist."""
        names = list(names)
        for start in range(0, len(names), 100):
            self.run(["rm", "--force", "--time", "0", "--ignore"] + names[start:start + 100],
                     check=False)


class Cleanup:
    """Everything a benchmark creates, registered before it is created, and its removal."""

    def __init__(self, podman, prefix):
        self.podman = podman
        self.prefix = prefix
        self.containers = []
        self.paths = []

    def container(self, name):
        self.containers.append(name)
        return name

    def path(self, path):
        self.paths.append(path)
        return path

    def remove_containers(self, names):
        """Remove some containers now, for example to free memory between rounds."""
        self.podman.remove(names)

    def run(self):
        """Remove every registered container and path, and any container with the run's prefix."""
        names = list(dict.fromkeys(self.containers + self.podman.names_with_prefix(self.prefix)))
        if names:
            log("removing %d containers named %s*" % (len(names), self.prefix))
            self.podman.remove(names)
        left = self.podman.names_with_prefix(self.prefix)
        if left:
            log("WARNING: containers still present after removal: %s" % " ".join(left))
        for path in reversed(self.paths):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)


def raise_on_termination():
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt so that ``finally`` blocks run."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def ignore_interrupts():
    """Ignore SIGINT, SIGTERM and SIGHUP, so that a second Ctrl-C cannot stop the clean-up."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


class Ansible:
    """The collection installed into a private folder, and ways to run its modules."""

    def __init__(self, venv, workdir, link=False):
        self.venv = venv
        self.workdir = workdir
        self.collections = os.path.join(workdir, "collections")
        home = os.path.join(workdir, "ansible-home")
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": self.collections,
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_PYTHON_INTERPRETER": os.path.join(venv, "bin", "python"),
            "ANSIBLE_HOME": home,
            "ANSIBLE_LOCAL_TEMP": os.path.join(home, "tmp"),
            "ANSIBLE_REMOTE_TMP": os.path.join(home, "remote-tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
        })
        self._install(link)

    def _tool(self, name):
        return os.path.join(self.venv, "bin", name)

    def _install(self, link):
        """Install the collection of this work tree, built as a user would, or as a symlink."""
        target = os.path.join(self.collections, "ansible_collections", "statecraft", "podman")
        if link:
            os.makedirs(os.path.dirname(target))
            os.symlink(REPO_DIR, target)
            self.install_commands = ["ln -s %s %s" % (REPO_DIR, target)]
            return
        # Build from a copy: other work in the tree, such as a pytest run
        # rewriting .pytest_cache, makes ansible-galaxy's checksums mismatch.
        source = os.path.join(self.workdir, "source")
        shutil.copytree(REPO_DIR, source, symlinks=True, ignore=shutil.ignore_patterns(*COPY_IGNORE))
        build_dir = os.path.join(self.workdir, "build")
        os.makedirs(build_dir)
        build = [self._tool("ansible-galaxy"), "collection", "build", source,
                 "--output-path", build_dir]
        require_success(run_command(build, env=self.env, cwd=self.workdir)[1], "ansible-galaxy build")
        tarball = glob.glob(os.path.join(build_dir, "statecraft-podman-*.tar.gz"))[0]
        install = [self._tool("ansible-galaxy"), "collection", "install", "-p", self.collections,
                   tarball]
        require_success(run_command(install, env=self.env, cwd=self.workdir)[1],
                        "ansible-galaxy install")
        self.install_commands = [" ".join(build), " ".join(install)]

    def version(self):
        """Return the first line of ``ansible --version``."""
        completed = run_command([self._tool("ansible"), "--version"], env=self.env,
                                cwd=self.workdir)[1]
        return completed.stdout.splitlines()[0] if completed.stdout else "?"

    def adhoc_argv(self, module, args):
        """Return the ad-hoc command line that runs one module on localhost."""
        if "." not in module:
            module = "statecraft.podman." + module
        argv = [self._tool("ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m", module]
        return argv + ["-a", json.dumps(args)] if args else argv

    def adhoc(self, module, args):
        """Run one module ad hoc and return ``(seconds of the whole call, module result)``.

        The result gets a ``_bench_cpu_seconds`` key with the call's CPU time.
        Raises ``BenchError`` when the module fails.
        """
        seconds, completed = run_command(self.adhoc_argv(module, args), env=self.env,
                                         cwd=self.workdir)
        # The default callback prints "localhost | SUCCESS => {...}".
        document = completed.stdout.partition(" => ")[2]
        try:
            result = json.loads(document) if document else {}
        except ValueError:
            result = {"failed": True, "msg": "unreadable output: " + completed.stdout[-1000:]}
        if completed.returncode != 0 or result.get("failed"):
            raise BenchError("ansible %s failed (rc=%d): %s\n%s" % (
                module, completed.returncode, result.get("msg", ""), completed.stderr[-2000:]))
        result["_bench_cpu_seconds"] = completed.cpu_seconds
        return seconds, result

    def playbook(self, name, tasks, extra_vars):
        """Run a one-play playbook on localhost; return ``(seconds of the whole call, tasks)``.

        ``tasks`` entries come back from the bench_timer callback, each with
        ``name``, ``seconds``, ``status`` and ``result``.
        """
        playbook = os.path.join(self.workdir, name + ".yml")
        variables = os.path.join(self.workdir, name + "-vars.json")
        timings = os.path.join(self.workdir, name + "-timings.json")
        play = [{"name": name, "hosts": "localhost", "connection": "local",
                 "gather_facts": False, "tasks": tasks}]
        # JSON is valid YAML, and it keeps quoting out of the way.
        with open(playbook, "w", encoding="utf-8") as handle:
            json.dump(play, handle, indent=2)
        with open(variables, "w", encoding="utf-8") as handle:
            json.dump(extra_vars, handle)
        env = dict(self.env)
        env.update({
            "ANSIBLE_CALLBACK_PLUGINS": os.path.join(BENCH_DIR, "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
            "BENCH_TIMINGS_FILE": timings,
        })
        argv = [self._tool("ansible-playbook"), "-i", "localhost,", "-e", "@" + variables, playbook]
        seconds, completed = run_command(argv, env=env, cwd=self.workdir)
        if completed.returncode != 0:
            raise BenchError("ansible-playbook %s failed (rc=%d):\n%s\n%s" % (
                name, completed.returncode, completed.stdout[-3000:], completed.stderr[-2000:]))
        with open(timings, encoding="utf-8") as handle:
            return seconds, json.load(handle)


def timing_task(name):
    """Return a ping task, used as the warm-up and the baseline of a timed playbook."""
    return {"name": name, "ansible.builtin.ping": {}}


def module_seconds(tasks, task_name, baseline_name="baseline"):
    """Return ``(task seconds, task seconds minus the baseline ping, result)``."""
    by_name = dict((task["name"], task) for task in tasks)
    task = by_name[task_name]
    return task["seconds"], task["seconds"] - by_name[baseline_name]["seconds"], task["result"]
