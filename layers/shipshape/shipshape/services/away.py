"""Out of office: new exceptions route past owners who are away, and an owner's open
exceptions move to the next level of the chain when they are away longer than the client's
threshold (``rules.away_reassign_after_hours``)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import ConfigDict, Field

from shipshape.audit import AuditAction
from shipshape.authorization import Action, Operator, served_client
from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import ClientRequestError, ConcurrentUpdate
from shipshape.models import Actor, AwayPeriod, ExceptionStatus, OrderException
from shipshape.observability import logger
from shipshape.ports import AwayRegistry, Clock, Notifier, OrderRepository
from shipshape.rules import ExceptionRule, due_at
from shipshape.services.records import commit_exception, load

REASSIGNER = Actor(kind="system", id="away-reassignment")


class UnknownOwner(ClientRequestError):
    status = 422


class InvalidAwayPeriod(ClientRequestError):
    status = 422


class MarkAwayRequest(Model):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=64)
    starts_at: datetime
    ends_at: datetime
    note: str = Field(default="", max_length=500)


def unavailable(client: ClientConfig, periods: list[AwayPeriod], owner: str, at: datetime) -> bool:
    """A person is unavailable while away; a team, when every member is."""
    away = {p.person for p in periods if p.covers(at)}
    return all(member in away for member in client.rules.members_of(owner))


def first_available(
    client: ClientConfig,
    rule: ExceptionRule,
    periods: list[AwayPeriod],
    at: datetime,
    from_level: int = 0,
) -> tuple[str, datetime, int, list[str]]:
    """Owner, deadline and level of the first level at or after ``from_level`` whose owner is
    not away; the last level takes it if everyone is. Also the owners skipped."""
    level, skipped = from_level, []
    while level < len(rule.escalation) and unavailable(client, periods, rule.level(level)[0], at):
        skipped.append(rule.level(level)[0])
        level += 1
    owner, due = due_at(client.calendar, rule, at, level)
    return owner, due, level, skipped


def mark_away(
    *,
    away: AwayRegistry,
    clients: ClientDirectory,
    operator: Operator,
    person: str,
    request: MarkAwayRequest,
) -> AwayPeriod:
    client = served_client(clients, operator, request.client_id, Action.ACT)
    people = client.rules.known_owners() | set(client.pickers)
    if person not in people or person in client.rules.teams:
        raise UnknownOwner(f"{person} is not a person in {client.client_id}'s rules or pickers")
    if request.starts_at.tzinfo is None or request.ends_at.tzinfo is None:
        raise InvalidAwayPeriod("starts_at and ends_at need a timezone offset")
    if request.ends_at <= request.starts_at:
        raise InvalidAwayPeriod("ends_at must be after starts_at")
    period = AwayPeriod(
        client_id=client.client_id,
        person=person,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        note=request.note,
        set_by=operator.subject,
    )
    away.mark_away(period)
    logger.info("owner marked away", extra={"client_id": client.client_id, "person": person})
    return period


@dataclass
class ReassignReport:
    reassigned: list[tuple[str, str, str]] = field(default_factory=list)


def reassign_from_away(
    *,
    repo: OrderRepository,
    away: AwayRegistry,
    clients: ClientDirectory,
    clock: Clock,
    notifier: Notifier,
    away_periods: Mapping[str, list[AwayPeriod]] | None = None,
) -> ReassignReport:
    """Move open exceptions off owners away longer than the client's threshold. Reads only
    the clients' away lists and the sparse open-by-owner index of the owners concerned.

    ``away_periods``: away lists this pass has already read, by client id (the sweep's
    ``SweepReport.away_periods``); those clients' lists are not read again."""
    report = ReassignReport()
    now = clock.now()
    known = away_periods or {}
    for client in clients.all():
        periods = known.get(client.client_id)
        if periods is None:
            periods = away.away_periods(client.client_id)
        threshold = timedelta(hours=client.rules.away_reassign_after_hours)
        long_away = {
            p.person
            for p in periods
            if p.covers(now)
            and client.calendar.business_time_between(p.starts_at, p.ends_at) > threshold
        }
        if not long_away:
            continue
        owners = set(long_away) | {
            team
            for team, members in client.rules.teams.items()
            if all(m in long_away for m in members)
        }
        for owner in sorted(owners):
            for exception in repo.open_exceptions_of(client.client_id, owner):
                try:
                    moved = _reassign(repo, client, periods, exception, clock, notifier)
                except Exception:  # noqa: BLE001 - one bad item must not stop the pass
                    logger.exception(
                        "reassignment failed", extra={"exception_id": exception.exception_id}
                    )
                    continue
                if moved:
                    report.reassigned.append(moved)
    return report


def _reassign(
    repo: OrderRepository,
    client: ClientConfig,
    periods: list[AwayPeriod],
    stale: OrderException,
    clock: Clock,
    notifier: Notifier,
) -> tuple[str, str, str] | None:
    current = repo.get_exception(stale.exception_id)
    if current is None or not current.is_open or current.owner != stale.owner:
        return None  # resolved or moved by someone else since the index was read
    now = clock.now()
    rule = client.rules.rule_for(current.type)
    owner, due, level, skipped = first_available(client, rule, periods, now, current.level + 1)
    if owner == current.owner:
        return None  # nobody further up the chain is available either
    order = load(repo, current.order_id)
    moved = current.model_copy(
        update={
            "owner": owner,
            "level": level,
            "due_at": due,
            "claimed_by": None,
            "status": ExceptionStatus.OPEN,
            "version": current.version + 1,
        }
    )
    new_order, event = order.transition(
        AuditAction.EXCEPTION_REASSIGNED,
        actor=REASSIGNER,
        at=now,
        owner=owner,
        detail={
            "exception_id": current.exception_id,
            "type": current.type.value,
            "from_owner": current.owner,
            "to_owner": owner,
            "skipped": skipped,
            "level": level,
            "due_at": due.isoformat(),
            "reason": "owner away longer than "
            f"{client.rules.away_reassign_after_hours:g} business hours",
        },
    )
    try:
        commit_exception(repo, new_order, moved, event, order.audit_seq, current.version)
    except ConcurrentUpdate:
        return None  # the next pass decides again on fresh data
    try:
        notifier.exception_assigned(new_order, moved, "reassigned", client.rules.members_of(owner))
    except Exception:  # noqa: BLE001 - the reassignment stands; the owner sees it in the queue
        logger.exception("owner notification failed", extra={"exception_id": moved.exception_id})
    return (current.exception_id, current.owner, owner)
