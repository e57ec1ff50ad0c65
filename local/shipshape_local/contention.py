"""Transactions that collide, as they collide on AWS.

On AWS, orders competing for one hot stock lot run their reservation steps at the same time,
and DynamoDB cancels a transaction that touches an item another transaction is writing
(``TransactionCanceledException``, reason ``TransactionConflict`` on that item). The embedded
stack runs one invocation at a time, so its transactions never overlap and never collide.

``Contention`` puts the collisions back: a ``TransactWriteItems`` that writes an item which
an invocation working for someone else (another order, another request) wrote less than
``window`` seconds ago, on the stack's clock, is cancelled with ``TransactionConflict`` at
that item, at ``rate`` (seeded, so a run repeats). Nothing of it is written.

- The stack's clock, not the wall's: orders a pilot simulates hours apart do not collide for
  running milliseconds apart here, and orders arriving at the same moment (a test's burst,
  whose clock stands still) all may. The steps of one order never run at the same time, and
  never collide.
- A transaction collides with each other writer's write once: retried, it goes through
  unless yet another writer came in between (on AWS, the transaction it collided with has
  finished by then).
- Only invocations working for an order contend (its steps, a request about it): a
  schedule's run, a queue's batch, a request about no order in particular (a test's
  webhooks) and writes outside any invocation (a test seeding stock) are not contended. The
  starter's write and the execution it starts, or a webhook and the step it leads to, run
  one after the other on AWS too.

AWS does not publish a conflict rate: ``rate`` is set high enough that a burst on one lot
collides often (50 orders at once for 20 units: about ten reservations cancelled), and low
enough that the bounded retry the steps use (``shipshape.services.records.retry_on_conflict``,
eight attempts with jittered waits) gets through.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ContentionRates:
    rate: float = 0.5  # the chance that a contended transaction is cancelled
    window: float = 0.5  # seconds: how recent another's write must be to contend

    def __post_init__(self) -> None:
        if not 0 <= self.rate < 1 or self.window < 0:
            raise ValueError("a conflict rate is in [0, 1) and a window at least 0 seconds")


AS_ON_AWS = ContentionRates()  # the default: on
NONE = ContentionRates(rate=0.0, window=0.0)


class Contention:
    def __init__(
        self,
        rates: ContentionRates,
        seed: int = 0,
        *,
        subject: Callable[[], str | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = rates
        self._random = random.Random(seed)
        self._subject = subject
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[str, float, int]] = {}
        self._writes = 0
        # (subject, write) pairs that have collided: a transaction collides with another
        # writer's transaction once; retried after it, it goes through unless yet another
        # writer came in between (on AWS the first has finished by then).
        self._collided: set[tuple[str, int]] = set()
        self.conflicts: Counter[str] = Counter()  # cancelled transactions, by table

    def conflict_at(self, items: list[tuple[str, str]]) -> int | None:
        """The index of the item a transaction writing ``items`` (table, key) collides on,
        or None: it goes through."""
        subject = self._subject()
        if subject is None or self.rates.rate <= 0:
            return None
        now = self._clock()
        with self._lock:
            contended = [
                (index, last[2])
                for index, item in enumerate(items)
                if (last := self._last.get(item)) is not None
                and last[0] != subject
                and now - last[1] < self.rates.window
                and (subject, last[2]) not in self._collided
            ]
            if not contended or self._random.random() >= self.rates.rate:
                return None
            self._collided.update((subject, write) for _, write in contended)
            index = contended[0][0]
            self.conflicts[items[index][0]] += 1
            return index

    def written(self, items: list[tuple[str, str]]) -> None:
        """A transaction wrote ``items``: who wrote them, and when."""
        subject = self._subject()
        if subject is None:
            return
        now = self._clock()
        with self._lock:
            self._writes += 1
            for item in items:
                self._last[item] = (subject, now, self._writes)
            if len(self._last) > 50_000:  # forget what is too old to contend
                horizon = now - self.rates.window
                self._last = {k: v for k, v in self._last.items() if v[1] >= horizon}
                live = {v[2] for v in self._last.values()}
                self._collided = {c for c in self._collided if c[1] in live}
