# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options every module of the collection takes.
    DOCUMENTATION = r"""
options:
  executable:
    description:
      - Name or path of the podman program to run on the managed host.
      - A bare name is looked up in C(PATH), with C(/usr/local/sbin) searched first.
      - Not used when O(socket) is set.
    type: str
    default: podman
  socket:
    description:
      - Path of a Podman API socket, or a C(unix://) URL of one, such as V(unix:///run/podman/podman.sock).
      - When set, the module sends its requests to the libpod REST API of that C(podman system service)
        instead of running the podman program, so the managed host needs no podman executable. Results,
        RV(ignore:changed) and error messages are the same on both transports.
      - In RV(ignore:commands), each API request is returned as V([METHOD, PATH?QUERY]), and local
        programs such as C(criu check) and C(zstd) as their argument lists.
      - Only unix sockets work. A C(tcp://) or C(ssh://) URL is rejected; forward a remote socket to a
        local file instead, for example with C(ssh -L /tmp/podman.sock:/run/podman/podman.sock HOST).
      - Unset, the module runs the program named by O(executable).
    type: str
  timeout:
    description:
      - Seconds to wait for the Podman API service at O(socket) to accept the connection and to respond.
      - Checkpoint and restore requests wait without limit, because CRIU can work for minutes before Podman
        responds; bound them with the task keyword C(timeout).
      - Not used without O(socket).
    type: float
    default: 30
requirements:
  - Podman 4.0 or newer (tested with 4.3.1 and 5.4.2)
notes:
  - The modules run podman as the remote user, so they see that user's containers. With O(socket), they see
    the containers of the user that runs the Podman API service.
  - Group C(statecraft.podman.podman) in C(module_defaults) sets these options for every module.
"""

    # Options and notes for the modules that checkpoint or restore.
    CRIU = r"""
options: {}
requirements:
  - CRIU that passes C(criu check) on the host's kernel, found in C(PATH) the way the OCI runtime finds it
  - An OCI runtime that can checkpoint, such as runc
notes:
  - Before any checkpoint or restore the module runs C(criu check) and fails with the reason when it does not pass.
    With O(socket), it runs C(criu check) only when this host has a C(criu) program, which is assumed to be the
    one the service uses. Without one, a CRIU fault shows only in the service's error.
  - With O(socket), an exported archive arrives as an uncompressed tar and the module compresses it as
    O(statecraft.podman.container_checkpoint#module:compress) asks, V(zstd) by default as podman does, which needs
    the C(zstd) program on this host. The API reports no statistics for an export, so the module reads CRIU's
    figures from the archive's C(stats-dump), measures the duration around the request itself, and returns
    C(runtime_checkpoint_duration) as 0.
  - With O(socket), C(podman_checkpoint_duration) and C(podman_restore_duration) are measured by the module around
    the request, because the API does not report them.
"""
