"""DynamoDB adapters: one table (see ``template.yaml``), one store per port.

- ``keys``: the key schema, the one place keys are built (the stream publisher reads it too);
- ``items``: the domain models as items and back;
- ``table``: the requests, and the one translation of their failures;
- ``orders``: the order with its exceptions, audit events and documents (``OrderRepository``),
  every change one transaction guarded by the order's audit sequence;
- ``inventory``, ``audit``, ``away``, ``rules``, ``ledger``, ``access``: the other ports, each
  a small store of its own;
- ``stream``: the table's stream records as the audit events they carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipshape.adapters.dynamodb.access import DynamoDBAccessLog
from shipshape.adapters.dynamodb.audit import DynamoDBAuditIndex
from shipshape.adapters.dynamodb.away import DynamoDBAwayRegistry
from shipshape.adapters.dynamodb.inventory import DynamoDBInventory
from shipshape.adapters.dynamodb.items import (
    audit_item,
    exception_item,
    order_from,
    order_item,
)
from shipshape.adapters.dynamodb.keys import OPEN_EXCEPTIONS, PENDING_START, order_key
from shipshape.adapters.dynamodb.ledger import DynamoDBSyncLedger
from shipshape.adapters.dynamodb.orders import DynamoDBOrderStore
from shipshape.adapters.dynamodb.rules import DynamoDBRuleStore
from shipshape.adapters.dynamodb.table import Table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

__all__ = [
    "OPEN_EXCEPTIONS",
    "PENDING_START",
    "DynamoDBAccessLog",
    "DynamoDBAuditIndex",
    "DynamoDBAwayRegistry",
    "DynamoDBInventory",
    "DynamoDBOrderStore",
    "DynamoDBRuleStore",
    "DynamoDBStores",
    "DynamoDBSyncLedger",
    "Table",
    "audit_item",
    "exception_item",
    "order_from",
    "order_item",
    "order_key",
    "stores",
]


@dataclass(frozen=True)
class DynamoDBStores:
    """Every store of one table."""

    orders: DynamoDBOrderStore
    inventory: DynamoDBInventory
    audit: DynamoDBAuditIndex
    away: DynamoDBAwayRegistry
    rules: DynamoDBRuleStore
    ledger: DynamoDBSyncLedger
    access: DynamoDBAccessLog


def stores(client: DynamoDBClient, table_name: str) -> DynamoDBStores:
    table = Table(client, table_name)
    return DynamoDBStores(
        orders=DynamoDBOrderStore(table),
        inventory=DynamoDBInventory(table),
        audit=DynamoDBAuditIndex(table),
        away=DynamoDBAwayRegistry(table),
        rules=DynamoDBRuleStore(table),
        ledger=DynamoDBSyncLedger(table),
        access=DynamoDBAccessLog(table),
    )
