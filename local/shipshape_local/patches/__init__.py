"""The embedded runtime's patches of moto's (and botocore's) private internals: one module a
patch, each saying what AWS behaviour it enforces or what moto gap it fills, and which moto
versions it was written for.

``installed()`` checks every patch's version range (before installing any), installs them in
order, and on exit removes them, the latest first, restoring the very objects that were there::

    with mock_aws(), patches.installed(lock=..., writes=..., calls=..., meter=...,
                                       faults=lambda: None, retry_time_factor=0.01):
        ...

One runtime at a time: entering it while it is entered is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import ModuleType

from shipshape_local.contention import Contention
from shipshape_local.faults import FaultInjector
from shipshape_local.metering import Meter
from shipshape_local.patches import (
    alarm_history,
    atomic_requests,
    aws_limits,
    counted_calls,
    function_roles,
    injected_faults,
    itemwise_transactions,
    metered_requests,
    parsed_definitions,
    partition_queries,
    partner_bus_names,
    scaled_retry_sleeps,
    shared_task_clients,
    task_timeouts,
    transaction_conflicts,
    unsigned_requests,
)
from shipshape_local.patches.atomic_requests import WriteListener
from shipshape_local.patches.counted_calls import CallListener
from shipshape_local.patches.guard import MotoVersionMismatch, Patcher, check_version
from shipshape_local.patches.task_timeouts import TaskDeadlines

__all__ = ["PATCHES", "MotoVersionMismatch", "TaskDeadlines", "installed", "is_installed"]

# In the order they are installed (they are removed in the reverse order): atomic_requests
# wraps the transact_write_items that transaction_conflicts and itemwise_transactions put in
# place (collisions are decided inside the request lock).
PATCHES: tuple[ModuleType, ...] = (
    itemwise_transactions,
    transaction_conflicts,
    partition_queries,
    shared_task_clients,
    task_timeouts,
    parsed_definitions,
    unsigned_requests,
    partner_bus_names,
    counted_calls,
    aws_limits,
    function_roles,
    atomic_requests,
    scaled_retry_sleeps,
    injected_faults,
    metered_requests,
    alarm_history,
)

_state = threading.Lock()
_installed = [False]


def is_installed() -> bool:
    return _installed[0]


@contextmanager
def installed(
    *,
    lock: threading.RLock,
    writes: WriteListener,
    calls: CallListener,
    meter: Meter,
    faults: Callable[[], FaultInjector | None],
    retry_time_factor: float,
    deadlines: TaskDeadlines | None = None,
    clock: Callable[[], datetime] | None = None,
    authorize: Callable[[], function_roles.Authorizer | None] = lambda: None,
    account: str = "123456789012",
    contention: Callable[[], Contention | None] = lambda: None,
    limits: Callable[[], bool] = lambda: True,
) -> Iterator[None]:
    """Every patch, installed for the block and removed after it.

    ``lock`` serializes the emulator's requests (and the metering of them); ``writes`` hears of
    every applied DynamoDB write, ``calls`` of every AWS call; ``meter`` is charged for what is
    done for its subject; ``faults()`` is the injector armed now (None: no faults); retry
    sleeps last ``retry_time_factor`` of their time; task-token waits time out when
    ``deadlines`` says so (its clock; the wall clock when None: moto's own timing); alarms'
    states and history are stamped with ``clock`` (the wall clock when None); ``authorize()``
    is the check of the running function's role (None: no check); requests over AWS's limits
    are refused while ``limits()`` holds (``account``: moto's account, whose tables' keys are
    checked); transactions
    collide as ``contention()`` says (None: never)."""
    for patch in PATCHES:
        check_version(patch)
    with _state:
        if _installed[0]:
            raise RuntimeError("moto is patched already: one embedded runtime at a time")
        _installed[0] = True
    patchers: list[Patcher] = []

    def patcher(patch: ModuleType) -> Patcher:
        patchers.append(Patcher(patch.__name__.rsplit(".", 1)[-1]))
        return patchers[-1]

    try:
        itemwise_transactions.install(patcher(itemwise_transactions))
        transaction_conflicts.install(patcher(transaction_conflicts), contention=contention)
        partition_queries.install(patcher(partition_queries), meter=meter)
        shared_task_clients.install(patcher(shared_task_clients))
        task_timeouts.install(
            patcher(task_timeouts),
            deadlines=deadlines or TaskDeadlines(lambda: datetime.now(UTC)),
        )
        parsed_definitions.install(patcher(parsed_definitions))
        unsigned_requests.install(patcher(unsigned_requests))
        partner_bus_names.install(patcher(partner_bus_names))
        counted_calls.install(patcher(counted_calls), calls=calls, meter=meter)
        aws_limits.install(patcher(aws_limits), account=account, enforced=limits)
        function_roles.install(patcher(function_roles), authorize=authorize)
        atomic_requests.install(patcher(atomic_requests), lock=lock, writes=writes)
        scaled_retry_sleeps.install(patcher(scaled_retry_sleeps), factor=retry_time_factor)
        injected_faults.install(patcher(injected_faults), injector=faults)
        metered_requests.install(patcher(metered_requests), meter=meter, lock=lock)
        alarm_history.install(patcher(alarm_history), clock=clock or (lambda: datetime.now(UTC)))
        yield
    finally:
        for each in reversed(patchers):
            each.restore()
        with _state:
            _installed[0] = False
