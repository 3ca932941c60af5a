# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Shared module plumbing: the common options, building the runtime, failing cleanly."""

from __future__ import annotations

import os
import shutil
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
    DEFAULT_TIMEOUT,
    UnixHttpClient,
    parse_socket_url,
)
from ansible_collections.statecraft.podman.plugins.module_utils._api_runtime import (
    PodmanApiRuntime,
)
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
    PodmanError,
    UnsupportedError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    PodmanRuntime,
)
from ansible_collections.statecraft.podman.plugins.module_utils._transport import (
    CliTransport,
    module_runner,
    podman_environment,
)

COMMON_ARGUMENT_SPEC = {
    "executable": {"type": "str", "default": "podman"},
    "socket": {"type": "str"},
    "timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
}


def create_module(argument_spec, **kwargs):
    """Create the ``AnsibleModule`` with the common options merged into ``argument_spec``."""
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(argument_spec)
    return AnsibleModule(argument_spec=spec, **kwargs)


def find_executable(executable):
    """Return the full path of the podman executable or raise ``UnsupportedError``."""
    if os.sep in executable:
        path = executable
    else:
        path = shutil.which(executable, path=podman_environment()["PATH"])
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise UnsupportedError(
            'Podman executable "%s" not found. Install podman, or set the executable '
            'option to the full path of the podman program.' % executable,
            executable=executable)
    return path


def create_runtime(module):
    """Return a ``PodmanApiRuntime`` when the socket option is set, else a ``PodmanRuntime``."""
    if module.params.get("socket"):
        timeout = module.params["timeout"]
        if timeout is None or timeout <= 0:
            raise InvalidRequestError(
                "timeout must be a number of seconds above 0, got %s." % timeout, option="timeout")
        client = UnixHttpClient(parse_socket_url(module.params["socket"]), timeout)
        return PodmanApiRuntime(client, module_runner(module), warn=module.warn)
    executable = find_executable(module.params["executable"])
    transport = CliTransport(executable, module_runner(module))
    return PodmanRuntime(transport, warn=module.warn)


def run_module(module, work):
    """Run ``work(runtime)``, which returns the result dict, and exit or fail the module.

    Every ``PodmanError`` becomes ``fail_json`` with its message and details,
    the commands run so far, and the traceback (shown at -vvv).
    """
    runtime = None
    try:
        runtime = create_runtime(module)
        result = work(runtime)
    except PodmanError as error:
        failure = error.to_result()
        failure["commands"] = runtime.commands if runtime else []
        module.fail_json(exception=traceback.format_exc(), **failure)
    result["commands"] = runtime.commands
    module.exit_json(**result)


def diff_result(before, after):
    """Return the ``diff`` result key from two ``container_summary`` dicts."""
    return {"before": before, "after": after}
