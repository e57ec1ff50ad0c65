"""Reconciliation checkpoints, one per client store, moved forward only; and the order reads
webhook ingest deferred to reconciliation."""

from __future__ import annotations

import contextlib
from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.keys import s
from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import ConcurrentUpdate
from shipshape.models import DeferredFetch, SyncState
from shipshape.ports import SyncLedger


class DynamoDBSyncLedger(SyncLedger):
    def __init__(self, table: Table) -> None:
        self._table = table

    def sync_state(self, client_id: str, platform: str, store: str) -> SyncState | None:
        item = self._table.get(keys.sync_key(client_id, platform, store), ConsistentRead=True)
        return SyncState.model_validate_json(item["doc"]["S"]) if item else None

    def save_sync_state(self, state: SyncState, expected: SyncState | None) -> None:
        guard: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected is None
            else {
                "ConditionExpression": "checkpoint = :expected",
                "ExpressionAttributeValues": {":expected": s(keys.utc(expected.checkpoint))},
            }
        )
        self._table.put(
            {
                **keys.sync_key(state.client_id, state.platform.value, state.store),
                "entity": s("sync_state"),
                "checkpoint": s(keys.utc(state.checkpoint)),
                "doc": s(state.model_dump_json()),
            },
            on_condition=ConcurrentUpdate(
                f"another pass moved the checkpoint of {state.platform.value} store {state.store}"
            ),
            **guard,
        )

    def defer_fetch(self, deferred: DeferredFetch) -> None:
        self._table.put({
            **keys.deferred_key(
                deferred.client_id, deferred.platform.value, deferred.store,
                deferred.storefront_order_id,
            ),
            "entity": s("deferred_fetch"),
            "deferred_at": s(keys.utc(deferred.deferred_at)),
            "doc": s(deferred.model_dump_json()),
        })  # fmt: skip

    def deferred_fetches(self, client_id: str, platform: str, store: str) -> list[DeferredFetch]:
        items = self._table.query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": s(keys.deferred_partition(client_id)),
                ":prefix": s(keys.deferred_prefix(platform, store)),
            },
            ConsistentRead=True,
        )
        return [DeferredFetch.model_validate_json(item["doc"]["S"]) for item in items]

    def complete_fetch(self, deferred: DeferredFetch) -> None:
        key = keys.deferred_key(
            deferred.client_id, deferred.platform.value, deferred.store,
            deferred.storefront_order_id,
        )  # fmt: skip
        with contextlib.suppress(_DeferredAgain):
            self._table.delete(
                key,
                on_condition=_DeferredAgain(),
                ConditionExpression="deferred_at = :seen",
                ExpressionAttributeValues={":seen": s(keys.utc(deferred.deferred_at))},
            )


class _DeferredAgain(Exception):
    """The order was deferred again after it was read: that deferral stays."""
