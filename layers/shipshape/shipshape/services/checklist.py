"""The Monday-morning checklist: a report the system produces for each client, item by item.

1. The canonical record is in sync: no order more than 15 minutes behind its storefront.
2. The top 5 exception types and who owns them.
3. 10 random orders audited automatically for a complete trail.
4. Overdue assignments (the sweeper escalates them on its schedule; the CLI sweeps first).
5. Failed automations of the past week.
6. Rule changes waiting for review.
7. The catalog is in sync: every SKU ordered in the past week is in the SKU master, synced from
   the storefront (where Shipshape reads the client's catalog), on sale there, and measured by
   the warehouse.
"""

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import assert_never

from shipshape.audit import AuditAction
from shipshape.authorization import Operator, served_client
from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import (
    AuditEvent,
    ExceptionType,
    Order,
    OrderException,
    OrderStatus,
    Platform,
    QaGate,
    RuleChangeStatus,
    stage,
)
from shipshape.ports import AuditIndex, Clock, InventoryRepository, OrderRepository, RuleStore

WEEK = timedelta(days=7)
SYNC_LAG_LIMIT_SECONDS = 15 * 60
SAMPLE_SIZE = 10
OPEN_LIMIT = 1000
# The platforms whose catalog the catalog sync reads (products webhooks and the pull).
CATALOG_PLATFORMS = frozenset({Platform.SHOPIFY})
CATALOG_ENTRIES_LIMIT = 50
# The gates an order has passed once it stands at (or beyond) a status.
GATES_BY_STATUS: tuple[tuple[OrderStatus, QaGate], ...] = (
    (OrderStatus.AWAITING_PICK, QaGate.PRE_PICK),
    (OrderStatus.AWAITING_PACK, QaGate.POST_PICK),
    (OrderStatus.LABELLED, QaGate.PACKING),
    (OrderStatus.SHIPPED, QaGate.SHIPPING),
)


class ChecklistItem(Model):
    key: str
    title: str
    ok: bool
    summary: str
    entries: list[dict[str, str]]


class Checklist(Model):
    client_id: str
    generated_at: datetime
    rules_version: str
    ok: bool
    items: list[ChecklistItem]


def monday_checklist(
    *,
    repo: OrderRepository,
    audit: AuditIndex,
    rule_store: RuleStore,
    clients: ClientDirectory,
    clock: Clock,
    operator: Operator,
    client_id: str,
    seed: int | None = None,
    inventory: InventoryRepository | None = None,
) -> Checklist:
    """The client's checklist. Without ``inventory`` (a caller with no SKU master at hand)
    the catalog item is left out."""
    client = served_client(clients, operator, client_id)
    now = clock.now()
    week = audit.audit_events_of_client(client_id, now - WEEK, now)
    known = repo.exceptions_of_client(client_id, OPEN_LIMIT)
    items = [
        _sync_lag(week),
        _top_exceptions(known),
        _audit_sample(repo, client, week, now, seed),
        _overdue(known, now),
        _failed_automations(week),
        _rule_changes(rule_store, client_id),
    ]
    if inventory is not None:
        items.append(_catalog_in_sync(audit, inventory, client, week))
    return Checklist(
        client_id=client_id,
        generated_at=now,
        rules_version=client.rules_version,
        ok=all(i.ok for i in items),
        items=items,
    )


def _sync_lag(week: list[AuditEvent]) -> ChecklistItem:
    behind = [
        e for e in week if float(e.detail.get("sync_lag_seconds", 0)) > SYNC_LAG_LIMIT_SECONDS
    ]
    measured = sum(1 for e in week if "sync_lag_seconds" in e.detail)
    return ChecklistItem(
        key="sync_lag",
        title="The canonical record is in sync (no order over 15 minutes behind its storefront)",
        ok=not behind,
        summary=(
            f"{len(behind)} of {measured} storefront versions this week arrived more than 15 "
            "minutes after the storefront changed"
            if behind
            else f"all {measured} storefront versions this week arrived within 15 minutes"
        ),
        entries=[
            {
                "order_id": e.order_id,
                "received_at": e.at.isoformat(),
                "lag_minutes": f"{float(e.detail['sync_lag_seconds']) / 60:.1f}",
                "version": str(e.detail.get("version", "")),
            }
            for e in behind
        ],
    )


def _top_exceptions(known: list[OrderException]) -> ChecklistItem:
    open_ = [e for e in known if e.is_open]
    by_type: dict[str, list[OrderException]] = defaultdict(list)
    for exception in open_:
        by_type[exception.type.value].append(exception)
    top = sorted(by_type.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:5]
    return ChecklistItem(
        key="top_exceptions",
        title="Top 5 exception types and who owns them",
        ok=not open_,
        summary=f"{len(open_)} open exception(s) of {len(by_type)} type(s)",
        entries=[
            {
                "type": kind,
                "open": str(len(found)),
                "owners": ", ".join(
                    f"{owner} ({n})" for owner, n in sorted(_count(e.owner for e in found).items())
                ),
                "oldest_opened_at": min(e.opened_at for e in found).isoformat(),
            }
            for kind, found in top
        ],
    )


def _count(values: object) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for value in values:  # type: ignore[attr-defined]
        counted[value] += 1
    return counted


def trail_problems(order: Order, trail: list[AuditEvent]) -> list[str]:
    """What is missing from an order's trail: a gap in the sequence, an event without its
    timestamp or owner, a status without its event or its timestamp, a passed gate without its
    QA result."""
    problems: list[str] = []
    seqs = [e.seq for e in trail]
    if seqs != list(range(1, order.audit_seq + 1)):
        problems.append(f"audit events {seqs[:3]}... do not run 1..{order.audit_seq}")
    for event in trail:
        if event.at is None:
            problems.append(f"event {event.seq} ({event.action}) has no timestamp")
        if event.to_status is not None and not event.owner:
            problems.append(f"event {event.seq} ({event.action}) has no owner")
    reached = {e.to_status for e in trail if e.to_status is not None}
    for status in sorted(reached - set(order.status_timestamps), key=lambda s: s.value):
        problems.append(f"status {status.value} has an audit event but no timestamp")
    if any(e.action is AuditAction.ORDER_RECEIVED for e in trail):
        reached.add(OrderStatus.RECEIVED)  # a paid order is received and accepted at once
    for status in order.status_timestamps:
        if status not in reached:
            problems.append(f"status {status.value} has a timestamp but no audit event")
    if not order.owner:
        problems.append("the order has no owner")
    shipped = order.status is OrderStatus.COMPLETED_PARTIAL
    at = stage(OrderStatus.SHIPPED if shipped else order.status)
    for status, gate in GATES_BY_STATUS:
        result = order.last_qa(gate)
        reached_gate = at is not None and at >= (stage(status) or 0)
        if reached_gate and (result is None or not (result.passed or result.waived_by)):
            problems.append(f"{gate.value} QA result missing for an order at {order.status.value}")
    return problems


def _audit_sample(
    repo: OrderRepository,
    client: ClientConfig,
    week: list[AuditEvent],
    now: datetime,
    seed: int | None,
) -> ChecklistItem:
    ids = sorted({e.order_id for e in week})
    # Not security: a sample the operator can reproduce (same client and day, same orders).
    rng = random.Random(seed if seed is not None else f"{client.client_id}{now.date()}")  # noqa: S311
    sample = rng.sample(ids, min(SAMPLE_SIZE, len(ids)))
    entries: list[dict[str, str]] = []
    incomplete = 0
    for order_id in sample:
        order = repo.get(order_id)
        if order is None:
            continue
        problems = trail_problems(order, repo.audit_trail(order_id))
        incomplete += bool(problems)
        entries.append(
            {
                "order_id": order_id,
                "status": order.status.value,
                "events": str(order.audit_seq),
                "complete": "no" if problems else "yes",
                "problems": "; ".join(problems),
            }
        )
    return ChecklistItem(
        key="audit_sample",
        title=f"{SAMPLE_SIZE} random orders audited for a complete trail",
        ok=incomplete == 0,
        summary=(
            f"{len(entries) - incomplete} of {len(entries)} sampled orders (of {len(ids)} "
            "active this week) have a complete trail"
        ),
        entries=entries,
    )


def _overdue(known: list[OrderException], now: datetime) -> ChecklistItem:
    overdue = sorted((e for e in known if e.is_open and e.due_at < now), key=lambda e: e.due_at)
    return ChecklistItem(
        key="overdue",
        title="Overdue assignments, escalated",
        ok=not overdue,
        summary=(
            f"{len(overdue)} exception(s) past their deadline; the sweeper escalates each to "
            "the next level of its chain"
            if overdue
            else "no exception is past its deadline"
        ),
        entries=[
            {
                "exception_id": e.exception_id,
                "type": e.type.value,
                "owner": e.owner,
                "level": str(e.level),
                "due_at": e.due_at.isoformat(),
                "overdue_hours": f"{(now - e.due_at).total_seconds() / 3600:.1f}",
            }
            for e in overdue
        ],
    )


def _failed_automations(week: list[AuditEvent]) -> ChecklistItem:
    failed = [e for e in week if _failed_automation(e)]
    return ChecklistItem(
        key="failed_automations",
        title="Failed automations of the past week, for review",
        ok=not failed,
        summary=f"{len(failed)} automation failure(s) in the last 7 days",
        entries=[
            {
                "order_id": e.order_id,
                "at": e.at.isoformat(),
                "action": e.action,
                "owner": e.owner or "",
                "error": str(e.detail.get("error") or e.detail.get("reason") or ""),
            }
            for e in failed
        ],
    )


def _rule_changes(store: RuleStore, client_id: str) -> ChecklistItem:
    waiting = [
        c
        for c in store.rule_changes(client_id)
        if c.status in (RuleChangeStatus.PROPOSED, RuleChangeStatus.APPROVED)
    ]
    return ChecklistItem(
        key="rule_changes",
        title="Rule changes waiting for review",
        ok=not waiting,
        summary=f"{len(waiting)} rule change(s) waiting for approval or activation",
        entries=[
            {
                "version": str(c.version),
                "status": c.status.value,
                "summary": c.summary,
                "proposed_by": c.proposed_by,
                "proposed_at": c.proposed_at.isoformat(),
                "changes": "; ".join(c.release_notes),
            }
            for c in waiting
        ],
    )


def _failed_automation(event: AuditEvent) -> bool:
    """Whether an audit event is an automation that failed, for the week's review. Every
    action is decided here: mypy refuses a new one until it is."""
    A = AuditAction
    match event.action:
        case A.ORDER_QUARANTINED | A.ORDER_HELD:
            return True
        case A.EXCEPTION_OPENED:
            return event.detail.get("type") == ExceptionType.AUTOMATION_FAILURE.value
        case (
            A.ORDER_RECEIVED | A.STOREFRONT_UPDATED | A.FULFILMENT_REQUESTED | A.ORDER_CANCELLED
            | A.ADDRESS_VALIDATED | A.INVENTORY_RESERVED | A.INVENTORY_RESERVED_IN_PART
            | A.RESERVED_PARTIALLY | A.RESERVATION_HELD | A.BACKORDERED | A.STOCK_AWAITED
            | A.PICKER_ASSIGNED | A.PICK_REQUESTED | A.PICK_REQUESTED_AGAIN | A.PICK_CONFIRMED
            | A.PACK_REQUESTED | A.PACK_REQUESTED_AGAIN | A.PACK_CONFIRMED | A.QA_PASSED
            | A.QA_FAILED | A.LABEL_CREATED | A.LABEL_VOIDED | A.CARRIER_REJECTED
            | A.STOCK_CONSUMED_IN_PART | A.SHIPPED | A.SHIPPED_PARTIALLY | A.CUSTOMER_NOTIFIED
            | A.STOCK_RELEASED_IN_PART | A.LINES_REFUNDED
            | A.EXCEPTION_WAIT_RENEWED | A.EXCEPTION_CLAIMED
            | A.EXCEPTION_ESCALATED | A.EXCEPTION_REASSIGNED | A.EXCEPTION_RESOLVED
            | A.OVERRIDE_REQUESTED | A.OVERRIDE_APPLIED | A.OVERRIDE_REJECTED
            | A.STOREFRONT_CONFIRMED | A.STOREFRONT_WRITE_BACK_REFUSED
        ):  # fmt: skip
            return False  # a refused QA gate or carrier is a check doing its job
        case _:
            assert_never(event.action)


def _catalog_in_sync(
    audit: AuditIndex, inventory: InventoryRepository, client: ClientConfig, week: list[AuditEvent]
) -> ChecklistItem:
    """SKUs ordered this week (orders received in the past 7 days) that the SKU master lacks,
    or holds other than the storefront would: never synced from a storefront whose catalog
    Shipshape reads, inactive there (deleted or archived), or not yet measured."""
    received = sorted({e.order_id for e in week if e.action is AuditAction.ORDER_RECEIVED})
    ordered: dict[str, int] = defaultdict(int)
    for order in audit.orders(received):
        for sku in {ln.sku for ln in order.lines} | {ln.sku for ln in order.other_lines if ln.sku}:
            ordered[sku] += 1
    masters = inventory.skus(client.client_id, sorted(ordered))
    synced_store = any(store.platform in CATALOG_PLATFORMS for store in client.stores)
    entries: list[dict[str, str]] = []
    for sku in sorted(ordered):
        master = masters.get(sku)
        problems = []
        if master is None:
            problems.append("not in the SKU master")
        else:
            if master.storefront is None and synced_store:
                problems.append("never synced from the storefront (typed by the warehouse only)")
            if master.storefront is not None and not master.storefront.active:
                problems.append("inactive in the storefront (deleted, archived or draft)")
            missing = master.missing_for_fulfilment()
            if missing:
                problems.append(f"no {', '.join(missing)} (the warehouse sends them)")
        if problems:
            entries.append(
                {"sku": sku, "orders": str(ordered[sku]), "problem": "; ".join(problems)}
            )
    return ChecklistItem(
        key="catalog_in_sync",
        title="The catalog is in sync (every SKU ordered this week in the SKU master as sold)",
        ok=not entries,
        summary=(
            f"{len(entries)} of {len(ordered)} SKU(s) ordered this week need attention"
            if entries
            else f"all {len(ordered)} SKU(s) ordered this week are in the SKU master as sold"
        ),
        entries=entries[:CATALOG_ENTRIES_LIMIT],
    )
