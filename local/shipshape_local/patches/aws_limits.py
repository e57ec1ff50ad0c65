"""AWS behaviour: a request over one of AWS's documented limits is refused, as AWS refuses it
(see ``shipshape_local.limits`` for each limit and its source).

moto holds a put item's key sizes and 100 transaction items, and an item's size by a measure
and a limit of its own (405,000 bytes, leaving out a list's and a map's overhead: a deep item
passes that AWS refuses, and a flat one of 401 KB is refused that AWS accepts).

The request checks are made where a call leaves the process, before moto sees it: DynamoDB
key sizes on every key and put item, 38-digit numbers, a put item's size, a transaction's
4 MB; Step Functions' 256 KiB inputs and outputs; Lambda's invoke payloads. An update's size
is only known once applied: it is measured when the update expression has run, and an update
that leaves the item over 400 KB is undone (an item it would have created is removed) and
refused with AWS's message, before any stream record is written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from shipshape_local import limits
from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"


def _keys(backend: Any, table_name: Any) -> tuple[list[str], list[str]] | None:
    table = backend.tables.get(table_name) if isinstance(table_name, str) else None
    if table is None:
        return None  # moto answers ResourceNotFoundException
    return list(table.hash_key_names), list(table.range_key_names)


def _check_dynamodb(backend: Any, operation: str, params: Mapping[str, Any]) -> None:
    limits.check_numbers(params, operation)
    if operation == "TransactWriteItems":
        actions = list(params.get("TransactItems") or [])
        limits.check_transaction(actions, operation)
        for action in actions:
            for kind, body in action.items():
                _check_write(backend, "PutItem" if kind == "Put" else "UpdateItem", body,
                             report_as=operation)  # fmt: skip
        return
    if operation == "TransactGetItems":
        limits.check_transaction(list(params.get("TransactItems") or []), operation)
        return
    if operation == "BatchWriteItem":
        for table_name, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                for body in request.values():
                    _check_write(backend, "PutItem", {"TableName": table_name, **body},
                                 report_as=operation)  # fmt: skip
        return
    if operation in ("PutItem", "UpdateItem", "DeleteItem", "GetItem"):
        _check_write(backend, operation, params, report_as=operation)


def _check_write(backend: Any, operation: str, body: Mapping[str, Any], *, report_as: str) -> None:
    keys = _keys(backend, body.get("TableName"))
    if keys is None:
        return
    partition, sort = keys
    item = body.get("Item")
    if isinstance(item, Mapping):
        limits.check_key_sizes(item, partition_keys=partition, sort_keys=sort,
                               operation=report_as)  # fmt: skip
        limits.check_put_size(item, report_as)
    key = body.get("Key")
    if isinstance(key, Mapping):
        limits.check_key_sizes(key, partition_keys=partition[:1], sort_keys=sort[:1],
                               operation=report_as)  # fmt: skip


def install(patcher: Patcher, *, account: str, enforced: Callable[[], bool]) -> None:
    from botocore.client import BaseClient
    from moto.core.models import botocore_stubber
    from moto.dynamodb.exceptions import ItemSizeTooLarge, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.parsing.executors import UpdateExpressionExecutor

    original_call = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, untyped

    def within_limits(self: Any, operation_name: str, api_params: Any) -> Any:
        if botocore_stubber.enabled and isinstance(api_params, Mapping) and enforced():
            service = self.meta.service_model.service_name
            if service == "dynamodb":
                backend = dynamodb_backends[account][self.meta.region_name]
                _check_dynamodb(backend, operation_name, api_params)
            elif service == "stepfunctions":
                limits.check_states_request(operation_name, api_params)
            elif service == "lambda" and operation_name == "Invoke":
                limits.check_lambda_invoke(api_params, operation_name)
        return original_call(self, operation_name, api_params)

    patcher.replace(BaseClient, "_make_api_call", within_limits)

    # moto's own item limit (405,000 bytes by its own measure, taken on every attribute set)
    # refuses items AWS accepts (up to 409,600 bytes by AWS's): AWS's limit, measured AWS's
    # way, replaces it, on put items above and on updates below.
    patcher.replace(LimitedSizeDict, "__setitem__", dict.__setitem__)

    original_execute = UpdateExpressionExecutor.execute

    def measured(self: Any, node: Any = None) -> None:
        if node is not None:  # an inner node: the whole expression is measured at the top
            return original_execute(self, node)
        before = copy.deepcopy(self.item)
        original_execute(self)
        if limits.item_size(self.item.to_json()["Attributes"]) > limits.ITEM_BYTES:
            self.item.attrs = before.attrs  # nothing half-written
            raise ItemSizeTooLarge  # moto's update_item answers ItemSizeToUpdateTooLarge
        return None

    patcher.replace(UpdateExpressionExecutor, "execute", measured)

    original_update = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any,
                    **kwargs: Any) -> Any:  # fmt: skip
        table = self.tables.get(table_name)
        existed, hash_key, range_key = True, None, None
        if table is not None and table.hash_key_attr in key:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = (
                DynamoType(key[table.range_key_attr])
                if table.range_key_attr and table.range_key_attr in key
                else None
            )
            existed = table.get_item(hash_key, range_key) is not None
        shard = table.stream_shard if table is not None else None
        recorded = len(shard.items) if shard is not None else 0
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        except ItemSizeToUpdateTooLarge:
            if not existed:
                # moto created the item (and its INSERT record) before updating it: AWS
                # writes neither, so both go again (requests are serialized meanwhile).
                if table.has_range_key:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items.pop(hash_key, None)
                if shard is not None:
                    del shard.items[recorded:]
            raise

    patcher.replace(DynamoDBBackend, "update_item", update_item)
