"""Versions of each client's operating rules, and the pointer to the active one."""

from __future__ import annotations

from typing import Any

from shipshape.adapters.dynamodb import keys
from shipshape.adapters.dynamodb.items import rule_item
from shipshape.adapters.dynamodb.keys import n, s
from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import ConcurrentUpdate
from shipshape.models import RuleChange, RuleChangeStatus
from shipshape.ports import RuleStore


class DynamoDBRuleStore(RuleStore):
    def __init__(self, table: Table) -> None:
        self._table = table

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        return [
            RuleChange.model_validate_json(i["doc"]["S"])
            for i in self._table.query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues={
                    ":pk": s(keys.rules_partition(client_id)),
                    ":v": s("V#"),
                },
                ConsistentRead=True,
            )
        ]

    def active_rules(self, client_id: str) -> RuleChange | None:
        item = self._table.get(keys.active_rules_key(client_id), ConsistentRead=True)
        return RuleChange.model_validate_json(item["doc"]["S"]) if item else None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        put: dict[str, Any] = {"TableName": self._table.name, "Item": rule_item(change)}
        if expected is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#s = :s"
            put["ExpressionAttributeNames"] = {"#s": "status"}
            put["ExpressionAttributeValues"] = {":s": s(expected.status.value)}
        self._table.transact(
            [{"Put": put}],
            ConcurrentUpdate(f"rule version {change.version} of {change.client_id} changed"),
        )

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        table = self._table.name
        pointer: dict[str, Any] = {
            "TableName": table,
            "Item": {
                **keys.active_rules_key(change.client_id),
                "version": n(change.version),
                "doc": s(change.model_dump_json()),
            },
        }
        items: list[Any] = [
            {
                "Put": {
                    "TableName": table,
                    "Item": rule_item(change),
                    "ConditionExpression": "#s = :s",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":s": s(approved.status.value)},
                }
            },
        ]
        if previous is None:
            pointer["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            pointer["ConditionExpression"] = "version = :v"
            pointer["ExpressionAttributeValues"] = {":v": n(previous.version)}
            superseded = previous.model_copy(update={"status": RuleChangeStatus.SUPERSEDED})
            items.append({"Put": {"TableName": table, "Item": rule_item(superseded)}})
        items.append({"Put": pointer})
        self._table.transact(
            items, ConcurrentUpdate(f"the active rules of {change.client_id} changed")
        )
