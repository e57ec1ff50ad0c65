"""Fixtures shared by the domain unit tests: the real client config and in-memory fakes."""

from __future__ import annotations

import pytest

from shipshape.config import ClientConfig, ClientDirectory, load_client_file
from shipshape.services.fulfillment import StepContext
from tests.fakes import (
    CarrierStub,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
    seed_inventory,
)
from tests.helpers import CLIENTS_DIR, EXECUTION


@pytest.fixture
def acme() -> ClientConfig:
    return load_client_file(CLIENTS_DIR / "acme-outdoors.toml")


@pytest.fixture
def clients() -> ClientDirectory:
    return ClientDirectory(CLIENTS_DIR)


@pytest.fixture
def repo() -> InMemoryOrderRepository:
    """Orders, exceptions and the stock the embedded runtime starts with."""
    repository = InMemoryOrderRepository()
    seed_inventory(repository.inventory)
    return repository


@pytest.fixture
def workflow() -> RecordingWorkflow:
    return RecordingWorkflow()


@pytest.fixture
def carrier() -> CarrierStub:
    return CarrierStub()


@pytest.fixture
def notifier() -> NotifierRecorder:
    return NotifierRecorder()


@pytest.fixture
def ctx(
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    acme: ClientConfig,
    carrier: CarrierStub,
    notifier: NotifierRecorder,
) -> StepContext:
    """The workflow steps' context for Acme on the in-memory fakes; ``clock`` is each test
    module's own (the moment its story starts)."""
    return StepContext(
        repo, clock, acme, carrier, notifier, repo.inventory, RecordingWarehouseChannel(),
        execution_name=EXECUTION,
    )  # fmt: skip
