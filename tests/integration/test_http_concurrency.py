"""Concurrency over real HTTP: `shipshape serve` runs as its own process, and many client
threads, released together by a barrier, send it the same webhook, claim the same exception
and race orders for the last units of a SKU. The answers, the audit trail and the order views
(all read over HTTP) must show one winner where there can be only one.

Run with ``-s`` to see the figures of each scenario (requests sent, answers, effects).
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipshape_local.issuer import CLIENT_ID, dev_operators
from shipshape_local.login import login
from shipshape_local.runtime import DEV_SECRETS
from shipshape_local.storefronts import Delivery, Line, Person, PostalAddress, ShopifyStore

SHIPSHAPE = [sys.executable, "-m", "shipshape_local.cli"]
CLIENT = "acme-outdoors"
SECRETS = tomllib.loads(DEV_SECRETS.read_text())["secrets"]
WEBHOOK_SECRET = SECRETS["shipshape/acme-outdoors/shopify-webhook"]
WAREHOUSE_TOKEN = SECRETS["shipshape/acme-outdoors/warehouse-token"]
LEAD = "olivia.lead"
# Everyone in dev-secrets.toml who may act on Acme's exceptions (the viewer may only read).
CLAIMANTS = ("olivia.lead", "hana.lead", "omar.operator")
JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
PORTLAND = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
TENT = Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00")

THREADS = 32
WAIT_SECONDS = 30.0
BACKLOG_BUG = (
    "connections got no HTTP answer at all (reset or refused). The front door "
    "(local/shipshape_local/frontdoor.py) serves with http.server.ThreadingHTTPServer, whose "
    "listen backlog is socketserver's default request_queue_size = 5: while the server is busy "
    "(its accept loop shares one interpreter with the handler threads), a burst of "
    "simultaneous connections overflows the accept queue and the kernel drops or resets them"
)


# --- the server, as a user starts it -------------------------------------------------------


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str]  # user name -> an ID token the server's own user pool signed

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _send(
    base: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
        base + path, data=body, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return Answer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, json.loads(refused.read() or b"{}"))


def _sign_in(base: str, username: str) -> str:
    def unexpected(challenge: str) -> Callable[[], str]:
        def answer() -> str:
            raise AssertionError(f"{username} was asked for {challenge}")

        return answer

    session = login(
        endpoint=f"{base}/cognito-idp", region="us-east-1", client_id=CLIENT_ID,
        username=username, password=dev_operators()[username].password,
        new_password=unexpected("a new password"), mfa_code=unexpected("a code"),
    )  # fmt: skip
    return session.id_token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    # The handlers log a JSON line per invocation: a file, not a pipe nobody drains.
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            [*SHIPSHAPE, "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    running = Server(f"http://127.0.0.1:{port}", process, log, {})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"shipshape serve exited:\n{running.tail()}"
            assert time.monotonic() < deadline, f"shipshape serve never answered:\n{running.tail()}"
            try:
                # The operators sign in as `shipshape login` does, on the server's user pool.
                running.tokens = {name: _sign_in(running.base, name) for name in CLAIMANTS}
                probe = _send(
                    running.base, "GET", "/orders/ord_aaaaaaaaaaaaaaaaaaaa", running.bearer(LEAD)
                )
            except OSError:
                time.sleep(0.2)
                continue
            assert (probe.status, probe.body.get("error")) == (404, "OrderNotFound"), probe
            break
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, Any]] = {}
    yield found
    print("\n\n=== concurrency over HTTP against `shipshape serve` ===")
    for scenario, numbers in found.items():
        print(f"- {scenario}")
        for name, value in numbers.items():
            print(f"    {name}: {value}")


# --- clients: storefront, warehouse, operators ---------------------------------------------


_ORDER_IDS = itertools.count(int(time.time()) % 1_000_000 * 1000)


def _store() -> ShopifyStore:
    return ShopifyStore(CLIENT, "acme-outdoors.myshopify.com", WEBHOOK_SECRET)


def _paid_order(
    store: ShopifyStore, lines: list[Line], address: PostalAddress = PORTLAND
) -> Delivery:
    now = datetime.now(UTC)
    order_id = 6_000_000_000 + next(_ORDER_IDS)
    payload = store.order(
        order_id, order_id % 100_000, lines=lines, person=JANE, address=address,
        created_at=now, updated_at=now, financial_status="paid",
    )  # fmt: skip
    return store.deliver("orders/paid", payload)


@dataclass
class Burst:
    """What came back from requests released together: answers, and connections that got none."""

    by_request: dict[int, Answer] = field(default_factory=dict)  # request index -> answer
    dropped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def answers(self) -> list[Answer]:
        return [self.by_request[i] for i in sorted(self.by_request)]

    def outcomes(self, key: str) -> Counter[str]:
        return Counter(f"{a.status} {a.body.get(key)}" for a in self.answers)


def _burst(base: str, requests: list[tuple[str, str, dict[str, str], bytes | None]]) -> Burst:
    """Send every request from its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(requests))
    lock = threading.Lock()
    burst = Burst()

    def one(
        index: int, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> None:
        barrier.wait()
        try:
            answer = _send(base, method, path, headers, body)
        except OSError as exc:  # no HTTP answer at all: the connection was reset or refused
            with lock:
                burst.dropped.append(type(exc).__name__)
            return
        with lock:
            burst.by_request[index] = answer

    threads = [
        threading.Thread(target=one, args=(i, *request)) for i, request in enumerate(requests)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    burst.seconds = round(time.monotonic() - started, 2)
    return burst


def _webhook(delivery: Delivery) -> tuple[str, str, dict[str, str], bytes | None]:
    return ("POST", delivery.path, delivery.headers, delivery.body)


def _warehouse(server: Server, event: dict[str, Any]) -> Answer:
    headers = {"Authorization": f"Bearer {WAREHOUSE_TOKEN}", "Content-Type": "application/json"}
    return _send(
        server.base, "POST", f"/warehouse/{CLIENT}/events", headers, json.dumps(event).encode()
    )


def _order(server: Server, order_id: str) -> dict[str, Any]:
    answer = _send(server.base, "GET", f"/orders/{order_id}", server.bearer(LEAD))
    assert answer.status == 200, answer
    return answer.body


def _audit(server: Server, order_id: str) -> list[dict[str, Any]]:
    answer = _send(server.base, "GET", f"/orders/{order_id}/audit", server.bearer(LEAD))
    assert answer.status == 200, answer
    return list(answer.body["events"])


def _wait_for(
    server: Server, what: str, read: Callable[[], Any], done: Callable[[Any], bool]
) -> Any:
    """Poll ``read`` until ``done`` holds for what it read; fail with the last reading."""
    deadline = time.monotonic() + WAIT_SECONDS
    seen = read()
    while not done(seen):
        assert time.monotonic() < deadline, f"timed out waiting for {what}; last seen: {seen}"
        assert server.process.poll() is None, f"shipshape serve died:\n{server.tail()}"
        time.sleep(0.1)
        seen = read()
    return seen


def _no_dropped_connections(burst: Burst, sent: int) -> None:
    assert not burst.dropped, (
        f"{len(burst.dropped)} of {sent} {BACKLOG_BUG}: {Counter(burst.dropped)}"
    )


# --- 1. the same webhook, many times at once ------------------------------------------------


def test_one_webhook_delivered_by_many_threads_at_once_creates_one_order(
    server: Server, figures: dict[str, dict[str, Any]]
) -> None:
    # Given one signed Shopify orders/paid delivery
    delivery = _paid_order(_store(), [TENT])

    # When THREADS clients send exactly those bytes at the same moment
    burst = _burst(server.base, [_webhook(delivery)] * THREADS)
    order_ids = {a.body.get("order_id") for a in burst.answers}
    order_id = str(next(iter(order_ids)))
    view = _wait_for(
        server, f"{order_id} to wait for its pick",
        lambda: _order(server, order_id), lambda v: v["status"] == "AWAITING_PICK",
    )  # fmt: skip
    actions = [event["action"] for event in _audit(server, order_id)]
    figures["same signed webhook x threads"] = {
        "threads / requests sent": f"{THREADS} / {THREADS}",
        "answers": dict(burst.outcomes("outcome")),
        "connections with no answer": len(burst.dropped),
        "burst seconds": burst.seconds,
        "orders": len(order_ids),
        "audit actions": dict(Counter(actions)),
        "reserved units": sum(a["quantity"] for a in view["reservation"]),
    }

    # Then one answer says created (202), every other says duplicate (200), all of one order
    assert burst.outcomes("outcome")["202 created"] == 1, burst.answers
    assert all(
        (a.status, a.body["outcome"]) == (200, "duplicate") for a in burst.answers
        if a.body.get("outcome") != "created"
    ), burst.answers  # fmt: skip
    assert len(order_ids) == 1, order_ids
    # and one order was recorded and went through one execution: every step once, one
    # reservation of one unit, one pick list
    assert actions.count("order_received") == 1, actions
    repeated = {action: n for action, n in Counter(actions).items() if n > 1}
    assert repeated == {}, f"steps recorded more than once (a second execution?): {actions}"
    assert actions[0] == "order_received" and actions[-1] == "pick_requested", actions
    assert "inventory_reserved" in actions, actions
    assert sum(a["quantity"] for a in view["reservation"]) == 1, view["reservation"]
    assert view["documents"] == ["pick-list-1"], view["documents"]
    # and every one of the simultaneous connections was answered
    _no_dropped_connections(burst, THREADS)


# --- 2. one exception, many claimants at once -----------------------------------------------


def _said(answer: Answer) -> str:
    """A claim's answer in short: the claim's status when it succeeded, else the error."""
    return f"{answer.status} {answer.body.get('status' if answer.status == 200 else 'error')}"


def test_many_operators_claim_one_exception_at_once_and_exactly_one_wins(
    server: Server, figures: dict[str, dict[str, Any]]
) -> None:
    # Given a paid order without a ZIP code, which opens an address_invalid exception
    created = _send(server.base, *_webhook(_paid_order(_store(), [TENT], address=NO_ZIP)))
    assert created.status == 202, created
    order_id = created.body["order_id"]
    view = _wait_for(
        server, f"{order_id} to open an exception",
        lambda: _order(server, order_id), lambda v: v["open_exception_id"] is not None,
    )  # fmt: skip
    exception_id = view["open_exception_id"]
    people = list(itertools.islice(itertools.cycle(CLAIMANTS), THREADS))

    # When THREADS requests claim it at the same moment, spread over the three people who may
    burst = _burst(
        server.base,
        [
            ("POST", f"/exceptions/{exception_id}/claim", server.bearer(person), None)
            for person in people
        ],
    )
    answered = _send(server.base, "GET", f"/exceptions?client={CLIENT}", server.bearer(LEAD))
    assert answered.status == 200, answered
    [exception] = [e for e in answered.body["exceptions"] if e["exception_id"] == exception_id]
    claims = [e for e in _audit(server, order_id) if e["action"] == "exception_claimed"]
    winner = exception["claimed_by"]
    winning = [a for i, a in burst.by_request.items() if people[i] == winner]
    losing = [a for i, a in burst.by_request.items() if people[i] != winner]
    figures["claim one exception x threads"] = {
        "threads / requests sent": f"{THREADS} / {THREADS} ({len(CLAIMANTS)} operators)",
        "answers by operator": dict(
            Counter(f"{people[i]} {_said(a)}" for i, a in burst.by_request.items())
        ),
        "connections with no answer": len(burst.dropped),
        "burst seconds": burst.seconds,
        "claimed_by": winner,
        "exception_claimed audit events": len(claims),
    }

    # Then exactly one operator holds the claim, and the audit trail records one claim
    assert exception["status"] == "CLAIMED", exception
    assert winner in CLAIMANTS, exception
    assert len(claims) == 1, claims
    assert claims[0]["actor"] == {"kind": "operator", "id": winner}, claims
    # and every other operator was told it is taken (409 AlreadyClaimed), while the winner's
    # own requests all say they hold it (claiming your own claim again is a no-op)
    assert losing and all(
        (a.status, a.body.get("error")) == (409, "AlreadyClaimed") for a in losing
    ), losing
    assert winning and all(
        (a.status, a.body["claimed_by"], a.body["status"]) == (200, winner, "CLAIMED")
        for a in winning
    ), winning
    # and every one of the simultaneous connections was answered
    _no_dropped_connections(burst, THREADS)


# --- 3. orders racing for the last units of a SKU -------------------------------------------

STOCK = 6  # units on the shelf when the orders arrive
RESTOCK = 4  # units received afterwards, fewer than the orders left waiting


def test_orders_racing_for_scarce_stock_reserve_exactly_what_is_on_the_shelf(
    server: Server, figures: dict[str, dict[str, Any]]
) -> None:
    # Given a SKU of Acme's (backorder policy) that only this test orders, with STOCK units
    sku = f"STOVE-HTTP-{next(_ORDER_IDS)}"
    master = {
        "type": "sku_updated", "event_id": f"sku-{sku}", "sku": sku, "title": "Mini stove",
        "barcode": f"BC-{sku}", "unit_weight_grams": 500, "length_mm": 200, "width_mm": 150,
        "height_mm": 100,
    }  # fmt: skip
    assert _warehouse(server, master).status == 202
    receipt = {"type": "stock_received", "sku": sku, "warehouse": "pdx-1", "bin": "D-01-1"}
    shelved = _warehouse(server, {**receipt, "event_id": f"in-{sku}-1", "quantity": STOCK})
    assert shelved.status == 202, shelved
    store = _store()
    deliveries = [_paid_order(store, [Line(sku, "Mini stove", 1, "39.00")]) for _ in range(THREADS)]

    # When THREADS paid orders for one unit each arrive at the same moment
    burst = _burst(server.base, [_webhook(d) for d in deliveries])
    order_ids = [a.body["order_id"] for a in burst.answers if a.status == 202]
    settled = _wait_for(
        server, "every order to reserve or to wait for stock",
        lambda: [_order(server, o) for o in order_ids],
        lambda views: all(
            v["status"] == "AWAITING_PICK"
            or (v["status"] == "BACKORDERED" and v["awaiting"] == "stock")
            for v in views
        ),
    )  # fmt: skip
    reserved = [v for v in settled if v["status"] == "AWAITING_PICK"]
    waiting = [v for v in settled if v["status"] == "BACKORDERED"]
    held = sum(a["quantity"] for v in settled for a in v["reservation"])

    # and then RESTOCK units arrive: they wake exactly as many waiting orders as the units
    # now available cover, which reads the shelf over HTTP (anything left over, or missing,
    # from the race would wake more, or fewer)
    restocked = _warehouse(server, {**receipt, "event_id": f"in-{sku}-2", "quantity": RESTOCK})
    assert restocked.status == 202, restocked
    woken = restocked.body["woken"]
    after = _wait_for(
        server, "the woken orders to reserve",
        lambda: [_order(server, o) for o in woken],
        lambda views: all(v["status"] == "AWAITING_PICK" for v in views),
    )  # fmt: skip
    final = [_order(server, o) for o in order_ids]
    figures["orders race for scarce stock"] = {
        "threads / requests sent": f"{THREADS} / {THREADS} (one order each, 1 unit)",
        "stock on the shelf": STOCK,
        "answers": dict(burst.outcomes("outcome")),
        "connections with no answer": len(burst.dropped),
        "burst seconds": burst.seconds,
        "reserved / backordered": f"{len(reserved)} / {len(waiting)}",
        "units held after the race": held,
        "restock / orders woken": f"{RESTOCK} / {len(woken)}",
        "units held after the restock": sum(a["quantity"] for v in final for a in v["reservation"]),
    }

    # Then every order was created, and exactly as many reserved as the shelf covered, one
    # unit each; the rest follow Acme's policy (backorder), holding nothing and short one unit
    assert burst.outcomes("outcome")["202 created"] == len(burst.answers), burst.answers
    assert len(reserved) == min(STOCK, len(order_ids)), [v["status"] for v in settled]
    assert held == len(reserved), [v["reservation"] for v in reserved]
    assert all(
        [(a["sku"], a["quantity"]) for a in v["reservation"]] == [(sku, 1)] for v in reserved
    ), [v["reservation"] for v in reserved]
    assert len(waiting) == len(order_ids) - len(reserved)
    assert all(
        v["reservation"] == []
        and [(s["sku"], s["quantity"]) for s in v["short_lines"]] == [(sku, 1)]
        for v in waiting
    ), waiting
    # and the shelf was left at exactly zero: the restock woke exactly RESTOCK orders, who
    # each reserved one unit, so STOCK + RESTOCK units are held in all and none more
    assert len(woken) == min(RESTOCK, len(waiting)), woken
    assert set(woken) <= {v["order_id"] for v in waiting}, woken
    assert all([a["quantity"] for a in v["reservation"]] == [1] for v in after), after
    total = sum(a["quantity"] for v in final for a in v["reservation"])
    assert total == len(reserved) + len(woken) <= STOCK + RESTOCK, total
    # and every one of the simultaneous connections was answered
    _no_dropped_connections(burst, THREADS)
