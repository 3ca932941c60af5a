# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""Exception types raised by the runtime helper and turned into fail_json by the modules."""

from __future__ import annotations

import json
import shlex


class PodmanError(Exception):
    """Base class of every failure the collection reports.

    ``details`` are extra keys for the module's failure result, for example
    ``criu_log`` or ``state``.
    """

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def to_result(self):
        """Return the keyword arguments for ``module.fail_json``."""
        result = dict(self.details)
        result["msg"] = self.msg
        return result


class InvalidRequestError(PodmanError):
    """The options given cannot work: nothing was changed."""


class ContainerNotFoundError(PodmanError):
    """No container has the requested name or ID."""

    def __init__(self, name):
        super().__init__(
            'Container "%s" not found. Check the name or ID with "podman ps --all".' % name,
            name=name,
        )


class ContainerStateError(PodmanError):
    """The container is in a state the requested action cannot start from."""


class UnsupportedError(PodmanError):
    """The host's Podman, CRIU or kernel cannot do what the options ask for."""


class CommandError(PodmanError):
    """A podman command failed; carries the command line and both outputs."""

    def __init__(self, msg, cmd, rc, stdout, stderr, **details):
        super().__init__(msg, cmd=list(cmd), rc=rc, stdout=stdout, stderr=stderr, **details)
        self.cmd = list(cmd)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def error_lines(self):
        """Return the ``Error:`` lines of stderr, without the prefix."""
        lines = []
        for line in self.stderr.splitlines():
            line = line.strip()
            if line.startswith("Error: "):
                lines.append(line[len("Error: "):])
        return lines

    @classmethod
    def from_result(cls, action, result, **details):
        """Build the error for a failed ``CommandResult``; ``action`` is a verb phrase."""
        reason = result.stderr.strip() or result.stdout.strip() or "no output"
        msg = "Failed to %s: %s (rc=%s, command: %s)" % (
            action, reason, result.rc, shlex.join(result.argv))
        return cls(msg, result.argv, result.rc, result.stdout, result.stderr, **details)


class ApiConnectionError(UnsupportedError):
    """The Podman API socket cannot be reached, or its service stopped responding."""

    def __init__(self, msg, socket, **details):
        super().__init__(msg, socket=socket, **details)
        self.socket = socket


class ApiError(PodmanError):
    """The Podman API service returned an error status for a request.

    ``body`` is the response body as text. Podman's error bodies are JSON
    objects with ``cause``, ``message`` and ``response``, and ``message`` is
    the text that the podman program prints after ``Error:``.
    """

    def __init__(self, msg, method, path, status, body, **details):
        super().__init__(msg, request="%s %s" % (method, path), status=status, body=body,
                         **details)
        self.method = method
        self.path = path
        self.status = status
        self.body = body

    @property
    def message(self):
        """Return the ``message`` of a JSON error body, or the whole body."""
        return error_body_field(self.body, "message") or self.body.strip()

    @property
    def cause(self):
        """Return the ``cause`` of a JSON error body, or an empty string."""
        return error_body_field(self.body, "cause")

    @classmethod
    def from_response(cls, action, method, path, status, body, socket, **details):
        """Build the error for a failed request; ``action`` is a verb phrase."""
        reason = error_body_field(body, "message") or body.strip() or "no response body"
        msg = "Failed to %s: %s (HTTP %s, request: %s %s, socket: %s)" % (
            action, reason, status, method, path, socket)
        return cls(msg, method, path, status, body, socket=socket, **details)


def error_body_field(body, field):
    """Return one text field of a Podman API error body, or an empty string.

    Only the first JSON document counts: Podman 4.3 can send a partial result
    after the error document in the same body.
    """
    try:
        document = json.JSONDecoder().raw_decode(body.lstrip())[0]
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    value = document.get(field)
    return value if isinstance(value, str) else ""
