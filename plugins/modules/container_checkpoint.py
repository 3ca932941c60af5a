#!/usr/bin/python
# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_checkpoint
short_description: Checkpoint a running Podman container with CRIU
version_added: 0.1.0
description:
  - Saves the memory and state of a running container with C(podman container checkpoint), to the container's
    own storage, to an archive file (O(export)) or to a checkpoint image (O(create_image)).
  - Returns the timing and page statistics that Podman and CRIU report.
  - An exported archive appears at its path only once it is complete. Podman writes it to a hidden file in the
    same folder, which the module renames into place.
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
    description: Name or ID of the running container to checkpoint.
    type: str
    required: true
  keep:
    description: Keep CRIU's images and log files in the container's storage after the checkpoint.
    type: bool
    default: false
  leave_running:
    description:
      - Leave the container running after the checkpoint.
      - Without O(export) or O(create_image), a container that already has checkpoint files on disk is left
        alone unless O(force) is set.
    type: bool
    default: false
  tcp_established:
    description: Checkpoint established TCP connections.
    type: bool
    default: false
  file_locks:
    description: Checkpoint file locks that the container's processes hold. Without it, podman fails on a held lock.
    type: bool
    default: false
  ignore_rootfs:
    description: Leave the changes to the root filesystem out of the exported archive. Needs O(export).
    type: bool
    default: false
  ignore_volumes:
    description: Leave the content of the container's volumes out of the exported archive. Needs O(export).
    type: bool
    default: false
  export:
    description:
      - Absolute path of the archive file to write. Its folder must exist and be writable.
      - An existing archive of the same container is left as it is (no change) unless O(force) is set.
        Any other existing file is replaced only with O(force).
    type: path
  compress:
    description:
      - Compression of the exported archive. Podman's default is V(zstd), whatever the file name says.
      - Needs O(export).
    type: str
    choices: [none, gzip, zstd]
  mode:
    description:
      - Permissions of the exported archive, as an octal string such as V("0640"). Podman writes V("0600").
      - Needs O(export).
    type: raw
  create_image:
    description:
      - Name of a checkpoint image to create, which C(container_restore) can restore from with its O(ignore:image) option.
      - An existing image of that name is not replaced unless O(force) is set.
      - Cannot be combined with O(export).
    type: str
  pre_checkpoint:
    description:
      - Dump the container's memory while it keeps running, to make a later checkpoint with O(with_previous) faster.
      - Needs memory dirty tracking in the kernel; the module checks with C(criu check --feature mem_dirty_track)
        and fails with that reason where it is missing.
    type: bool
    default: false
  with_previous:
    description:
      - Take the checkpoint on top of an earlier O(pre_checkpoint), writing only the pages changed since.
      - Needs memory dirty tracking in the kernel, as O(pre_checkpoint).
    type: bool
    default: false
  force:
    description:
      - Take a new checkpoint even where the module would otherwise report no change, replacing an existing
        archive or image.
    type: bool
    default: false
notes:
  - A container started with C(--rm) can only be checkpointed with O(export), and podman removes it afterwards.
  - Paused containers cannot be checkpointed.
  - Podman checks the export path only after CRIU has stopped the container, so the module checks the folder first.
    If the export still fails, the module restores the container from the checkpoint left in its storage.
seealso:
  - module: statecraft.podman.container_restore
author:
  - statecraft.podman maintainers (@statecraft)
"""

EXAMPLES = r"""
---
- name: Checkpoint a container to an archive, compressed with zstd
  statecraft.podman.container_checkpoint:
    name: worker
    export: /var/backups/worker.tar.zst
  register: checkpoint

- name: Show how long the container was frozen, in milliseconds
  ansible.builtin.debug:
    msg: "{{ checkpoint.stats.criu_statistics.frozen_time / 1000 }} ms"

- name: Take a snapshot of a container without stopping it
  statecraft.podman.container_checkpoint:
    name: worker
    leave_running: true
    export: /var/backups/worker-snapshot.tar
    compress: none
    force: true
"""

RETURN = r"""
container:
  description:
    - C(podman container inspect) data of the container after the checkpoint.
    - Empty when podman removed the container, as it does for one started with C(--rm).
  returned: success
  type: dict
  sample: {Id: 91395b236aac8c415acb475c29591176d382601101a25d24780db1c7ba8dc1af, State: {Status: exited, Checkpointed: true}}
stats:
  description:
    - Statistics of the checkpoint from C(podman container checkpoint --print-stats). Durations are in microseconds.
    - Figures that Podman or CRIU leave out because they are zero are returned as 0.
  returned: when a checkpoint was taken
  type: dict
  contains:
    podman_checkpoint_duration:
      description: Time podman spent on the whole checkpoint, in microseconds.
      type: int
    runtime_checkpoint_duration:
      description: Time the OCI runtime spent, in microseconds.
      type: int
    criu_statistics:
      description: CRIU's own figures.
      type: dict
      contains:
        freezing_time:
          description: Time to freeze the container's processes, in microseconds.
          type: int
        frozen_time:
          description: Time the processes stayed frozen, in microseconds.
          type: int
        memdump_time:
          description: Time to collect the memory pages, in microseconds.
          type: int
        memwrite_time:
          description: Time to write the memory pages, in microseconds.
          type: int
        pages_scanned:
          description: Memory pages scanned.
          type: int
        pages_written:
          description: Memory pages written to the checkpoint.
          type: int
  sample:
    podman_checkpoint_duration: 309644
    runtime_checkpoint_duration: 246250
    criu_statistics: {freezing_time: 100970, frozen_time: 88163, memdump_time: 996, memwrite_time: 150,
                      pages_scanned: 48, pages_written: 34}
archive:
  description: The exported archive.
  returned: when O(export) is set and the archive exists
  type: dict
  contains:
    path:
      description: Path of the archive.
      type: str
    size:
      description: Size of the archive in bytes.
      type: int
    sha256:
      description: SHA-256 digest of the archive, in hex.
      type: str
    compression:
      description: Compression found in the file, V(zstd), V(gzip) or V(none).
      type: str
  sample: {path: /var/backups/worker.tar.zst, size: 30261, sha256: 9f2c0c1e5d, compression: zstd}
commands:
  description: The commands the module ran, each as an argument list.
  returned: always
  type: list
  elements: list
  sample: [[podman, container, inspect, worker], [/usr/local/sbin/criu, check],
           [podman, container, checkpoint, --print-stats, --export, /var/backups/.worker.tar.zst.1f2e.partial, worker]]
diff:
  description: Status, checkpoint flag and mount point before and after, in diff mode.
  returned: when diff mode is on
  type: dict
  sample: {before: {exists: true, status: running, checkpointed: false, mount_point: null},
           after: {exists: true, status: exited, checkpointed: true, mount_point: null}}
"""

import time

from ansible_collections.statecraft.podman.plugins.module_utils import _archive as archives
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ContainerStateError,
    InvalidRequestError,
    PodmanError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._module import (
    create_module,
    diff_result,
    run_module,
)
from ansible_collections.statecraft.podman.plugins.module_utils._options import (
    file_mode,
    require_with,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    container_summary,
)

DEFAULT_ARCHIVE_MODE = 0o600
STOP_POLLS = 20
STOP_POLL_SECONDS = 0.25


def validate(params):
    """Reject option combinations podman would fail on only after stopping the container."""
    require_with(params, ("compress", "ignore_rootfs", "ignore_volumes", "mode"), ("export",),
                 "export (an archive path)")
    if params["export"] and params["create_image"]:
        # Podman 4.3 and 5.4 write the archive and skip the image without a word.
        raise InvalidRequestError(
            "Options export and create_image cannot be combined: podman writes only the archive. "
            "Checkpoint to an archive, or to an image, in separate tasks.")
    file_mode(params["mode"])
    if params["export"]:
        return archives.check_export_target(params["export"])
    return False


def existing_archive_decision(params, container):
    """Return (changed, archive) for an export path where a file already exists."""
    path = params["export"]
    try:
        owner = archives.read_checkpoint_config(path).get("id")
    except archives.ArchiveError:
        owner = None
    if owner == container["Id"] and not params["force"]:
        return False, archives.describe(path)
    if not params["force"]:
        held = "a checkpoint of container %s" % owner if owner else "no checkpoint of this container"
        raise InvalidRequestError(
            'Archive "%s" already exists and holds %s. Set force=true to replace it, or choose '
            'another export path.' % (path, held), path=path)
    return True, None


def decide(runtime, params, container, archive_exists):
    """Return ``(changed, archive)``: whether a checkpoint is due and any archive already done."""
    name = params["name"]
    state = container.get("State") or {}
    status = state.get("Status")
    if params["export"] and archive_exists:
        changed, archive = existing_archive_decision(params, container)
        if not changed:
            return False, archive
    image = params["create_image"]
    if image and not params["force"] and runtime.image_exists(image):
        try:
            owner = runtime.checkpoint_image_name(image)
        except InvalidRequestError:
            raise InvalidRequestError(
                'Image "%s" already exists and is not a checkpoint image. Set force=true to replace '
                'it, or choose another create_image name.' % image, image=image)
        if state.get("Checkpointed") and owner == (container.get("Name") or "").lstrip("/"):
            return False, None
        raise InvalidRequestError(
            'Image "%s" already exists and holds a checkpoint of container "%s". Set force=true to '
            'replace it, or choose another create_image name.' % (image, owner), image=image)
    if status == "running":
        if (params["leave_running"] and state.get("CheckpointPath") and not params["force"]
                and not params["export"] and not params["create_image"]):
            return False, None
        return True, None
    if state.get("Checkpointed"):
        if params["export"] or params["create_image"]:
            raise ContainerStateError(
                'Container "%s" is already checkpointed and not running, so podman cannot export it. '
                'Restore it first, then checkpoint it with export.' % name, name=name, status=status)
        return False, None
    raise ContainerStateError(
        'Container "%s" is "%s", not running: only a running container can be checkpointed. '
        'Start it first.' % (name, status), name=name, status=status)


def preflight(runtime, params):
    """Check, without changing anything, that CRIU and the kernel can do the checkpoint."""
    criu = runtime.require_criu()
    for option in ("pre_checkpoint", "with_previous"):
        if params[option]:
            runtime.require_dirty_tracking(criu, option)


def take_checkpoint(runtime, params):
    """Run the checkpoint, placing any archive atomically; return ``(stats, archive)``."""
    options = dict(params)
    partial = None
    if params["export"]:
        partial = options["export"] = archives.partial_path(params["export"])
    try:
        unused_id, stats = runtime.checkpoint(params["name"], options)
    except PodmanError as error:
        if partial:
            archives.discard(partial)
            error.msg = error.msg.replace(partial, params["export"])
            if not params["leave_running"]:
                recover_after_failed_export(runtime, params["name"], error)
        raise
    archive = None
    if partial:
        mode = file_mode(params["mode"])
        archives.publish(partial, params["export"], DEFAULT_ARCHIVE_MODE if mode is None else mode)
        archive = archives.describe(params["export"])
    return stats, archive


def recover_after_failed_export(runtime, name, error):
    """Restart a container that podman stopped before its export failed.

    Podman dumps the container before it opens the export file, so a failed
    export leaves it exited but restorable from its local checkpoint.
    """
    container = wait_until_stopped(runtime, name)
    if not container or (container.get("State") or {}).get("Status") in ("running", "stopping"):
        return
    try:
        runtime.restore(container["Id"], {})
    except PodmanError as restore_error:
        error.msg += (' The container was left stopped, and restoring it from its local checkpoint '
                      'failed too: %s' % restore_error.msg)
        return
    error.msg += " The container was restored from its local checkpoint and is running again."


def wait_until_stopped(runtime, name):
    """Return the container's inspect data once it has left "running" and "stopping".

    Podman 4.3 can still show a container as running just after a failed
    export while CRIU's dump is stopping it. Gives up after about five seconds.
    """
    container = runtime.inspect_container(name)
    for unused_attempt in range(STOP_POLLS):
        if not container or (container.get("State") or {}).get("Status") not in ("running", "stopping"):
            break
        time.sleep(STOP_POLL_SECONDS)
        container = runtime.inspect_container(name)
    return container


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "keep": {"type": "bool", "default": False},
        "leave_running": {"type": "bool", "default": False},
        "tcp_established": {"type": "bool", "default": False},
        "file_locks": {"type": "bool", "default": False},
        "ignore_rootfs": {"type": "bool", "default": False},
        "ignore_volumes": {"type": "bool", "default": False},
        "export": {"type": "path"},
        "compress": {"type": "str", "choices": ["none", "gzip", "zstd"]},
        "mode": {"type": "raw"},
        "create_image": {"type": "str"},
        "pre_checkpoint": {"type": "bool", "default": False},
        "with_previous": {"type": "bool", "default": False},
        "force": {"type": "bool", "default": False},
    }
    module = create_module(argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("pre_checkpoint", "with_previous")])
    params = module.params

    def work(runtime):
        archive_exists = validate(params)
        container = runtime.get_container(params["name"])
        changed, archive = decide(runtime, params, container, archive_exists)
        result = {"changed": changed, "container": container}
        if changed:
            preflight(runtime, params)
        if changed and not module.check_mode:
            result["stats"], archive = take_checkpoint(runtime, params)
            result["container"] = runtime.inspect_container(container["Id"]) or {}
        if archive:
            result["archive"] = archive
        if module._diff:
            result["diff"] = diff_result(container_summary(container),
                                         predicted_summary(container, result, params, module.check_mode))
        return result

    run_module(module, work)


def predicted_summary(container, result, params, check_mode):
    """Return the after-state for the diff: the real one, or the expected one in check mode."""
    if not (check_mode and result["changed"]):
        return container_summary(result["container"] or None)
    summary = container_summary(container)
    if not (params["leave_running"] or params["pre_checkpoint"]):
        summary.update(status="exited", checkpointed=True)
    return summary


if __name__ == "__main__":
    main()
