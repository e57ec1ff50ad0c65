"""When the sweeper calls an exception overdue: strictly after its deadline, on a fresh read
(the index may be stale), how late it is in whole business minutes, and how many one pass
takes on."""

from __future__ import annotations

from datetime import datetime, timedelta

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import ExceptionType, OrderException
from shipshape.services.escalation import KindCounts, sweep_overdue
from tests.builders import NEXT_DUE, NOW, OPENED, escalations, seed_exception, stored
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock


class StaleIndex(InMemoryOrderRepository):
    """The overdue index as an eventually consistent GSI can serve it: frozen at ``freeze()``
    while the records themselves move on."""

    def __init__(self) -> None:
        super().__init__()
        self._frozen: list[OrderException] | None = None

    def freeze(self) -> None:
        self._frozen = super().exceptions_due_before(datetime.max.replace(tzinfo=NOW.tzinfo), 1_000)

    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        if self._frozen is None:
            return super().exceptions_due_before(moment, limit)
        return [e for e in self._frozen if e.due_at < moment][:limit]


def test_an_exception_due_this_instant_is_not_overdue_yet(
    clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an exception escalated to the CS lead with a deadline of Thursday 09:00, and an
    # index that still shows its first deadline
    store = StaleIndex()
    opened = seed_exception(store, acme)
    store.freeze()
    clock, notifier = SettableClock(NOW), NotifierRecorder()
    sweep_overdue(repo=store, clients=clients, clock=clock, notifier=notifier)
    assert stored(store, opened.exception_id)[0].due_at == NEXT_DUE

    # When a pass runs exactly at the new deadline, and another one microsecond later
    clock.advance(NEXT_DUE - NOW)
    at_deadline = sweep_overdue(repo=store, clients=clients, clock=clock, notifier=notifier)
    clock.advance(timedelta(microseconds=1))
    after_deadline = sweep_overdue(repo=store, clients=clients, clock=clock, notifier=notifier)

    # Then the pass at the deadline leaves it with the CS lead, and the next one moves it on
    assert at_deadline.escalated == []
    assert at_deadline.skipped == [opened.exception_id]
    assert [e.to_owner for e in after_deadline.escalated] == ["olivia.lead"]
    assert [e.detail["to_owner"] for e in escalations(store, opened.order_id)] == [
        "carla.cs-lead",
        "olivia.lead",
    ]


def test_how_late_an_exception_is_is_recorded_in_whole_business_minutes(
    repo: InMemoryOrderRepository, clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an invalid address due Wednesday 09:00, and the sweeper running at 16:01:30
    opened = seed_exception(repo, acme)
    clock = SettableClock(NOW + timedelta(seconds=90))

    # When it escalates the exception
    sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=NotifierRecorder())

    # Then the trail says 7 hours and 1 whole minute late (the half minute is dropped)
    [event] = escalations(repo, opened.order_id)
    assert event.detail["overdue_by_business_minutes"] == 7 * 60 + 1


def test_a_scheduled_pass_takes_on_at_most_200_exceptions_and_leaves_the_rest(
    repo: InMemoryOrderRepository, clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given 201 overdue invalid addresses, opened a minute apart
    opened = [
        seed_exception(repo, acme, 5_600_000 + i, opened_at=OPENED - timedelta(minutes=201 - i))
        for i in range(201)
    ]
    clock, notifier = SettableClock(NOW), NotifierRecorder()

    # When the scheduled pass runs (as the sweeper function calls it), then the next one
    first = sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=notifier)
    second = sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=notifier)

    # Then the first takes the 200 oldest deadlines and the next the youngest
    assert first.overdue_seen == 200
    assert [e.exception_id for e in first.escalated] == [e.exception_id for e in opened[:200]]
    assert [e.exception_id for e in second.escalated] == [opened[200].exception_id]
    assert first.by_kind == {
        (acme.client_id, ExceptionType.ADDRESS_INVALID): KindCounts(overdue=200, escalated=200)
    }
