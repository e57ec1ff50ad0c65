"""The numbers operators watch, computed from the audit trail of a client's orders.

A period is a range of the client's own calendar days. Each figure counts the events that
happened in it: orders received, shipped or cancelled; QA results; exceptions opened,
escalated and resolved; storefront versions received (sync lag). Where a figure needs a moment
from before the period (an order paid earlier, an exception opened earlier), the order or the
exception record supplies it.
"""

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from pydantic import Field

from shipshape.audit import AuditAction
from shipshape.authorization import Operator, served_client
from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import PayloadInvalid
from shipshape.models import SHIPPED_STATUSES, AuditEvent, ExceptionType, OrderStatus
from shipshape.ports import AuditIndex, Clock, OrderRepository

MAX_DAYS = 92
HISTOGRAM = (
    ("< 4 h", 4), ("4-8 h", 8), ("8-24 h", 24), ("1-2 d", 48), ("2-3 d", 72), ("3-5 d", 120),
    ("> 5 d", None),
)  # fmt: skip


class Distribution(Model):
    count: int
    median: float | None = None
    p90: float | None = None


class HistogramBin(Model):
    label: str
    count: int


class FulfillmentHours(Distribution):
    histogram: list[HistogramBin]


class OrderCounts(Model):
    received: int = Field(description="Orders first recorded in the period.")
    shipped: int
    completed_partial: int
    cancelled: int


class PickAccuracy(Model):
    picks: int = Field(description="Orders whose post-pick gate ran in the period.")
    first_time_right: int = Field(description="Of those, orders whose first scan check passed.")
    rate: float | None


class ExceptionsOfType(Model):
    type: ExceptionType
    opened: int
    rate: float | None = Field(description="Opened per order received.")


class ExceptionCounts(Model):
    opened: int
    rate: float | None
    by_type: list[ExceptionsOfType]


class Resolution(Model):
    count: int
    average: float | None
    p90: float | None


class OwnerEscalations(Model):
    owner: str = Field(description="The owner whose deadline was missed.")
    escalations: int


class SlaCompliance(Model):
    met: int = Field(description="Exceptions resolved by their first owner before the deadline.")
    missed: int = Field(description="Exceptions escalated, or resolved after the deadline.")
    compliance: float | None


class SyncLag(Distribution):
    max: float | None = None
    over_15_minutes: int = 0


class Day(Model):
    date: date
    received: int = 0
    shipped: int = 0
    exceptions: int = 0
    sla_met: int = 0
    sla_missed: int = 0


class MetricsReport(Model):
    client_id: str
    from_: date = Field(serialization_alias="from")
    to: date
    timezone: str
    rules_version: str
    orders: OrderCounts
    fulfillment_hours: FulfillmentHours
    pick_accuracy: PickAccuracy
    exceptions: ExceptionCounts
    time_to_resolution_hours: Resolution
    escalations_per_owner: list[OwnerEscalations]
    sla: SlaCompliance
    sync_lag_seconds: SyncLag
    daily: list[Day]


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def period(client: ClientConfig, today: date, days: int) -> tuple[date, date, datetime, datetime]:
    """The last ``days`` calendar days of the client (today included), as dates and instants."""
    if not 1 <= days <= MAX_DAYS:
        raise PayloadInvalid(f"days: must be between 1 and {MAX_DAYS}")
    zone = ZoneInfo(client.timezone)
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(today + timedelta(days=1), time(0), zone)
    return first, today, start, end


@dataclass
class _Exceptions:
    opened: dict[str, datetime] = field(default_factory=dict)
    first_due: dict[str, datetime] = field(default_factory=dict)
    escalated: set[str] = field(default_factory=set)


def compute(
    client: ClientConfig,
    events: Iterable[AuditEvent],
    first: date,
    last: date,
    paid_at: dict[str, datetime],
    opened_at: dict[str, tuple[datetime, datetime]],
) -> MetricsReport:
    """The report for ``events`` (the client's audit events of the period, oldest first).
    ``paid_at`` gives the acceptance time of orders shipped in the period but paid before it;
    ``opened_at`` the opening time and first deadline of exceptions opened before it."""
    zone = ZoneInfo(client.timezone)
    days = {first + timedelta(days=i): Day(date=first + timedelta(days=i))
            for i in range((last - first).days + 1)}  # fmt: skip

    def day(event: AuditEvent) -> Day:
        return days[event.at.astimezone(zone).date()]

    received: set[str] = set()
    counts: Counter[OrderStatus] = Counter()
    paid = dict(paid_at)
    fulfillment: list[float] = []
    post_pick_first: dict[str, bool] = {}
    opened_by_type: Counter[ExceptionType] = Counter()
    exc = _Exceptions(
        opened={k: v[0] for k, v in opened_at.items()},
        first_due={k: v[1] for k, v in opened_at.items()},
    )
    resolution: list[float] = []
    escalations: Counter[str] = Counter()
    met = missed = 0
    lags: list[float] = []
    for event in events:
        detail = event.detail
        counted = _counted(event.action)
        if counted is _Counted.RECEIVED:
            received.add(event.order_id)
            day(event).received += 1
        if "sync_lag_seconds" in detail:
            lags.append(float(detail["sync_lag_seconds"]))
        if event.to_status is OrderStatus.ACCEPTED:
            paid.setdefault(event.order_id, event.at)
        if event.to_status in SHIPPED_STATUSES or event.to_status is OrderStatus.CANCELLED:
            assert event.to_status is not None
            counts[event.to_status] += 1
        if event.to_status in SHIPPED_STATUSES:
            day(event).shipped += 1
            if event.order_id in paid:
                fulfillment.append((event.at - paid[event.order_id]).total_seconds() / 3600)
        if counted is _Counted.QA_VERDICT and detail.get("gate") == "post_pick":
            post_pick_first.setdefault(event.order_id, event.action is AuditAction.QA_PASSED)
        exception_id = str(detail.get("exception_id", ""))
        if counted is _Counted.OPENED and exception_id:
            opened_by_type[ExceptionType(detail["type"])] += 1
            day(event).exceptions += 1
            exc.opened[exception_id] = event.at
            exc.first_due[exception_id] = datetime.fromisoformat(detail["due_at"])
        elif counted is _Counted.ESCALATED:
            escalations[str(detail.get("from_owner", "?"))] += 1
            if exception_id not in exc.escalated:
                exc.escalated.add(exception_id)
                missed += 1
                day(event).sla_missed += 1
        elif counted is _Counted.RESOLVED and exception_id:
            opened = exc.opened.get(exception_id)
            if opened is not None:
                resolution.append((event.at - opened).total_seconds() / 3600)
            if exception_id in exc.escalated:
                continue
            due = exc.first_due.get(exception_id)
            if due is not None and event.at > due:
                missed += 1
                day(event).sla_missed += 1
            else:
                met += 1
                day(event).sla_met += 1
    fulfillment.sort()
    resolution.sort()
    lags.sort()
    total_received = len(received)
    opened_total = sum(opened_by_type.values())
    first_right = sum(post_pick_first.values())
    return MetricsReport(
        client_id=client.client_id,
        from_=first,
        to=last,
        timezone=client.timezone,
        rules_version=client.rules_version,
        orders=OrderCounts(
            received=total_received,
            shipped=counts[OrderStatus.SHIPPED],
            completed_partial=counts[OrderStatus.COMPLETED_PARTIAL],
            cancelled=counts[OrderStatus.CANCELLED],
        ),
        fulfillment_hours=FulfillmentHours(
            count=len(fulfillment),
            median=_round(statistics.median(fulfillment)) if fulfillment else None,
            p90=_round(p90(fulfillment)),
            histogram=_histogram(fulfillment),
        ),
        pick_accuracy=PickAccuracy(
            picks=len(post_pick_first),
            first_time_right=first_right,
            rate=_ratio(first_right, len(post_pick_first)),
        ),
        exceptions=ExceptionCounts(
            opened=opened_total,
            rate=_ratio(opened_total, total_received),
            by_type=[
                ExceptionsOfType(type=t, opened=n, rate=_ratio(n, total_received))
                for t, n in sorted(opened_by_type.items(), key=lambda kv: (-kv[1], kv[0].value))
            ],
        ),
        time_to_resolution_hours=Resolution(
            count=len(resolution),
            average=_round(statistics.fmean(resolution)) if resolution else None,
            p90=_round(p90(resolution)),
        ),
        escalations_per_owner=[
            OwnerEscalations(owner=o, escalations=n)
            for o, n in sorted(escalations.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        sla=SlaCompliance(met=met, missed=missed, compliance=_ratio(met, met + missed)),
        sync_lag_seconds=SyncLag(
            count=len(lags),
            median=_round(statistics.median(lags)) if lags else None,
            p90=_round(p90(lags)),
            max=lags[-1] if lags else None,
            over_15_minutes=sum(1 for lag in lags if lag > 900),
        ),
        daily=list(days.values()),
    )


def _histogram(hours: Sequence[float]) -> list[HistogramBin]:
    bins = Counter[str]()
    for value in hours:
        label = next(lbl for lbl, upper in HISTOGRAM if upper is None or value < upper)
        bins[label] += 1
    return [HistogramBin(label=label, count=bins[label]) for label, _ in HISTOGRAM]


def client_metrics(
    repo: OrderRepository,
    audit: AuditIndex,
    clients: ClientDirectory,
    clock: Clock,
    operator: Operator,
    client_id: str,
    days: int,
) -> MetricsReport:
    """The client's numbers over its last ``days`` days, for an operator who serves it."""
    client = served_client(clients, operator, client_id)
    today = clock.now().astimezone(ZoneInfo(client.timezone)).date()
    first, last, start, end = period(client, today, days)
    events = audit.audit_events_of_client(client_id, start, end)
    return compute(
        client, events, first, last,
        paid_at=_paid_before(audit, events),
        opened_at=_opened_before(repo, events),
    )  # fmt: skip


def _paid_before(audit: AuditIndex, events: Sequence[AuditEvent]) -> dict[str, datetime]:
    accepted = {e.order_id for e in events if e.to_status is OrderStatus.ACCEPTED}
    missing = {e.order_id for e in events if e.to_status in SHIPPED_STATUSES} - accepted
    found: dict[str, datetime] = {}
    for order in audit.orders(sorted(missing)):
        moment = order.status_timestamps.get(OrderStatus.ACCEPTED)
        if moment is not None:
            found[order.order_id] = moment
    return found


def _opened_before(
    repo: OrderRepository, events: Sequence[AuditEvent]
) -> dict[str, tuple[datetime, datetime]]:
    opened = {
        str(e.detail.get("exception_id")) for e in events if _counted(e.action) is _Counted.OPENED
    }
    later = {
        str(e.detail["exception_id"])
        for e in events
        if _counted(e.action) is _Counted.RESOLVED and "exception_id" in e.detail
    }
    found: dict[str, tuple[datetime, datetime]] = {}
    for exception_id in sorted(later - opened):
        record = repo.get_exception(exception_id)
        if record is not None:
            # The first deadline is not kept once escalated; an escalated exception counts
            # as missed through its escalation event anyway.
            found[exception_id] = (record.opened_at, record.due_at)
    return found


def as_json(report: MetricsReport) -> dict[str, Any]:
    return report.model_dump(mode="json", by_alias=True)


class _Counted(Enum):
    """What the measurement counts an audit action as (status changes count by status)."""

    RECEIVED = "received"
    QA_VERDICT = "qa verdict"
    OPENED = "exception opened"
    ESCALATED = "escalated past its deadline"
    RESOLVED = "exception resolved"


def _counted(action: AuditAction) -> _Counted | None:
    """Every action is decided here: mypy refuses a new one until it is."""
    A = AuditAction
    match action:
        case A.ORDER_RECEIVED:
            return _Counted.RECEIVED
        case A.QA_PASSED | A.QA_FAILED:
            return _Counted.QA_VERDICT
        case A.EXCEPTION_OPENED | A.ORDER_QUARANTINED:
            return _Counted.OPENED
        case A.EXCEPTION_ESCALATED:
            return _Counted.ESCALATED
        case A.EXCEPTION_RESOLVED:
            return _Counted.RESOLVED
        case (
            A.STOREFRONT_UPDATED | A.FULFILMENT_REQUESTED | A.ORDER_CANCELLED
            | A.ADDRESS_VALIDATED | A.INVENTORY_RESERVED | A.INVENTORY_RESERVED_IN_PART
            | A.RESERVED_PARTIALLY | A.RESERVATION_HELD | A.BACKORDERED | A.STOCK_AWAITED
            | A.PICKER_ASSIGNED | A.PICK_REQUESTED | A.PICK_REQUESTED_AGAIN | A.PICK_CONFIRMED
            | A.PACK_REQUESTED | A.PACK_REQUESTED_AGAIN | A.PACK_CONFIRMED | A.LABEL_CREATED
            | A.LABEL_VOIDED | A.CARRIER_REJECTED | A.STOCK_CONSUMED_IN_PART | A.SHIPPED
            | A.SHIPPED_PARTIALLY | A.CUSTOMER_NOTIFIED | A.ORDER_HELD
            | A.STOCK_RELEASED_IN_PART | A.LINES_REFUNDED
            | A.EXCEPTION_WAIT_RENEWED | A.EXCEPTION_CLAIMED
            | A.EXCEPTION_REASSIGNED | A.OVERRIDE_REQUESTED | A.OVERRIDE_APPLIED
            | A.OVERRIDE_REJECTED | A.STOREFRONT_CONFIRMED | A.STOREFRONT_WRITE_BACK_REFUSED
        ):  # fmt: skip
            return None  # a reassignment to cover an absence is no missed deadline
        case _:
            assert_never(action)
