"""What the sweeper writes to its log: each line about an exception carries the ids an operator
searches CloudWatch by, and a failed escalation says why."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import Order
from shipshape.observability import logger
from shipshape.services.escalation import sweep_overdue
from tests.builders import NOW, seed_exception
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, SettableClock


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the shared Logger writes, as the Lambda runtime would send it to CloudWatch."""
    [handler] = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def lines(stream: io.StringIO, message: str) -> list[dict[str, Any]]:
    written = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in written if line.get("message") == message]


class LostOrder(InMemoryOrderRepository):
    """Fault injection: the order records of ``lost`` are gone (their exceptions remain)."""

    def __init__(self) -> None:
        super().__init__()
        self.lost: set[str] = set()

    def get(self, order_id: str) -> Order | None:
        return None if order_id in self.lost else super().get(order_id)


def test_an_escalation_is_logged_with_its_exception_order_client_and_type(
    log_lines: io.StringIO,
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    acme: ClientConfig,
) -> None:
    # Given an overdue invalid address
    opened = seed_exception(repo, acme)

    # When the sweeper escalates it
    sweep_overdue(repo=repo, clients=clients, clock=SettableClock(NOW), notifier=NotifierRecorder())

    # Then its log line names the exception, its order, client and type, and the move
    [line] = lines(log_lines, "exception escalated")
    assert {
        k: line.get(k) for k in ("exception_id", "order_id", "client_id", "exception_type")
    } == {
        "exception_id": opened.exception_id,
        "order_id": opened.order_id,
        "client_id": "acme-outdoors",
        "exception_type": "address_invalid",
    }
    assert (line["from_owner"], line["to_owner"], line["escalation_level"]) == (
        "client-success",
        "carla.cs-lead",
        1,
    )


def test_an_exception_whose_order_is_gone_is_left_overdue_and_the_log_names_the_order(
    log_lines: io.StringIO, clients: ClientDirectory, acme: ClientConfig
) -> None:
    # Given an overdue exception whose order record is missing
    store = LostOrder()
    opened = seed_exception(store, acme)
    store.lost = {opened.order_id}

    # When the sweeper runs
    report = sweep_overdue(
        repo=store, clients=clients, clock=SettableClock(NOW), notifier=NotifierRecorder()
    )

    # Then it is reported failed, and the log says which order is missing
    assert report.failed == [opened.exception_id]
    assert report.overdue == 1
    [line] = lines(log_lines, "escalation failed")
    assert (line["exception_id"], line["order_id"]) == (opened.exception_id, opened.order_id)
    assert line["exception_name"] == "OrderNotFound"
    assert f"exception {opened.exception_id} has no order {opened.order_id}" in line["exception"]
