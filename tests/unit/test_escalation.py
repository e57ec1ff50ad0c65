"""The escalation sweeper: an overdue exception moves up its client's chain exactly once per
missed deadline, in business hours, audited, and its new owner's people are told."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import (
    ExceptionStatus,
    ExceptionType,
    OrderException,
    OrderStatus,
)
from shipshape.services.escalation import Escalation, KindCounts, SweepReport, sweep_overdue
from tests.builders import (
    FIRST_DUE,
    NEXT_DUE,
    NOW,
    OPENED,
    ResolvedJustBeforeTheWrite,
    escalations,
    seed_exception,
    stored,
)
from tests.fakes import InMemoryOrderRepository, Notification, NotifierRecorder, SettableClock


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


Sweep = Callable[..., SweepReport]


@pytest.fixture
def sweep(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    notifier: NotifierRecorder,
) -> Sweep:
    def _sweep(store: InMemoryOrderRepository = repo, limit: int = 200) -> SweepReport:
        return sweep_overdue(
            repo=store, clients=clients, clock=clock, notifier=notifier, limit=limit
        )

    return _sweep


def test_overdue_exception_escalates_to_the_next_level_in_business_hours(
    sweep: Sweep,
    repo: InMemoryOrderRepository,
    acme: ClientConfig,
    notifier: NotifierRecorder,
) -> None:
    # Given an invalid address client success had until Wednesday 09:00 to act on, and it is
    # now Wednesday 16:00 in Portland
    opened = seed_exception(repo, acme)
    assert (opened.owner, opened.due_at) == ("client-success", FIRST_DUE)

    # When the sweeper runs
    report = sweep()

    # Then the CS lead owns it until Thursday 09:00 Portland time (1 h Wednesday + 1 h Thursday)
    assert report.escalated == [
        Escalation(opened.exception_id, "client-success", "carla.cs-lead", 1)
    ]
    exception, order = stored(repo, opened.exception_id)
    assert (exception.owner, exception.level, exception.due_at) == ("carla.cs-lead", 1, NEXT_DUE)
    assert (exception.status, exception.version) == (ExceptionStatus.OPEN, 2)
    # And the order's owner moved with it, in the same write as its audit event
    assert (order.owner, order.status, order.audit_seq) == (
        "carla.cs-lead",
        OrderStatus.EXCEPTION,
        3,
    )
    [event] = escalations(repo, opened.order_id)
    assert event.seq == 3
    assert event.at == NOW
    assert (event.actor.kind, event.actor.id) == ("system", "escalation-sweeper")
    assert event.owner == "carla.cs-lead"
    assert event.detail == {
        "exception_id": opened.exception_id,
        "type": "address_invalid",
        "from_owner": "client-success",
        "to_owner": "carla.cs-lead",
        "level": 1,
        "overdue_by_business_minutes": 7 * 60,
        "due_at": "2026-11-19T17:00:00+00:00",
    }
    # And the CS lead was told, with the new deadline
    assert notifier.notifications == [
        Notification(
            exception_id=opened.exception_id,
            owner="carla.cs-lead",
            level=1,
            due_at=NEXT_DUE,
            reason="escalated",
            recipients=("carla.cs-lead",),
            order_owner="carla.cs-lead",
        )
    ]
    assert report.by_kind == {
        ("acme-outdoors", ExceptionType.ADDRESS_INVALID): KindCounts(overdue=1, escalated=1)
    }


def test_exceptions_not_yet_due_are_not_read_beyond_the_index(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig, clock: SettableClock
) -> None:
    # Given one exception past its deadline and three opened this afternoon, due tomorrow
    overdue = seed_exception(repo, acme, 5_600_001)
    later = [
        seed_exception(repo, acme, n, opened_at=NOW - timedelta(hours=1))
        for n in (5_600_002, 5_600_003)
    ]
    later.append(
        seed_exception(repo, acme, 5_600_004, kind=ExceptionType.INVENTORY_SHORT, opened_at=NOW)
    )
    reads_before = repo.exception_reads

    # When the sweeper runs
    report = sweep()

    # Then it read one index item and one exception: what was overdue, nothing else
    assert report.overdue_seen == 1
    assert repo.items_read == 1
    assert repo.exception_reads - reads_before == 1
    assert [e.exception_id for e in report.escalated] == [overdue.exception_id]
    # And the others are exactly as they were
    for exception in later:
        current, _ = stored(repo, exception.exception_id)
        assert current == exception
        assert escalations(repo, exception.order_id) == []


def test_the_oldest_deadlines_go_first_up_to_the_limit(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given three overdue exceptions opened an hour apart
    opened = [
        seed_exception(repo, acme, 5_600_001 + i, opened_at=OPENED - timedelta(hours=3 - i))
        for i in range(3)
    ]

    # When a pass with room for two runs, then the next pass
    first = sweep(limit=2)
    second = sweep(limit=2)

    # Then the two oldest deadlines are escalated first, and the third on the next pass
    assert [e.exception_id for e in first.escalated] == [e.exception_id for e in opened[:2]]
    assert [e.exception_id for e in second.escalated] == [opened[2].exception_id]
    assert repo.items_read == 3


def test_a_second_sweep_at_the_same_moment_escalates_nothing(
    sweep: Sweep,
    repo: InMemoryOrderRepository,
    acme: ClientConfig,
    notifier: NotifierRecorder,
) -> None:
    # Given an overdue exception the sweeper has escalated
    opened = seed_exception(repo, acme)
    first = sweep()

    # When the sweeper runs again before the new deadline (a retried or overlapping schedule)
    second = sweep()

    # Then nothing more happens: one escalation, one audit event, one notification
    assert len(first.escalated) == 1
    assert second.escalated == []
    assert second.overdue_seen == 0
    assert len(escalations(repo, opened.order_id)) == 1
    assert len(notifier.notifications) == 1
    assert stored(repo, opened.exception_id)[0].version == 2


class BothReadBeforeEitherWrites(InMemoryOrderRepository):
    """Fault injection: while armed, each thread's first exception read waits until every
    sweeper thread has read, so all of them decide on the same version."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.armed = False
        self._barrier = threading.Barrier(parties, timeout=10)
        self._local = threading.local()

    def get_exception(self, exception_id: str) -> OrderException | None:
        found = super().get_exception(exception_id)
        if self.armed and not getattr(self._local, "waited", False):
            self._local.waited = True
            self._barrier.wait()
        return found


def test_overlapping_sweeps_on_two_threads_escalate_once(
    sweep: Sweep, acme: ClientConfig, notifier: NotifierRecorder
) -> None:
    # Given an overdue exception, and two sweeps that both read it before either writes
    store = BothReadBeforeEitherWrites(parties=2)
    opened = seed_exception(store, acme)
    store.armed = True

    # When both run at once
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = [f.result() for f in [pool.submit(sweep, store) for _ in range(2)]]
    store.armed = False

    # Then one escalates; the other loses the conditional write, re-reads and skips
    assert sorted(len(r.escalated) for r in reports) == [0, 1]
    assert sorted(r.skipped for r in reports) == [[], [opened.exception_id]]
    exception, order = stored(store, opened.exception_id)
    assert (exception.owner, exception.level, exception.version) == ("carla.cs-lead", 1, 2)
    assert order.audit_seq == 3
    assert len(escalations(store, opened.order_id)) == 1
    assert len(notifier.notifications) == 1
    # And the overdue metric counts it once, not once per sweep
    assert sum(r.overdue for r in reports) == 1


def test_claimed_exception_that_goes_overdue_is_reopened_for_the_next_owner(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given an invalid address Maya claimed but did not resolve in time
    claimed = seed_exception(repo, acme, claimed_by="maya.cs")
    assert (claimed.status, claimed.version) == (ExceptionStatus.CLAIMED, 2)

    # When the sweeper runs
    sweep()

    # Then it is open and unclaimed for the CS lead, and the trail says who had it
    exception, _ = stored(repo, claimed.exception_id)
    assert exception.status is ExceptionStatus.OPEN
    assert (exception.claimed_by, exception.claimed_at) == (None, None)
    assert (exception.owner, exception.version) == ("carla.cs-lead", 3)
    [event] = escalations(repo, claimed.order_id)
    assert event.detail["previous_claimant"] == "maya.cs"
    assert (event.detail["from_owner"], event.detail["to_owner"]) == (
        "client-success",
        "carla.cs-lead",
    )


def test_the_last_level_keeps_the_exception_and_is_notified_again(
    sweep: Sweep,
    repo: InMemoryOrderRepository,
    acme: ClientConfig,
    clock: SettableClock,
    notifier: NotifierRecorder,
) -> None:
    # Given an invalid address already at the end of its chain (Olivia, 4 business hours:
    # due Wednesday 11:00 Portland time) and it is Wednesday 16:00
    last = seed_exception(repo, acme, level=2)
    assert (last.owner, last.due_at) == ("olivia.lead", datetime(2026, 11, 18, 19, tzinfo=UTC))

    # When the sweeper runs, and again after the new deadline passes too
    first = sweep()
    renewed_due = stored(repo, last.exception_id)[0].due_at
    clock.advance(timedelta(days=1))
    second = sweep()

    # Then Olivia keeps it at the last level, with a new 4-hour deadline each time
    # (16:00-17:00 Wednesday + 08:00-11:00 Thursday), and is told each time
    assert first.escalated == [Escalation(last.exception_id, "olivia.lead", "olivia.lead", 2)]
    assert second.escalated == first.escalated
    assert renewed_due == datetime(2026, 11, 19, 19, tzinfo=UTC)
    exception, _ = stored(repo, last.exception_id)
    assert (exception.owner, exception.level, exception.version) == ("olivia.lead", 2, 3)
    assert [(n.recipients, n.reason, n.level) for n in notifier.notifications] == [
        (("olivia.lead",), "escalated", 2),
        (("olivia.lead",), "escalated", 2),
    ]
    # And the audit trail says the chain is exhausted
    events = escalations(repo, last.order_id)
    assert len(events) == 2
    assert events[0].detail["chain_exhausted"] is True
    assert "exhausted" in events[0].detail["note"]
    assert events[0].detail["overdue_by_business_minutes"] == 5 * 60


def test_the_new_owner_team_members_are_notified(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig, notifier: NotifierRecorder
) -> None:
    # Given a failed QA gate the QA team did not act on in time (ops is next in its chain)
    failed_gate = seed_exception(repo, acme, kind=ExceptionType.QA_FAILED)

    # When the sweeper runs
    sweep()

    # Then every member of the ops team is told the exception is theirs now
    [notification] = notifier.notifications
    assert notification.exception_id == failed_gate.exception_id
    assert (notification.owner, notification.reason) == ("ops", "escalated")
    assert notification.recipients == ("omar.operator", "priya.ops")
    assert notification.due_at == NEXT_DUE


def test_exception_resolved_between_read_and_write_is_skipped(
    sweep: Sweep, acme: ClientConfig, notifier: NotifierRecorder
) -> None:
    # Given an overdue exception that an operator resolves while the sweeper is deciding
    store = ResolvedJustBeforeTheWrite(resolver="li.cs")
    opened = seed_exception(store, acme)
    store.resolve_next = opened.exception_id

    # When the sweeper runs
    report = sweep(store)

    # Then its write is refused, it re-reads, finds the exception resolved and leaves it alone
    assert report.escalated == []
    assert report.skipped == [opened.exception_id]
    assert report.overdue == 0
    exception, order = stored(store, opened.exception_id)
    assert exception.status is ExceptionStatus.RESOLVED
    assert (exception.owner, exception.level, exception.resolved_by) == (
        "client-success",
        0,
        "li.cs",
    )
    assert [e.action for e in store.audit_trail(opened.order_id)][-1] == "exception_resolved"
    assert escalations(store, opened.order_id) == []
    assert order.audit_seq == 3
    assert notifier.notifications == []


def test_one_exception_that_cannot_be_escalated_does_not_stop_the_others(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given the oldest overdue exception belongs to a client no longer configured, and a
    # younger one to Acme
    orphan = seed_exception(
        repo, acme, 5_600_001, client_id="ghost-outfitters", opened_at=OPENED - timedelta(hours=1)
    )
    opened = seed_exception(repo, acme, 5_600_002)

    # When the sweeper runs
    report = sweep()

    # Then Acme's is escalated, and the orphan is reported as still overdue
    assert report.failed == [orphan.exception_id]
    assert [e.exception_id for e in report.escalated] == [opened.exception_id]
    assert report.by_kind[("ghost-outfitters", ExceptionType.ADDRESS_INVALID)] == KindCounts(
        overdue=1, escalated=0
    )
    assert stored(repo, orphan.exception_id)[0].version == 1


def test_counts_per_client_and_exception_type(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given two overdue invalid addresses and an overdue stock shortage (ops: 4 business
    # hours, due Wednesday 11:00 Portland time)
    seed_exception(repo, acme, 5_600_001)
    seed_exception(repo, acme, 5_600_002)
    seed_exception(repo, acme, 5_600_003, kind=ExceptionType.INVENTORY_SHORT)

    # When the sweeper runs
    report = sweep()

    # Then each (client, type) has its own counts, for the per-client metrics
    assert report.by_kind == {
        ("acme-outdoors", ExceptionType.ADDRESS_INVALID): KindCounts(overdue=2, escalated=2),
        ("acme-outdoors", ExceptionType.INVENTORY_SHORT): KindCounts(overdue=1, escalated=1),
    }
    assert report.overdue == 3
