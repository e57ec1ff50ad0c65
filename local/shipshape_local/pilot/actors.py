"""The people and systems around the stack, acting on the pilot's clock through its own HTTP
routes: the storefronts (signed webhooks, redelivered after a 5xx, some duplicated, out of
order or cancelled), the warehouse (picks and packs after a delay, restocks, resends), and the
operators (who claim and resolve exceptions, some too late; a second lead approves a
cancellation). One owner is away for the first days.

They watch each order's record, as a test would, to know when its workflow waits again, and
plan what happens to it next. The storefront payloads and the warehouse's scans come from the
simulators the rest of the local tooling uses (``storefronts``, ``warehouse``).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from shipshape.adapters.dynamodb import order_from, order_key
from shipshape.bootstrap import Container
from shipshape.models import SHIPPED_STATUSES, Order
from shipshape_local.demo import Api
from shipshape_local.pilot.plan import (
    FINAL,
    KITS,
    LEAD,
    OPERATOR_TOKENS,
    PILOT_START,
    SECOND_LEAD,
    SETTLED,
    TICK,
    PilotOptions,
    PlannedOrder,
)
from shipshape_local.pilot.scheduler import Scheduler
from shipshape_local.runtime import EmbeddedRuntime
from shipshape_local.storefronts import (
    Delivery,
    GenericStore,
    ShopifyStore,
    WooCommerceStore,
    sign_generic,
)
from shipshape_local.warehouse import WarehouseSimulator, barcode


def bearer(token: str) -> dict[str, str]:
    """The headers of an ops API request made with ``token``."""
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


class Actors:
    """Everyone who acts on the stack in the pilot, and what they saw happen."""

    def __init__(
        self,
        options: PilotOptions,
        scheduler: Scheduler,
        rt: EmbeddedRuntime,
        deps: Container,
        api: Api,
        warehouse: WarehouseSimulator,
    ) -> None:
        self.options = options
        self.scheduler = scheduler
        self.clock = scheduler.clock
        self.counts = scheduler.counts
        self.rt = rt
        self.deps = deps
        self.api = api
        self.warehouse = warehouse
        self.rng = random.Random(options.seed + 1)
        self.stores = self._stores(rt)
        self.orders: list[PlannedOrder] = []
        self.by_id: dict[str, PlannedOrder] = {}
        self.crashed: set[str] = set()
        self.in_exception: set[str] = set()
        self.backordered: set[str] = set()
        self.finished: set[str] = set()
        self.received: Counter[tuple[str, str]] = Counter()  # units restocked, per SKU

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        self.scheduler.at(moment, action)

    def arrive_all(self, orders: list[PlannedOrder]) -> None:
        """Plan every order's arrival."""
        self.orders = orders
        for order in orders:
            self.at(order.at, self._arrival(order))

    def _start_missed(self, order: PlannedOrder) -> None:
        """The starter's schedule (every minute on AWS) for an order whose workflow
        did not start."""
        before = self._seq(order.order_id)
        report = self.scheduler.scheduled("StarterFunction") or {}
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

    def set_up(self) -> None:
        """The warehouse's catalogue for the pilot: a scarce SKU per client (sold out, with
        deliveries due) and a short-dated first lot of Acme's chili."""
        for client in self.options.clients:
            kit = KITS[client]
            self._warehouse(client, {
                "type": "sku_updated", "event_id": f"pilot-sku-{kit.scarce.sku}",
                "sku": kit.scarce.sku, "title": kit.scarce.title, "active": True,
                        "barcode": barcode(kit.scarce.sku), "unit_weight_grams": 400,
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
            "PUT", "/owners/carla.cs-lead/away", bearer(LEAD),
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

    def unexpected_failure(self, function: str, event: Any) -> None:
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
            status, body = self.api.send("GET", f"/orders/{order_id}", bearer(LEAD), None)
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
        if order.status in SHIPPED_STATUSES:
            return order.notified_at is not None
        if status in ("AWAITING_PICK", "AWAITING_PACK", "BACKORDERED"):
            return order.task_token is not None
        if status in ("EXCEPTION", "QUARANTINED") and order.open_exception_id:
            exception = self.deps.repo.get_exception(order.open_exception_id)
            return exception is not None and exception.task_token is not None
        return False

    def _unstarted(self, order: Order) -> bool:
        """Accepted, but its workflow never started (the start failed after the write): the
        starter's to start."""
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
            scans[0] = {**scans[0], "barcode": barcode("NOT-" + scans[0]["sku"])}
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
        auth = bearer(token)
        path = f"/exceptions/{exception.exception_id}"
        with self._about(order):
            claimed = self.api.send("POST", f"{path}/claim", auth, None)[0] < 400
        if not claimed:
            auth = bearer(LEAD)  # someone else has it: the lead steps in
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
            second = bearer(SECOND_LEAD if auth == bearer(LEAD) else LEAD)
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
            # A crashed invocation's in-progress record blocks the resend until that
            # invocation's timeout is over: let that time pass (see the runtime's helper).
            self.rt.time_out_crashed_invocations()
        if status >= 400:
            raise RuntimeError(f"warehouse event refused: {status} {body}")
        return body
