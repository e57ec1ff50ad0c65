"""Escalation routes past owners who are away: an overdue exception goes to the first level of
its chain whose owner is in, as a new exception does when it opens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import AwayPeriod, OrderException
from shipshape.ports import AwayRegistry
from shipshape.services.escalation import Escalation, sweep_overdue
from tests.builders import NOW, escalations, seed_exception, stored
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock


class AwayBook(AwayRegistry):
    """Away periods in a dict, per client."""

    def __init__(self) -> None:
        self._periods: dict[tuple[str, str], AwayPeriod] = {}

    def mark_away(self, period: AwayPeriod) -> None:
        self._periods[(period.client_id, period.person)] = period

    def clear_away(self, client_id: str, person: str) -> None:
        self._periods.pop((client_id, person), None)

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        return [p for (c, _), p in self._periods.items() if c == client_id]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        return []


@pytest.fixture
def away(acme: ClientConfig) -> AwayBook:
    """Carla, the CS lead (level 1 of invalid addresses), is away today and tomorrow."""
    book = AwayBook()
    book.mark_away(
        AwayPeriod(
            client_id=acme.client_id,
            person="carla.cs-lead",
            starts_at=NOW - timedelta(hours=8),
            ends_at=NOW + timedelta(days=1),
        )
    )
    return book


def test_an_overdue_exception_skips_a_next_owner_who_is_away(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    acme: ClientConfig,
    away: AwayBook,
) -> None:
    # Given two overdue invalid addresses client success missed, and Carla away
    opened = [
        seed_exception(repo, acme, 5_600_001 + i, opened_at=NOW - timedelta(days=1, hours=i))
        for i in range(2)
    ]
    notifier = NotifierRecorder()

    # When the sweeper runs with the away list
    report = sweep_overdue(
        repo=repo, clients=clients, clock=SettableClock(NOW), notifier=notifier, away=away
    )

    # Then both go past Carla to Olivia, the last level, with her 4 business hours from now
    # (16:00-17:00 Wednesday, 08:00-11:00 Thursday in Portland)
    assert sorted(report.escalated) == sorted(
        Escalation(e.exception_id, "client-success", "olivia.lead", 2) for e in opened
    )
    for exception in opened:
        current, order = stored(repo, exception.exception_id)
        assert (current.owner, current.level) == ("olivia.lead", 2)
        assert current.due_at == datetime(2026, 11, 19, 19, tzinfo=UTC)
        assert order.owner == "olivia.lead"
        [event] = escalations(repo, exception.order_id)
        assert (event.detail["to_owner"], event.detail["level"]) == ("olivia.lead", 2)
    assert {n.recipients for n in notifier.notifications} == {("olivia.lead",)}
    # And the pass hands the away list it read on to the reassignment that follows
    assert report.away_periods == {acme.client_id: away.away_periods(acme.client_id)}


def test_without_an_away_list_the_chain_is_followed_as_written(
    repo: InMemoryOrderRepository, clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an overdue invalid address, and a sweeper not told who is away
    opened = seed_exception(repo, acme)

    # When it runs
    report = sweep_overdue(
        repo=repo, clients=clients, clock=SettableClock(NOW), notifier=NotifierRecorder()
    )

    # Then the next level takes it, and no away list was read
    assert report.escalated == [
        Escalation(opened.exception_id, "client-success", "carla.cs-lead", 1)
    ]
    assert report.away_periods == {}
