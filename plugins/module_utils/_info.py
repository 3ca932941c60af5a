# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Select and inspect containers for container_info in a fixed number of podman calls.

At most three calls run, whatever the number of containers: ``podman ps`` when
the options select by state, filter or age; one ``podman container inspect``
with every name or ID; and ``podman mount`` for the mount points.
"""

from __future__ import annotations

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._runtime import (
    matches_reference,
)


def gather_containers(runtime, params):
    """Return the ``containers``, ``missing`` and ``mounted`` results of container_info."""
    names = params.get("name") or []
    limit = params.get("limit")
    if limit is not None and limit < 1:
        raise InvalidRequestError(
            "limit must be 1 or more, got %d; omit it to return every container." % limit)

    listed = None
    if _needs_listing(params):
        listed = runtime.list_containers(
            all_containers=params.get("all", True), filters=params.get("filters"),
            limit=limit, sync=params.get("sync", False), external=params.get("external", False))
        listed = [_mark_external(entry) for entry in _newest_first(listed)]

    if names:
        containers, missing = _inspect_names(runtime, names, listed, params.get("size", False))
    else:
        containers, missing = _inspect_listed(runtime, listed, params.get("size", False)), []

    mount_points = runtime.mounted_containers()
    mounted = dict((_container_id(c), mount_points[_container_id(c)])
                   for c in containers if _container_id(c) in mount_points)
    return {"containers": containers, "missing": missing, "mounted": mounted}


def _needs_listing(params):
    return bool(
        not params.get("name")
        or params.get("filters")
        or params.get("limit") is not None
        or params.get("sync")
        or params.get("external")
        or not params.get("all", True)
    )


def _inspect_names(runtime, names, listed, size):
    unique_names = list(dict.fromkeys(names))
    containers, missing = runtime.inspect_containers(unique_names, size=size)
    if listed is not None:
        listed_ids = set(_container_id(entry) for entry in listed)
        containers = [c for c in containers if _container_id(c) in listed_ids]
        # Containers made by other tools exist only in the listing.
        external = [entry for entry in listed if entry.get("IsExternal")]
        still_missing = []
        for name in missing:
            match = [entry for entry in external if matches_reference(entry, name)]
            if match:
                containers.extend(match)
            else:
                still_missing.append(name)
        missing = still_missing
    return _unique(containers), missing


def _inspect_listed(runtime, listed, size):
    ids = [_container_id(entry) for entry in listed if not entry.get("IsExternal")]
    inspected, vanished = runtime.inspect_containers(ids, size=size)
    by_id = dict((_container_id(c), c) for c in inspected)
    containers = []
    for entry in listed:
        container_id = _container_id(entry)
        if container_id in by_id:
            containers.append(by_id[container_id])
        elif entry.get("IsExternal"):
            containers.append(entry)
        # A container removed between the listing and the inspect is left out.
    return containers


def _newest_first(listed):
    """Sort ``podman ps`` entries newest first.

    ``Created`` has whole seconds only. Podman 4.3 and 5.4 list the oldest first,
    so reversing a stable ascending sort keeps their finer order within one second.
    """
    entries = sorted(listed, key=_created_seconds)
    entries.reverse()
    return entries


def _created_seconds(entry):
    created = entry.get("Created")
    if isinstance(created, (int, float)) and not isinstance(created, bool):
        return created
    return 0


def _mark_external(entry):
    """Set ``IsExternal`` on a listing entry of a container that podman did not create.

    ``podman ps --external`` (4.3 and 5.4) prints no ``IsExternal`` field. It
    marks such containers with the state ``storage``.
    """
    if entry.get("IsExternal") or entry.get("State") == "storage":
        entry = dict(entry, IsExternal=True)
    return entry


def _unique(containers):
    seen = set()
    unique = []
    for container in containers:
        if _container_id(container) not in seen:
            seen.add(_container_id(container))
            unique.append(container)
    return unique


def _container_id(container):
    return container.get("Id") or container.get("ID")
