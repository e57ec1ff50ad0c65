"""The escalation sweeper: an exception whose owner missed its deadline moves up its client's
escalation chain, with a new deadline in business hours, an audit event and a notification.

It runs on a schedule (every five minutes in AWS) and reads only the sparse index of open
exceptions by due time, so each pass costs what is overdue, not what is stored. Passes may
overlap (a slow pass and the next one, or a retried invocation): every escalation is a
conditional write on the exception's version, decided on a fresh read, so an exception is
escalated once per missed deadline however many passes see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from shipshape.audit import AuditAction
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import ConcurrentUpdate, OrderNotFound
from shipshape.models import (
    Actor,
    AwayPeriod,
    ExceptionStatus,
    ExceptionType,
    Order,
    OrderException,
)
from shipshape.observability import logger
from shipshape.ports import AwayRegistry, Clock, Notifier, OrderRepository
from shipshape.services.away import first_available
from shipshape.services.records import commit_exception, retry_on_conflict

SWEEPER = Actor(kind="system", id="escalation-sweeper")

# The first decision, plus one re-decision on a fresh read after losing a race. A second lost
# race means the exception is busy; the next pass (minutes later) decides again.
_DECISIONS = 2

_EXHAUSTED_NOTE = (
    "escalation chain exhausted: the last level keeps the exception, with a new deadline, "
    "and is notified again"
)


class Escalation(NamedTuple):
    """One exception moved up its chain (or kept at its last level) by a pass."""

    exception_id: str
    from_owner: str
    to_owner: str
    level: int


@dataclass
class KindCounts:
    """Per client and exception type: what a pass found overdue and what it escalated."""

    overdue: int = 0
    escalated: int = 0


@dataclass
class SweepReport:
    """What one pass saw and did.

    ``overdue_seen`` counts the index entries read (the index may be a little stale);
    ``by_kind`` counts, per (client id, exception type), the exceptions this pass confirmed
    overdue on a fresh read (escalated, or left overdue by a failure) and those it escalated.
    An exception another writer had already escalated or resolved is only ``skipped``, so
    overlapping passes do not count it twice. ``away_periods`` holds the away lists the pass
    read (clients with a candidate only), for the reassignment that follows in the same pass
    (``reassign_from_away(away_periods=...)``) not to read them again.
    """

    overdue_seen: int = 0
    escalated: list[Escalation] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    notify_failed: list[str] = field(default_factory=list)
    by_kind: dict[tuple[str, ExceptionType], KindCounts] = field(default_factory=dict)
    away_periods: dict[str, list[AwayPeriod]] = field(default_factory=dict)

    def counts(self, client_id: str, kind: ExceptionType) -> KindCounts:
        """The counters of one (client, exception type), created at zero on first use."""
        return self.by_kind.setdefault((client_id, kind), KindCounts())

    @property
    def overdue(self) -> int:
        """Exceptions confirmed overdue in this pass, over every client and type."""
        return sum(c.overdue for c in self.by_kind.values())


@dataclass(frozen=True)
class _Escalated:
    order: Order
    exception: OrderException
    escalation: Escalation


def sweep_overdue(
    *,
    repo: OrderRepository,
    clients: ClientDirectory,
    clock: Clock,
    notifier: Notifier,
    limit: int = 200,
    away: AwayRegistry | None = None,
) -> SweepReport:
    """Escalate every open exception whose deadline has passed, oldest deadline first, up to
    ``limit`` per pass (the rest wait for the next pass).

    Each one moves to the next level of its client's chain: that level's owner, a deadline of
    that level's SLA in the client's business hours from now, the order's owner with it, and
    an ``exception_escalated`` audit event, all in one conditional write; then the new
    owner's people are notified. A claimed exception is taken back from its claimant (they
    missed the deadline) and reopened for the next owner. At the end of the chain the last
    owner keeps it, with a new deadline, and is notified again.
    """
    now = clock.now()
    report = SweepReport()
    # Escalation routes past owners who are away, like opening does (read once per client).
    away_by_client = report.away_periods
    candidates = repo.exceptions_due_before(now, limit)
    report.overdue_seen = len(candidates)
    for candidate in candidates:
        counts = report.counts(candidate.client_id, candidate.type)
        log_keys = {
            "exception_id": candidate.exception_id,
            "order_id": candidate.order_id,
            "client_id": candidate.client_id,
            "exception_type": candidate.type.value,
        }
        try:
            client = clients.get(candidate.client_id)
            if away is not None and client.client_id not in away_by_client:
                away_by_client[client.client_id] = away.away_periods(client.client_id)
            periods = away_by_client.get(client.client_id, [])
            done = _escalate_once(repo, client, candidate.exception_id, now, periods)
        except ConcurrentUpdate:
            # Lost the race twice: someone is working on it right now. Still overdue as far as
            # we know; the next pass decides again on a fresh read.
            logger.warning("escalation contended; left for the next pass", extra=log_keys)
            report.failed.append(candidate.exception_id)
            counts.overdue += 1
            continue
        except Exception:  # noqa: BLE001 - one bad exception must not stop the sweep of others
            logger.exception("escalation failed", extra=log_keys)
            report.failed.append(candidate.exception_id)
            counts.overdue += 1
            continue
        if done is None:
            report.skipped.append(candidate.exception_id)
            continue
        counts.overdue += 1
        counts.escalated += 1
        report.escalated.append(done.escalation)
        logger.info(
            "exception escalated",
            extra={
                **log_keys,
                "from_owner": done.escalation.from_owner,
                "to_owner": done.escalation.to_owner,
                # Not "level": the logger's own key for the log level would hide it.
                "escalation_level": done.escalation.level,
                "due_at": done.exception.due_at.isoformat(),
            },
        )
        try:
            notifier.exception_assigned(
                done.order,
                done.exception,
                reason="escalated",
                recipients=client.rules.members_of(done.exception.owner),
            )
        except Exception:  # noqa: BLE001 - see below
            # The escalation is recorded whatever happens to the message: a failed publish
            # must not stop the pass, nor be reported as a failed escalation.
            logger.exception("escalation notification failed", extra=log_keys)
            report.notify_failed.append(candidate.exception_id)
    if candidates:
        logger.info(
            "escalation pass",
            extra={
                "overdue_seen": report.overdue_seen,
                "escalated": len(report.escalated),
                "skipped": len(report.skipped),
                "failed": len(report.failed),
            },
        )
    return report


def _escalate_once(
    repo: OrderRepository,
    client: ClientConfig,
    exception_id: str,
    now: datetime,
    periods: list[AwayPeriod],
) -> _Escalated | None:
    def decide_and_write() -> _Escalated | None:
        # Read again, consistently: the index is eventually consistent, and another pass or an
        # operator may have moved the exception since. Deciding on this read, and writing on
        # its version, is what makes overlapping passes escalate once.
        current = repo.get_exception(exception_id)
        if current is None or not current.is_open or current.due_at >= now:
            return None
        order = repo.get(current.order_id)
        if order is None:
            # Orders and exceptions are written in one transaction; this is corruption.
            raise OrderNotFound(f"exception {exception_id} has no order {current.order_id}")
        return _escalate(repo, client, order, current, now, periods)

    return retry_on_conflict(_DECISIONS, decide_and_write)


def _escalate(
    repo: OrderRepository,
    client: ClientConfig,
    order: Order,
    current: OrderException,
    now: datetime,
    periods: list[AwayPeriod],
) -> _Escalated:
    rule = client.rules.rule_for(current.type)
    last = len(rule.escalation)
    exhausted = current.level >= last
    # Capped: a level names a step of the chain, and past its end the last step holds.
    owner, due, level, _skipped = first_available(
        client, rule, periods, now, from_level=min(current.level + 1, last)
    )
    overdue_by = client.calendar.business_time_between(current.due_at, now)

    changes: dict[str, Any] = {
        "owner": owner,
        "level": level,
        "due_at": due,
        "version": current.version + 1,
    }
    detail: dict[str, Any] = {
        "exception_id": current.exception_id,
        "type": current.type.value,
        "from_owner": current.owner,
        "to_owner": owner,
        "level": level,
        "overdue_by_business_minutes": overdue_by // timedelta(minutes=1),
        "due_at": due.isoformat(),
    }
    if exhausted:
        detail["chain_exhausted"] = True
        detail["note"] = _EXHAUSTED_NOTE
    if current.status is ExceptionStatus.CLAIMED:
        # The claimant missed the deadline: the next owner gets it unclaimed, so anyone of
        # theirs can pick it up, and the trail says who had it.
        changes.update(status=ExceptionStatus.OPEN, claimed_by=None, claimed_at=None)
        detail["previous_claimant"] = current.claimed_by
    escalated = current.model_copy(update=changes)

    # The order is owned by its open exception's owner; an order whose open exception is
    # another one (never expected) keeps its owner rather than take a stale one.
    new_order, event = order.transition(
        AuditAction.EXCEPTION_ESCALATED, actor=SWEEPER, at=now, detail=detail,
        owner=owner if order.open_exception_id == current.exception_id else None,
        event_owner=owner,
    )  # fmt: skip
    commit_exception(
        repo,
        new_order,
        escalated,
        event,
        expected_seq=order.audit_seq,
        expected_version=current.version,
    )
    return _Escalated(
        order=new_order,
        exception=escalated,
        escalation=Escalation(current.exception_id, current.owner, owner, level),
    )
