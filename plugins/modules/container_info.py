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
"""

from ansible_collections.statecraft.podman.plugins.module_utils._info import gather_containers
from ansible_collections.statecraft.podman.plugins.module_utils._module import (
    create_module,
    run_module,
)


def main():
    argument_spec = {
        "name": {"type": "list", "elements": "str"},
        "all": {"type": "bool", "default": True},
        "filters": {"type": "dict"},
        "limit": {"type": "int", "aliases": ["last"]},
        "size": {"type": "bool", "default": False},
        "sync": {"type": "bool", "default": False},
        "external": {"type": "bool", "default": False},
    }
    module = create_module(argument_spec, supports_check_mode=True)

    def work(runtime):
        result = gather_containers(runtime, module.params)
        result["changed"] = False
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
