"""The escalation sweeper when things go wrong: an exception that cannot be escalated (contended,
orphaned, resolved under it, its notification lost) is reported for what it is, counted once,
and never stops the pass from escalating the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape.models import AuditEvent, ExceptionType, Order, OrderException, SideWrite
from shipshape.services.escalation import KindCounts, SweepReport, sweep_overdue
from tests.builders import (
    NEXT_DUE,
    NOW,
    OPENED,
    ResolvedJustBeforeTheWrite,
    escalations,
    seed_exception,
    stored,
)
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock

ADDRESS = ("acme-outdoors", ExceptionType.ADDRESS_INVALID)

Sweep = Callable[..., SweepReport]


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


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


class AlwaysBusy(InMemoryOrderRepository):
    """Fault injection: another writer wins every write to the ``busy`` exceptions."""

    def __init__(self) -> None:
        super().__init__()
        self.busy: set[str] = set()

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        if exception.exception_id in self.busy:
            raise ConcurrentUpdate(f"exception {exception.exception_id} changed")
        super().write_exception(order, exception, event, expected_seq, expected_version, writes)


class UnreachableNotifier(NotifierRecorder):
    """Fault injection: the notification channel is down."""

    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        raise TransientDependencyError("SNS publish failed: InternalError")


def test_exceptions_contended_on_every_write_are_left_overdue_and_the_pass_goes_on(
    sweep: Sweep, acme: ClientConfig, notifier: NotifierRecorder
) -> None:
    # Given three overdue invalid addresses, the two oldest busy with another writer that wins
    # every race
    store = AlwaysBusy()
    busy = [
        seed_exception(store, acme, 5_600_001 + i, opened_at=OPENED - timedelta(hours=2 - i))
        for i in range(2)
    ]
    free = seed_exception(store, acme, 5_600_003)
    store.busy = {e.exception_id for e in busy}

    # When the sweeper runs
    report = sweep(store)

    # Then the busy ones are reported failed, untouched, and still counted overdue
    assert report.failed == [e.exception_id for e in busy]
    for exception in busy:
        assert stored(store, exception.exception_id)[0].version == 1
        assert escalations(store, exception.order_id) == []
    # And the free one is escalated as usual
    assert [e.exception_id for e in report.escalated] == [free.exception_id]
    assert report.by_kind == {ADDRESS: KindCounts(overdue=3, escalated=1)}
    assert report.overdue == 3
    assert [n.exception_id for n in notifier.notifications] == [free.exception_id]


def test_every_exception_that_fails_is_counted_overdue(
    sweep: Sweep, repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given two overdue exceptions of a client no longer configured, and one of Acme's
    orphans = [
        seed_exception(
            repo,
            acme,
            5_600_001 + i,
            client_id="ghost-outfitters",
            opened_at=OPENED - timedelta(hours=2 - i),
        )
        for i in range(2)
    ]
    opened = seed_exception(repo, acme, 5_600_003)

    # When the sweeper runs
    report = sweep()

    # Then both orphans are failed and counted overdue, and Acme's is escalated
    assert report.failed == [e.exception_id for e in orphans]
    assert report.by_kind[("ghost-outfitters", ExceptionType.ADDRESS_INVALID)] == KindCounts(
        overdue=2, escalated=0
    )
    assert [e.exception_id for e in report.escalated] == [opened.exception_id]
    assert report.overdue == 3


def test_an_exception_resolved_under_the_sweeper_is_skipped_and_the_next_one_escalated(
    sweep: Sweep, acme: ClientConfig
) -> None:
    # Given two overdue exceptions, and an operator resolving the older one while the sweeper
    # decides on it
    store = ResolvedJustBeforeTheWrite(resolver="li.cs")
    resolved = seed_exception(store, acme, 5_600_001, opened_at=OPENED - timedelta(hours=1))
    opened = seed_exception(store, acme, 5_600_002)
    store.resolve_next = resolved.exception_id

    # When the sweeper runs
    report = sweep(store)

    # Then the resolved one is skipped and not counted, and the younger one is escalated
    assert report.skipped == [resolved.exception_id]
    assert [e.exception_id for e in report.escalated] == [opened.exception_id]
    assert report.by_kind == {ADDRESS: KindCounts(overdue=1, escalated=1)}
    assert escalations(store, resolved.order_id) == []


def test_a_lost_notification_is_reported_and_the_escalation_stands(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    acme: ClientConfig,
) -> None:
    # Given two overdue exceptions, and the notification channel down
    first = seed_exception(repo, acme, 5_600_001, opened_at=OPENED - timedelta(hours=1))
    second = seed_exception(repo, acme, 5_600_002)

    # When the sweeper runs
    report = sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=UnreachableNotifier())

    # Then both are escalated and recorded, and both lost notifications are reported
    assert [e.exception_id for e in report.escalated] == [first.exception_id, second.exception_id]
    assert report.notify_failed == [first.exception_id, second.exception_id]
    assert report.failed == []
    for exception in (first, second):
        current, order = stored(repo, exception.exception_id)
        assert (current.owner, current.level, current.due_at) == ("carla.cs-lead", 1, NEXT_DUE)
        assert order.owner == "carla.cs-lead"
        assert len(escalations(repo, exception.order_id)) == 1
