"""A small HTTP server on 127.0.0.1 that turns requests into API Gateway events for the real
handlers (through ``EmbeddedRuntime.http``), so curl and browsers can use the embedded stack."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shipshape_local.runtime import API_BODY_LIMIT, EmbeddedRuntime, HttpResponse


def _handler_for(runtime: EmbeddedRuntime) -> type[BaseHTTPRequestHandler]:
    class FrontDoor(BaseHTTPRequestHandler):
        server_version = "shipshape-embedded"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small answers go out at once, not 40 ms later

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
            self._answer(
                runtime.http(self.command, self.path, headers=dict(self.headers.items()), body=body)
            )

        def _answer(self, response: HttpResponse) -> None:
            self.send_response(response.status)
            if "content-type" not in response.headers:
                self.send_header("Content-Type", "application/json")
            for name, value in response.headers.items():
                if name not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # the handlers log structured lines of their own

    return FrontDoor


class _Server(ThreadingHTTPServer):
    # Storefronts deliver in bursts: the default backlog of 5 reset connections beyond it.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-answer (a refused upload, a closed browser tab)
        super().handle_error(request, client_address)


class FrontDoorServer:
    def __init__(self, runtime: EmbeddedRuntime, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = _Server((host, port), _handler_for(runtime))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FrontDoorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
