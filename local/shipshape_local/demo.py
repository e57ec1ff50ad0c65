"""The main job, first version: signed storefront orders through the real webhook route over
HTTP, the warehouse played through the warehouse route, each order's path to SHIPPED and one
order's full audit trail printed at the end."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import dev_token
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import (
    Delivery,
    GenericStore,
    Line,
    Person,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
)
from shipshape_local.warehouse import DONE_STATUSES, WarehouseSimulator

DEMO_START = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
LEAD_TOKEN = dev_token("olivia.lead")  # a development operator (dev-secrets.toml)


@dataclass
class Api:
    """A plain HTTP client of the embedded stack, as a storefront or a warehouse would be."""

    base_url: str

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - always our own 127.0.0.1 URL
            self.base_url + path, data=body, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def deliver(self, delivery: Delivery) -> tuple[int, dict[str, Any]]:
        return self.send("POST", delivery.path, delivery.headers, delivery.body)

    def order(self, order_id: str) -> dict[str, Any]:
        return self.send("GET", f"/orders/{order_id}", {"Authorization": f"Bearer {LEAD_TOKEN}"})[1]

    def audit(self, order_id: str) -> list[dict[str, Any]]:
        _, body = self.send(
            "GET", f"/orders/{order_id}/audit", {"Authorization": f"Bearer {LEAD_TOKEN}"}
        )
        return list(body.get("events", []))


@dataclass
class DemoOrder:
    label: str
    client_id: str
    warehouse_token: str
    deliveries: list[Delivery]
    order_id: str = ""
    answers: list[str] = field(default_factory=list)


def _scenario(rt: EmbeddedRuntime) -> list[DemoOrder]:
    now = rt.clock.now()
    acme = ShopifyStore(
        "acme-outdoors",
        "acme-outdoors.myshopify.com",
        rt.secret("shipshape/acme-outdoors/shopify-webhook"),
    )
    nord = WooCommerceStore(
        "nordlicht",
        "https://nordlicht-shop.de/",
        rt.secret("shipshape/nordlicht/woocommerce-webhook"),
    )
    kite = GenericStore(
        "kite-and-kin", "kite-and-kin", rt.secret("shipshape/kite-and-kin/generic-webhook")
    )
    jane = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
    sam = Person("Sam", "Rivera", "sam.rivera@example.com", "+1 206 555 0142")
    pdx = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US", line2="Apt 4")
    sea = PostalAddress("1200 2nd Ave", "Seattle", "WA", "98101", "US")
    tent = Line("TENT-2P-GRN", "Ridgeline 2P tent, green", 1, "249.00")
    mug = Line("MUG-ENAMEL-12", "Enamel camp mug 12 oz", 2, "14.50")
    lamp = Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00")
    kite_line = Line("KITE-DELTA-RED", "Delta kite, red", 1, "39.00")

    pending = acme.order(
        5_600_001,
        1001,
        lines=[tent, mug],
        person=jane,
        address=pdx,
        created_at=now - timedelta(minutes=3),
        updated_at=now - timedelta(minutes=3),
        financial_status="pending",
    )
    paid = {
        **pending,
        "financial_status": "paid",
        "updated_at": (now - timedelta(minutes=1)).isoformat(),
    }
    direct = acme.order(
        5_600_002,
        1002,
        lines=[mug],
        person=sam,
        address=sea,
        created_at=now,
        updated_at=now,
        financial_status="paid",
    )
    cancelled_pending = acme.order(
        5_600_003,
        1003,
        lines=[tent],
        person=sam,
        address=sea,
        created_at=now - timedelta(minutes=5),
        updated_at=now - timedelta(minutes=5),
        financial_status="pending",
    )
    cancelled = {
        **cancelled_pending,
        "cancelled_at": now.isoformat(),
        "cancel_reason": "customer",
        "updated_at": now.isoformat(),
    }
    berlin = PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE")
    anna = Person("Anna", "Schmidt", "anna.schmidt@example.de", "+49 30 5550123")
    woo_pending = nord.order(
        4711,
        lines=[lamp],
        person=anna,
        address=berlin,
        created_at=now - timedelta(minutes=2),
        modified_at=now - timedelta(minutes=2),
        status="pending",
    )
    woo_paid = nord.order(
        4711,
        lines=[lamp],
        person=anna,
        address=berlin,
        created_at=now - timedelta(minutes=2),
        modified_at=now,
        status="processing",
    )
    leeds = PostalAddress("14 Park Row", "Leeds", "", "LS1 5HD", "GB")
    priya = Person("Priya", "Shah", "priya.shah@example.co.uk", "+44 113 555 0199")
    kk = kite.order(
        "KK-2041",
        version=3,
        lines=[kite_line],
        person=priya,
        address=leeds,
        updated_at=now,
        payment_status="paid",
    )
    lantern = Line("LANTERN-LED", "LED camp lantern", 1, "34.00")
    sold_out = acme.order(5_600_005, 1005, lines=[tent, lantern], person=sam, address=sea,
                          created_at=now, updated_at=now, financial_status="paid")  # fmt: skip
    no_zip = acme.order(5_600_004, 1004, lines=[mug], person=jane,
                        address=PostalAddress("500 SW Market St", "Portland", "OR", "", "US"),
                        created_at=now, updated_at=now, financial_status="paid")  # fmt: skip
    return [
        DemoOrder(
            "acme #1001 (Shopify: created, then paid)",
            "acme-outdoors",
            rt.secret("shipshape/acme-outdoors/warehouse-token"),
            [
                acme.deliver("orders/create", pending),
                acme.deliver("orders/paid", paid),
                acme.deliver("orders/paid", paid),
            ],
        ),
        DemoOrder(
            "acme #1002 (Shopify: paid at checkout)",
            "acme-outdoors",
            rt.secret("shipshape/acme-outdoors/warehouse-token"),
            [acme.deliver("orders/paid", direct), acme.deliver("orders/create", direct)],
        ),
        DemoOrder(
            "acme #1003 (Shopify: cancelled before payment)",
            "acme-outdoors",
            rt.secret("shipshape/acme-outdoors/warehouse-token"),
            [
                acme.deliver("orders/create", cancelled_pending),
                acme.deliver("orders/cancelled", cancelled),
            ],
        ),
        DemoOrder(
            "nordlicht 4711 (WooCommerce: pending, then processing)",
            "nordlicht",
            rt.secret("shipshape/nordlicht/warehouse-token"),
            [nord.deliver("order.created", woo_pending), nord.deliver("order.updated", woo_paid)],
        ),
        DemoOrder(
            "kite-and-kin KK-2041 (generic signed JSON)",
            "kite-and-kin",
            rt.secret("shipshape/kite-and-kin/warehouse-token"),
            [kite.deliver("order.upsert", kk, signed_at=now)],
        ),
        DemoOrder(
            "acme #1005 (Shopify: lantern sold out: backordered until stock arrives)",
            "acme-outdoors",
            rt.secret("shipshape/acme-outdoors/warehouse-token"),
            [acme.deliver("orders/paid", sold_out)],
        ),
        DemoOrder(
            "acme #1004 (Shopify: no ZIP code: exception, escalation, resolution)",
            "acme-outdoors",
            rt.secret("shipshape/acme-outdoors/warehouse-token"),
            [acme.deliver("orders/paid", no_zip)],
        ),
    ]


def run_demo(console: Console | None = None, timeout: float = 60.0) -> int:
    # Piped output (CI logs, files) gets a width the tables fit in; a terminal keeps its own.
    console = console or Console()
    if not console.is_terminal:
        console.width = 150
    started = time.monotonic()
    # Monday 2026-11-23, 08:30 in Portland: a fixed start, so deadlines are the same each run.
    with EmbeddedRuntime(clock=ManualClock(DEMO_START)) as rt:
        door = FrontDoorServer(rt).start()
        api = Api(door.url)
        console.print(f"[bold]Shipshape demo[/] embedded stack on moto, API at {door.url}")
        orders = _scenario(rt)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            sending = progress.add_task(
                "sending signed webhooks", total=sum(len(o.deliveries) for o in orders)
            )
            for order in orders:
                for delivery in order.deliveries:
                    status, body = api.deliver(delivery)
                    order.order_id = body.get("order_id", order.order_id)
                    order.answers.append(f"{status} {body.get('outcome', body.get('error'))}")
                    progress.advance(sending)
            story = _exception_story(rt, api, orders[-1], progress)
            story += _backorder_story(api, orders[-2], progress)
            fulfilling = progress.add_task("warehouse picking and packing", total=len(orders))
            warehouse = WarehouseSimulator(
                api.send, {o.client_id: o.warehouse_token for o in orders}, LEAD_TOKEN
            )
            final = warehouse.run(
                [o.order_id for o in orders],
                timeout=timeout,
                on_final=lambda *_: progress.advance(fulfilling),
            )
        _report(console, api, orders)
        for line in story:
            console.print(line)
        _trail(console, api, orders[-1])
        door.stop()
    elapsed = time.monotonic() - started
    outcomes = Counter(final.get(o.order_id, "UNKNOWN") for o in orders)
    console.print(
        "\nOutcomes: "
        + ", ".join(f"{status} {count}" for status, count in sorted(outcomes.items()))
    )
    unfinished = [o.label for o in orders if final.get(o.order_id) not in DONE_STATUSES]
    console.print(f"\nDemo finished in {elapsed:.1f} s wall time.")
    if unfinished:
        console.print(f"[red]Not finished within {timeout:.0f} s:[/] {', '.join(unfinished)}")
        return 1
    return 0


def _exception_story(
    rt: EmbeddedRuntime, api: Api, order: DemoOrder, progress: Progress
) -> list[str]:
    """The order without a ZIP: its owner misses the deadline, the sweeper escalates it, the
    new owner resolves it over the ops API with a corrected address."""
    task = progress.add_task("exception: open, escalate, resolve", total=4)
    lead = {"Authorization": f"Bearer {LEAD_TOKEN}", "Content-Type": "application/json"}
    deadline = time.monotonic() + 30
    while api.order(order.order_id).get("status") != "EXCEPTION":
        if time.monotonic() > deadline:
            return ["[red]the exception did not open[/]"]
        time.sleep(0.02)
    _, queue = api.send("GET", "/exceptions?client=acme-outdoors", lead)
    opened = queue["exceptions"][0]
    progress.advance(task)
    rt.clock.advance(timedelta(hours=2, minutes=30))  # nobody acted: the deadline passes
    swept = rt.run_function("SweeperFunction", {"source": "aws.scheduler"})
    progress.advance(task)
    exception_id = opened["exception_id"]
    api.send("POST", f"/exceptions/{exception_id}/claim", lead)
    corrected = {**api.order(order.order_id)["shipping_address"], "postal_code": "97204"}
    status, resolved = api.send(
        "POST", f"/exceptions/{exception_id}/resolve", lead,
        json.dumps({"action": "retry", "note": "ZIP confirmed with the customer",
                    "address": corrected}).encode(),
    )  # fmt: skip
    progress.advance(task, 2)
    moved = swept["escalated"][0] if swept["escalated"] else {}
    return [
        f"\n[bold]Exception on {order.label}[/]",
        f"  opened  {opened['type']} for {opened['owner']}, due {opened['due_at']}",
        f"  2 h 30 later the sweeper escalated it: {moved.get('from_owner')} -> "
        f"{moved.get('to_owner')} (level {moved.get('level')})",
        f"  resolved by {resolved.get('resolved_by')} with a corrected ZIP: HTTP {status}",
    ]


def _backorder_story(api: Api, order: DemoOrder, progress: Progress) -> list[str]:
    """The order whose lantern is sold out: the tent is held for it, it waits as BACKORDERED,
    and the warehouse's stock receipt wakes it."""
    task = progress.add_task("backorder: wait for stock, receive, wake", total=2)
    deadline = time.monotonic() + 30
    while (view := api.order(order.order_id)).get("awaiting") != "stock":
        if time.monotonic() > deadline:
            return ["[red]the order did not wait for stock[/]"]
        time.sleep(0.02)
    progress.advance(task)
    held = ", ".join(f"{a['quantity']} x {a['sku']}" for a in view["reservation"])
    short = ", ".join(f"{ln['quantity']} x {ln['sku']}" for ln in view["short_lines"])
    receipt = {
        "type": "stock_received",
        "event_id": "asn-2026-1123-lantern",
        "sku": "LANTERN-LED",
        "warehouse": "pdx-1",
        "quantity": 24,
        "bin": "A-07-1",
    }
    status, body = api.send(
        "POST", f"/warehouse/{order.client_id}/events",
        {"Authorization": f"Bearer {order.warehouse_token}", "Content-Type": "application/json"},
        json.dumps(receipt).encode(),
    )  # fmt: skip
    progress.advance(task)
    woken = ", ".join(body.get("woken", [])) or "none"
    return [
        f"\n[bold]Backorder on {order.label}[/]",
        f"  BACKORDERED with {held} held for it; short: {short}",
        f"  24 lanterns received (HTTP {status}): woke {woken}",
    ]


def _report(console: Console, api: Api, orders: list[DemoOrder]) -> None:
    table = Table(title="Orders, from webhook to outcome", show_lines=True)
    table.add_column("order")
    table.add_column("webhook answers")
    table.add_column("path through the workflow")
    table.add_column("outcome", justify="center")
    for order in orders:
        view = api.order(order.order_id)
        path = " → ".join(view.get("status_timestamps", {}).keys())
        colour = {"SHIPPED": "green", "CANCELLED": "yellow"}.get(view.get("status", ""), "red")
        table.add_row(
            f"{order.label}\n[dim]{order.order_id}[/]",
            "\n".join(order.answers),
            path,
            f"[{colour}]{view.get('status')}[/]",
        )
    console.print(table)

    _trail(console, api, orders[0])


def _trail(console: Console, api: Api, shown: DemoOrder) -> None:
    trail = Table(title=f"Audit trail of {shown.label} ({shown.order_id})")
    for column in ("#", "at (UTC)", "action", "actor", "status", "owner", "detail"):
        trail.add_column(column)
    for event in api.audit(shown.order_id):
        moved = (
            f"{event.get('from_status') or ''} → {event['to_status']}"
            if event.get("to_status")
            else ""
        )
        detail = ", ".join(f"{k}={v}" for k, v in event.get("detail", {}).items() if v is not None)
        trail.add_row(
            str(event["seq"]),
            event["at"][11:23],
            event["action"],
            f"{event['actor']['kind']}:{event['actor']['id']}",
            moved,
            event.get("owner") or "",
            detail[:70],
        )
    console.print(trail)
