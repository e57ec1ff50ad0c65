"""`shipshape pilot`: a client's first orders through the real execution layer, on simulated
time, and a report of what the operating model achieved.

Everything goes through the stack's own HTTP routes (signed webhooks, the warehouse route,
the ops API) on the embedded runtime. Time is the runtime's manual clock: the simulation moves
it in ticks, and within a tick it lets every workflow reach its next wait before it goes on,
so the same seed gives the same run. People and the warehouse act on that clock: pickers and
packers after a delay, owners claim and resolve exceptions after theirs (some too late, so
the sweeper escalates; a cancellation waits for a second operator's approval), one owner is
away for the first days.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipshape.adapters.dynamodb import order_from, order_key
from shipshape.audit import SHIPMENTS
from shipshape.models import AT_REST_STATUSES, FINAL_STATUSES, Order, OrderStatus
from shipshape_local.cost import Usage
from shipshape_local.demo import Api
from shipshape_local.faults import FaultRates
from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.metering import ExecutionCount
from shipshape_local.runtime import SEED, EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import (
    Delivery,
    GenericStore,
    Line,
    Person,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
    sign_generic,
)
from shipshape_local.warehouse import WarehouseSimulator

PILOT_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday
TICK = timedelta(minutes=15)
LEAD = "dev-token-lead"
SECOND_LEAD = "dev-token-lead-2"  # approves what the first lead asked for (a cancellation)
OPERATOR_TOKENS = {
    "acme-outdoors": "dev-token-acme-operator",
    "nordlicht": "dev-token-nordlicht-operator",
    "kite-and-kin": "dev-token-lead-2",
}
ALL_CLIENTS = ("acme-outdoors", "nordlicht", "kite-and-kin")
# Nothing more for the pilot to plan: at rest, or cancelled (shipped orders are final too).
SETTLED = AT_REST_STATUSES | {OrderStatus.CANCELLED}
FINAL = FINAL_STATUSES
# Orders arrive along a day: share of the day's orders per UTC hour (evenings heavier).
HOURLY = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 6, 7, 8, 8, 7, 5, 3, 2]


@dataclass(frozen=True)
class FaultProfile:
    """Probabilities per order (duplicates and out-of-order per delivery)."""

    sloppy_address: float
    invalid_address: float
    stock_out: float
    lot_problem: float
    wrong_pick: float
    weight_mismatch: float
    carrier_reject: float
    unexpected_failure: float
    duplicate: float
    out_of_order: float
    cancel: float
    late_owner: float  # an owner who acts after the deadline
    # What AWS does on a bad day, injected by the embedded runtime (see faults.py).
    infrastructure: FaultRates = field(default_factory=FaultRates)


PROFILES = {
    "none": FaultProfile(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "realistic": FaultProfile(
        sloppy_address=0.10, invalid_address=0.03, stock_out=0.04, lot_problem=0.02,
        wrong_pick=0.02, weight_mismatch=0.02, carrier_reject=0.015, unexpected_failure=0.005,
        duplicate=0.08, out_of_order=0.04, cancel=0.03, late_owner=0.25,
    ),
    "heavy": FaultProfile(
        sloppy_address=0.25, invalid_address=0.08, stock_out=0.10, lot_problem=0.05,
        wrong_pick=0.06, weight_mismatch=0.06, carrier_reject=0.05, unexpected_failure=0.02,
        duplicate=0.25, out_of_order=0.10, cancel=0.06, late_owner=0.4,
        infrastructure=FaultRates(
            dynamodb_throttle=0.05, dynamodb_error=0.01, lambda_service_error=0.03,
            lambda_timeout=0.03, start_execution_outage=0.05, task_callback_outage=0.05,
            crash_after_write=0.01,
        ),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class ClientKit:
    """What a simulated client sells, where its customers live, and how its store delivers."""

    client_id: str
    platform: str
    skus: tuple[Line, ...]
    scarce: Line  # sold out at the start; restocked later
    short_dated: Line | None  # a lot-tracked SKU whose first lot is too close to expiry
    addresses: tuple[PostalAddress, ...]


KITS = {
    "acme-outdoors": ClientKit(
        "acme-outdoors", "shopify",
        (Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00"),
         Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")),
        Line("LANTERN-LED", "LED camp lantern", 1, "34.00"),
        Line("MEAL-FD-CHILI", "Freeze-dried chili", 2, "11.00"),
        (PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US"),
         PostalAddress("1200 2nd Ave", "Seattle", "WA", "98101", "US"),
         PostalAddress("2001 Broadway", "Oakland", "CA", "94612", "US")),
    ),
    "nordlicht": ClientKit(
        "nordlicht", "woocommerce",
        (Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00"),
         Line("VASE-GLASS-M", "Glass vase, medium", 1, "45.00")),
        Line("CANDLE-BEESWAX", "Beeswax candle set", 1, "24.00"), None,
        (PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE"),
         PostalAddress("Schanzenstraße 5", "Hamburg", "", "20357", "DE")),
    ),
    "kite-and-kin": ClientKit(
        "kite-and-kin", "generic",
        (Line("KITE-DELTA-RED", "Delta kite, red", 1, "39.00"),
         Line("LINE-SPOOL-50M", "Kite line, 50 m", 1, "9.00")),
        Line("KITE-BOX-STUNT", "Stunt box kite", 1, "59.00"), None,
        (PostalAddress("14 Park Row", "Leeds", "", "LS1 5HD", "GB"),
         PostalAddress("1 Brick Lane", "London", "", "E1 6AN", "GB")),
    ),
}  # fmt: skip
PEOPLE = (
    Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100"),
    Person("Sam", "Rivera", "sam.rivera@example.com", "+1 206 555 0142"),
    Person("Anna", "Schmidt", "anna.schmidt@example.de", "+49 30 5550123"),
    Person("Priya", "Shah", "priya.shah@example.co.uk", "+44 113 555 0199"),
)


@dataclass
class PlannedOrder:
    n: int
    client_id: str
    at: datetime
    lines: list[Line]
    address: PostalAddress
    person: Person
    faults: set[str]
    intended: PostalAddress | None = None  # where it should go (before a fault spoiled it)
    cancel_after: timedelta | None = None
    order_id: str = ""


@dataclass
class PilotOptions:
    orders: int = 500
    clients: tuple[str, ...] = ALL_CLIENTS
    seed: int = 7
    days: int = 14
    faults: str = "realistic"
    out: Path = Path("pilot-report")


def plan(options: PilotOptions) -> list[PlannedOrder]:
    """Which orders arrive when, for whom, with which faults: all from the seed."""
    rng = random.Random(options.seed)
    profile = PROFILES[options.faults]
    hours = [
        PILOT_START.replace(hour=0) + timedelta(days=d, hours=h, minutes=rng.randrange(60))
        for d in range(options.days)
        for h, weight in enumerate(HOURLY)
        for _ in range(weight)
    ]
    hours = [h for h in hours if h >= PILOT_START]
    planned = []
    for n in range(options.orders):
        kit = KITS[options.clients[n % len(options.clients)]]
        faults = {
            name
            for name in (
                "sloppy_address",
                "invalid_address",
                "stock_out",
                "lot_problem",
                "wrong_pick",
                "weight_mismatch",
                "carrier_reject",
                "unexpected_failure",
                "duplicate",
                "out_of_order",
                "cancel",
                "late_owner",
            )
            if rng.random() < getattr(profile, name)
        }
        if "lot_problem" in faults and kit.short_dated is None:
            faults.discard("lot_problem")
        if "carrier_reject" in faults and kit.addresses[0].country_code != "US":
            faults.discard("carrier_reject")  # the sandbox refuses PO boxes in the US
        lines = [rng.choice(kit.skus)]
        if "stock_out" in faults:
            lines.append(kit.scarce)
        if "lot_problem" in faults and kit.short_dated is not None:
            lines = [kit.short_dated]
        address = intended = rng.choice(kit.addresses)
        if "carrier_reject" in faults:
            address = PostalAddress("PO Box 4410", address.city, address.region,
                                    address.postal_code, "US")  # fmt: skip
        elif "invalid_address" in faults:
            address = PostalAddress(address.line1, address.city, address.region, "", address.country_code)  # fmt: skip  # noqa: E501
        elif "sloppy_address" in faults and address.country_code == "US":
            address = PostalAddress(
                "  " + address.line1.lower().replace(" st", " street").replace(" ave", " avenue"),
                address.city.lower(), address.region.lower(), address.postal_code, "US",
            )  # fmt: skip
        cancel_after = timedelta(minutes=rng.randrange(5, 90)) if "cancel" in faults else None
        planned.append(
            PlannedOrder(
                n=n,
                client_id=kit.client_id,
                at=rng.choice(hours),
                lines=lines,
                address=address,
                person=rng.choice(PEOPLE),
                faults=faults,
                intended=intended,
                cancel_after=cancel_after,
            )
        )
    planned.sort(key=lambda o: (o.at, o.n))
    return planned


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


class Pilot:
    def __init__(self, options: PilotOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.rng = random.Random(options.seed + 1)
        self.profile = PROFILES[options.faults]
        self.clock = ManualClock(PILOT_START)
        self.queue: list[_Event] = []
        self._ids = itertools.count()
        self.orders: list[PlannedOrder] = []
        self.by_id: dict[str, PlannedOrder] = {}
        self.scheduled: set[tuple[str, str]] = set()  # (order_id, what it waits for)
        self.counts: Counter[str] = Counter()
        self.crashed: set[str] = set()
        self.in_exception: set[str] = set()
        self.backordered: set[str] = set()
        self.finished: set[str] = set()
        self.load: dict[str, Any] = {}
        self.metered: dict[str, Usage] = {}  # what each order (or schedule) used, by subject
        self.executions: list[ExecutionCount] = []
        self.injected: dict[str, int] = {}
        self.received: Counter[tuple[str, str]] = Counter()  # units restocked, per SKU

    # --- the clock and the queue --------------------------------------------------------

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.queue, _Event(moment, next(self._ids), action))

    def run(self, inspect: Callable[[EmbeddedRuntime], None] | None = None) -> dict[str, Any]:
        """Simulate and report; ``inspect`` sees the stack before it stops (tests use it)."""
        started = time.monotonic()
        import shipshape.bootstrap

        with EmbeddedRuntime(
            clock=self.clock, faults=self.profile.infrastructure, fault_seed=self.options.seed
        ) as rt:
            self.rt = rt
            self.deps = shipshape.bootstrap.container()
            door = FrontDoorServer(rt).start()
            self.api = Api(door.url)
            tokens = {c: rt.secret(f"shipshape/{c}/warehouse-token") for c in ALL_CLIENTS}
            self.warehouse = WarehouseSimulator(self.api.send, tokens, LEAD)
            self.stores = self._stores(rt)
            rt.lambdas.faults.append(self._unexpected_failure)
            self._set_up()
            self.orders = plan(self.options)
            for order in self.orders:
                self.at(order.at, self._arrival(order))
            end = PILOT_START + timedelta(days=self.options.days)
            self._simulate(end)
            wall = time.monotonic() - started
            # What the simulation asked of AWS (before the report's own reads): cost drivers.
            self.load = {
                "aws_calls": rt.aws_calls(),
                "lambda_invocations": dict(sorted(rt.lambdas.invocations.items())),
            }
            self.metered = rt.meter.snapshot()
            self.executions = rt.execution_counts()  # read from the histories: report work
            self.injected = rt.injected_faults()
            rt.set_faults(None)  # the report reads what happened, undisturbed
            report = self._report(wall)
            report["load"]["cost_inputs"]["idle_runs"] = self._idle_runs(report)
            if inspect is not None:
                inspect(rt)
            door.stop()
        return report

    def _simulate(self, end: datetime) -> None:
        with Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("simulated {task.fields[day]}"), TimeElapsedColumn(),
            console=self.console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("orders", total=len(self.orders), day="")
            # Run until every order's story has ended, or a week after the last arrival.
            limit = end + timedelta(days=7)
            next_sweep = PILOT_START
            while self.clock.now() < limit:
                now = self.clock.now()
                while self.queue and self.queue[0].at <= now:
                    heapq.heappop(self.queue).action()
                if self.in_exception and now >= next_sweep:
                    # The schedule runs the sweeper every 5 minutes; overdue work is found at
                    # the next tick at the latest.
                    self._scheduled("SweeperFunction")
                    next_sweep = now + TICK
                progress.update(
                    task, completed=len(self.finished), day=now.strftime("%a %d %b %H:%M")
                )
                if not self.queue and not self.in_exception:
                    break
                upcoming = self.queue[0].at if self.queue else limit
                if self.in_exception:
                    upcoming = min(upcoming, next_sweep)
                self.clock.set(max(upcoming, now + timedelta(minutes=1)))

    def _scheduled(self, function: str) -> dict[str, Any] | None:
        """A run of a scheduled function; a failed run is the next tick's to make up."""
        try:
            return dict(self.rt.run_function(function, {"source": "aws.scheduler"}))
        except Exception as exc:  # noqa: BLE001 - the schedule just runs it again
            self.counts[f"{function} run failed ({type(exc).__name__})"] += 1
            return None

    def _start_missed(self, order: PlannedOrder) -> None:
        """The starter's schedule (every minute on AWS) for an order whose workflow
        did not start."""
        before = self._seq(order.order_id)
        report = self._scheduled("StarterFunction") or {}
        self.counts["workflows started by the starter"] += len(report.get("started", []))
        self._after({order.order_id: before})

    @contextmanager
    def _about(self, order: PlannedOrder | None) -> Iterator[None]:
        """The requests sent meanwhile are about this order: what they cost is the order's
        (the cost inputs of the report, by path)."""
        if order is None:
            yield
            return
        with self.rt.meter.acting_for(f"planned:{order.n}"):
            yield

    # --- set-up ------------------------------------------------------------------------

    def _stores(self, rt: EmbeddedRuntime) -> dict[str, Any]:
        return {
            "acme-outdoors": ShopifyStore("acme-outdoors", "acme-outdoors.myshopify.com",
                                          rt.secret("shipshape/acme-outdoors/shopify-webhook")),
            "nordlicht": WooCommerceStore("nordlicht", "https://nordlicht-shop.de/",
                                          rt.secret("shipshape/nordlicht/woocommerce-webhook")),
            "kite-and-kin": GenericStore("kite-and-kin", "kite-and-kin",
                                         rt.secret("shipshape/kite-and-kin/generic-webhook")),
        }  # fmt: skip

    def _set_up(self) -> None:
        """The warehouse's catalogue for the pilot: a scarce SKU per client (sold out, with
        deliveries due) and a short-dated first lot of Acme's chili."""
        for client in self.options.clients:
            kit = KITS[client]
            self._warehouse(client, {
                "type": "sku_updated", "event_id": f"pilot-sku-{kit.scarce.sku}",
                "sku": kit.scarce.sku, "title": kit.scarce.title, "active": True,
                        "barcode": _barcode(kit.scarce.sku), "unit_weight_grams": 400,
                        "length_mm": 200, "width_mm": 150, "height_mm": 150,
            })  # fmt: skip
            for n, moment in enumerate(self._restocks()):
                self.at(moment, self._delivery(client, n))
        if "acme-outdoors" in self.options.clients:
            self._warehouse("acme-outdoors", {
                "type": "stock_received", "event_id": "pilot-lot-L2601",
                "sku": "MEAL-FD-CHILI", "warehouse": "pdx-1", "lot": "L2601",
                "expires_on": "2027-01-15", "bin": "C-01-9", "quantity": 40,
            })  # fmt: skip
            self.received[("acme-outdoors", "MEAL-FD-CHILI")] += 40
        # Acme's CS lead is away the first three days: escalations go past her.
        status, body = self.api.send(
            "PUT", "/owners/carla.cs-lead/away", self._auth(LEAD),
            json.dumps({"client_id": "acme-outdoors", "starts_at": PILOT_START.isoformat(),
                        "ends_at": (PILOT_START + timedelta(days=3)).isoformat(),
                        "note": "pilot: out of office"}).encode(),
        )  # fmt: skip
        if status != 200:
            raise RuntimeError(f"marking away failed: {status} {body}")

    def _arrival(self, order: PlannedOrder) -> Callable[[], None]:
        return lambda: self._arrive(order)

    def _delivery(self, client: str, n: int) -> Callable[[], None]:
        return lambda: self._restock(client, n)

    def _restock(self, client: str, day: int) -> None:
        kit = KITS[client]
        warehouse = {"acme-outdoors": "pdx-1", "nordlicht": "ber-1", "kite-and-kin": "lon-1"}
        waiting = {o: self._seq(o) for o in self.backordered}
        status, body = self.warehouse.post(client, {
            "type": "stock_received", "event_id": f"pilot-restock-{kit.scarce.sku}-{day}",
            "sku": kit.scarce.sku, "warehouse": warehouse[client], "bin": "D-01-1",
            "quantity": 25,
        })  # fmt: skip
        if self._resend_later(status, body, "restock", lambda: self._restock(client, day)):
            return
        if status >= 400:
            raise RuntimeError(f"warehouse event refused: {status} {body}")
        # Taken once, whether this answer is the first or a replay of it (a resend after a
        # lost answer): the warehouse received the units once.
        self.received[(client, kit.scarce.sku)] += 25
        self.counts["restocks"] += 1
        self._after({o: waiting[o] for o in body.get("woken", []) if o in waiting})

    # --- storefront traffic ------------------------------------------------------------

    def _deliveries(
        self, order: PlannedOrder
    ) -> tuple[list[Delivery], Callable[[], Delivery] | None]:
        """The order's webhooks (in arrival order) and how its cancellation is sent later."""
        store = self.stores[order.client_id]
        if isinstance(store, ShopifyStore):
            sent, cancelled = self._shopify(order, store)
        elif isinstance(store, WooCommerceStore):
            sent, cancelled = self._woocommerce(order, store)
        else:
            sent, cancelled = self._generic(order, store)
        if "out_of_order" in order.faults:
            sent.reverse()  # the paid version overtakes the created one
        if "duplicate" in order.faults:
            sent.append(sent[-1])  # a redelivery
        return sent, (cancelled if order.cancel_after else None)

    def _shopify(
        self, order: PlannedOrder, store: ShopifyStore
    ) -> tuple[list[Delivery], Callable[[], Delivery]]:
        now, before = self.clock.now(), self.clock.now() - timedelta(minutes=2)
        pending = store.order(
            7_000_000 + order.n, 2000 + order.n, lines=order.lines, person=order.person,
            address=order.address, created_at=before, updated_at=before,
            financial_status="pending",
        )  # fmt: skip
        paid = {**pending, "financial_status": "paid", "updated_at": now.isoformat()}

        def cancelled() -> Delivery:
            at = self.clock.now().isoformat()
            cancel = {**paid, "cancelled_at": at, "updated_at": at, "cancel_reason": "customer"}
            return store.deliver("orders/cancelled", cancel)

        return [
            store.deliver("orders/create", pending),
            store.deliver("orders/paid", paid),
        ], cancelled

    def _woocommerce(
        self, order: PlannedOrder, store: WooCommerceStore
    ) -> tuple[list[Delivery], Callable[[], Delivery]]:
        now, before = self.clock.now(), self.clock.now() - timedelta(minutes=2)

        def version(modified: datetime, status: str) -> dict[str, Any]:
            return store.order(
                40_000 + order.n, lines=order.lines, person=order.person,
                address=order.address, created_at=before, modified_at=modified, status=status,
            )  # fmt: skip

        def cancelled() -> Delivery:
            return store.deliver("order.updated", version(self.clock.now(), "cancelled"))

        sent = [
            store.deliver("order.created", version(before, "pending")),
            store.deliver("order.updated", version(now, "processing")),
        ]
        return sent, cancelled

    def _generic(
        self, order: PlannedOrder, store: GenericStore
    ) -> tuple[list[Delivery], Callable[[], Delivery]]:
        now, before = self.clock.now(), self.clock.now() - timedelta(minutes=2)

        def version(n: int, at: datetime, payment: str) -> dict[str, Any]:
            return store.order(
                f"KK-{order.n:05d}", version=n, lines=order.lines, person=order.person,
                address=order.address, updated_at=at, payment_status=payment,
            )  # fmt: skip

        def cancelled() -> Delivery:
            later = self.clock.now()
            return store.deliver("order.cancelled", version(3, later, "paid"), signed_at=later)

        sent = [
            store.deliver("order.upsert", version(1, before, "pending"), signed_at=now),
            store.deliver("order.upsert", version(2, now, "paid"), signed_at=now),
        ]
        return sent, cancelled

    def _arrive(self, order: PlannedOrder) -> None:
        sent, cancelled = self._deliveries(order)
        for delivery in sent:
            self._send_webhook(order, delivery)
        if "duplicate" in order.faults:
            self.counts["duplicates sent"] += 1
        if order.order_id:
            self._after({order.order_id: 0})
        if cancelled is not None and order.cancel_after is not None:
            cancel = cancelled
            self.at(self.clock.now() + order.cancel_after, lambda: self._cancel(order, cancel))

    def _send_webhook(self, order: PlannedOrder, delivery: Delivery, attempt: int = 1) -> str:
        """Send one delivery as the storefront does: a 5xx is sent again later (backing off),
        re-signed where the platform signs the time."""
        first = self._seq(order.order_id) if order.order_id else 0
        with self._about(order):
            status, body = self.api.deliver(self._signed_now(order, delivery))
        outcome = str(body.get("outcome", body.get("error", body.get("message"))))
        self.counts[f"webhook {status} {outcome}"] += 1
        self.counts["webhooks sent"] += 1
        if status >= 500:
            self.counts["webhooks redelivered after a 5xx"] += 1
            delay = timedelta(minutes=min(60, 2**attempt))

            def again() -> None:
                before, watched = self._seq(order.order_id), bool(order.order_id)
                outcome = self._send_webhook(order, delivery, attempt + 1)
                if outcome in ("created", "updated") or (outcome == "duplicate" and not watched):
                    # a duplicate of an order nobody watches yet is the first attempt's work,
                    # answered now: watch it (an order already watched is planned for)
                    self._after({order.order_id: min(before, first)})

            self.at(self.clock.now() + delay, again)
            return "redelivering"
        if body.get("order_id") and not order.order_id:
            order.order_id = str(body["order_id"])
            self.by_id[order.order_id] = order
        return outcome

    def _signed_now(self, order: PlannedOrder, delivery: Delivery) -> Delivery:
        store = self.stores[order.client_id]
        if not isinstance(store, GenericStore):
            return delivery  # Shopify and WooCommerce sign the body alone
        stamp = int(self.clock.now().timestamp())
        headers = {**delivery.headers, "Shipshape-Signature": sign_generic(
            delivery.body, store.secret, stamp)}  # fmt: skip
        return Delivery(path=delivery.path, headers=headers, body=delivery.body)

    def _cancel(self, order: PlannedOrder, delivery: Callable[[], Delivery]) -> None:
        record = self.deps.repo.get(order.order_id)
        if record is None or record.status.value in FINAL:
            return  # it shipped before the customer changed their mind
        before = record.audit_seq
        self.counts["cancellations sent"] += 1
        if self._send_webhook(order, delivery()) == "updated":
            self._after({order.order_id: before})

    def _unexpected_failure(self, function: str, event: Any) -> None:
        """A step that fails in a way nobody designed for, once, for the orders planned so."""
        if not isinstance(event, dict) or event.get("step") != "assign_picker":
            return
        order_id = str((event.get("state") or event).get("order_id", ""))
        order = self.by_id.get(order_id)
        if order and "unexpected_failure" in order.faults and order_id not in self.crashed:
            self.crashed.add(order_id)
            raise KeyError("zone_map")

    # --- watching orders and acting as people do ----------------------------------------

    def _view(self, order_id: str) -> dict[str, Any] | None:
        """The order as an operator reads it (the ops API); None if that failed (5xx)."""
        with self._about(self.by_id.get(order_id)):
            status, body = self.api.send("GET", f"/orders/{order_id}", self._auth(LEAD), None)
        if status >= 500:
            self.counts[f"order view {status}"] += 1
            return None
        return body

    def _waiting(self, order: Order) -> bool:
        """Whether the order's workflow has reached its next wait (or its end): the
        simulation watches the record, as a test would, to know a tick is done."""
        status = order.status.value
        if status in SETTLED or self._unstarted(order):
            return True
        if status in ("SHIPPED", "COMPLETED_PARTIAL"):
            return order.notified_at is not None
        if status in ("AWAITING_PICK", "AWAITING_PACK", "BACKORDERED"):
            return order.task_token is not None
        if status in ("EXCEPTION", "QUARANTINED") and order.open_exception_id:
            exception = self.deps.repo.get_exception(order.open_exception_id)
            return exception is not None and exception.task_token is not None
        return False

    def _unstarted(self, order: Order) -> bool:
        """Accepted, but its workflow never started (the start failed after the write): the
        reconciler's to start."""
        return bool(
            order.pending_start
            and order.execution_name
            and not self.rt.execution_exists(order.execution_name)
        )

    def _peek(self, order_id: str) -> Order | None:
        """The order's record as stored now, read without an API call (watching is not part
        of what the pilot measures)."""
        item = self.rt.peek_item("OrdersTable", order_key(order_id))
        return order_from(item["doc"]) if item else None

    def _seq(self, order_id: str) -> int:
        record = self._peek(order_id) if order_id else None
        return record.audit_seq if record else 0

    def _after(self, moved: dict[str, int], timeout: float = 20.0) -> None:
        """Wait until each order has moved on from audit event ``moved[id]`` and waits again
        (or has ended), then plan what happens to it next."""
        pending = dict(moved)
        deadline = time.monotonic() + timeout
        records: dict[str, Order] = {}
        while pending and time.monotonic() < deadline:
            seen = self.rt.writes.count
            for order_id, before in list(pending.items()):
                record = self._peek(order_id)
                if record is not None and (
                    (record.audit_seq > before and self._waiting(record)) or self._unstarted(record)
                ):
                    records[order_id] = record
                    del pending[order_id]
            if pending:  # look again once the stack has written something
                self.rt.writes.wait_past(seen, timeout=0.5)
        for order_id, before in pending.items():  # still moving: look again at the next tick
            self._look_again(order_id, before)
        for order_id in sorted(records):
            self._next(self.by_id[order_id], records[order_id])

    def _look_again(self, order_id: str, before: int) -> None:
        self.counts["orders still moving after 20 s"] += 1
        self.at(self.clock.now() + TICK, lambda: self._after({order_id: before}))

    def _next(self, order: PlannedOrder, record: Order) -> None:
        now = self.clock.now()
        status = record.status.value
        self.in_exception.discard(order.order_id)
        self.backordered.discard(order.order_id)
        if status == "BACKORDERED":
            self.backordered.add(order.order_id)
        if status in FINAL:
            self.finished.add(order.order_id)
        elif self._unstarted(record):
            self.at(now + timedelta(minutes=2), lambda: self._start_missed(order))
        elif status == "AWAITING_PICK":
            delay = timedelta(minutes=self.rng.randrange(30, 240))
            self.at(now + delay, lambda: self._pick(order))
        elif status == "AWAITING_PACK":
            delay = timedelta(minutes=self.rng.randrange(15, 120))
            self.at(now + delay, lambda: self._pack(order))
        elif status in ("EXCEPTION", "QUARANTINED"):
            self.in_exception.add(order.order_id)
            self._plan_resolution(order)
        # BACKORDERED waits for a restock; RECEIVED and ON_HOLD wait for nobody

    def _pick(self, order: PlannedOrder) -> None:
        view = self._view(order.order_id)
        if view is None:
            self.at(self.clock.now() + timedelta(minutes=5), lambda: self._pick(order))
            return
        if view["status"] != "AWAITING_PICK":
            self.counts["pick not awaited"] += 1
            return
        event = self.warehouse.pick_event(view)
        if "wrong_pick" in order.faults and not self.counts[f"wrong-{order.order_id}"]:
            self.counts[f"wrong-{order.order_id}"] += 1
            scans = event["scans"]
            scans[0] = {**scans[0], "barcode": _barcode("NOT-" + scans[0]["sku"])}
        self._post(order, event)

    def _pack(self, order: PlannedOrder) -> None:
        view = self._view(order.order_id)
        if view is None:
            self.at(self.clock.now() + timedelta(minutes=5), lambda: self._pack(order))
            return
        if view["status"] != "AWAITING_PACK":
            self.counts["pack not awaited"] += 1
            return
        event = self.warehouse.pack_event(view)
        if "weight_mismatch" in order.faults and not self.counts[f"light-{order.order_id}"]:
            self.counts[f"light-{order.order_id}"] += 1
            event["pack"]["weight_grams"] = max(1, view["parcel"]["min_weight_grams"] // 2)
        self._post(order, event)

    def _post(
        self, order: PlannedOrder, event: dict[str, Any], attempt: int = 1, before: int = -1
    ) -> None:
        # Watch from where the order stood before the first attempt: a cut-off attempt may
        # have moved it already.
        before = self._seq(order.order_id) if before < 0 else before
        with self._about(order):
            status, body = self.warehouse.post(order.client_id, event)
        self.counts[f"warehouse {status}"] += 1
        if self._resend_later(status, body, "warehouse event",
                              lambda: self._post(order, event, attempt + 1, before),
                              attempt):  # fmt: skip
            return
        self._after({order.order_id: before})

    def _resend_later(
        self, status: int, body: dict[str, Any], what: str, resend: Callable[[], None],
        attempt: int = 1,
    ) -> bool:  # fmt: skip
        """A warehouse system resends an event the API could not take (5xx), or one still
        in progress after a cut-off attempt (409 EventInProgress), with the same event id."""
        if status < 500 and not (status == 409 and body.get("error") == "EventInProgress"):
            return False
        self.counts[f"{what} resent after {status}"] += 1
        self.at(self.clock.now() + timedelta(minutes=min(30, 2**attempt)), resend)
        return True

    def _plan_resolution(self, order: PlannedOrder) -> None:
        """An owner picks it up after a while: usually inside the deadline, sometimes not."""
        late = "late_owner" in order.faults
        hours = self.rng.uniform(3.0, 10.0) if late else self.rng.uniform(0.2, 1.5)
        self.at(self.clock.now() + timedelta(hours=hours), lambda: self._resolve(order))

    def _resolve(self, order: PlannedOrder) -> None:
        record = self.deps.repo.get(order.order_id)
        if record is None or not record.open_exception_id:
            return
        exception = self.deps.repo.get_exception(record.open_exception_id)
        if exception is None or not exception.is_open:
            return
        kind = exception.type.value
        if kind == "inventory_short" and not self._restocked(order):
            # nothing to do but wait for the delivery: look again later
            self.at(self.clock.now() + timedelta(hours=6), lambda: self._resolve(order))
            return
        token = OPERATOR_TOKENS[order.client_id] if exception.level == 0 else LEAD
        auth = self._auth(token)
        path = f"/exceptions/{exception.exception_id}"
        with self._about(order):
            claimed = self.api.send("POST", f"{path}/claim", auth, None)[0] < 400
        if not claimed:
            auth = self._auth(LEAD)  # someone else has it: the lead steps in
        body: dict[str, Any] = {"action": "retry", "note": f"pilot: {kind} handled"}
        if kind == "address_invalid":
            fixed = order.intended or order.address  # asked the customer
            body["address"] = {
                "name": f"{order.person.first_name} {order.person.last_name}",
                "line1": fixed.line1, "city": fixed.city, "region": fixed.region or None,
                "postal_code": fixed.postal_code, "country_code": fixed.country_code,
            }  # fmt: skip
        elif kind == "automation_failure":
            body = {"action": "release", "note": "pilot: checked the trail, releasing"}
        elif kind == "payment_mismatch":
            body = {"action": "cancel", "note": "pilot: refunded in the storefront"}
        self._submit(order, f"{path}/resolve", auth, json.dumps(body).encode())

    def _submit(
        self, order: PlannedOrder, path: str, auth: dict[str, str], body: bytes,
        attempt: int = 1, before: int = -1,
    ) -> None:  # fmt: skip
        """Send a resolution; after "try again shortly" (5xx), the owner sends the same one
        again, which the ops API treats as a repeat of the first."""
        before = self._seq(order.order_id) if before < 0 else before
        with self._about(order):
            status, answer = self.api.send("POST", path, auth, body)
        self.counts[f"resolve {status}"] += 1
        if status >= 500:
            delay = timedelta(minutes=min(60, 5 * attempt))
            self.at(self.clock.now() + delay,
                    lambda: self._submit(order, path, auth, body, attempt + 1, before))  # fmt: skip
            return
        if status >= 400:
            self.counts[f"resolution refused: {str(answer.get('message', ''))[:80]}"] += 1
            self.at(self.clock.now() + timedelta(hours=2), lambda: self._resolve(order))
            return
        if answer.get("awaiting_approval"):
            # A cancellation waits for a second operator, who approves it a little later.
            override_id = str(answer["awaiting_approval"])
            second = self._auth(SECOND_LEAD if auth == self._auth(LEAD) else LEAD)
            self.at(self.clock.now() + timedelta(minutes=30),
                    lambda: self._approve(order, override_id, second))  # fmt: skip
            return
        self._after({order.order_id: before})

    def _approve(
        self, order: PlannedOrder, override_id: str, auth: dict[str, str],
        attempt: int = 1, before: int = -1,
    ) -> None:  # fmt: skip
        """A second operator approves a cancellation; after "try again shortly" (5xx) they
        approve again, which the ops API treats as a repeat of the first."""
        before = self._seq(order.order_id) if before < 0 else before
        path = f"/orders/{order.order_id}/overrides/{override_id}/approve"
        body = json.dumps({"note": "pilot: second operator agrees"}).encode()
        with self._about(order):
            status, answer = self.api.send("POST", path, auth, body)
        self.counts[f"approve {status}"] += 1
        if status >= 500:
            again = self.clock.now() + timedelta(minutes=min(60, 5 * attempt))
            self.at(again, lambda: self._approve(order, override_id, auth, attempt + 1, before))
            return
        if status >= 400:
            # The order moved on meanwhile (the storefront cancelled it, say).
            self.counts[f"approval refused: {str(answer.get('message', ''))[:80]}"] += 1
            record = self._peek(order.order_id)
            if record is not None and record.status.value in FINAL:
                self._next(order, record)
            else:
                self.at(self.clock.now() + timedelta(hours=2), lambda: self._resolve(order))
            return
        self._after({order.order_id: before})

    def _restocks(self) -> list[datetime]:
        """Deliveries of the scarce SKUs: a quarter, half way and near the end of the pilot."""
        span = timedelta(days=self.options.days)
        return [PILOT_START + span * share for share in (0.25, 0.55, 0.9)]

    def _restocked(self, order: PlannedOrder) -> bool:
        return any(moment <= self.clock.now() for moment in self._restocks())

    def _warehouse(self, client: str, event: dict[str, Any]) -> dict[str, Any]:
        """A set-up event, sent until it is taken (as the warehouse system would)."""
        for _ in range(20):
            status, body = self.warehouse.post(client, event)
            if status < 500 and body.get("error") != "EventInProgress":
                break
            self.counts["set-up event resent"] += 1
            time.sleep(self.rt.lambdas.remaining_ms / 1000)  # an in-progress record expires
        if status >= 400:
            raise RuntimeError(f"warehouse event refused: {status} {body}")
        return body

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    # --- the report -------------------------------------------------------------------

    def _report(self, wall_seconds: float) -> dict[str, Any]:
        from shipshape.services.checklist import trail_problems

        deps = self.deps
        days = min(92, self.options.days + 8)
        metrics = {
            client: self.api.send(
                "GET", f"/metrics?client={client}&days={days}", self._auth(LEAD), None
            )[1]
            for client in self.options.clients
        }
        states: Counter[str] = Counter()
        unaccounted: list[str] = []
        incomplete: dict[str, list[str]] = {}
        open_exceptions: dict[str, str] = {}
        shipped_twice: list[str] = []
        records: list[Order] = []
        for order in self.orders:
            record = deps.repo.get(order.order_id)
            if record is None:
                unaccounted.append(f"#{order.n}: never recorded")
                continue
            states[record.status.value] += 1
            if record.status.value in FINAL:
                pass
            elif record.status.value in ("EXCEPTION", "QUARANTINED") and record.owner:
                open_exceptions[record.order_id] = record.owner
            else:
                unaccounted.append(f"{record.order_id}: {record.status.value}")
            trail = deps.repo.audit_trail(record.order_id)
            problems = trail_problems(record, trail)
            if problems:
                incomplete[record.order_id] = problems
            if sum(1 for event in trail if event.action in SHIPMENTS) > 1:
                shipped_twice.append(record.order_id)
            records.append(record)
        return {
            "options": {
                "orders": self.options.orders, "clients": list(self.options.clients),
                "seed": self.options.seed, "days": self.options.days,
                "faults": self.options.faults, "start": PILOT_START.isoformat(),
            },
            "orders_by_final_state": dict(sorted(states.items())),
            "unaccounted": unaccounted,
            "open_exceptions": open_exceptions,
            "audit": {"complete": len(self.orders) - len(incomplete), "incomplete": incomplete},
            "traffic": {k: v for k, v in sorted(self.counts.items())
                        if not k.startswith(("wrong-", "light-"))},
            "faults_planned": dict(sorted(Counter(
                f for o in self.orders for f in o.faults).items())),
            "metrics": metrics,
            "integration_errors": [e.strip()[-600:] for e in self.rt.integration_errors],
            "integrity": {
                "shipped_twice": shipped_twice,
                "stock": self._stock_balance(records),
                "infrastructure_faults": self.injected,
            },
            "load": {**self.load, "cost_inputs": self._cost_inputs(records)},
            "wall_seconds": round(wall_seconds, 1),
        }  # fmt: skip

    def _cost_inputs(self, records: list[Order]) -> dict[str, Any]:
        """What the run asked of AWS, as AWS bills it, by the path each order took (happy,
        exception, cancelled, backordered, other) and for what belongs to no order (set-up,
        restocks, the schedules' runs): the counts bench/cost.py prices."""
        by_order: dict[int, Usage] = {}
        unattributed: dict[str, Usage] = {}
        for subject, usage in self.metered.items():
            n = self._planned(subject)
            if n is None:
                unattributed.setdefault(subject, Usage()).merge(usage)
            else:
                by_order.setdefault(n, Usage()).merge(usage)
        states: dict[int, list[str]] = {}
        for execution in self.executions:
            n = self._planned(f"order:{execution.order_id}")
            usage = (
                by_order.setdefault(n, Usage()) if n is not None
                else unattributed.setdefault("shared", Usage())
            )  # fmt: skip
            usage.executions += 1
            usage.transitions += execution.transitions
            usage.retries += execution.retries
            usage.transitions_per_execution[execution.transitions] += 1
            usage.state_machine_log_events += execution.log_events
            usage.state_machine_log_bytes += execution.log_bytes
            usage.traces += 1  # the execution's trace (tracing on); its steps join it
            states.setdefault(n if n is not None else -1, []).extend(execution.states)
        status = {record.order_id: record.status.value for record in records}
        paths: dict[str, Usage] = {}
        for order in self.orders:
            usage = by_order.get(order.n, Usage())
            usage.orders = 1
            path = _path(status.get(order.order_id), states.get(order.n, []))
            paths.setdefault(path, Usage()).merge(usage)
        meter = self.rt.meter
        return {
            "stack": self._stack_facts(),
            "paths": {path: usage.as_dict() for path, usage in sorted(paths.items())},
            "unattributed": {s: u.as_dict() for s, u in sorted(unattributed.items())},
            "custom_metrics": {
                "distinct": len(meter.metrics),
                "metric_hours": len(meter.metric_hours),
            },
            "simulated_hours": round((self.clock.now() - PILOT_START).total_seconds() / 3600, 2),
        }

    def _planned(self, subject: str) -> int | None:
        """The planned order a meter subject is about (None: no order's)."""
        kind, _, value = subject.partition(":")
        if kind == "planned":
            return int(value)
        if kind == "order" and value in self.by_id:
            return self.by_id[value].n
        return None

    def _stack_facts(self) -> dict[str, Any]:
        """What the template says that prices depend on: memory and architecture, tracing,
        schedules, the state machine's log level, fixed monthly items."""
        template = self.rt.template
        defaults = template.doc.get("Globals", {}).get("Function", {})
        functions: dict[str, Any] = {}
        schedules: dict[str, str] = {}
        for logical_id, resource in template.of_type("AWS::Serverless::Function").items():
            props = {**defaults, **resource["Properties"]}
            name = f"shipshape-{logical_id}"
            functions[name] = {
                "memory_mb": int(props.get("MemorySize", 128)),
                "architecture": (props.get("Architectures") or ["x86_64"])[0],
                "tracing": props.get("Tracing", "PassThrough"),
            }
            for event in props.get("Events", {}).values():
                if event.get("Type") in ("Schedule", "ScheduleV2"):
                    schedules[name] = str(event["Properties"]["ScheduleExpression"])
        machine = template.state_machines["FulfillmentStateMachine"]
        return {
            "lambda": functions,
            "schedules": schedules,
            "state_machine": {
                "type": machine.get("Type", "STANDARD"),
                "tracing": bool(machine.get("Tracing", {}).get("Enabled", False)),
                "log_level": machine.get("Logging", {}).get("Level", "OFF"),
            },
            "alarms": len(template.of_type("AWS::CloudWatch::Alarm")),
            "dashboards": len(template.of_type("AWS::CloudWatch::Dashboard")),
            "kms_keys": len(template.of_type("AWS::KMS::Key")),
            "secrets": len(self.rt.dev["secrets"]),
            "clients": len(self.options.clients),
        }

    def _idle_runs(self, report: dict[str, Any], runs: int = 3) -> dict[str, Any]:
        """Runs of the scheduled functions with nothing to do, as most of their runs are:
        what the schedules cost a month whatever the volume. The sweeper's only when no
        exception is open (it would act on one), else the pilot's own runs stand in."""
        out: dict[str, Any] = {}
        for logical_id in ("StarterFunction", "SweeperFunction"):
            if logical_id == "SweeperFunction" and report["open_exceptions"]:
                continue
            subject = f"idle:shipshape-{logical_id}"
            with self.rt.meter.serving(subject):
                for _ in range(runs):
                    self._scheduled(logical_id)
            out[f"shipshape-{logical_id}"] = (
                self.rt.meter.snapshot().get(subject, Usage()).as_dict()
            )
        return out

    def _stock_balance(self, records: list[Order]) -> dict[str, Any]:
        """Every unit accounted for, per SKU: what was seeded and received equals what is
        available, reserved and shipped; what is reserved is what open orders hold. A unit
        sold twice (or reserved and lost) breaks one of the two."""
        import tomllib

        seeded: Counter[tuple[str, str]] = Counter()
        for entry in tomllib.loads(SEED.read_text())["sku"]:
            for lot in entry.get("stock", []):
                seeded[(entry["client_id"], entry["sku"])] += int(lot["quantity"])
        shipped: Counter[tuple[str, str]] = Counter()
        held: Counter[tuple[str, str]] = Counter()
        for record in records:
            bucket = shipped if record.status.value in ("SHIPPED", "COMPLETED_PARTIAL") else held
            if record.status.value == "CANCELLED":
                continue
            for allocation in record.reservation:
                bucket[(record.client_id, allocation.sku)] += allocation.quantity
        problems: list[str] = []
        skus = sorted(set(seeded) | set(self.received) | set(shipped) | set(held))
        for client, sku in skus:
            if client not in self.options.clients:
                continue
            lots = self.deps.inventory.stock_of(client, sku)
            available = sum(lot.available for lot in lots)
            reserved = sum(lot.reserved for lot in lots)
            supplied = seeded[(client, sku)] + self.received[(client, sku)]
            if supplied != available + reserved + shipped[(client, sku)]:
                problems.append(
                    f"{client}/{sku}: {supplied} supplied, {available} available + {reserved} "
                    f"reserved + {shipped[(client, sku)]} shipped"
                )
            if reserved != held[(client, sku)]:
                problems.append(
                    f"{client}/{sku}: {reserved} reserved, orders hold {held[(client, sku)]}"
                )
        return {
            "skus": len(skus),
            "units_shipped": sum(shipped.values()),
            "problems": problems,
        }


def _path(status: str | None, states: list[str]) -> str:
    """The path an order took through the workflow, from the states its execution entered
    and where its record ended."""
    if any(state.startswith("ExceptionAt") or state == "Hold" for state in states):
        return "exception"
    if status == "CANCELLED":
        return "cancelled"
    if "AwaitStock" in states:
        return "backordered"
    if status == "SHIPPED":
        return "happy"
    return "other"


def _barcode(sku: str) -> str:
    from shipshape_local.warehouse import barcode

    return barcode(sku)


def totals(report: dict[str, Any]) -> dict[str, Any]:
    """Figures across clients, from each client's metrics."""
    per = list(report["metrics"].values())
    by_type: Counter[str] = Counter()
    escalations: Counter[str] = Counter()
    histogram: Counter[str] = Counter()
    labels: list[str] = []
    for m in per:
        for row in m["exceptions"]["by_type"]:
            by_type[row["type"]] += row["opened"]
        for row in m["escalations_per_owner"]:
            escalations[f"{m['client_id']}: {row['owner']}"] += row["escalations"]
        for row in m["fulfillment_hours"]["histogram"]:
            histogram[row["label"]] += row["count"]
            if row["label"] not in labels:
                labels.append(row["label"])
    received = sum(m["orders"]["received"] for m in per)
    met = sum(m["sla"]["met"] for m in per)
    missed = sum(m["sla"]["missed"] for m in per)
    resolved = [(m["time_to_resolution_hours"]["count"], m["time_to_resolution_hours"]["average"])
                for m in per if m["time_to_resolution_hours"]["count"]]  # fmt: skip
    count = sum(c for c, _ in resolved)
    return {
        "received": received,
        "exceptions_opened": sum(by_type.values()),
        "exception_rate": round(sum(by_type.values()) / received, 4) if received else None,
        "exceptions_by_type": {
            t: {"opened": n, "rate": round(n / received, 4) if received else None}
            for t, n in by_type.most_common()
        },
        "time_to_resolution_hours": {
            "count": count,
            "average": round(sum(c * a for c, a in resolved) / count, 2) if count else None,
            "p90_by_client": {m["client_id"]: m["time_to_resolution_hours"]["p90"] for m in per},
        },
        "sla": {
            "met": met,
            "missed": missed,
            "compliance": round(met / (met + missed), 4) if met + missed else None,
        },
        "escalations_per_owner": dict(escalations.most_common()),
        "fulfillment_hours": {
            "histogram": [{"label": label, "count": histogram[label]} for label in labels],
            "median_by_client": {m["client_id"]: m["fulfillment_hours"]["median"] for m in per},
            "p90_by_client": {m["client_id"]: m["fulfillment_hours"]["p90"] for m in per},
        },
    }


def run_pilot(options: PilotOptions, console: Console | None = None) -> int:
    console = console or Console()
    if not console.is_terminal:
        console.width = 150
    console.print(
        f"[bold]Shipshape pilot[/]: {options.orders} orders for {', '.join(options.clients)} "
        f"over {options.days} simulated days, faults '{options.faults}', seed {options.seed}"
    )
    report = Pilot(options, console).run()
    report["totals"] = totals(report)
    write(report, options.out)
    summarize(console, report, options.out)
    return 1 if report["unaccounted"] else 0


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    from shipshape_local.pilot_report import render_html

    vendor = Path(__file__).parents[2] / "layers/shipshape/shipshape/web/static/vendor"
    shutil.copy(vendor / "chart.umd.min.js", out / "chart.umd.min.js")
    (out / "report.html").write_text(render_html(report))


def summarize(console: Console, report: dict[str, Any], out: Path) -> None:
    t = report["totals"]
    table = Table(title="Orders by final state", show_edge=False)
    table.add_column("state")
    table.add_column("orders", justify="right")
    for state, n in report["orders_by_final_state"].items():
        table.add_row(state, str(n))
    console.print(table)
    console.print(
        f"Exception rate {_pct(t['exception_rate'])} ({t['exceptions_opened']} opened: "
        + ", ".join(f"{k} {v['opened']}" for k, v in t["exceptions_by_type"].items())
        + ")"
    )
    ttr = t["time_to_resolution_hours"]
    console.print(
        f"Time to resolution: average {ttr['average']} h over {ttr['count']}; p90 by client "
        + ", ".join(f"{c} {v} h" for c, v in ttr["p90_by_client"].items())
    )
    console.print(f"SLA compliance {_pct(t['sla']['compliance'])} "
                  f"({t['sla']['met']} met, {t['sla']['missed']} missed)")  # fmt: skip
    console.print(
        "Escalations per owner: "
        + (", ".join(f"{k} {v}" for k, v in t["escalations_per_owner"].items()) or "none")
    )
    console.print(
        "Fulfillment time (h): median "
        + ", ".join(f"{c} {v}" for c, v in t["fulfillment_hours"]["median_by_client"].items())
        + "; p90 "
        + ", ".join(f"{c} {v}" for c, v in t["fulfillment_hours"]["p90_by_client"].items())
    )
    audit = report["audit"]
    total = sum(report["orders_by_final_state"].values())
    if audit["incomplete"]:
        console.print(f"[red]Audit: {len(audit['incomplete'])} order(s) lack a complete trail:[/] "
                      + ", ".join(audit["incomplete"]))  # fmt: skip
    else:
        console.print(f"Audit: all {total} orders have a complete trail.")
    integrity = report["integrity"]
    faults = integrity["infrastructure_faults"]
    if faults:
        console.print(
            f"AWS faults injected: {sum(faults.values())} ("
            + ", ".join(f"{k} {v}" for k, v in faults.items())
            + ")"
        )
    stock = integrity["stock"]
    if integrity["shipped_twice"] or stock["problems"]:
        console.print(
            f"[red]Integrity: shipped twice {integrity['shipped_twice']}; "
            f"stock {stock['problems']}[/]"
        )
    else:
        console.print(
            f"Integrity: no order shipped twice; every unit of {stock['skus']} SKUs accounted "
            f"for ({stock['units_shipped']} shipped)."
        )
    if report["unaccounted"]:
        console.print(f"[red]Unaccounted for: {', '.join(report['unaccounted'])}[/]")
    else:
        console.print(
            f"Nothing lost: every order is shipped, partially completed, cancelled, or in an "
            f"open exception with an owner ({len(report['open_exceptions'])} open)."
        )
    calls = sum(report["load"].get("aws_calls", {}).values())
    invocations = sum(report["load"].get("lambda_invocations", {}).values())
    if calls:
        console.print(f"Load: {calls} AWS API calls ({calls / total:.0f} per order), "
                      f"{invocations} Lambda invocations")  # fmt: skip
    cost_inputs = report["load"].get("cost_inputs")
    if cost_inputs:
        from shipshape_local.cost import by_path

        console.print(
            "At AWS list prices, per 1,000 orders (bench/cost.py has the breakdown): "
            + "; ".join(
                f"{p.path} ${p.dollars_per_thousand:.2f} ({p.orders} orders, "
                f"{p.transitions_per_order:.1f} transitions each, biggest: {p.biggest})"
                for p in by_path(cost_inputs)
            )
        )
    console.print(f"Report: {out / 'report.html'} and {out / 'report.json'} "
                  f"({report['wall_seconds']} s wall)")  # fmt: skip


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"
