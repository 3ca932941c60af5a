#!/usr/bin/python
# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_mount
short_description: Mount or unmount the root filesystem of a Podman container
version_added: 0.1.0
description:
  - Mounts a container's root filesystem on the host, as C(podman mount), and returns the mount point,
    or unmounts it, as C(podman umount).
  - Podman counts mounts. A container that is already mounted, by an earlier C(podman mount) or because
    it is running, is left as it is, so repeated runs do not raise the count.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - statecraft.podman.podman
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the container's status, checkpoint flag and mount point before and after.
  action_group:
    support: full
    membership: [statecraft.podman.podman]
  platform:
    platforms: posix
options:
  name:
    description: Name or ID of the container.
    type: str
    required: true
  state:
    description:
      - V(mounted) mounts the root filesystem unless it is mounted already.
      - V(unmounted) releases the mount unless it is not mounted.
    type: str
    choices: [mounted, unmounted]
    default: mounted
  force:
    description:
      - With O(state=unmounted), unmount even when other users hold mounts of the same container
        (C(podman umount --force)), and even when the container is running.
      - Unmounting a running container drops the OCI runtime's own mount. On Podman 4.3, C(podman exec)
        then fails until the container is mounted again. Without O(force) the module rejects that.
    type: bool
    default: false
notes:
  - With O(socket), this module cannot unmount a running container, even with
    O(force), because the API rejects it; C(podman umount) given the
    container's name can.
  - Root filesystems of rootless containers can only be mounted inside C(podman unshare).
  - Without O(force), the module reads the mount count from the storage's C(mountpoints.json) because no
    podman command reports it. When that file cannot be read, it unmounts once.
author:
  - statecraft.podman maintainers (@statecraft)
"""

EXAMPLES = r"""
---
- name: Mount the root filesystem of a stopped container
  statecraft.podman.container_mount:
    name: backup-source
  register: mounted

- name: Copy a file out of the container
  ansible.builtin.fetch:
    src: "{{ mounted.mount_point }}/etc/os-release"
    dest: ./os-release
    flat: true

- name: Unmount it again
  statecraft.podman.container_mount:
    name: backup-source
    state: unmounted
"""

RETURN = r"""
mount_point:
  description:
    - Folder where the root filesystem is mounted, or null when it is not mounted.
    - In check mode, where C(podman mount) would mount it; null for storage drivers other than overlay.
  returned: always
  type: str
  sample: /var/lib/containers/storage/overlay/c5e9/merged
container:
  description: C(podman container inspect) data of the container after the action.
  returned: success
  type: dict
  sample: {Id: a62c163d37d9fbd292c5548c0ce60cf03399488531b956f996d731483ebcf604, Name: backup-source}
commands:
  description: The podman commands the module ran, each as an argument list.
  returned: always
  type: list
  elements: list
  sample: [[podman, container, inspect, backup-source], [podman, mount, --format, json], [podman, mount, backup-source]]
diff:
  description: Status, checkpoint flag and mount point before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {exists: true, status: exited, checkpointed: false, mount_point: null},
           after: {exists: true, status: exited, checkpointed: false, mount_point: /var/lib/containers/storage/overlay/c5e9/merged}}
"""

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ContainerStateError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._module import (
    create_module,
    diff_result,
    run_module,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    container_summary,
    predicted_mount_point,
)


def ensure_mounted(runtime, container, mount_point, check_mode):
    """Mount the container unless it is mounted; return ``(changed, mount point)``."""
    if mount_point:
        return False, mount_point
    if check_mode:
        return True, predicted_mount_point(container)
    return True, runtime.mount(container["Id"])


def ensure_unmounted(runtime, container, mount_point, force, check_mode):
    """Release the container's mount unless it is not mounted; return ``(changed, mount point)``."""
    if not mount_point:
        return False, None
    name = container.get("Name") or container["Id"]
    if (container.get("State") or {}).get("Running") and not force:
        raise ContainerStateError(
            'Container "%s" is running, so its root filesystem is mounted by the OCI runtime; '
            'unmounting it can break "podman exec" until it is mounted again. Stop the container '
            'first, or set force=true to unmount anyway.' % name, name=name)
    if not force:
        count = runtime.mount_count(container)
        if count is not None and count > 1:
            raise ContainerStateError(
                'Container "%s" is mounted %d times: other users still hold mounts. '
                'Set force=true to unmount it for all of them.' % (name, count),
                name=name, mount_count=count)
    if check_mode:
        return True, None
    running = (container.get("State") or {}).get("Running")
    # "podman umount" (4.3 and 5.4) skips a running container given by ID and still
    # exits 0. Given the name, podman unmounts the container's storage layer instead.
    runtime.unmount(name if running else container["Id"], force=force)
    # Without force, podman drops one mount; report what is really left.
    mount_point = runtime.mounted_containers().get(container["Id"])
    if force and mount_point:
        raise ContainerStateError(
            '"podman umount --force" exited 0 but container "%s" is still mounted at %s.'
            % (name, mount_point), name=name, mount_point=mount_point)
    return True, mount_point


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "mounted", "choices": ["mounted", "unmounted"]},
        "force": {"type": "bool", "default": False},
    }
    module = create_module(argument_spec, supports_check_mode=True)
    params = module.params

    def work(runtime):
        container = runtime.get_container(params["name"])
        before_point = runtime.mounted_containers().get(container["Id"])
        if params["state"] == "mounted":
            changed, mount_point = ensure_mounted(runtime, container, before_point,
                                                  module.check_mode)
        else:
            changed, mount_point = ensure_unmounted(runtime, container, before_point,
                                                    params["force"], module.check_mode)
        after = container
        if changed and not module.check_mode:
            after = runtime.get_container(container["Id"])
        result = {"changed": changed, "mount_point": mount_point, "container": after}
        if module._diff:
            result["diff"] = diff_result(
                dict(container_summary(container), mount_point=before_point),
                dict(container_summary(after), mount_point=mount_point))
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
