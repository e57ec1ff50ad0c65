"""Ports: what the domain needs from the outside world, as small abstract classes.

Real adapters (DynamoDB, Step Functions, Secrets Manager) live in ``shipshape.adapters`` and
are wired once in ``shipshape.bootstrap``; tests wire fakes or the embedded AWS emulator.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shipshape.errors import ShipshapeError
from shipshape.models import AuditEvent, AwayPeriod, Label, Order, OrderException


class AlreadyExists(ShipshapeError):
    """A create lost the race: another writer created the same order first."""


class ExecutionExists(ShipshapeError):
    """A closed execution with this name exists already (names are never reused)."""


class TaskNotWaiting(ShipshapeError):
    """The task token is no longer waited on (completed, timed out or unknown)."""


class Clock(ABC):
    """Time comes from here, never from ``datetime.now()``, so simulations can move it."""

    @abstractmethod
    def now(self) -> datetime: ...


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class OrderRepository(ABC):
    """The system of record. Every change to an order is written with its audit event in one
    transaction, guarded by the order's ``audit_seq`` (optimistic concurrency)."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None:
        """The current record, read strongly consistent, or None."""

    @abstractmethod
    def create(self, order: Order, event: AuditEvent) -> None:
        """Write a new order and its first audit event; ``AlreadyExists`` if it exists."""

    @abstractmethod
    def apply(self, order: Order, event: AuditEvent, expected_seq: int) -> None:
        """Replace the record with ``order`` and append ``event``, only if the stored
        ``audit_seq`` still equals ``expected_seq``; ``ConcurrentUpdate`` otherwise."""

    @abstractmethod
    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        """Every audit event of an order, oldest first."""

    @abstractmethod
    def pending_starts(self, accepted_before: datetime, limit: int) -> list[str]:
        """Ids of accepted orders whose workflow has not acknowledged its start, read from a
        sparse index (never a scan), oldest first."""


class ExceptionRepository(ABC):
    """Exceptions live with their order: every change to one is written in one transaction
    with the order (guarded by its audit sequence) and the audit event that records it."""

    @abstractmethod
    def get_exception(self, exception_id: str) -> OrderException | None: ...

    @abstractmethod
    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
    ) -> None:
        """Write order, exception and audit event atomically. ``expected_version`` None means
        the exception must be new. ``ConcurrentUpdate`` if either guard fails."""

    @abstractmethod
    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        """Open exceptions whose deadline is before ``moment``, from a sparse index, oldest
        deadline first: the items read are the overdue ones, whatever the table size."""

    @abstractmethod
    def exceptions_of_client(self, client_id: str, limit: int) -> list[OrderException]:
        """A client's exceptions, newest first (open and resolved), up to ``limit``."""


class AwayRegistry(ABC):
    """Who is out of office, per client."""

    @abstractmethod
    def mark_away(self, period: AwayPeriod) -> None:
        """Record (or replace) a person's away period for a client."""

    @abstractmethod
    def clear_away(self, client_id: str, person: str) -> None: ...

    @abstractmethod
    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        """Every recorded away period of a client's people (one small partition)."""

    @abstractmethod
    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        """Open exceptions owned by ``owner`` (a person or team), from a sparse index."""


class WorkflowEngine(ABC):
    """The per-order fulfillment workflow (Step Functions in AWS and in the embedded runtime)."""

    @abstractmethod
    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        """Start (or find the running) execution named ``execution_name``; return its id.

        Raises ``ExecutionExists`` when a closed execution already used the name."""

    @abstractmethod
    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        """Resolve a wait; ``TaskNotWaiting`` if the token is no longer waited on."""

    @abstractmethod
    def fail(self, task_token: str, error: str, cause: str) -> None:
        """Fail a wait with a named error; ``TaskNotWaiting`` if nobody waits on it."""


class SecretStore(ABC):
    @abstractmethod
    def get(self, name: str) -> bytes:
        """The secret's value. Raises ``KeyError`` naming only the secret's name if absent."""

    def get_many(self, names: Sequence[str | None]) -> list[bytes]:
        """Values for the names that are set and exist (a rotation's old secret may be gone)."""
        values = []
        for name in names:
            if not name:
                continue
            try:
                values.append(self.get(name))
            except KeyError:
                continue
        return values


class Carrier(ABC):
    """Buys shipping labels. Rates, rejections and voids grow here with real carriers."""

    @abstractmethod
    def buy_label(self, order: Order) -> Label: ...


class Notifier(ABC):
    """Tells people what happened: customers of a shipment, owners of an exception."""

    @abstractmethod
    def shipment_sent(self, order: Order) -> None: ...

    @abstractmethod
    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        """Tell an exception's owner (``recipients``: the people behind it) that it is theirs:
        the exception, the order, the deadline and the remediation steps. ``reason`` says why
        now: opened, escalated or reassigned."""
