"""What every fake store shares: the request as a store sees it (below its prefix), the
answer it gives, the base class of the per-platform stores, and the small helpers they use
(constant-time credential checks, deep copies, the platforms' date formats)."""

from __future__ import annotations

import copy
import hmac
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import TYPE_CHECKING, Any, ClassVar

from shipshape_local.storefronts import Delivery

if TYPE_CHECKING:
    from shipshape_local.storefront_fakes.faults import Fault


PLATFORMS = ("shopify", "woocommerce", "bigcommerce")

Clock = Callable[[], datetime]
Json = Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Message
    body: bytes
    base_url: str  # how the client reached this store: for absolute links

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def json_body(self) -> Json:
        """The body as JSON when it is sent as JSON; None when it is not JSON at all."""
        if "json" not in self.header("Content-Type").lower():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Answer:
    status: int
    body: Json = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.status == 204 or self.body is None:
            return b""
        return json.dumps(self.body).encode()


class Store:
    """One store's state and its API; subclasses speak one platform."""

    platform: ClassVar[str]

    def __init__(self, store: str, credential: str, clock: Clock) -> None:
        self.store = store
        self.credential = credential
        self._clock = clock
        self._ids = itertools.count(1001)

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    def throttled(self, fault: Fault) -> Answer:
        raise NotImplementedError

    def failed(self, status: int) -> Answer:
        raise NotImplementedError

    def _next_id(self) -> int:
        return next(self._ids)


def secret_matches(presented: str, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


def copied[T](document: T) -> T:
    return copy.deepcopy(document)


def resource_of(source: Mapping[str, Any] | Delivery) -> dict[str, Any]:
    """A resource given as a dict, or as the webhook delivery that carried it."""
    if isinstance(source, Delivery):
        document = json.loads(source.body)
        if not isinstance(document, dict):
            raise ValueError("the delivery's body is not a JSON object")
        return document
    return copied(dict(source))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_iso(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
