"""Builders shared by tests: orders as storefronts send them (through the storefront
simulators), orders and audit events as Shipshape records them, the canonical orders the
storefront fixtures in ``tests/events`` normalize to, and exceptions written into a
repository the way the workflow and the ops API write them.

Test modules import these from here, never from one another or from a conftest: a conftest
keeps fixtures only.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from shipshape.audit import DETAILS, AuditAction
from shipshape.config import ClientConfig
from shipshape.models import (
    Actor,
    Address,
    AuditEvent,
    ExceptionStatus,
    ExceptionType,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from shipshape.ports import Clock, OrderRepository, SideWrite
from shipshape.rules import due_at
from shipshape_local.storefronts import Delivery, Line, Person, PostalAddress, ShopifyStore
from tests.fakes import InMemoryOrderRepository

# --- customers, addresses and lines the storefront simulators send -------------------------

JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
PORTLAND = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
BERLIN = PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE")
LONDON = PostalAddress("1 Brick Lane", "London", "", "E1 6AN", "GB")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
TENT = Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00")
MUG = Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")
LAMP = Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00")  # Nordlicht's
KITE = Line("KITE-DELTA-RED", "Delta kite, red", 1, "39.00")  # Kite & Kin's
# A corrected address as an operator types it into a resolution.
CORRECTED = {
    "name": "Jane Doe",
    "line1": "500 SW Market St",
    "city": "Portland",
    "region": "OR",
    "postal_code": "97204",
    "country_code": "US",
}


# --- storefront deliveries ------------------------------------------------------------------


def paid_shopify_order(
    acme: ShopifyStore, clock: Clock, order_id: int = 5_600_001, **overrides: Any
) -> dict[str, Any]:
    """Acme's paid Shopify order, placed now: a tent and two mugs for Jane in Portland."""
    now = clock.now()
    fields: dict[str, Any] = {
        "lines": [TENT, MUG],
        "person": JANE,
        "address": PORTLAND,
        "created_at": now,
        "updated_at": now,
        "financial_status": "paid",
    }
    fields.update(overrides)
    return acme.order(order_id, order_id - 5_599_000, **fields)


def acme_order(
    acme: ShopifyStore, clock: Clock, number: int, lines: list[Line], **fields: Any
) -> Delivery:
    """Acme's paid order number ``number`` with ``lines``, as its ``orders/paid`` webhook."""
    return acme.deliver(
        "orders/paid", paid_shopify_order(acme, clock, 5_600_000 + number, lines=lines, **fields)
    )


# --- orders and audit events as Shipshape records them -------------------------------------

ACME = "acme-outdoors"
SHOP = "acme-outdoors.myshopify.com"
SKU = "MUG-ENAMEL-12"
LOT = "GUARD-1"
WAREHOUSE = "pdx-1"


def received_order(clock: Clock, storefront_order_id: str) -> tuple[Order, AuditEvent]:
    """An Acme order for 2 mugs as ingest first records it: received, waiting for payment,
    with its first audit event."""
    now = clock.now()
    order_id = canonical_order_id(ACME, Platform.SHOPIFY, SHOP, storefront_order_id)
    order = Order(
        order_id=order_id, client_id=ACME, platform=Platform.SHOPIFY, store=SHOP,
        storefront_order_id=storefront_order_id, version=1, storefront_updated_at=now,
        received_at=now, payment=PaymentState.PENDING,
        lines=(OrderLine(line_id="1", sku=SKU, quantity=2),), status=OrderStatus.RECEIVED,
        owner="client-success", status_timestamps={OrderStatus.RECEIVED: now},
        rules_version="1", audit_seq=1,
    )  # fmt: skip
    return order, received_event(order, at=now)


def received_event(order: Order, *, at: datetime, source: str = "webhook") -> AuditEvent:
    """The first event of ``order``'s trail as ingest records it: the order received from its
    storefront, in the status it arrived in (accepted when paid, received when not)."""
    return AuditEvent(
        order_id=order.order_id,
        seq=1,
        at=at,
        action=AuditAction.ORDER_RECEIVED,
        actor=Actor(kind="storefront", id=f"{order.platform.value}:{order.store}"),
        to_status=order.status,
        owner=order.owner,
        detail={
            "version": order.version,
            "storefront_updated_at": order.storefront_updated_at.isoformat(),
            "sync_lag_seconds": round((at - order.storefront_updated_at).total_seconds(), 3),
            "source": source,
            "payment": order.payment.value,
            "rules_version": order.rules_version,
        },
    )


# --- audit details --------------------------------------------------------------------------

# What a placeholder detail names as its exception (any exception id of the right shape).
SOME_EXCEPTION = "ord_aaaaaaaaaaaaaaaaaaaa.e1"


def _placeholder(name: str, annotation: Any) -> Any:
    """A value of the annotated type, for a required field of a detail model."""
    if name == "exception_id":
        return SOME_EXCEPTION
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return next(iter(annotation)).value
    if origin in (typing.Union, types.UnionType):
        kept = next(a for a in typing.get_args(annotation) if a is not type(None))
        return _placeholder(name, kept)
    if origin is list or annotation is list:
        return []
    if origin is dict or annotation is dict:
        return {}
    return {int: 1, float: 0.5, bool: False, datetime: OPENED.isoformat()}.get(annotation, "x")


def least_detail(action: AuditAction, **detail: Any) -> dict[str, Any]:
    """The smallest detail ``action`` records (its required fields, each with a placeholder
    value), with ``detail`` over it: for a test about the write, not about what it says."""
    model = DETAILS[action]
    least = {
        name: _placeholder(name, field.annotation)
        for name, field in model.model_fields.items()
        if field.is_required()
    }
    return {**least, **detail}


# --- what the storefront fixtures in tests/events normalize to -----------------------------

# Shopify: shopify/orders_*.json, from Acme Outdoors' shop (SHOP).
JANE_AT_HOME = Address(
    name="Jane Doe",
    company=None,
    line1="415 SW Alder St",
    line2=None,
    city="Portland",
    region="OR",
    postal_code="97204",
    country_code="US",
    phone="+15035550142",
)

SHOPIFY_TENT = OrderLine(
    line_id="14582934167668",
    sku="TENT-2P-GRN",
    title="Ridgeline 2P Tent - Green",
    quantity=1,
    unit_price=Decimal("249.00"),
)

SHOPIFY_MUGS = OrderLine(
    line_id="14582934200436",
    sku="MUG-ENAMEL-12",
    title="Enamel Camp Mug 12 oz - Slate",
    quantity=2,
    unit_price=Decimal("18.00"),
)

# WooCommerce: woocommerce/order_*.json, Nordlicht's site.
WOOCOMMERCE_SITE = "https://nordlicht-shop.de/"
LENA_AT_THE_OFFICE = Address(
    name="Lena Vogel",
    company="Vogel & Partner Architekten",
    line1="Chausseestraße 86",
    line2="3. OG",
    city="Berlin",
    region=None,
    postal_code="10115",
    country_code="DE",
    # The shipping form left its phone empty; the billing phone reaches her.
    phone="+49 30 55501234",
)

WOOCOMMERCE_TENT = OrderLine(
    line_id="1893",
    sku="TENT-2P-GRN",
    title="Zelt Nordkap 2P, grün",
    quantity=1,
    unit_price=Decimal("209.243697"),
)

WOOCOMMERCE_MUGS = OrderLine(
    line_id="1894",
    sku="MUG-ENAMEL-12",
    title="Emaille-Becher 12 oz",
    quantity=2,
    unit_price=Decimal("16.722689"),
)

# The generic format: generic/order_*.json, sent by Kite & Kin's own shop.
GENERIC_SENDER = "kite-and-kin"
OLIVER_IN_BRISTOL = Address(
    name="Oliver Bennett",
    company=None,
    line1="12 Hawthorn Road",
    line2="Flat 2",
    city="Bristol",
    region=None,
    postal_code="BS7 8PT",
    country_code="GB",
    phone="+44 117 496 0123",
)

GENERIC_LINES = (
    OrderLine(
        line_id="1",
        sku="KITE-DELTA-RED",
        title="Delta kite 150 cm, red",
        quantity=1,
        unit_price=Decimal("54.95"),
    ),
    OrderLine(
        line_id="2",
        sku="LINE-SPOOL-50M",
        title="Kite line spool, 50 m",
        quantity=2,
        unit_price=Decimal("12.50"),
    ),
)

# BigCommerce: the API's order bundle bigcommerce/order_awaiting_fulfillment.json.
BIGCOMMERCE_STORE = "q8kz3m1v4w"
PRIYA_AT_HOME = Address(
    name="Priya Raman",
    company=None,
    line1="12 Hawthorn Road",
    line2="Flat 2",
    city="Bristol",
    region=None,
    postal_code="BS7 8PT",
    country_code="GB",
    # The shipping address has no phone: the buyer's billing phone is the one to call.
    phone="+44 117 496 0451",
)

BIGCOMMERCE_KITE = OrderLine(
    line_id="6101",
    sku="KITE-DELTA-RED",
    title="Delta kite 150 cm - Red",
    quantity=1,
    unit_price=Decimal("54.9500"),
)

BIGCOMMERCE_SPOOLS = OrderLine(
    line_id="6102",
    sku="LINE-SPOOL-50M",
    title="Kite line spool, 50 m",
    quantity=2,
    unit_price=Decimal("12.5000"),
)


# --- an overdue exception in a repository (the escalation sweeper's story) ----------------

# Acme works 08:00-17:00 in Portland (PST, UTC-8, in November), Monday to Friday.
OPENED = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)  # Tuesday 16:00 PST

# address_invalid is client-success's for 2 business hours: 16:00-17:00 Tuesday, then
# 08:00-09:00 Wednesday.
FIRST_DUE = datetime(2026, 11, 18, 17, 0, tzinfo=UTC)  # Wednesday 09:00 PST

NOW = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)  # Wednesday 16:00 PST: 7 business hours late

# The next level's 2 business hours from now: 16:00-17:00 Wednesday, 08:00-09:00 Thursday.
NEXT_DUE = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)  # Thursday 09:00 PST

WORKFLOW = Actor(kind="workflow", id="fulfillment")
STEPS = {
    ExceptionType.ADDRESS_INVALID: ("ValidateAddress", "AddressInvalid"),
    ExceptionType.INVENTORY_SHORT: ("ReserveInventory", "InventoryShort"),
    ExceptionType.QA_FAILED: ("PrePickQa", "QaFailed"),
}


def seed_exception(
    repo: OrderRepository,
    client: ClientConfig,
    storefront_id: int = 5_600_001,
    *,
    kind: ExceptionType = ExceptionType.ADDRESS_INVALID,
    level: int = 0,
    opened_at: datetime = OPENED,
    claimed_by: str | None = None,
    client_id: str | None = None,
    task_token: str | None = None,
) -> OrderException:
    """An accepted order whose step failed at ``opened_at``, with its exception open at
    ``level`` (and claimed, if ``claimed_by``; waited on with ``task_token``, if given),
    written as the workflow and the ops API do, into ``repo`` (in memory or the stack's
    table: either stores exceptions too)."""
    exceptions = repo
    cid = client_id or client.client_id
    order_id = canonical_order_id(cid, Platform.SHOPIFY, SHOP, str(storefront_id))
    accepted_at = opened_at - timedelta(minutes=5)
    order = Order(
        order_id=order_id,
        client_id=cid,
        platform=Platform.SHOPIFY,
        store=SHOP,
        storefront_order_id=str(storefront_id),
        version=1,
        storefront_updated_at=accepted_at,
        received_at=accepted_at,
        payment=PaymentState.PAID,
        lines=(OrderLine(line_id="1", sku="TENT-2P-GRN", quantity=1),),
        status=OrderStatus.ACCEPTED,
        owner=client.owner_of(OrderStatus.ACCEPTED),
        status_timestamps={OrderStatus.ACCEPTED: accepted_at},
        rules_version=client.rules_version,
        audit_seq=1,
    )
    repo.create(order, received_event(order, at=accepted_at))
    rule = client.rules.rule_for(kind)
    owner, due = due_at(client.calendar, rule, opened_at, level=level)
    step, error = STEPS[kind]
    exception = OrderException(
        exception_id=f"{order_id}.e1",
        order_id=order_id,
        client_id=cid,
        type=kind,
        step=step,
        error=error,
        owner=owner,
        level=level,
        opened_at=opened_at,
        due_at=due,
        remediation=rule.remediation,
        task_token=task_token,
    )
    in_exception, opened = order.transition(
        AuditAction.EXCEPTION_OPENED,
        actor=WORKFLOW,
        at=opened_at,
        to=OrderStatus.EXCEPTION,
        owner=owner,
        changes={"open_exception_id": exception.exception_id, "exceptions_opened": 1},
        detail={**_about(exception), "step": step, "error": error, "cause": error},
    )
    exceptions.write_exception(
        in_exception, exception, opened, expected_seq=1, expected_version=None
    )
    if claimed_by is None:
        return exception
    claimed_at = opened_at + timedelta(minutes=10)
    claimed = exception.model_copy(
        update={
            "status": ExceptionStatus.CLAIMED,
            "claimed_by": claimed_by,
            "claimed_at": claimed_at,
            "version": 2,
        }
    )
    after_claim, claim = in_exception.transition(
        AuditAction.EXCEPTION_CLAIMED,
        actor=Actor(kind="operator", id=claimed_by),
        at=claimed_at,
        detail=_about(claimed),
    )
    exceptions.write_exception(after_claim, claimed, claim, expected_seq=2, expected_version=1)
    return claimed


def _about(exception: OrderException) -> dict[str, Any]:
    """The exception an audit event is about, as the trail shows it."""
    return {
        "exception_id": exception.exception_id,
        "type": exception.type.value,
        "due_at": exception.due_at.isoformat(),
    }


def operator_resolves(repo: InMemoryOrderRepository, exception_id: str, by: str) -> None:
    """An operator resolves the exception with a retry, as the ops API writes it."""
    current = repo.get_exception(exception_id)
    assert current is not None
    order = repo.get(current.order_id)
    assert order is not None
    resolved = current.model_copy(
        update={
            "status": ExceptionStatus.RESOLVED,
            "resolved_by": by,
            "resolved_at": NOW,
            "version": current.version + 1,
        }
    )
    after, event = order.transition(
        AuditAction.EXCEPTION_RESOLVED,
        actor=Actor(kind="operator", id=by),
        at=NOW,
        changes={"open_exception_id": None},
        detail={**_about(current), "action": "retry", "note": "retried"},
        event_owner=current.owner,
    )
    repo.write_exception(
        after, resolved, event, expected_seq=order.audit_seq, expected_version=current.version
    )


def stored(repo: InMemoryOrderRepository, exception_id: str) -> tuple[OrderException, Order]:
    exception = repo.get_exception(exception_id)
    assert exception is not None, f"exception {exception_id} was not stored"
    order = repo.get(exception.order_id)
    assert order is not None
    return exception, order


def escalations(repo: InMemoryOrderRepository, order_id: str) -> list[AuditEvent]:
    return [e for e in repo.audit_trail(order_id) if e.action == "exception_escalated"]


class ResolvedJustBeforeTheWrite(InMemoryOrderRepository):
    """Fault injection: an operator resolves the exception after the sweeper has read it and
    before its write lands."""

    def __init__(self, resolver: str) -> None:
        super().__init__()
        self.resolver = resolver
        self.resolve_next: str | None = None

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        target, self.resolve_next = self.resolve_next, None
        if target is not None:
            operator_resolves(self, target, self.resolver)
        super().write_exception(
            order, exception, event, expected_seq, expected_version, writes=writes
        )


# --- Lambda events, shaped like the samples in events/ ---------------------------------------

LAMBDA_EVENTS = Path(__file__).resolve().parents[1] / "events"


@cache
def _sample(name: str) -> str:
    return (LAMBDA_EVENTS / f"{name}.json").read_text()


def lambda_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json``, the event a function receives."""
    return dict(json.loads(_sample(name)))


def http_event(
    method: str,
    path: str,
    route_key: str,
    path_parameters: dict[str, str],
    *,
    headers: dict[str, str] | None = None,
    body: str = "",
    query: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for ``method path``, shaped like the samples
    in events/; ``claims`` are the JWT authorizer's (None: a route without the authorizer)."""
    event = lambda_event("ops_get_order")
    event.update(
        routeKey=route_key, rawPath=path, headers=dict(headers or {}), body=body,
        pathParameters=dict(path_parameters),
        rawQueryString="&".join(f"{k}={v}" for k, v in (query or {}).items()),
        queryStringParameters=dict(query) if query else None,
    )  # fmt: skip
    context = copy.deepcopy(event["requestContext"])
    context.update(routeKey=route_key)
    context["http"].update(method=method, path=path)
    if claims is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event["requestContext"] = context
    return event
