# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module_utils file is private to the statecraft.podman collection.

"""HTTP/1.1 over a unix socket, with the Python standard library only.

``UnixHttpClient`` sends requests to a Podman API service (``podman system
service``) on one keep-alive connection. Request bodies are sent from a file
and response bodies can be written to a file, in blocks, so archives of any
size never sit in memory whole. Every failure to reach the service becomes an
``ApiConnectionError`` whose message names the socket and what to do.
"""

from __future__ import annotations

import collections
import errno
import http.client
import os
import socket
import stat
import time
from urllib.parse import quote, urlencode

from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ApiConnectionError,
    InvalidRequestError,
)

BLOCK_SIZE = 1 << 16
DEFAULT_TIMEOUT = 30.0
# A stand-in host name: HTTP/1.1 needs a Host header, and Podman ignores it.
HOST_HEADER = "d"
USER_AGENT = "statecraft.podman"

ApiResponse = collections.namedtuple("ApiResponse", ["status", "headers", "body"])
ApiResponse.__doc__ = """Status code, headers (lower-case names) and body bytes of one response."""

# Sentinel for "use the client's timeout", because None means "wait without limit".
CLIENT_TIMEOUT = object()


def parse_socket_url(value):
    """Return the absolute path of a unix socket given as a path or a ``unix://`` URL.

    Raises ``InvalidRequestError`` for any other URL scheme, with the reason.
    """
    text = (value or "").strip()
    if "://" in text:
        scheme, rest = text.split("://", 1)
        scheme = scheme.lower()
        if scheme == "unix":
            path = rest
        elif scheme in ("tcp", "ssh", "http", "https"):
            raise InvalidRequestError(
                'socket "%s" is a %s:// URL, but the modules connect only to unix sockets: they '
                'speak plain HTTP over a local socket file, without TLS or SSH. Run the module on '
                'the host of the Podman service, or forward the remote socket to a local file '
                '(ssh -L /tmp/podman.sock:/run/podman/podman.sock HOST) and set socket to that file.'
                % (value, scheme), socket=value)
        else:
            raise InvalidRequestError(
                'socket "%s" has the unknown URL scheme "%s"; give the path of a unix socket, '
                'or a unix:///PATH URL.' % (value, scheme), socket=value)
    else:
        path = text
    path = os.path.expanduser(path)
    if not path or not os.path.isabs(path):
        raise InvalidRequestError(
            'socket "%s" is not an absolute path; give the full path of the Podman API socket, '
            'such as /run/podman/podman.sock or unix:///run/podman/podman.sock.' % value,
            socket=value)
    return path


def build_target(path, query=None):
    """Return ``path`` with its query string; booleans become ``true`` and ``false``.

    ``query`` is a list of ``(name, value)`` pairs or a dict. None values are
    left out, and a list value repeats the name once per element.
    """
    if not query:
        return path
    pairs = []
    items = query.items() if isinstance(query, dict) else query
    for name, value in items:
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((name, str(item)))
    if not pairs:
        return path
    return "%s?%s" % (path, urlencode(pairs, quote_via=quote))


class _UnixConnection(http.client.HTTPConnection):
    """``HTTPConnection`` whose ``connect`` opens a unix socket instead of TCP."""

    def __init__(self, socket_path, timeout):
        super().__init__(HOST_HEADER, timeout=timeout, blocksize=BLOCK_SIZE)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class UnixHttpClient:
    """Client of one Podman API socket, on one keep-alive connection.

    ``timeout`` (seconds) bounds connecting and every wait for data. A request
    may pass ``timeout=None`` to wait without limit, which checkpoint and
    restore need because CRIU can work for minutes before Podman responds.
    """

    def __init__(self, socket_path, timeout=DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout
        self.last_headers = {}
        self._connection = None
        self._wait = timeout
        self._target = None

    # ------------------------------------------------------------------ requests

    def request(self, method, path, query=None, body_file=None, content_type=None,
                timeout=CLIENT_TIMEOUT):
        """Send one request and return its ``ApiResponse`` with the whole body.

        ``path`` starts with ``/``; ``body_file`` is an open binary file sent
        as the body, from its current position to its end.
        """
        response = self._send(method, path, query, body_file, content_type, timeout)
        body = self._read_all(response, method, path)
        return ApiResponse(response.status, self.last_headers, body)

    def request_to_file(self, method, path, dest_file, query=None, body_file=None,
                        content_type=None, timeout=CLIENT_TIMEOUT, on_block=None):
        """Send one request and write a successful (2xx) response body to ``dest_file``.

        The body is written in blocks as it arrives, and ``on_block(data)`` gets
        each block first. Returns the ``ApiResponse``, whose ``body`` is the
        error body for a status outside 2xx (nothing is written then) and
        empty otherwise.
        """
        response = self._send(method, path, query, body_file, content_type, timeout)
        if not 200 <= response.status < 300:
            body = self._read_all(response, method, path)
            return ApiResponse(response.status, self.last_headers, body)
        while True:
            try:
                block = response.read(BLOCK_SIZE)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise self._transfer_error(exc, method, self._target)
            if not block:
                break
            if on_block is not None:
                on_block(block)
            try:
                dest_file.write(block)
            except OSError:
                # The rest of the body is unread, so the connection cannot be reused.
                self.close()
                raise
        self._finish(response)
        return ApiResponse(response.status, self.last_headers, b"")

    def close(self):
        """Close the connection; the next request opens a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ------------------------------------------------------------------ internals

    def _send(self, method, path, query, body_file, content_type, timeout):
        target = build_target(path, query)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        if body_file is not None:
            headers["Content-Length"] = str(os.fstat(body_file.fileno()).st_size - body_file.tell())
        elif method in ("POST", "PUT"):
            headers["Content-Length"] = "0"
        wait = self.timeout if timeout is CLIENT_TIMEOUT else timeout
        self._wait = wait
        self._target = target
        # A GET is safe to send again when an idle keep-alive connection was
        # closed by the service; anything else is sent once.
        attempts = 2 if method == "GET" and self._connection is not None else 1
        for attempt in range(attempts):
            connection = self._connect()
            try:
                connection.sock.settimeout(wait)
                connection.request(method, target, body=body_file, headers=headers)
                response = connection.getresponse()
            except (BrokenPipeError, ConnectionResetError) as exc:
                # The service may close its end after it has sent an error
                # response without reading all of a large body: read that response.
                response = self._response_after_send_error(connection)
                if response is None:
                    self.close()
                    if attempt + 1 < attempts:
                        continue
                    raise self._transfer_error(exc, method, target)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt + 1 < attempts and isinstance(exc, http.client.RemoteDisconnected):
                    continue
                raise self._transfer_error(exc, method, target)
            self.last_headers = dict((name.lower(), value) for name, value in response.getheaders())
            return response
        raise AssertionError("unreachable")

    def _response_after_send_error(self, connection):
        try:
            return connection.getresponse()
        except (OSError, http.client.HTTPException):
            return None

    def _read_all(self, response, method, path):
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise self._transfer_error(exc, method, self._target)
        self._finish(response)
        return body

    def _finish(self, response):
        if response.will_close:
            self.close()

    def _connect(self):
        if self._connection is not None and self._connection.sock is not None:
            return self._connection
        self.close()
        self._check_socket_file()
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            connection.connect()
        except socket.timeout:
            raise ApiConnectionError(
                "Timed out after %s seconds connecting to the Podman API socket %s: the service "
                "accepts no connection. Check that podman system service runs and is not stuck, "
                "or raise the timeout option." % (_seconds(self.timeout), self.socket_path),
                self.socket_path)
        except OSError as exc:
            raise self._connect_error(exc)
        self._connection = connection
        return connection

    def _check_socket_file(self):
        try:
            mode = os.stat(self.socket_path).st_mode
        except OSError as exc:
            raise self._connect_error(exc)
        if not stat.S_ISSOCK(mode):
            raise ApiConnectionError(
                "%s is not a unix socket; set the socket option to the socket that podman "
                "system service listens on, such as /run/podman/podman.sock." % self.socket_path,
                self.socket_path)

    def _connect_error(self, exc):
        path = self.socket_path
        if exc.errno == errno.ENOENT:
            msg = ("Podman API socket %s does not exist. Start the service (systemctl enable "
                   "--now podman.socket, or podman system service --time=0 unix://%s), or set "
                   "the socket option to the socket that exists." % (path, path))
        elif exc.errno in (errno.EACCES, errno.EPERM):
            msg = ("Permission denied on the Podman API socket %s for user ID %d. Run the task "
                   "as a user that may use the socket (become), or use this user's own socket, "
                   "such as $XDG_RUNTIME_DIR/podman/podman.sock." % (path, os.getuid()))
        elif exc.errno == errno.ECONNREFUSED:
            msg = ("Connection refused on the Podman API socket %s: the socket file exists but "
                   "no service listens on it. Start podman system service again (or "
                   "systemctl start podman.socket)." % path)
        else:
            msg = "Cannot connect to the Podman API socket %s: %s." % (path, _describe(exc))
        return ApiConnectionError(msg, path, errno=exc.errno)

    def _transfer_error(self, exc, method, target):
        path = self.socket_path
        request = "%s %s" % (method, target)
        if isinstance(exc, socket.timeout):
            msg = ("Timed out after %s seconds waiting for the Podman API service at %s to "
                   "respond to %s. Check that the service is not stuck, or raise the timeout "
                   "option." % (_seconds(self._wait), path, request))
        elif isinstance(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected,
                              ConnectionError)):
            msg = ("The Podman API service at %s closed the connection before the end of the "
                   "response to %s (%s). Check the service's log; it may have stopped or crashed."
                   % (path, request, _describe(exc)))
        elif isinstance(exc, http.client.HTTPException):
            msg = ("The Podman API service at %s sent a response to %s that is not valid HTTP "
                   "(%s). Check that the socket belongs to podman system service."
                   % (path, request, _describe(exc)))
        else:
            msg = "Request %s to the Podman API socket %s failed: %s." % (
                request, path, _describe(exc))
        return ApiConnectionError(msg, path, request=request)


def _describe(exc):
    text = str(exc)
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name


def _seconds(value):
    return ("%g" % value) if isinstance(value, (int, float)) else str(value)


def elapsed_microseconds(started):
    """Return the microseconds since ``started``, a ``time.monotonic()`` value."""
    return int((time.monotonic() - started) * 1000000)
