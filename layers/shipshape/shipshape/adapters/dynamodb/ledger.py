"""Reconciliation checkpoints, one per client store, moved forward only."""

from __future__ import annotations

from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.keys import s
from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import ConcurrentUpdate
from shipshape.models import SyncState
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
