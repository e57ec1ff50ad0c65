"""A small HTTP server on 127.0.0.1 that turns requests into API Gateway events for the real
handlers (through ``EmbeddedRuntime.http``), so curl and browsers can use the embedded stack."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shipshape_local.runtime import API_BODY_LIMIT, EmbeddedRuntime


def _handler_for(runtime: EmbeddedRuntime) -> type[BaseHTTPRequestHandler]:
    class FrontDoor(BaseHTTPRequestHandler):
        server_version = "shipshape-embedded"
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > API_BODY_LIMIT:
                self.send_error(413, "Request Entity Too Large")
                return
            body = self.rfile.read(length) if length else b""
            response = runtime.http(
                self.command, self.path, headers=dict(self.headers.items()), body=body
            )
            self.send_response(response.status)
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


class FrontDoorServer:
    def __init__(self, runtime: EmbeddedRuntime, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(runtime))
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
