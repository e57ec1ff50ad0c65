"""Versions and update times are bounded for every platform and both ways in: the canonical
model holds the version bound, and the one future-time check runs on every version that
ingest records, so reconciliation refuses what a webhook would be refused for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shipshape.config import ClientConfig, StoreConfig
from shipshape.errors import ConcurrentUpdate
from shipshape.models import MAX_VERSION, Platform, StorefrontOrder, SyncState
from shipshape.ports import ShipmentNotice, StorefrontApi, WriteBackResult
from shipshape.services.reconcile import reconcile_store
from tests.fakes import (
    InMemoryOrderRepository,
    InMemorySyncLedger,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import load_event

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)


class OneStoreLedger(InMemorySyncLedger):
    def __init__(self) -> None:
        super().__init__()
        self.states: dict[tuple[str, str, str], SyncState] = {}

    def sync_state(self, client_id: str, platform: str, store: str) -> SyncState | None:
        return self.states.get((client_id, platform, store))

    def save_sync_state(self, state: SyncState, expected: SyncState | None) -> None:
        key = (state.client_id, state.platform.value, state.store)
        if self.states.get(key) != expected:
            raise ConcurrentUpdate("moved")
        self.states[key] = state


class ServedOrders(StorefrontApi):
    """A storefront API answering a fixed list of order resources, whatever the window."""

    def __init__(self, resources: list[bytes]) -> None:
        self.resources = resources

    def confirm_shipment(self, store: StoreConfig, notice: ShipmentNotice) -> WriteBackResult:
        raise NotImplementedError

    def orders_updated_since(
        self, store: StoreConfig, since: datetime, until: datetime
    ) -> list[bytes]:
        return list(self.resources)

    def fetch_order(self, store: StoreConfig, storefront_order_id: str) -> bytes:
        raise NotImplementedError


def _shopify_resource(order_id: int, updated_at: datetime) -> bytes:
    order = json.loads(load_event("shopify/orders_paid.json"))
    order.update(id=order_id, updated_at=updated_at.isoformat())
    return json.dumps(order).encode()


def test_reconciliation_refuses_an_order_stamped_in_the_future_and_records_the_rest(
    acme: ClientConfig,
) -> None:
    # Given a store read before, whose API answers an order stamped in year 9999 (its filter
    # did not hold the window) next to an order paid a minute ago
    store = acme.stores_on(Platform.SHOPIFY)[0]
    ledger = OneStoreLedger()
    before = NOW - timedelta(minutes=5)
    ledger.save_sync_state(
        SyncState(client_id=acme.client_id, platform=store.platform, store=store.store,
                  checkpoint=before, last_run_at=before),
        None,
    )  # fmt: skip
    api = ServedOrders(
        [
            _shopify_resource(7_001, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
            _shopify_resource(7_002, NOW - timedelta(minutes=1)),
        ]
    )
    repo = InMemoryOrderRepository()

    # When the pass runs
    report = reconcile_store(
        client=acme, store=store, repo=repo, ledger=ledger, storefronts=api,
        workflow=RecordingWorkflow(), clock=SettableClock(NOW),
    )  # fmt: skip

    # Then the future one is reported unreadable naming Shopify's field, the other recorded,
    # and the checkpoint moves on
    assert report.outcome == "reconciled"
    assert len(report.unreadable) == 1
    assert report.unreadable[0].startswith("updated_at: 9999-12-31T23:59:59+00:00 is ")
    assert len(report.repaired) == 1
    recorded = repo.get(report.repaired[0])
    assert recorded is not None and recorded.storefront_order_id == "7002"
    saved = ledger.sync_state(acme.client_id, "shopify", store.store)
    assert saved is not None and saved.checkpoint == NOW


@pytest.mark.parametrize("version", [0, -1, MAX_VERSION + 1, 10**100])
def test_the_canonical_order_refuses_a_version_outside_one_to_2_63_minus_1(version: int) -> None:
    # Given a version no platform could mean
    fields = json.loads(
        StorefrontOrder(
            platform=Platform.GENERIC, store="kite-and-kin", storefront_order_id="KK-1",
            version=1, storefront_updated_at=NOW, payment="paid", ready_to_fulfil=True,
            lines=({"line_id": "1", "sku": "KITE-DELTA-RED", "quantity": 1},),
        ).model_dump_json()
    )  # fmt: skip

    # When a canonical order version is built with it, Then it is refused naming the version
    with pytest.raises(ValidationError) as caught:
        StorefrontOrder.model_validate({**fields, "version": version})
    assert caught.value.errors()[0]["loc"] == ("version",)
