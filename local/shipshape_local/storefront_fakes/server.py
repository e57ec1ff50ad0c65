"""The fake storefronts' HTTP server: one real server on 127.0.0.1 (an ephemeral port) in
front of every fake store, under ``/{platform}/{quoted store}/...``. It routes each request
to its store, applies the fault rules, and records every request (times, method, path,
status, the fault it met)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, quote, unquote, urlsplit

from shipshape_local.storefront_fakes.bigcommerce import FakeBigCommerce
from shipshape_local.storefront_fakes.common import PLATFORMS, Answer, Clock, Json, Request, Store
from shipshape_local.storefront_fakes.faults import Fault, FaultRule
from shipshape_local.storefront_fakes.shopify import (
    FakeShopify,
    graphql_operation,
    graphql_throttled,
)
from shipshape_local.storefront_fakes.woocommerce import FakeWooCommerce


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. ``path`` is below the store's prefix, without the query;
    ``status`` is what it answered (0: dropped); ``answered`` whether the answer was written to
    the socket. An entry is recorded as its answer starts to leave (``answered_at``); a slow
    answer's when the request is processed, as not answered (it leaves after the client gave
    up). Times are ``time.monotonic``. Headers are not kept: they
    carry the credentials."""

    platform: str
    store: str
    method: str
    path: str
    query: str
    status: int
    received_at: float
    answered_at: float
    fault: str | None
    operation: str | None
    body: bytes
    answered: bool

    def json(self) -> Json:
        return json.loads(self.body)


_STORE_TYPES: dict[str, type[Store]] = {
    "shopify": FakeShopify,
    "woocommerce": FakeWooCommerce,
    "bigcommerce": FakeBigCommerce,
}


class FakeStorefronts:
    """The fake storefronts' HTTP server. ``credentials`` maps ``(platform, store)`` to the
    credential that store accepts (Shopify access token, WooCommerce ``key:secret``,
    BigCommerce access token); only those stores exist. ``clock`` stamps what the fake
    changes (default: now)."""

    def __init__(
        self,
        credentials: Mapping[tuple[str, str], str],
        *,
        clock: Clock | None = None,
    ) -> None:
        for platform, _ in credentials:
            if platform not in PLATFORMS:
                raise ValueError(f"the fake speaks {', '.join(PLATFORMS)}, not {platform!r}")
        self._credentials = dict(credentials)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._stores: dict[tuple[str, str], Store] = {}
        self._rules: list[FaultRule] = []
        self._log: list[RecordedRequest] = []
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def reset(
        self, credentials: Mapping[tuple[str, str], str], *, clock: Clock | None = None
    ) -> None:
        """Forget every store, fault and logged request, and serve ``credentials`` from now
        on: a fresh fake on the same server (starting and stopping one costs more than a
        test's whole set-up)."""
        with self._lock:
            self._credentials = dict(credentials)
            self._clock = clock or (lambda: datetime.now(UTC))
            self._stores.clear()
            self._rules.clear()
            self._log.clear()

    def admit(self, platform: str, store: str, credential: str) -> None:
        """Serve one more store (a client onboarded after the fake was reset), accepting
        ``credential``; the stores already served are kept."""
        if platform not in PLATFORMS:
            raise ValueError(f"the fake speaks {', '.join(PLATFORMS)}, not {platform!r}")
        with self._lock:
            self._credentials[platform, store] = credential
            self._stores.pop((platform, store), None)

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name="fake-storefronts",
        )  # fmt: skip
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # cuts slow answers short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The value for ``SHIPSHAPE_STOREFRONT_API_URL``."""
        if self._server is None:
            raise RuntimeError("the fake storefronts are not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def store_url(self, platform: str, store: str) -> str:
        return f"{self.url}/{platform}/{quote(store, safe='')}"

    # --- stores

    def shopify(self, shop_domain: str) -> FakeShopify:
        return self._store_of(FakeShopify, "shopify", shop_domain)

    def woocommerce(self, site: str) -> FakeWooCommerce:
        return self._store_of(FakeWooCommerce, "woocommerce", site)

    def bigcommerce(self, store_hash: str) -> FakeBigCommerce:
        return self._store_of(FakeBigCommerce, "bigcommerce", store_hash)

    def _store_of[S: Store](self, kind: type[S], platform: str, store: str) -> S:
        found = self._store(platform, store)
        if found is None:
            raise KeyError(
                f"no credential for {platform} store {store}: pass it to FakeStorefronts"
            )
        assert isinstance(found, kind)
        return found

    def _store(self, platform: str, store: str) -> Store | None:
        with self._lock:
            held = self._stores.get((platform, store))
            if held is None and (platform, store) in self._credentials:
                held = _STORE_TYPES[platform](
                    store, self._credentials[platform, store], self._clock
                )
                self._stores[platform, store] = held
            return held

    # --- faults and the log

    def inject(
        self,
        platform: str,
        store: str | None,
        fault: Fault,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        body_contains: str | None = None,
    ) -> None:
        """The next ``times`` requests to the store (None: any store of the platform) that
        match ``method``, ``path_contains`` and ``body_contains`` meet ``fault``."""
        with self._lock:
            self._rules.append(
                FaultRule(platform, store, fault, times, method, path_contains, body_contains)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def requests_to(
        self,
        platform: str | None = None,
        store: str | None = None,
        *,
        method: str | None = None,
        path_contains: str | None = None,
        operation: str | None = None,
    ) -> list[RecordedRequest]:
        """The recorded requests that match every filter given."""
        return [
            r
            for r in self.requests
            if platform in (None, r.platform)
            and store in (None, r.store)
            and method in (None, r.method)
            and (path_contains is None or path_contains in r.path)
            and operation in (None, r.operation)
        ]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- serving (called on the server's threads)

    def _serve(self, handler: _Handler, received: float, body: bytes) -> None:
        split = urlsplit(handler.path)
        parts = split.path.split("/", 3)
        platform = parts[1] if len(parts) > 1 else ""
        store = unquote(parts[2]) if len(parts) > 2 else ""
        held = self._store(platform, store) if platform in PLATFORMS else None
        if held is None:
            answer = Answer(404, {"errors": "Not Found"})
            self._finish(handler, answer, platform, store, split.path, split.query,
                         received, body, None, None)  # fmt: skip
            return
        request = Request(
            method=handler.command,
            path="/" + (parts[3] if len(parts) > 3 else ""),
            query=parse_qs(split.query, keep_blank_values=True),
            headers=handler.headers,
            body=body,
            base_url=f"http://{handler.headers.get('Host', '')}/{platform}/{parts[2]}",
        )
        operation = (
            graphql_operation(body) if platform == "shopify" and "graphql" in request.path else None
        )
        with self._lock:
            rule = next((r for r in self._rules if r.matches(platform, store, request)), None)
            if rule is not None:
                rule.remaining -= 1
        fault = rule.fault if rule is not None else None
        args = (platform, store, request.path, split.query, received, body, fault, operation)
        if fault is not None and fault.kind == "drop":
            handler.close_connection = True
            self._record(*args, status=0, answered=False, method=handler.command)
            return
        if fault is not None and fault.kind == "throttle":
            answer = held.throttled(fault)
        elif fault is not None and fault.kind == "server_error":
            answer = held.failed(fault.status)
        elif fault is not None and fault.kind == "graphql_throttled":
            answer = graphql_throttled(fault)
        else:
            with self._lock:
                answer = held.handle(request)
                if fault is not None and fault.action is not None:
                    fault.action()
            if fault is not None and fault.kind == "slow":
                # Recorded now, as processed: the answer leaves after the client gave up.
                self._record(*args, status=answer.status, answered=False, method=handler.command)
                self._closing.wait(fault.delay)
                self._finish(handler, answer, *args, record=False)
                return
        self._finish(handler, answer, *args)

    def _finish(
        self,
        handler: _Handler,
        answer: Answer,
        platform: str,
        store: str,
        path: str,
        query: str,
        received: float,
        body: bytes,
        fault: Fault | None,
        operation: str | None,
        *,
        record: bool = True,
    ) -> None:
        payload = answer.encoded()
        # Recorded before the answer leaves: once a client has its answer, the log has it too.
        entry = None
        if record:
            entry = self._record(
                platform, store, path, query, received, body, fault, operation,
                status=answer.status, answered=True, method=handler.command,
            )  # fmt: skip
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            if answer.status != 204:
                handler.send_header("Content-Type", "application/json; charset=utf-8")
                handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:  # the client gave up (a read timeout) and closed its end
            handler.close_connection = True
            if entry is not None:
                with self._lock:
                    where = self._log.index(entry)
                    self._log[where] = dataclasses.replace(entry, answered=False)

    def _record(
        self,
        platform: str,
        store: str,
        path: str,
        query: str,
        received: float,
        body: bytes,
        fault: Fault | None,
        operation: str | None,
        *,
        status: int,
        answered: bool,
        method: str = "",
    ) -> RecordedRequest:
        entry = RecordedRequest(
            platform=platform, store=store, method=method or "?", path=path, query=query,
            status=status, received_at=received, answered_at=time.monotonic(),
            fault=fault.kind if fault else None, operation=operation, body=body,
            answered=answered,
        )  # fmt: skip
        with self._lock:
            self._log.append(entry)
        return entry


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeStorefronts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _dispatch(self) -> None:
        received = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self.server.fake._serve(self, received, body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        return  # the request log is FakeStorefronts.requests
