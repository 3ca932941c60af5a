# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Checks of option combinations that podman would reject only after doing work."""

from __future__ import annotations

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
)


def require_with(params, options, needed, needed_text):
    """Raise when any of ``options`` is set without one of the ``needed`` options."""
    if any(params.get(option) for option in needed):
        return
    for option in options:
        value = params.get(option)
        if value not in (None, False, [], ""):
            text = ",".join(str(item) for item in value) if isinstance(value, list) else value
            raise InvalidRequestError(
                "Option %s=%s needs %s; set it or remove %s."
                % (option, text, needed_text, option), option=option)


def file_mode(value, option="mode"):
    """Return a permission mode as an int from an octal string such as ``"0640"`` or an int."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            raise InvalidRequestError(
                'Option %s="%s" is not an octal permission mode; write it like "0600".'
                % (option, value), option=option)
    if not 0 <= mode <= 0o7777:
        raise InvalidRequestError(
            'Option %s=%s is out of range; write an octal mode between "0000" and "7777".'
            % (option, value), option=option)
    return mode
