"""The front door (`shipshape serve`) over real sockets on 127.0.0.1, as API Gateway's edge:
slow and idle clients are dropped after a bounded time, a flood of connections holds a
bounded number of threads, methods no route serves get API Gateway's JSON answer rather than
an HTML page, and what the ops API answers is never kept by a browser or a proxy.

Run with ``-s`` to see the figures (connections opened, when they were dropped, threads held).
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, deliver

# The embedded handlers publish no business metric on most calls; on Lambda that is a log line.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

READ_TIMEOUT = 0.5  # seconds; the default is realistic, tests use a short one to stay fast
GIVE_UP = 5.0  # a client waits this long for the server to drop it before calling it held
NOT_FOUND = {"message": "Not Found"}  # API Gateway's answer when no route matches
HSTS = re.compile(r"^max-age=(\d+); includeSubDomains$")
ASSET = re.compile(r'"dashboard/assets/(app\.js)\?v=([0-9a-f]{16})"')


# --- the stack and its front door ------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))) as rt:
        yield rt
        assert rt.integration_errors == [], "a handler crashed:\n" + "\n".join(
            rt.integration_errors
        )


@pytest.fixture
def door_for(stack: EmbeddedRuntime) -> Iterator[Callable[..., FrontDoorServer]]:
    started: list[FrontDoorServer] = []

    def start(**settings: Any) -> FrontDoorServer:
        door = FrontDoorServer(stack, **settings).start()
        started.append(door)
        return door

    yield start
    for door in started:
        door.stop()


def _address(door: FrontDoorServer) -> tuple[str, int]:
    host, port = door.httpd.server_address[:2]
    return str(host), int(port)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _ask(
    door: FrontDoorServer,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Answer:
    conn = connection or http.client.HTTPConnection(*_address(door), timeout=GIVE_UP)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        if connection is None:
            conn.close()


# --- slow clients ------------------------------------------------------------------------------


@dataclass
class SlowClient:
    """A client that sends its request a byte at a time and notes when the server hangs up."""

    name: str
    payload: bytes  # what it trickles; never a whole request
    gap: float = 0.05  # seconds between bytes: far less than any per-read timeout
    dropped_after: float | None = None  # seconds from connect to the server closing
    received: bytes = b""

    def run(self, address: tuple[str, int]) -> None:
        with socket.create_connection(address, timeout=GIVE_UP) as sock:
            opened = time.monotonic()
            sent = 0
            while time.monotonic() - opened < GIVE_UP:  # bounded in time ...
                if sent < len(self.payload):  # ... and in bytes
                    try:
                        sock.sendall(self.payload[sent : sent + 1])
                    except OSError:
                        self.dropped_after = time.monotonic() - opened
                        return
                    sent += 1
                readable, _, _ = select.select([sock], [], [], self.gap)
                if readable:
                    try:
                        chunk = sock.recv(4096)
                    except OSError:  # reset rather than closed: dropped all the same
                        chunk = b""
                    if not chunk:
                        self.dropped_after = time.monotonic() - opened
                        return
                    self.received += chunk


def _partial_request_line() -> bytes:
    return b"GET /dashboard/assets/" + b"a" * 200


def _endless_headers() -> bytes:
    return b"GET /dashboard HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 200


def _unfinished_body() -> bytes:
    head = b"POST /webhooks/shopify/acme-outdoors HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    return head + b"Content-Length: 1000\r\nContent-Type: application/json\r\n\r\n" + b"{" * 200


def _run_all(clients: list[SlowClient], address: tuple[str, int]) -> list[threading.Thread]:
    threads = [threading.Thread(target=c.run, args=(address,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    return threads


def _connection_threads() -> int:
    # ThreadingHTTPServer names each connection's thread after its target.
    return sum(1 for t in threading.enumerate() if t.name.endswith("(process_request_thread)"))


def test_a_slow_or_idle_client_is_dropped_in_bounded_time_while_others_are_served(
    door_for: Callable[..., FrontDoorServer],
) -> None:
    # Given the front door with a short read timeout, and clients that never finish a
    # request: one trickling its request line, one its headers, one its body, one silent,
    # each byte well inside any per-read timeout
    door = door_for(read_timeout=READ_TIMEOUT, max_connections=8)
    slow = [
        SlowClient("request line", _partial_request_line()),
        SlowClient("headers", _endless_headers()),
        SlowClient("body", _unfinished_body()),
        SlowClient("idle", b""),
    ]
    threads = _run_all(slow, _address(door))

    # When a normal client asks for the dashboard while they hold their connections
    time.sleep(READ_TIMEOUT / 5)
    started = time.monotonic()
    page = _ask(door, "GET", "/dashboard")
    served_in = time.monotonic() - started
    for thread in threads:
        thread.join(GIVE_UP + 1)

    # Then it is served at once, and each slow client is hung up on, with nothing sent,
    # once its time to send a whole request has run out (not before, not much after)
    figures = {c.name: c.dropped_after and round(c.dropped_after, 2) for c in slow}
    print(f"\nserved in {served_in:.3f}s while slow clients were dropped after {figures}")
    assert page.status == 200 and served_in < READ_TIMEOUT
    held = [c.name for c in slow if c.dropped_after is None]
    assert not held, f"still connected after {GIVE_UP}s: {held}"
    for client in slow:
        assert client.dropped_after is not None
        assert READ_TIMEOUT * 0.8 <= client.dropped_after <= READ_TIMEOUT + 1.0, client
        assert client.received == b"", client


def test_an_idle_kept_alive_connection_is_closed_after_the_read_timeout(
    door_for: Callable[..., FrontDoorServer],
) -> None:
    # Given a client that kept its connection open after an answer (HTTP/1.1 keep-alive)
    door = door_for(read_timeout=READ_TIMEOUT)
    conn = http.client.HTTPConnection(*_address(door), timeout=GIVE_UP)
    first = _ask(door, "GET", "/dashboard", connection=conn)
    assert first.status == 200 and conn.sock is not None
    sock = conn.sock

    # When it sends nothing more
    opened = time.monotonic()
    readable, _, _ = select.select([sock], [], [], GIVE_UP)
    waited = time.monotonic() - opened
    closed = bool(readable) and sock.recv(1) == b""
    conn.close()

    # Then the server closes it once the read timeout has passed
    print(f"\nidle kept-alive connection: closed={closed} after {waited:.3f}s")
    assert closed, f"the connection was still open after {GIVE_UP}s"
    assert waited <= READ_TIMEOUT + 1.0


def test_a_flood_of_slow_connections_holds_few_threads_and_a_normal_client_is_served(
    door_for: Callable[..., FrontDoorServer],
) -> None:
    # Given the front door allowed four connections at once, and twelve slow clients
    cap, flood = 4, 12
    door = door_for(read_timeout=READ_TIMEOUT, max_connections=cap)
    baseline = _connection_threads()
    slow = [SlowClient(f"slow-{n}", _endless_headers()) for n in range(flood)]

    # When they all connect at once, and a normal client asks for a page during the flood
    threads = _run_all(slow, _address(door))
    time.sleep(READ_TIMEOUT / 5)
    answered: list[tuple[Answer, float]] = []

    def ask() -> None:
        asked = time.monotonic()
        answer = _ask(door, "GET", "/dashboard")
        answered.append((answer, time.monotonic() - asked))

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    peak = 0
    ends = time.monotonic() + GIVE_UP
    while time.monotonic() < ends and any(t.is_alive() for t in [asker, *threads]):
        peak = max(peak, _connection_threads() - baseline)
        time.sleep(0.01)

    # Then the process never holds more connection threads than allowed, every slow client
    # is dropped in bounded time, and the normal client is answered without waiting for a
    # slow one to run out of time
    drops = sorted(c.dropped_after for c in slow if c.dropped_after is not None)
    span = f"{drops[0]:.2f}-{drops[-1]:.2f}s" if drops else "never"
    waited = f"{answered[0][1]:.3f}s" if answered else "no answer"
    print(f"\n{flood} slow connections, cap {cap}: peak {peak} connection threads, slow ones")
    print(f"dropped after {span}; the normal client was answered in {waited}")
    assert peak <= cap, f"{peak} connection threads for {flood} slow clients (cap {cap})"
    assert len(drops) == flood, f"{flood - len(drops)} slow clients were never dropped"
    assert all(d <= READ_TIMEOUT + 1.0 for d in drops), drops
    assert answered, f"the normal client had no answer after {GIVE_UP}s"
    answer, served_in = answered[0]
    assert answer.status == 200 and served_in < READ_TIMEOUT / 2, (answer.status, served_in)


# --- methods no route serves -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "TRACE"])
def test_a_method_no_route_serves_gets_api_gateways_json_not_found(
    door_for: Callable[..., FrontDoorServer], method: str
) -> None:
    # Given the front door; GET /dashboard is a route, other methods on it are not
    door = door_for()
    conn = http.client.HTTPConnection(*_address(door), timeout=GIVE_UP)

    # When a client sends that method, then a GET on the same connection
    answer = _ask(door, method, "/dashboard", connection=conn)
    after = _ask(door, "GET", "/dashboard", connection=conn)
    conn.close()

    # Then it gets API Gateway's JSON 404 (for HEAD: its headers only), never an HTML page,
    # and the connection is still good for the next request
    assert answer.status == 404, answer
    assert answer.headers["content-type"] == "application/json"
    if method == "HEAD":
        assert answer.body == b""
        assert int(answer.headers["content-length"]) == len(
            json.dumps(NOT_FOUND, separators=(",", ":"))
        )
    else:
        assert answer.json() == NOT_FOUND
    assert after.status == 200


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"BREW /dashboard HTTP/1.1", 501),  # a method HTTP does not define
        (b"GET /dashboard HTTP/9.9", 505),
        (b"GET /dashboard HTTP/1.1 and more", 400),
    ],
)
def test_a_request_http_cannot_parse_gets_a_json_refusal(
    door_for: Callable[..., FrontDoorServer], request_line: bytes, status: int
) -> None:
    # Given the front door
    door = door_for()

    # When a client sends a request line that is not HTTP as Shipshape serves it
    with socket.create_connection(_address(door), timeout=GIVE_UP) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        raw = b""
        while chunk := sock.recv(4096):
            raw += chunk
            if len(raw) > 65536:
                break

    # Then it gets a JSON refusal with the status's reason and no echo of what it sent,
    # and the connection is closed
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == str(status).encode(), raw
    assert b"content-type: application/json" in head.lower(), raw
    assert b"connection: close" in head.lower(), raw
    message = json.loads(body)["message"]
    assert message == http.client.responses[status]


# --- caching of what the ops API answers -------------------------------------------------------


@pytest.fixture(scope="module")
def picked_order(stack: EmbeddedRuntime) -> str:
    """An order waiting for its pick scans, its pick list sent to the warehouse."""
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    acme = ShopifyStore(
        "acme-outdoors",
        "acme-outdoors.myshopify.com",
        stack.secret("shipshape/acme-outdoors/shopify-webhook"),
    )
    accepted = deliver(stack, acme.deliver("orders/paid", paid_shopify_order(acme, clock)))
    assert accepted.status == 202, accepted.body
    order_id = str(accepted.json()["order_id"])

    def awaiting_pick() -> bool:
        view = stack.http("GET", f"/orders/{order_id}", headers=LEAD).json()
        return bool(view.get("status") == "AWAITING_PICK")

    assert stack.wait_for(awaiting_pick, timeout=30)
    return order_id


def test_no_ops_api_answer_may_be_stored_whatever_it_says(
    door_for: Callable[..., FrontDoorServer], picked_order: str
) -> None:
    # Given an order with its trail and pick list (customer name and address among them)
    door = door_for()
    order = f"/orders/{picked_order}"
    nordlicht = dev_bearer("nils.operator")

    # When an operator's browser reads what the ops API serves, and makes the mistakes a
    # browser can make: another client's order, an order or document that does not exist,
    # a query without its client, a claim on no exception
    served = {
        "order": _ask(door, "GET", order, LEAD),
        "audit trail": _ask(door, "GET", f"{order}/audit", LEAD),
        "pick list": _ask(door, "GET", f"{order}/documents/pick-list-1", LEAD),
        "exceptions": _ask(door, "GET", "/exceptions?client=acme-outdoors", LEAD),
        "metrics": _ask(door, "GET", "/metrics?client=acme-outdoors", LEAD),
        "checklist": _ask(door, "GET", "/checklist?client=acme-outdoors", LEAD),
        "me": _ask(door, "GET", "/me", LEAD),
    }
    refused = {
        "another client's order": _ask(door, "GET", order, nordlicht),
        "no such order": _ask(door, "GET", "/orders/ORD-00000000000000000000000000", LEAD),
        "no such document": _ask(door, "GET", f"{order}/documents/pick-list-9", LEAD),
        "metrics without client": _ask(door, "GET", "/metrics", LEAD),
        "claim of nothing": _ask(door, "POST", "/exceptions/EXC-nothing/claim", LEAD),
    }

    # Then every answer, data or refusal, tells browsers and proxies not to keep it
    assert {n: a.status for n, a in served.items()} == dict.fromkeys(served, 200)
    assert all(400 <= a.status < 500 for a in refused.values()), refused
    asked = {**served, **refused}
    kept = {name: a.headers.get("cache-control") for name, a in asked.items()}
    assert kept == dict.fromkeys(asked, "no-store"), kept


def test_the_dashboard_asks_for_https_and_keeps_its_own_caching(
    door_for: Callable[..., FrontDoorServer],
) -> None:
    # Given the front door serving the dashboard
    door = door_for()

    # When a browser loads the page, a pinned asset, and the same asset unpinned
    page = _ask(door, "GET", "/dashboard")
    pinned = ASSET.search(page.body.decode())
    assert pinned, "the page names no pinned app.js"
    name, version = pinned.groups()
    asset = _ask(door, "GET", f"/dashboard/assets/{name}?v={version}")
    unpinned = _ask(door, "GET", f"/dashboard/assets/{name}")

    # Then each tells the browser to use HTTPS only for a year or more, and each keeps the
    # caching the dashboard chose for it: the page revalidated, pinned assets kept for good
    for answer in (page, asset, unpinned):
        assert answer.status == 200
        policy = HSTS.match(answer.headers.get("strict-transport-security", ""))
        assert policy and int(policy.group(1)) >= 31_536_000, answer.headers
    assert page.headers["cache-control"] == "no-cache"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert unpinned.headers["cache-control"] == "public, max-age=300"


def test_a_header_sent_twice_reaches_the_handler_as_api_gateway_joins_it(
    door_for: Callable[..., FrontDoorServer], stack: EmbeddedRuntime
) -> None:
    # Given a genuinely signed Shopify delivery, whose signature header is sent twice: a
    # forged value first, then the genuine one
    door = door_for()
    acme = ShopifyStore(
        "acme-outdoors", "acme-outdoors.myshopify.com",
        stack.secret("shipshape/acme-outdoors/shopify-webhook"),
    )  # fmt: skip
    clock = ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock, 5_600_777))
    genuine = delivery.headers["X-Shopify-Hmac-Sha256"]
    headers = [(k, v) for k, v in delivery.headers.items() if k != "X-Shopify-Hmac-Sha256"]
    conn = http.client.HTTPConnection(*_address(door), timeout=GIVE_UP)
    try:
        conn.putrequest("POST", delivery.path)
        for name, value in [*headers, ("X-Shopify-Hmac-Sha256", "Zm9yZ2Vk"),
                            ("X-Shopify-Hmac-Sha256", genuine),
                            ("Content-Length", str(len(delivery.body)))]:  # fmt: skip
            conn.putheader(name, value)
        conn.endheaders(delivery.body)
        answer = conn.getresponse()
        status, body = answer.status, json.loads(answer.read())
    finally:
        conn.close()

    # Then the handler sees "forged,genuine" (API Gateway's payload 2.0 joins repeated
    # headers with commas), not the last value alone, and refuses it as AWS would
    assert status == 401, body
    assert body["error"] == "SignatureInvalid"
