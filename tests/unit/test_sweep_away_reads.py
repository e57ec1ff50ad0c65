"""One sweeper pass reads each client's away list once: the reassignment that follows the
sweep in the same pass reuses the lists the sweep read."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import AwayPeriod, OrderException
from shipshape.ports import AwayRegistry
from shipshape.services.away import reassign_from_away
from shipshape.services.escalation import sweep_overdue
from tests.builders import NOW, seed_exception
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock


class CountingAwayRegistry(AwayRegistry):
    """Away periods in a dict; counts the reads of each client's list."""

    def __init__(self, repo: InMemoryOrderRepository) -> None:
        self._repo = repo
        self._periods: dict[tuple[str, str], AwayPeriod] = {}
        self.list_reads: Counter[str] = Counter()

    def mark_away(self, period: AwayPeriod) -> None:
        self._periods[(period.client_id, period.person)] = period

    def clear_away(self, client_id: str, person: str) -> None:
        self._periods.pop((client_id, person), None)

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        self.list_reads[client_id] += 1
        return [p for (c, _), p in self._periods.items() if c == client_id]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        mine = self._repo.exceptions_of_client(client_id, limit=1_000)
        return [e for e in mine if e.is_open and e.owner == owner]


def test_the_reassignment_reuses_the_away_lists_the_sweep_read(
    repo: InMemoryOrderRepository, clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an overdue address exception and another not yet due, both client success's,
    # and the whole client-success team away since this morning, for two days
    overdue = seed_exception(repo, acme)
    not_due = seed_exception(repo, acme, 5_600_002, opened_at=NOW - timedelta(minutes=30))
    away = CountingAwayRegistry(repo)
    for person in ("maya.cs", "li.cs"):
        away.mark_away(
            AwayPeriod(
                client_id=acme.client_id,
                person=person,
                starts_at=datetime(2026, 11, 18, 16, 0, tzinfo=UTC),
                ends_at=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
            )
        )
    clock, notifier = SettableClock(NOW), NotifierRecorder()

    # When one pass sweeps, then reassigns with the lists the sweep read
    swept = sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=notifier, away=away)
    moved = reassign_from_away(
        repo=repo, away=away, clients=clients, clock=clock, notifier=notifier,
        away_periods=swept.away_periods,
    )  # fmt: skip

    # Then every client's away list was read once in the pass
    assert away.list_reads == Counter({c.client_id: 1 for c in clients.all()})
    assert set(swept.away_periods) == {acme.client_id}
    # And both used it: the overdue one escalated, the other moved off the away team
    assert [(e.exception_id, e.to_owner) for e in swept.escalated] == [
        (overdue.exception_id, "carla.cs-lead")
    ]
    assert moved.reassigned == [(not_due.exception_id, "client-success", "carla.cs-lead")]
