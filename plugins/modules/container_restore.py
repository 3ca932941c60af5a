#!/usr/bin/python
# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_restore
short_description: Restore a Podman container from a CRIU checkpoint
version_added: 0.1.0
description:
  - Restores a checkpointed container in place, or creates a new container from a checkpoint archive
    (O(archive)) or a checkpoint image (O(image)), with C(podman container restore).
  - Returns the timing and page statistics that Podman and CRIU report.
  - A restore that fails inside CRIU leaves no container behind. Podman leaves one in state C(created),
    which the module removes, and the failure carries the end of CRIU's log in C(criu_log).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - statecraft.podman.podman
  - statecraft.podman.podman.criu
attributes:
  check_mode:
    support: full
    details: Runs only read-only commands, including C(criu check), and predicts RV(ignore:changed).
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
    description:
      - Without O(archive) and O(image), the name or ID of the checkpointed container to restore in place; then it is required.
      - With O(archive) or O(image), the name of the new container. Omitted, the archive's or image's
        original name is used, and with an archive also the original container ID.
    type: str
  archive:
    description:
      - Path of a checkpoint archive, made by C(container_checkpoint) with O(statecraft.podman.container_checkpoint#module:export),
        to create the container from.
      - Reading a zstd-compressed archive needs the C(zstd) program on the host.
    type: path
  image:
    description: Name of a checkpoint image, made with O(statecraft.podman.container_checkpoint#module:create_image), to create the container from.
    type: str
  keep:
    description: Keep CRIU's images and log files in the container's storage after the restore.
    type: bool
    default: false
  tcp_established:
    description: Restore established TCP connections that the checkpoint holds.
    type: bool
    default: false
  tcp_close:
    description: Restore the container's TCP connections closed, as C(podman container restore --tcp-close). Needs Podman 5.7 or newer.
    type: bool
    default: false
  file_locks:
    description: Restore file locks that the checkpoint holds. Without it, locks taken at checkpoint time are dropped.
    type: bool
    default: false
  ignore_rootfs:
    description: Do not restore root filesystem changes from the archive. Needs O(archive) or O(image).
    type: bool
    default: false
  ignore_volumes:
    description: Do not restore volume content from the archive. Needs O(archive) or O(image).
    type: bool
    default: false
  ignore_static_ip:
    description: Let the network assign a new IP address instead of the one the container was created with.
    type: bool
    default: false
  ignore_static_mac:
    description: Let the network assign a new MAC address instead of the one the container was created with.
    type: bool
    default: false
  publish_ports:
    description:
      - Ports to publish for the new container, each as C(podman run --publish), for example V(8080:80).
      - Needs O(archive) or O(image).
    type: list
    elements: str
  pod:
    description: Name of an existing pod to restore the new container into. Needs O(archive) or O(image).
    type: str
  import_previous:
    description: Path of a pre-checkpoint archive to apply before O(archive). Needs O(archive).
    type: path
notes:
  - O(import_previous) is not available with O(socket), because the API has
    no such parameter.
  - A running container with the target name is left alone (no change). A container in any other state
    with that name makes the module fail and is left as it is.
  - The checkpoint must come from a container whose OCI runtime can restore, such as runc.
seealso:
  - module: statecraft.podman.container_checkpoint
author:
  - statecraft.podman maintainers (@statecraft)
"""

EXAMPLES = r"""
---
- name: Restore a checkpointed container in place
  statecraft.podman.container_restore:
    name: worker

- name: Create a copy of a container from an archive, on another port
  statecraft.podman.container_restore:
    archive: /var/backups/worker.tar.zst
    name: worker-copy
    publish_ports:
      - "8081:8080"
  register: restored

- name: Show how long CRIU took to restore, in milliseconds
  ansible.builtin.debug:
    msg: "{{ restored.stats.criu_statistics.restore_time / 1000 }} ms"
"""

RETURN = r"""
container:
  description: C(podman container inspect) data of the restored container, or of the running container that was left alone.
  returned: success
  type: dict
  sample: {Id: d77fa370abae153bb0b8cf21406b778f8da8f824e56e1089fa890931f3614db0, Name: worker-copy, State: {Status: running, Restored: true}}
stats:
  description:
    - Statistics of the restore from C(podman container restore --print-stats). Durations are in microseconds.
    - Figures that Podman or CRIU leave out because they are zero are returned as 0.
  returned: when a restore ran
  type: dict
  contains:
    podman_restore_duration:
      description: Time podman spent on the whole restore, in microseconds.
      type: int
    runtime_restore_duration:
      description: Time the OCI runtime spent, in microseconds.
      type: int
    criu_statistics:
      description: CRIU's own figures.
      type: dict
      contains:
        pages_compared:
          description: Memory pages compared with pages already in memory.
          type: int
        pages_skipped_cow:
          description: Memory pages shared copy-on-write and so not restored again.
          type: int
        forking_time:
          description: Time to recreate the process tree, in microseconds.
          type: int
        restore_time:
          description: Time CRIU spent restoring, in microseconds.
          type: int
        pages_restored:
          description: Memory pages restored.
          type: int
  sample:
    podman_restore_duration: 316606
    runtime_restore_duration: 214272
    criu_statistics: {pages_compared: 9, pages_skipped_cow: 2, forking_time: 525, restore_time: 113351, pages_restored: 32}
commands:
  description: The commands the module ran, each as an argument list.
  returned: always
  type: list
  elements: list
  sample: [[podman, container, inspect, worker-copy], [/usr/local/sbin/criu, check],
           [podman, container, restore, --print-stats, --import, /var/backups/worker.tar.zst, --name, worker-copy]]
diff:
  description: Status, checkpoint flag and mount point before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {exists: true, status: exited, checkpointed: true, mount_point: null},
           after: {exists: true, status: running, checkpointed: false, mount_point: null}}
"""

from ansible_collections.statecraft.podman.plugins.module_utils._archive import (
    read_checkpoint_config,
)
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ContainerNotFoundError,
    ContainerStateError,
    InvalidRequestError,
    PodmanError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._module import (
    create_module,
    diff_result,
    run_module,
)
from ansible_collections.statecraft.podman.plugins.module_utils._options import require_with
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    container_summary,
)

IMPORT_ONLY_OPTIONS = ("publish_ports", "pod", "ignore_rootfs", "ignore_volumes")


class Target:
    """Restore target: the reference podman gets, and the names that show it is done."""

    def __init__(self, reference, names, new_name=None, source=None):
        self.reference = reference
        self.names = names
        self.new_name = new_name
        self.source = source
        self.pod_id = None


def resolve_target(runtime, params):
    """Validate the options and return the ``Target`` of the restore."""
    require_with(params, IMPORT_ONLY_OPTIONS, ("archive", "image"), "archive or image")
    require_with(params, ("import_previous",), ("archive",), "archive")
    if params["archive"]:
        config = read_checkpoint_config(params["archive"])
        check_archive_pod(params, config)
        original = config.get("name")
        names = [params["name"]] if params["name"] else [n for n in (original, config.get("id")) if n]
        target = Target(None, names, new_name=params["name"], source='archive "%s"' % params["archive"])
    elif params["image"]:
        original = runtime.checkpoint_image_name(params["image"])
        target = Target(params["image"], [params["name"] or original], new_name=params["name"],
                        source='image "%s"' % params["image"])
    else:
        if not params["name"]:
            raise InvalidRequestError(
                "Set name to the checkpointed container to restore in place, or set archive or image.")
        return Target(params["name"], [params["name"]])

    # Podman rejects --tcp-established together with any --name, the original one
    # included, and restores under the original name (and ID) without --name.
    if params["tcp_established"] and target.new_name == original:
        target.new_name = None
    if params["tcp_established"] and target.new_name:
        raise InvalidRequestError(
            "Option tcp_established cannot restore a checkpoint under a new name: podman keeps "
            "TCP connections only for the original container. Remove name or tcp_established.")
    return target


def check_archive_pod(params, config):
    """Reject a pod option that does not fit the archive: podman fails on either mismatch."""
    archive_pod = config.get("pod")
    if archive_pod and not params["pod"]:
        raise InvalidRequestError(
            'Archive "%s" holds a container of a pod; set pod to the existing pod to restore it into.'
            % params["archive"], path=params["archive"])
    if params["pod"] and not archive_pod:
        raise InvalidRequestError(
            'Archive "%s" holds a container that was in no pod, so it cannot be restored into pod "%s"; '
            'remove pod.' % (params["archive"], params["pod"]), path=params["archive"])


def decide(runtime, target):
    """Return ``(changed, existing container)`` for the target."""
    found = runtime.inspect_containers(target.names)[0]
    if not found:
        if target.source is None:
            raise ContainerNotFoundError(target.names[0])
        return True, None
    container = found[0]
    state = container.get("State") or {}
    name = container.get("Name") or container["Id"]
    if state.get("Status") == "running":
        return False, container
    if target.source is None and state.get("Checkpointed"):
        return True, container
    if target.source is None:
        raise ContainerStateError(
            'Container "%s" is "%s" and has no checkpoint to restore; only a checkpointed container '
            'can be restored in place.' % (name, state.get("Status")), name=name, status=state.get("Status"))
    raise ContainerStateError(
        'Cannot restore %s: container "%s" already exists here and is "%s"%s. Remove it, restore it '
        'in place without archive or image, or set name to a new container name.'
        % (target.source, name, state.get("Status"), " (checkpointed)" if state.get("Checkpointed") else ""),
        name=name, status=state.get("Status"))


def restore(runtime, params, target):
    """Run the restore and return ``(container ID, stats)``; clean up after a failed import."""
    options = dict(params)
    options["new_name"] = target.new_name
    options["pod"] = target.pod_id
    try:
        return runtime.restore(target.reference, options)
    except PodmanError as error:
        if target.source is not None:
            remove_leftover(runtime, target, error)
        raise


def remove_leftover(runtime, target, error):
    """Remove the container that a failed import leaves in state "created"."""
    found = runtime.inspect_containers(target.names)[0]
    # The archive's name and ID can both find the same container.
    unique = dict((container["Id"], container) for container in found)
    for container in unique.values():
        if (container.get("State") or {}).get("Status") in ("created", "configured", "exited", "stopped"):
            runtime.remove(container["Id"])
            error.msg += (' The container "%s" that the failed restore left in state "%s" was removed.'
                          % (container.get("Name"), container["State"]["Status"]))


def main():
    argument_spec = {
        "name": {"type": "str"},
        "archive": {"type": "path"},
        "image": {"type": "str"},
        "keep": {"type": "bool", "default": False},
        "tcp_established": {"type": "bool", "default": False},
        "tcp_close": {"type": "bool", "default": False},
        "file_locks": {"type": "bool", "default": False},
        "ignore_rootfs": {"type": "bool", "default": False},
        "ignore_volumes": {"type": "bool", "default": False},
        "ignore_static_ip": {"type": "bool", "default": False},
        "ignore_static_mac": {"type": "bool", "default": False},
        "publish_ports": {"type": "list", "elements": "str"},
        "pod": {"type": "str"},
        "import_previous": {"type": "path"},
    }
    module = create_module(argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("archive", "image")])
    params = module.params

    def work(runtime):
        target = resolve_target(runtime, params)
        runtime.check_option_versions(params)
        if params["pod"]:
            target.pod_id = runtime.pod_id(params["pod"])
        changed, existing = decide(runtime, target)
        result = {"changed": changed, "container": existing or {}}
        if changed:
            runtime.require_criu()
        if changed and not module.check_mode:
            container_id, result["stats"] = restore(runtime, params, target)
            result["container"] = runtime.get_container(container_id or target.names[0])
        if module._diff:
            after = container_summary(result["container"] or None)
            if changed and module.check_mode:
                after = dict(container_summary(existing), exists=True, status="running", checkpointed=False)
            result["diff"] = diff_result(container_summary(existing), after)
        return result

    run_module(module, work)


if __name__ == "__main__":
    main()
