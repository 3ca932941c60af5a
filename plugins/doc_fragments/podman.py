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
    type: str
    default: podman
requirements:
  - Podman 4.0 or newer (tested with 4.3.1 and 5.4.2).
notes:
  - The modules run podman as the remote user, so they see that user's containers.
  - Group C(statecraft.podman.podman) in C(module_defaults) sets these options for every module.
"""

    # Options and notes for the modules that checkpoint or restore.
    CRIU = r"""
options: {}
requirements:
  - CRIU that passes C(criu check) on the host's kernel, found in C(PATH) the way the OCI runtime finds it.
  - An OCI runtime that can checkpoint, such as runc.
notes:
  - Before any checkpoint or restore the module runs C(criu check) and fails with the reason when it does not pass.
"""
