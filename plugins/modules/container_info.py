#!/usr/bin/python
# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_info
short_description: Gather facts about Podman containers
version_added: 0.1.0
description:
  - Returns the C(podman container inspect) data of the requested containers, the names that match
    no container, and the mount points of mounted ones.
  - It runs at most three podman commands whatever the number of containers, so it stays fast on hosts
    with hundreds of containers.
  - With O(host=true) it reports instead whether the host can checkpoint and restore containers, in RV(host),
    without installing or changing anything.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - statecraft.podman.podman
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
    details: The module changes nothing.
  action_group:
    support: full
    membership: [statecraft.podman.podman]
  platform:
    platforms: posix
options:
  name:
    description:
      - Names or IDs (full or a unique prefix of at least three characters) of the containers to return.
      - Omit to return every container selected by O(all), O(filters) and O(limit).
      - Names that match no container are returned in RV(missing); they are not an error.
    type: list
    elements: str
  all:
    description:
      - Include containers that are not running.
    type: bool
    default: true
  filters:
    description:
      - "Filters as C(podman ps --filter), for example C({status: running, label: app=web})."
      - A list value adds one filter per element.
      - The C(name) filter is a regular expression that is not anchored, as in podman.
    type: dict
  limit:
    description:
      - Return only the newest O(limit) containers, as C(podman ps --last).
    type: int
    aliases: [last]
  size:
    description:
      - Include the sizes C(SizeRw) and C(SizeRootFs) in the inspect data. Computing them is slow.
    type: bool
    default: false
  sync:
    description:
      - Synchronize the state podman has stored with the OCI runtime before listing, as C(podman ps --sync).
    type: bool
    default: false
  external:
    description:
      - Also return containers that other tools, such as Buildah, created in the same storage.
      - Podman cannot inspect them, so their entry is the C(podman ps) data with C(IsExternal=true).
    type: bool
    default: false
  host:
    description:
      - Report the host's readiness for checkpoint and restore in RV(host) instead of containers.
      - The module runs C(podman version), C(podman info), C(criu --version), C(criu check) and three
        C(criu check --feature) checks, and dumps two short-lived helper processes with C(criu dump --leave-running)
        to see whether CRIU can dump a TCP socket and a file lock here. It installs and changes nothing.
      - A missing podman or CRIU is reported in RV(host.problems), not as a failure, so one ad-hoc command
        tells a whole fleet's readiness.
      - RV(containers), RV(missing) and RV(mounted) are then empty, and O(name), O(filters), O(limit),
        O(size), O(sync), O(external) and O(socket) cannot be given. O(executable) names the podman program
        to check.
    type: bool
    default: false
author:
  - statecraft.podman maintainers (@statecraft)
"""

EXAMPLES = r"""
---
- name: Gather facts about two containers
  statecraft.podman.container_info:
    name:
      - web
      - worker
  register: result

- name: Show the status of each container found
  ansible.builtin.debug:
    msg: "{{ item.Name }} is {{ item.State.Status }}"
  loop: "{{ result.containers }}"

- name: Fail when a required container is missing
  ansible.builtin.assert:
    that: result.missing | length == 0
    fail_msg: "Missing containers: {{ result.missing | join(', ') }}"

- name: List the running containers with a label
  statecraft.podman.container_info:
    filters:
      status: running
      label: app=web
  register: running

- name: Tell whether this host can checkpoint and restore containers
  statecraft.podman.container_info:
    host: true
  register: readiness

- name: Show what to fix
  ansible.builtin.debug:
    msg: "{{ item.problem }} Fix: {{ item.fix }}"
  loop: "{{ readiness.host.problems }}"
"""

RETURN = r"""
containers:
  description:
    - Inspect data of each container found, with podman's own field names, newest first when listed.
  returned: always
  type: list
  elements: dict
  sample:
    - Id: 91395b236aac8c415acb475c29591176d382601101a25d24780db1c7ba8dc1af
      Name: web
      State:
        Status: running
        Running: true
        Pid: 10616
missing:
  description: Requested names or IDs that match no container.
  returned: always
  type: list
  elements: str
  sample: [worker]
mounted:
  description: Mount point of each returned container whose root filesystem is mounted, by full container ID.
  returned: always
  type: dict
  sample:
    91395b236aac8c415acb475c29591176d382601101a25d24780db1c7ba8dc1af: /var/lib/containers/storage/overlay/fcd2/merged
commands:
  description: The podman commands the module ran, each as an argument list.
  returned: always
  type: list
  elements: list
  sample: [[podman, ps, --format, json, --no-trunc, --all], [podman, container, inspect, 91395b236aac]]
host:
  description:
    - Whether this host can checkpoint and restore containers, what works and what to fix.
  returned: when O(host=true)
  type: dict
  contains:
    ready:
      description:
        - True when podman 4.0 or newer works, its OCI runtime can checkpoint and C(criu check) passes,
          that is when no problem has severity V(error).
      type: bool
      sample: true
    kernel:
      description: The kernel release.
      type: str
      sample: 6.18.44
    podman:
      description: The podman program found, its version and API version; values are null when not found.
      type: dict
      sample: {path: /usr/bin/podman, version: 4.3.1, api_version: 4.3.1}
    runtime:
      description:
        - Podman's default OCI runtime from C(podman info), and whether it can checkpoint
          (runc, or crun built with CRIU).
      type: dict
      sample: {name: runc, path: /usr/bin/runc, version: 1.1.5, can_checkpoint: true}
    criu:
      description:
        - The criu that the OCI runtime runs (the first in C(PATH), with C(/usr/local/sbin) first),
          its version, whether C(criu check) passes, and what C(criu check) printed.
      type: dict
      sample: {path: /usr/local/sbin/criu, version: 4.1.1, check: true, check_output: Looks good.}
    features:
      description:
        - Optional features, each with C(works), the C(criu check --feature) name checked (C(criu_feature)),
          what needs it (C(used_for)) and C(detail).
        - V(mem_dirty_track) is memory dirty tracking, needed for pre-copy (O(statecraft.podman.container_checkpoint#module:pre_checkpoint)).
        - V(tcp_repair) works when C(criu check --feature tcp_half_closed) passes and CRIU can dump a process
          with a listening TCP socket.
        - V(file_locks) works when C(criu check --feature fdinfo_lock) passes and CRIU can dump a process that
          holds a file lock with C(--file-locks).
      type: dict
      sample:
        mem_dirty_track: {works: false, criu_feature: mem_dirty_track, detail: Dirty tracking is OFF. Memory snapshot will not work.}
        tcp_repair: {works: true, criu_feature: tcp_half_closed, detail: a process holding a listening TCP socket was dumped}
        file_locks: {works: true, criu_feature: fdinfo_lock, detail: a process holding a file lock was dumped}
    problems:
      description:
        - What stands in the way, each with C(problem), C(fix) (what to do) and C(severity).
        - Severity V(error) means no checkpoint or restore can work; V(warning) means an optional feature does not.
      type: list
      elements: dict
      sample:
        - problem: "No memory dirty tracking (Dirty tracking is OFF. Memory snapshot will not work.), so pre-copy checkpoints cannot work."
          fix: Take full checkpoints without pre_checkpoint or with_previous.
          severity: warning
"""

from ansible_collections.statecraft.podman.plugins.module_utils._info import gather_containers
from ansible_collections.statecraft.podman.plugins.module_utils._module import (
    create_module,
    run_module,
)
from ansible_collections.statecraft.podman.plugins.module_utils._readiness import exit_with_readiness


def main():
    argument_spec = {
        "name": {"type": "list", "elements": "str"},
        "all": {"type": "bool", "default": True},
        "filters": {"type": "dict"},
        "limit": {"type": "int", "aliases": ["last"]},
        "size": {"type": "bool", "default": False},
        "sync": {"type": "bool", "default": False},
        "external": {"type": "bool", "default": False},
        "host": {"type": "bool", "default": False},
    }
    module = create_module(argument_spec, supports_check_mode=True)
    if module.params["host"]:
        exit_with_readiness(module)

    def work(runtime):
        result = gather_containers(runtime, module.params)
        result["changed"] = False
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
