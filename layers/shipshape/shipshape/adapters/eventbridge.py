"""Domain events onto an EventBridge bus: ``PutEvents`` entries, cut into requests within
EventBridge's limits (10 entries and 256 KB a request)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shipshape.events import SOURCE, DomainEvent

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
# What an entry's Time counts towards the request size, whatever its value.
_TIME_BYTES = 14


class EventTooLarge(ValueError):
    """One entry alone is over EventBridge's request size; it can never be put."""


def put_entries(
    events: Iterable[DomainEvent], bus_name: str, source: str = SOURCE
) -> list[dict[str, Any]]:
    """``events.put_events`` entries for ``events``, in order.

    No ``Resources``: EventBridge means them for ARNs, and an order has none; rules match on
    the detail's ``client_id`` or ``order_id`` instead.
    """
    return [
        {
            "Source": source,
            "DetailType": event.detail_type(),
            "Detail": event.model_dump_json(),
            "EventBusName": bus_name,
            "Time": event.occurred_at,
        }
        for event in events
    ]


def entry_size(entry: Mapping[str, Any]) -> int:
    """What one entry counts towards a PutEvents request's size, as EventBridge counts it."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key, "")).encode())
    return size + sum(len(str(arn).encode()) for arn in entry.get("Resources", ()))


def put_batches(
    entries: Sequence[dict[str, Any]],
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[dict[str, Any]]]:
    """``entries`` in order, cut into PutEvents requests of at most ``max_entries`` entries and
    ``max_bytes`` bytes each."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_bytes = entry_size(entry)
        if entry_bytes > max_bytes:
            raise EventTooLarge(
                f"{entry.get('DetailType')} is {entry_bytes} bytes; a request takes {max_bytes}"
            )
        if batch and (len(batch) == max_entries or size + entry_bytes > max_bytes):
            batches.append(batch)
            batch, size = [], 0
        batch.append(entry)
        size += entry_bytes
    if batch:
        batches.append(batch)
    return batches
