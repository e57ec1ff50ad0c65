"""Faults the fake storefronts inject, per platform and store, for the next N requests that
match a rule: 429 with a Retry-After, a 5xx, a slow answer (processed, answered after the
client gave up: a lost answer), a dropped connection (not processed), a GraphQL THROTTLED, or
a change made by someone else between processing and answering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from shipshape_local.storefront_fakes.common import Request

FaultKind = Literal["throttle", "server_error", "slow", "drop", "graphql_throttled", "meanwhile"]


@dataclass(frozen=True)
class Fault:
    """What the next matching requests meet instead of (or besides) a normal answer."""

    kind: FaultKind
    status: int = 0
    retry_after: str | None = None
    delay: float = 0.0
    cost: tuple[float, float, float] = (0.0, 0.0, 0.0)  # requested, available, restore rate
    action: Callable[[], object] | None = None

    @classmethod
    def throttle(cls, retry_after: float | str | None = 1) -> Fault:
        """429 with ``Retry-After`` (None: without one); the request is not processed."""
        value = None if retry_after is None else str(retry_after)
        return cls("throttle", status=429, retry_after=value)

    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        """A 5xx; the request is not processed."""
        return cls("server_error", status=status)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """The request IS processed, and answered only after ``delay`` seconds: longer than
        the client's read timeout, that is a write whose answer is lost."""
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls) -> Fault:
        """The connection is closed before the request is processed, with no answer."""
        return cls("drop")

    @classmethod
    def graphql_throttled(
        cls, requested: float = 110, available: float = 100, restore_rate: float = 100
    ) -> Fault:
        """Shopify GraphQL's 200 answer with a THROTTLED error (the query is not run); the
        wait it implies is (requested - available) / restore_rate seconds."""
        return cls("graphql_throttled", status=200, cost=(requested, available, restore_rate))

    @classmethod
    def meanwhile(cls, action: Callable[[], object]) -> Fault:
        """The request is processed, then ``action`` runs (someone else changing the store,
        say the merchant fulfilling a line by hand), then the answer goes: what the client
        read is already out of date when it arrives."""
        return cls("meanwhile", action=action)


@dataclass
class FaultRule:
    platform: str
    store: str | None
    fault: Fault
    remaining: int
    method: str | None
    path_contains: str | None
    body_contains: str | None

    def matches(self, platform: str, store: str, request: Request) -> bool:
        return (
            self.remaining > 0
            and self.platform == platform
            and self.store in (None, store)
            and self.method in (None, request.method)
            and (self.path_contains is None or self.path_contains in request.path)
            and (self.body_contains is None or self.body_contains.encode() in request.body)
        )
