"""Fixtures for the handler tests: each function's ``lambda_handler`` called as Lambda calls it,
on in-memory fakes wired through ``shipshape.bootstrap.override``, with sockets closed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

import shipshape.bootstrap
from shipshape.config import ClientDirectory, Settings
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryAccessLog,
    InMemoryAuditIndex,
    InMemoryAwayRegistry,
    InMemoryOrderRepository,
    InMemoryRuleStore,
    InMemoryStorefronts,
    InMemorySyncLedger,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
    seed_inventory,
)
from tests.helpers import CLIENTS_DIR
from tests.unit.handlers.support import (
    DEV_SECRETS,
    ENVIRONMENT,
    MONDAY,
    Fakes,
    Invoke,
    LambdaContext,
    load_function,
)


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler test that reaches for the network fails at once instead of hanging."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a handler test opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fakes]:
    """Every port of the container as an in-memory fake, wired as the Lambda functions get
    their adapters; the function environment as template.yaml gives it."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    repo = InMemoryOrderRepository()
    seed_inventory(repo.inventory)
    rules = InMemoryRuleStore()
    built = Fakes(
        repo=repo,
        workflow=RecordingWorkflow(),
        clock=SettableClock(MONDAY),
        notifier=NotifierRecorder(),
        away=InMemoryAwayRegistry(repo),
        audit=InMemoryAuditIndex(repo),
        rules=rules,
        access_log=InMemoryAccessLog(),
        ledger=InMemorySyncLedger(),
        storefronts=InMemoryStorefronts(),
        carrier=CarrierStub(),
        warehouse=RecordingWarehouseChannel(),
    )
    shipshape.bootstrap.reset()
    shipshape.bootstrap.override(
        settings=Settings.from_environment(),
        clients=ClientDirectory(CLIENTS_DIR, rules=rules),
        repo=repo, inventory=repo.inventory, away=built.away, audit=built.audit,
        rule_store=rules, access_log=built.access_log, ledger=built.ledger,
        workflow=built.workflow, secrets=FixedSecrets(DEV_SECRETS), clock=built.clock,
        carrier=built.carrier, notifier=built.notifier, warehouse=built.warehouse,
        storefronts=built.storefronts,
    )  # fmt: skip
    yield built
    shipshape.bootstrap.reset()


@pytest.fixture
def invoke(fakes: Fakes) -> Invoke:
    """``invoke(function, event)``: the function's ``lambda_handler`` with a Lambda context."""

    def call(function: str, event: dict[str, Any]) -> Any:
        return load_function(function).lambda_handler(event, LambdaContext(function))

    return call
