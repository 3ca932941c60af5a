# Copyright (c) statecraft.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the HTTP client against a small server on a unix socket in tmp_path.

The server reads each request and sends the raw bytes that the test
scripts. So the tests can cover framing that a real Podman service rarely
sends: chunked bodies in tiny pieces, a connection closed mid-body, a
response that comes too late, and garbage instead of HTTP.
"""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import threading
import time

import pytest

from ansible_collections.statecraft.podman.plugins.module_utils import _api_client
from ansible_collections.statecraft.podman.plugins.module_utils._api_client import (
    UnixHttpClient,
    build_target,
    parse_socket_url,
)
from ansible_collections.statecraft.podman.plugins.module_utils._errors import (
    ApiConnectionError,
    ApiError,
    InvalidRequestError,
)


class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body


class FakeServer:
    """A unix socket server that sends ``respond(request)`` for each request.

    ``respond`` returns the raw response bytes, or a list of byte strings and
    numbers: a number sleeps that many seconds, so a response can come late or
    in pieces. ``close_after`` closes the connection after the response.
    """

    def __init__(self, path, respond):
        self.path = path
        self.respond = respond
        self.requests = []
        self.connections = 0
        self.close_after = False
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.listener.close()

    def _serve(self):
        while True:
            try:
                connection, unused_address = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection):
        reader = connection.makefile("rb")
        try:
            while True:
                request = self._read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                parts = self.respond(request)
                for part in parts if isinstance(parts, list) else [parts]:
                    if isinstance(part, (int, float)):
                        time.sleep(part)
                    else:
                        connection.sendall(part)
                if self.close_after:
                    return
        except OSError:
            return
        finally:
            reader.close()
            connection.close()

    @staticmethod
    def _read_request(reader):
        line = reader.readline()
        if not line:
            return None
        method, target, unused_version = line.decode("latin-1").split(" ", 2)
        headers = {}
        while True:
            line = reader.readline().decode("latin-1").strip()
            if not line:
                break
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers.get("content-length", "0")))
        return Request(method, target, headers, body)


def response(status, body=b"", content_type="application/json", extra=""):
    reason = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found",
              500: "Internal Server Error"}[status]
    head = "HTTP/1.1 %d %s\r\nLibpod-Api-Version: 5.4.2\r\n" % (status, reason)
    if status not in (204, 304):
        head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (content_type, len(body))
    return (head + extra + "\r\n").encode() + body


def chunked(status, pieces, content_type="application/octet; charset=us-ascii"):
    head = ("HTTP/1.1 %d OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
            % (status, content_type)).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return head + body + b"0\r\n\r\n"


@pytest.fixture
def socket_path(tmp_path):
    # AF_UNIX paths are limited to about 108 bytes; tmp_path can be longer.
    folder = os.path.join("/tmp", "sc-api-unit-%d-%d" % (os.getpid(), threading.get_ident()))
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "%s.sock" % os.path.basename(str(tmp_path))[-20:])
    yield path
    if os.path.lexists(path):
        os.unlink(path)
    try:
        os.rmdir(folder)
    except OSError:
        pass  # another test of this thread still has its socket there


@pytest.fixture
def serve(socket_path):
    servers = []

    def start(respond):
        server = FakeServer(socket_path, respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# ---------------------------------------------------------------------- socket URLs

@pytest.mark.parametrize("value, expected", [
    ("/run/podman/podman.sock", "/run/podman/podman.sock"),
    ("unix:///run/podman/podman.sock", "/run/podman/podman.sock"),
    ("UNIX:///run/user/1000/podman/podman.sock", "/run/user/1000/podman/podman.sock"),
    ("  /tmp/p.sock  ", "/tmp/p.sock"),
])
def test_socket_url_forms(value, expected):
    assert parse_socket_url(value) == expected


@pytest.mark.parametrize("value, words", [
    ("tcp://127.0.0.1:8080", "connect only to unix sockets"),
    ("ssh://core@host:22/run/podman/podman.sock", "ssh -L"),
    ("https://host/podman", "without TLS or SSH"),
    ("npipe:////./pipe/podman", "unknown URL scheme"),
    ("podman.sock", "not an absolute path"),
    ("unix://podman.sock", "not an absolute path"),
    ("", "not an absolute path"),
])
def test_socket_url_rejected(value, words):
    with pytest.raises(InvalidRequestError) as caught:
        parse_socket_url(value)
    assert words in caught.value.msg


def test_socket_url_expands_home(monkeypatch):
    monkeypatch.setenv("HOME", "/home/tester")
    assert parse_socket_url("~/podman.sock") == "/home/tester/podman.sock"


def test_build_target_encodes_query():
    target = build_target("/v4.0.0/libpod/containers/json", [
        ("all", True), ("sync", None), ("limit", 2), ("filters", '{"name":["^a b$"]}'),
        ("publishPorts", ["1:1", "2:2"]), ("keep", False)])
    assert target == ("/v4.0.0/libpod/containers/json?all=true&limit=2"
                      "&filters=%7B%22name%22%3A%5B%22%5Ea%20b%24%22%5D%7D"
                      "&publishPorts=1%3A1&publishPorts=2%3A2&keep=false")


def test_build_target_without_query():
    assert build_target("/_ping") == "/_ping"
    assert build_target("/_ping", [("a", None)]) == "/_ping"


# ---------------------------------------------------------------------- bodies

def test_json_body_with_content_length(serve, socket_path):
    server = serve(lambda request: response(200, b'{"Id": "abc"}'))
    client = UnixHttpClient(socket_path, timeout=5)

    status, headers, body = client.request("GET", "/v4.0.0/libpod/containers/a/json")

    assert status == 200
    assert json.loads(body) == {"Id": "abc"}
    assert headers["libpod-api-version"] == "5.4.2"
    assert client.last_headers["content-type"] == "application/json"
    assert server.requests[0].method == "GET"
    assert server.requests[0].target == "/v4.0.0/libpod/containers/a/json"
    assert server.requests[0].headers["host"] == "d"


def test_chunked_body_in_tiny_pieces(serve, socket_path):
    pieces = [b"[", b'{"Id"', b': "a"}', b",", b'{"Id": "b"}', b"]"]
    serve(lambda request: chunked(200, pieces, "application/json"))
    client = UnixHttpClient(socket_path, timeout=5)

    status, unused_headers, body = client.request("GET", "/v4.0.0/libpod/containers/json")

    assert status == 200
    assert [entry["Id"] for entry in json.loads(body)] == ["a", "b"]


def test_chunked_body_to_file_in_blocks(serve, socket_path):
    pieces = [os.urandom(size) for size in (1, 511, 70000, 3, 200000)]
    serve(lambda request: chunked(200, pieces))
    client = UnixHttpClient(socket_path, timeout=5)
    destination = io.BytesIO()
    seen = []

    result = client.request_to_file("POST", "/v4.0.0/libpod/containers/a/checkpoint",
                                    destination, query=[("export", True)], on_block=seen.append)

    assert result.status == 200
    assert result.body == b""
    assert destination.getvalue() == b"".join(pieces)
    assert b"".join(seen) == b"".join(pieces)
    assert max(len(block) for block in seen) <= _api_client.BLOCK_SIZE


def test_error_status_is_not_written_to_file(serve, socket_path):
    error = {"cause": "container state improper", "response": 500,
             "message": '"exited" is not running, cannot checkpoint: container state improper'}
    serve(lambda request: response(500, json.dumps(error).encode()))
    client = UnixHttpClient(socket_path, timeout=5)
    destination = io.BytesIO()

    result = client.request_to_file("POST", "/v4.0.0/libpod/containers/a/checkpoint", destination)

    assert result.status == 500
    assert destination.getvalue() == b""
    assert json.loads(result.body)["cause"] == "container state improper"


def test_upload_from_file_with_content_type(serve, socket_path, tmp_path):
    server = serve(lambda request: response(200, b'{"Id": "new"}'))
    archive = tmp_path / "archive.tar"
    archive.write_bytes(os.urandom(300000))
    client = UnixHttpClient(socket_path, timeout=5)

    with open(str(archive), "rb") as body:
        status, unused_headers, unused_body = client.request(
            "POST", "/v4.0.0/libpod/containers/import/restore", query=[("import", True)],
            body_file=body, content_type="application/x-tar")

    assert status == 200
    received = server.requests[0]
    assert received.target == "/v4.0.0/libpod/containers/import/restore?import=true"
    assert received.headers["content-type"] == "application/x-tar"
    assert received.headers["content-length"] == "300000"
    assert received.body == archive.read_bytes()


def test_post_without_body_sends_zero_length(serve, socket_path):
    server = serve(lambda request: response(204))
    UnixHttpClient(socket_path, timeout=5).request("POST", "/v4.0.0/libpod/containers/a/unmount")
    assert server.requests[0].headers["content-length"] == "0"


@pytest.mark.parametrize("status", [204, 304])
def test_empty_responses_keep_the_connection(serve, socket_path, status):
    server = serve(lambda request: response(status) if request.target.endswith("/init")
                   else response(200, b'"ok"'))
    client = UnixHttpClient(socket_path, timeout=5)

    first = client.request("POST", "/v4.0.0/libpod/containers/a/init")
    second = client.request("GET", "/v4.0.0/libpod/containers/a/json")

    assert (first.status, first.body) == (status, b"")
    assert (second.status, second.body) == (200, b'"ok"')
    assert server.connections == 1


def test_requests_share_one_connection(serve, socket_path):
    server = serve(lambda request: response(200, b"{}"))
    client = UnixHttpClient(socket_path, timeout=5)
    for unused in range(5):
        client.request("GET", "/v4.0.0/libpod/containers/a/json")
    assert len(server.requests) == 5
    assert server.connections == 1


def test_get_is_sent_again_after_idle_close(serve, socket_path):
    server = serve(lambda request: response(200, b"{}"))
    server.close_after = True
    client = UnixHttpClient(socket_path, timeout=5)

    client.request("GET", "/v4.0.0/libpod/containers/a/json")
    time.sleep(0.1)
    status, unused_headers, unused_body = client.request("GET", "/v4.0.0/libpod/containers/b/json")

    assert status == 200
    assert [request.target for request in server.requests][-1] == "/v4.0.0/libpod/containers/b/json"


def test_connection_close_header_reopens(serve, socket_path):
    server = serve(lambda request: response(200, b"{}", extra="Connection: close\r\n"))
    server.close_after = True
    client = UnixHttpClient(socket_path, timeout=5)
    client.request("POST", "/v4.0.0/libpod/containers/a/mount")
    client.request("POST", "/v4.0.0/libpod/containers/a/mount")
    assert server.connections == 2


# ---------------------------------------------------------------------- broken responses

def test_early_close_with_content_length(serve, socket_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    server = serve(lambda request: head + b'{"Id": "a')
    server.close_after = True
    client = UnixHttpClient(socket_path, timeout=5)

    with pytest.raises(ApiConnectionError) as caught:
        client.request("GET", "/v4.0.0/libpod/containers/a/json")

    assert "closed the connection before the end of the response" in caught.value.msg
    assert socket_path in caught.value.msg
    assert "GET /v4.0.0/libpod/containers/a/json" in caught.value.msg


def test_early_close_in_chunked_file_body(serve, socket_path):
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    server = serve(lambda request: head + b"10000\r\n" + b"x" * 1000)
    server.close_after = True
    client = UnixHttpClient(socket_path, timeout=5)

    with pytest.raises(ApiConnectionError) as caught:
        client.request_to_file("POST", "/v4.0.0/libpod/containers/a/checkpoint", io.BytesIO())

    assert "closed the connection" in caught.value.msg


def test_close_without_response(serve, socket_path):
    server = serve(lambda request: b"")
    server.close_after = True
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("POST", "/v4.0.0/libpod/containers/a/mount")
    assert "closed the connection" in caught.value.msg


def test_slow_response_times_out(serve, socket_path):
    serve(lambda request: [1.5, response(200, b"{}")])
    client = UnixHttpClient(socket_path, timeout=0.3)
    started = time.monotonic()

    with pytest.raises(ApiConnectionError) as caught:
        client.request("GET", "/v4.0.0/libpod/containers/a/json")

    assert time.monotonic() - started < 1.4
    assert "Timed out after 0.3 seconds" in caught.value.msg
    assert socket_path in caught.value.msg
    assert "timeout option" in caught.value.msg


def test_slow_body_times_out_between_blocks(serve, socket_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n"
    serve(lambda request: [head + b"[", 1.5, b"1]"])
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=0.3).request("GET", "/v4.0.0/libpod/containers/json")
    assert "Timed out" in caught.value.msg


def test_long_request_waits_without_limit(serve, socket_path):
    serve(lambda request: [0.6, response(200, b'{"Id": "a"}')])
    client = UnixHttpClient(socket_path, timeout=0.2)
    status, unused_headers, unused_body = client.request(
        "POST", "/v4.0.0/libpod/containers/a/checkpoint", timeout=None)
    assert status == 200


def test_response_that_is_not_http(serve, socket_path):
    server = serve(lambda request: b"SSH-2.0-OpenSSH_9.2\r\n")
    server.close_after = True
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("GET", "/_ping")
    assert "not valid HTTP" in caught.value.msg


# ---------------------------------------------------------------------- error bodies

def test_error_body_message_in_api_error(serve, socket_path):
    body = {"cause": "no such container", "response": 404,
            "message": 'no container with name or ID "x" found: no such container'}
    serve(lambda request: response(404, json.dumps(body).encode()))
    status, unused_headers, data = UnixHttpClient(socket_path, timeout=5).request(
        "GET", "/v4.0.0/libpod/containers/x/json")

    error = ApiError.from_response("inspect container x", "GET", "/v4.0.0/libpod/containers/x/json",
                                   status, data.decode(), socket_path)

    assert error.msg == ('Failed to inspect container x: no container with name or ID "x" found: '
                         'no such container (HTTP 404, request: GET /v4.0.0/libpod/containers/x/json, '
                         'socket: %s)' % socket_path)
    assert error.cause == "no such container"
    assert error.details["status"] == 404
    assert error.details["request"] == "GET /v4.0.0/libpod/containers/x/json"


def test_error_body_with_trailing_document():
    # Podman 4.3's showmounted writes its partial result after the error document.
    body = ('{"cause":"no such container","message":"updating container 577e: no such container",'
            '"response":500}\n{"89fb": "/var/lib/containers/storage/overlay/4445/merged"}')
    error = ApiError.from_response("list mounted containers", "GET", "/x", 500, body, "/s")
    assert error.message == "updating container 577e: no such container"
    assert error.msg.startswith("Failed to list mounted containers: updating container 577e")


def test_error_body_that_is_plain_text():
    error = ApiError.from_response("read the version", "GET", "/libpod/version", 404,
                                   "Not Found\n", "/s")
    assert error.message == "Not Found"
    assert error.cause == ""
    assert "Failed to read the version: Not Found (HTTP 404" in error.msg


# ---------------------------------------------------------------------- connecting

def test_missing_socket_file(socket_path):
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("GET", "/_ping")
    assert caught.value.msg.startswith("Podman API socket %s does not exist." % socket_path)
    assert "podman system service" in caught.value.msg
    assert caught.value.details["socket"] == socket_path


def test_socket_path_is_a_regular_file(socket_path):
    with open(socket_path, "w") as handle:
        handle.write("not a socket")
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("GET", "/_ping")
    assert caught.value.msg.startswith("%s is not a unix socket" % socket_path)


def test_socket_without_listener_is_refused(socket_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(socket_path)
    stale.close()
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("GET", "/_ping")
    assert caught.value.msg.startswith("Connection refused on the Podman API socket %s" % socket_path)


def test_permission_denied(serve, socket_path, monkeypatch):
    serve(lambda request: response(200, b"OK", "text/plain"))

    def deny(connection):
        raise PermissionError(errno.EACCES, "Permission denied")

    # Root passes every permission check, so the refusal is simulated.
    monkeypatch.setattr(_api_client._UnixConnection, "connect", deny)
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=5).request("GET", "/_ping")
    assert caught.value.msg.startswith("Permission denied on the Podman API socket %s" % socket_path)
    assert "become" in caught.value.msg


def test_connect_timeout(serve, socket_path, monkeypatch):
    serve(lambda request: response(200, b"OK", "text/plain"))

    def hang(connection):
        raise socket.timeout("timed out")

    monkeypatch.setattr(_api_client._UnixConnection, "connect", hang)
    with pytest.raises(ApiConnectionError) as caught:
        UnixHttpClient(socket_path, timeout=2.5).request("GET", "/_ping")
    assert caught.value.msg.startswith(
        "Timed out after 2.5 seconds connecting to the Podman API socket %s" % socket_path)
