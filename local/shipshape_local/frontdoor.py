"""A small HTTP server on 127.0.0.1 that turns requests into API Gateway events for the real
handlers (through ``EmbeddedRuntime.http``), so curl and browsers can use the embedded stack.

As at API Gateway's edge, no client gets unbounded time or threads: a connection has
``read_timeout`` seconds to deliver each whole request (line, headers and body, however slowly
the bytes come) and as long to take its answer, or it is dropped; and at most
``max_connections`` are open at once. A connection that finds them all taken drops the one
that has waited longest for its request, so a flood of slow clients cannot keep a prompt one
out; if every one is busy with a request, it waits in the listen backlog for a thread.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from shipshape_local.runtime import API_BODY_LIMIT, EmbeddedRuntime, HttpResponse

# Long enough for any storefront, warehouse or browser on a working network to send a request
# (a 10 MB body needs only about 3 Mbit/s); API Gateway stops waiting for an integration after
# 30 seconds too (its "Maximum integration timeout" quota for HTTP APIs).
READ_TIMEOUT = 30.0
# Above a storefront's webhook burst and a few browsers' six connections each; far below the
# hundreds of threads a flood of slow connections used to hold.
MAX_CONNECTIONS = 64


class _RequestReader(io.RawIOBase):
    """A connection's incoming bytes, each read given only what is left of the time allowed
    for the request being read: a client sending a byte at a time cannot reset the clock."""

    def __init__(self, connection: socket.socket, seconds: float) -> None:
        self._connection = connection
        self._seconds = seconds
        self.started = time.monotonic()
        self._cut = False

    def restart(self) -> None:
        self.started = time.monotonic()

    def cut(self) -> None:
        """End the wait now, as if the time had run out (a newer connection needs the room)."""
        self._cut = True
        with contextlib.suppress(OSError):  # it may have just closed itself
            self._connection.shutdown(socket.SHUT_RDWR)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.started + self._seconds - time.monotonic()
        if left <= 0 or self._cut:
            raise TimeoutError("the request did not arrive in time")
        self._connection.settimeout(left)
        received = self._connection.recv_into(buffer)
        if self._cut:  # woken by the cut, not by the client: never serve half a request
            raise TimeoutError("the request did not arrive in time")
        return received


def _joined(headers: Any) -> dict[str, str]:
    """The request's headers as API Gateway's payload 2.0 gives them: a header sent more than
    once is one value, its values joined with commas (never only the last one)."""
    values: dict[str, list[str]] = {}
    for name, value in headers.items():
        values.setdefault(name.lower(), []).append(value)
    return {name: ",".join(parts) for name, parts in values.items()}


def _handler_for(runtime: EmbeddedRuntime) -> type[BaseHTTPRequestHandler]:
    class FrontDoor(BaseHTTPRequestHandler):
        server_version = "shipshape-embedded"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small answers go out at once, not 40 ms later

        def setup(self) -> None:
            super().setup()
            self.door = cast("_Server", self.server)
            self.reader = self.door.reader_of(self.connection)
            self.rfile.close()
            self.rfile = io.BufferedReader(self.reader)

        def handle_one_request(self) -> None:
            # The clock starts when the server waits for a request, so an idle kept-alive
            # connection is closed after the same time. A TimeoutError while reading ends
            # the connection (http.server catches it and closes).
            self.reader.restart()
            self.door.waiting(self.reader)
            try:
                super().handle_one_request()
            finally:
                self.door.not_waiting(self.reader)

        def _serve(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0 or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                # API Gateway needs a body's length up front; close, as the body is unread.
                self.close_connection = True
                self._answer(
                    HttpResponse(
                        400,
                        {},
                        b'{"message":"Bad Request: the body needs a '
                        b'Content-Length (a whole number of bytes)"}',
                    )
                )
                return
            if length > API_BODY_LIMIT:
                self.close_connection = True
                self._answer(HttpResponse(413, {}, b'{"message":"Request Entity Too Large"}'))
                return
            body = self.rfile.read(length) if length else b""
            if not self.door.not_waiting(self.reader):
                # Dropped for a newer connection just as the request arrived: its answer
                # could not be sent, so it is not served either.
                self.close_connection = True
                return
            self._answer(
                runtime.http(self.command, self.path, headers=_joined(self.headers), body=body)
            )

        def _answer(self, response: HttpResponse) -> None:
            # A client that will not take its answer is dropped after the same time.
            self.connection.settimeout(self.door.read_timeout)
            self.send_response(response.status)
            if "content-type" not in response.headers:
                self.send_header("Content-Type", "application/json")
            for name, value in response.headers.items():
                if name not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":  # HEAD gets the headers a GET would, and no body
                self.wfile.write(response.body)

        # Every method HTTP defines goes to the routes, which answer what none of them serves
        # (HEAD, OPTIONS, TRACE, CONNECT here) with API Gateway's JSON 404.
        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
        do_OPTIONS = do_TRACE = do_CONNECT = _serve

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            # http.server's own refusals (a method HTTP does not define, a malformed request
            # line, headers too long) in API Gateway's JSON shape rather than an HTML page.
            # The reason phrase only: http.server's detail would echo what the client sent.
            if self.request_version == "HTTP/0.9":  # unparsed: answer with a status line
                self.request_version = self.protocol_version
            self.close_connection = True
            phrase = self.responses.get(code, ("Error",))[0]
            body = json.dumps({"message": phrase}, separators=(",", ":")).encode()
            self._answer(HttpResponse(code, {}, body))

        def log_message(self, format: str, *args: object) -> None:
            pass  # the handlers log structured lines of their own

    return FrontDoor


class _Server(ThreadingHTTPServer):
    # Storefronts deliver in bursts: the default backlog of 5 reset connections beyond it.
    request_queue_size = 128
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        read_timeout: float,
        max_connections: int,
    ) -> None:
        self.read_timeout = read_timeout
        self.closing = threading.Event()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._lock = threading.Lock()
        self._open: dict[socket.socket, _RequestReader] = {}
        self._waiting: set[_RequestReader] = set()  # open, and waiting for a request
        super().__init__(address, handler)

    def reader_of(self, connection: socket.socket) -> _RequestReader:
        with self._lock:
            return self._open[connection]

    def waiting(self, reader: _RequestReader) -> None:
        with self._lock:
            self._waiting.add(reader)

    def not_waiting(self, reader: _RequestReader) -> bool:
        """Mark the connection busy with a request; False if it was dropped meanwhile."""
        with self._lock:
            was_waiting = reader in self._waiting
            self._waiting.discard(reader)
            return was_waiting

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            made_room = self._make_room()
            # Every connection busy with a request: accepting waits for one to end (each
            # ends within its read timeout); meanwhile new ones queue in the listen backlog.
            while not self._slots.acquire(timeout=0.1):
                if self.closing.is_set():
                    self.shutdown_request(request)
                    return
                made_room = made_room or self._make_room()
        reader = _RequestReader(request, self.read_timeout)
        with self._lock:
            self._open[request] = reader
            self._waiting.add(reader)  # from the moment it is accepted
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)  # no thread was started to release it
            raise

    def _make_room(self) -> bool:
        """Drop the connection that has waited longest for a request: a slow or idle one, as
        a working client sends its request as soon as it connects."""
        with self._lock:
            oldest = min(self._waiting, key=lambda reader: reader.started, default=None)
            if oldest is None:
                return False
            self._waiting.discard(oldest)
        oldest.cut()
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: socket.socket) -> None:
        with self._lock:
            reader = self._open.pop(request, None)
            if reader is not None:
                self._waiting.discard(reader)
        self._slots.release()

    def close_connections(self) -> None:
        """Hang up on every connection still open, so none outlives the server."""
        with self._lock:
            still_open = list(self._open.values())
        for reader in still_open:
            reader.cut()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-answer (a refused upload, a closed browser tab)
        super().handle_error(request, client_address)


class FrontDoorServer:
    def __init__(
        self,
        runtime: EmbeddedRuntime,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        read_timeout: float = READ_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        if read_timeout <= 0 or max_connections < 1:
            raise ValueError("read_timeout must be positive and max_connections at least 1")
        self.httpd = _Server((host, port), _handler_for(runtime), read_timeout, max_connections)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FrontDoorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.closing.set()
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
