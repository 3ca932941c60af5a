# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    InvalidRequestError,
)
from ansible_collections.statecraft.podman.plugins.module_utils._options import (
    file_mode,
    require_with,
)

NEEDED = ("archive", "image")


def require(params, options=("publish_ports", "pod", "ignore_rootfs")):
    """Run ``require_with`` as container_restore does for its import-only options."""
    require_with(params, options, NEEDED, "archive or image")


# ---------------------------------------------------------------------- require_with


@pytest.mark.parametrize("option, value, shown", [
    ("publish_ports", ["80:80"], "80:80"),
    ("publish_ports", ["8081:8080", "9000:9000/udp"], "8081:8080,9000:9000/udp"),
    ("pod", "web", "web"),
    ("ignore_rootfs", True, "True"),
], ids=["one-port", "two-ports", "text", "bool"])
def test_require_with_message(option, value, shown):
    with pytest.raises(InvalidRequestError) as raised:
        require({option: value})
    assert raised.value.msg == ("Option %s=%s needs archive or image; set it or remove %s."
                                % (option, shown, option))
    assert raised.value.details == {"option": option}


@pytest.mark.parametrize("value", [None, False, [], ""],
                         ids=["none", "false", "empty-list", "empty-text"])
def test_require_with_ignores_unset(value):
    require({"publish_ports": value, "pod": value, "ignore_rootfs": value})


@pytest.mark.parametrize("needed", ["archive", "image"])
def test_require_with_needed_set(needed):
    require({needed: "/b/x.tar", "publish_ports": ["80:80"], "pod": "web"})


def test_require_with_names_first_set_option():
    with pytest.raises(InvalidRequestError) as raised:
        require({"pod": "web", "ignore_rootfs": True})
    assert raised.value.details == {"option": "pod"}


def test_require_with_list_of_numbers():
    # Module arguments are strings, but the join does not depend on that.
    with pytest.raises(InvalidRequestError) as raised:
        require({"publish_ports": [80, 443]})
    assert raised.value.msg.startswith("Option publish_ports=80,443 needs")


# ---------------------------------------------------------------------- file_mode


@pytest.mark.parametrize("value, expected", [
    ("0640", 0o640), ("644", 0o644), (0o604, 0o604), ("0000", 0), ("7777", 0o7777), (None, None),
])
def test_file_mode(value, expected):
    assert file_mode(value) == expected


@pytest.mark.parametrize("value, message", [
    ("rw-r-----", 'Option mode="rw-r-----" is not an octal permission mode; write it like "0600".'),
    ("0689", 'Option mode="0689" is not an octal permission mode; write it like "0600".'),
    ("17777", 'Option mode=17777 is out of range; write an octal mode between "0000" and "7777".'),
    (-1, 'Option mode=-1 is out of range; write an octal mode between "0000" and "7777".'),
], ids=["letters", "not-octal", "too-large", "negative"])
def test_file_mode_invalid(value, message):
    with pytest.raises(InvalidRequestError) as raised:
        file_mode(value)
    assert raised.value.msg == message
    assert raised.value.details == {"option": "mode"}
