"""A claimed exception whose claimant missed the deadline is written back, as the table keeps
it, open and unclaimed for the next owner."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shipshape.adapters.dynamodb import exception_item
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import AuditEvent, Order, OrderException, SideWrite
from shipshape.services.escalation import sweep_overdue
from tests.builders import NOW, seed_exception
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock


class TableItems(InMemoryOrderRepository):
    """Also maps every exception write to its DynamoDB item with the adapter's own mapping,
    so a record the table could not hold fails here as it would there."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        item = exception_item(exception)
        super().write_exception(order, exception, event, expected_seq, expected_version, writes)
        self.items[exception.exception_id] = item


def test_a_claimed_exception_escalates_to_an_open_unclaimed_table_item(
    clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an invalid address Maya claimed and did not resolve in time
    store = TableItems()
    claimed = seed_exception(store, acme, claimed_by="maya.cs")

    # When the sweeper runs
    report = sweep_overdue(
        repo=store, clients=clients, clock=SettableClock(NOW), notifier=NotifierRecorder()
    )

    # Then the item written is open, without a claimant, in the CS lead's queue and back in
    # the overdue index with the new deadline
    assert [e.exception_id for e in report.escalated] == [claimed.exception_id]
    item = store.items[claimed.exception_id]
    assert item["status"] == {"S": "OPEN"}
    assert item["owner"] == {"S": "carla.cs-lead"}
    assert item["gsi4pk"] == {"S": f"OWNER#{acme.client_id}#carla.cs-lead"}
    assert item["gsi2sk"]["S"].startswith("2026-11-19T17:00:00")
    doc = json.loads(item["doc"]["S"])
    assert doc["status"] == "OPEN"
    assert "claimed_by" not in doc
    assert "claimed_at" not in doc
