"""What the embedded stack asks of AWS, counted as AWS bills it, per order: the pilot prices
it (``cost``, ``bench/cost.py``).

Every count belongs to a *subject*: the order a Lambda invocation works for (a workflow
step's event names it), the order a request of the pilot is about (the pilot says so before
it sends one: ``acting_for``), a schedule's run, or ``shared``. Inside an invocation the
subject is the thread's, so the DynamoDB requests a handler makes, its log lines and its
other AWS calls are charged to the same order.

Counted here: Lambda invocations with their measured duration, DynamoDB request units
computed from the items each request reads and writes (the emulator's tables, before and
after, under the lock that serializes its requests), API Gateway requests with their access
log line, the handlers' log bytes and EMF metrics, other AWS calls by operation, and each
execution's state transitions and error log events from its history.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shipshape_local import emf
from shipshape_local.cost import (
    Index,
    TableSchema,
    Usage,
    WriteCharge,
    failed_write_charge,
    item_size,
    query_read_units,
    read_units,
    state_transitions,
    write_charge,
)

SHARED = "shared"


class Meter:
    """Usage by subject, counted while the embedded stack runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        # The subject of the pilot's next requests: they are served on the front door's
        # thread, so this is process-wide (the pilot sends one request at a time).
        self.hint: str | None = None
        self.usage: dict[str, Usage] = {}
        self.clock: Callable[[], datetime] | None = None
        self.metrics: set[tuple[str, ...]] = set()  # distinct custom metrics (EMF)
        self.metric_hours: set[tuple[tuple[str, ...], str]] = set()

    def reset(self) -> None:
        with self._lock:
            self.usage = {}
            self.metrics = set()
            self.metric_hours = set()
            self.hint = None

    # --- subjects --------------------------------------------------------------------------

    def current(self) -> str | None:
        """The subject of the work this thread is doing for the stack (None: not the stack's
        work, e.g. the simulation's own reads)."""
        return getattr(self._local, "subject", None)

    @contextmanager
    def serving(self, subject: str) -> Iterator[None]:
        previous = self.current()
        self._local.subject = subject
        try:
            yield
        finally:
            self._local.subject = previous

    @contextmanager
    def acting_for(self, subject: str) -> Iterator[None]:
        """The requests sent meanwhile are about ``subject`` (an order of the pilot)."""
        previous, self.hint = self.hint, subject
        try:
            yield
        finally:
            self.hint = previous

    def subject_for(self, function: str, event: Any) -> str:
        """Whom an invocation works for: the request being served, else the order its event
        names (a workflow step), else its schedule."""
        current = self.current()
        if current is not None:
            return current
        if isinstance(event, dict):
            state = event.get("state")
            order_id = event.get("order_id") or (state.get("order_id") if isinstance(state, dict) else None)  # fmt: skip  # noqa: E501
            if order_id:
                return f"order:{order_id}"
            if event.get("source") == "aws.scheduler":
                return f"schedule:{function}"
        return SHARED

    def _of(self, subject: str) -> Usage:
        found = self.usage.get(subject)
        if found is None:
            found = self.usage[subject] = Usage()
        return found

    # --- counts ----------------------------------------------------------------------------

    def invoked(self, subject: str, function: str, seconds: float, *, traced: bool) -> None:
        with self._lock:
            usage = self._of(subject)
            usage.invoked(function, seconds)
            usage.traces += int(traced)

    def dynamodb(
        self, subject: str, operation: str, *, write: WriteCharge | None = None,
        read: float = 0.0, failed: bool = False,
    ) -> None:  # fmt: skip
        with self._lock:
            usage = self._of(subject)
            usage.dynamodb_requests[operation] += 1
            usage.read_units += read
            units = usage.dynamodb_units
            if read:
                units[f"{operation} read"] = units.get(f"{operation} read", 0.0) + read
            if write is not None:
                usage.write_units += write.table
                usage.index_write_units += write.indexes
                for kind, value in (("write", write.table), ("index write", write.indexes)):
                    if value:
                        key = f"{operation} {kind}"
                        units[key] = units.get(key, 0.0) + value
            usage.failed_writes += int(failed)

    def api_request(
        self, subject: str, route: str, access_log_bytes: int, *, traced: bool = True
    ) -> None:
        with self._lock:
            usage = self._of(subject)
            usage.api_requests[route] += 1
            usage.access_log_bytes += access_log_bytes
            # HTTP APIs pass no trace header: a function traced Active starts a trace, one
            # traced PassThrough records none.
            usage.traces += int(traced)

    def called(self, subject: str, call: str) -> None:
        with self._lock:
            self._of(subject).calls[call] += 1

    def logged(self, line: str) -> None:
        """One line a handler wrote (a CloudWatch Logs event on AWS)."""
        subject = self.current()
        if subject is None:
            return
        size = len(line.encode())
        keys = _metric_keys(line) if '"_aws"' in line else None
        hour = self.clock().strftime("%Y-%m-%dT%H") if keys and self.clock else ""
        with self._lock:
            usage = self._of(subject)
            usage.log_events += 1
            usage.log_bytes += size
            if keys is not None:
                usage.emf_documents += 1
                self.metrics.update(keys)
                self.metric_hours.update((key, hour) for key in keys)

    def snapshot(self) -> dict[str, Usage]:
        with self._lock:
            return {s: Usage().merge(u) for s, u in self.usage.items()}


METER = Meter()


def _metric_keys(line: str) -> list[tuple[str, ...]]:
    """The custom metrics an EMF document publishes: namespace, name and dimension values."""
    return [
        (point.namespace, point.name, *(f"{d}={v}" for d, v in point.dimensions))
        for point in emf.datapoints(line)
    ]


# --- DynamoDB request units, from the emulator's tables ------------------------------------

_OPERATIONS = {
    "put_item": "PutItem",
    "update_item": "UpdateItem",
    "delete_item": "DeleteItem",
    "batch_write_item": "BatchWriteItem",
    "transact_write_items": "TransactWriteItems",
    "get_item": "GetItem",
    "batch_get_item": "BatchGetItem",
    "transact_get_items": "TransactGetItems",
}
_CONDITION_FAILED = frozenset({"ConditionalCheckFailed", "TransactionCanceledException"})


@dataclass
class _Target:
    """One item a request names."""

    table: Any
    key: dict[str, Any]
    kind: str  # write, check (a transaction's ConditionCheck) or read
    consistent: bool = True
    before: dict[str, Any] | None = None
    before_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _lookup(table: Any, key: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if table.hash_key_attr not in key:
        return None
    found = table.items.get(DynamoType(key[table.hash_key_attr]))
    if found is None:
        return None
    if not table.range_key_attr:
        return found
    if table.range_key_attr not in key:
        return None
    return found.get(DynamoType(key[table.range_key_attr]))


_SCHEMAS: dict[int, tuple[Any, TableSchema]] = {}


def schema_of(table: Any) -> TableSchema:
    """The table's keys and global secondary indexes, as the cost rules need them."""
    cached = _SCHEMAS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    keys = tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k)
    indexes = tuple(
        Index(
            name=index.name,
            keys=tuple(k["AttributeName"] for k in index.schema),
            projection=(index.projection or {}).get("ProjectionType", "ALL"),
            include=tuple((index.projection or {}).get("NonKeyAttributes", [])),
        )
        for index in table.global_indexes
    )
    schema = TableSchema(keys, indexes)
    _SCHEMAS[id(table)] = (table, schema)
    return schema


def _targets(handler: Any, operation: str) -> list[_Target]:
    body = handler.body
    backend = handler.dynamodb_backend

    def target(name: str, key: dict[str, Any], kind: str, consistent: bool = True) -> _Target:
        return _Target(backend.get_table(name), key, kind, consistent)

    if operation in ("PutItem",):
        return [target(body["TableName"], body["Item"], "write")]
    if operation in ("UpdateItem", "DeleteItem"):
        return [target(body["TableName"], body["Key"], "write")]
    if operation == "GetItem":
        return [target(body["TableName"], body["Key"], "read", bool(body.get("ConsistentRead")))]
    found: list[_Target] = []
    if operation == "BatchWriteItem":
        for name, requests in body["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    found.append(target(name, request["PutRequest"]["Item"], "write"))
                elif "DeleteRequest" in request:
                    found.append(target(name, request["DeleteRequest"]["Key"], "write"))
    elif operation == "BatchGetItem":
        for name, request in body["RequestItems"].items():
            consistent = bool(request.get("ConsistentRead"))
            found.extend(target(name, key, "read", consistent) for key in request["Keys"])
    elif operation == "TransactWriteItems":
        for entry in body["TransactItems"]:
            ((action, op),) = entry.items()
            key = op.get("Item") if action == "Put" else op.get("Key")
            found.append(target(op["TableName"], key, "check" if action == "ConditionCheck" else "write"))  # fmt: skip  # noqa: E501
    elif operation == "TransactGetItems":
        for entry in body["TransactItems"]:
            found.append(target(entry["Get"]["TableName"], entry["Get"]["Key"], "read"))
    return found


def _charge(
    meter: Meter, subject: str, operation: str, targets: list[_Target], *, failed: bool
) -> None:
    transactional = operation.startswith("Transact")
    write = WriteCharge(0.0)
    read = 0.0
    for t in targets:
        if t.kind == "read" or t.kind == "check":
            read += read_units(t.before_size, consistent=t.consistent, transactional=transactional)
            continue
        if failed:
            charge = failed_write_charge(
                t.before, transactional=transactional, before_size=t.before_size
            )
        else:
            found = _lookup(t.table, t.key)
            charge = write_charge(
                schema_of(t.table), t.before, found.attrs if found is not None else None,
                transactional=transactional, before_size=t.before_size,
            )  # fmt: skip
        write = WriteCharge(write.table + charge.table, write.indexes + charge.indexes)
    has_writes = any(t.kind == "write" for t in targets)
    meter.dynamodb(subject, operation, write=write if has_writes else None, read=read,
                   failed=failed and has_writes)  # fmt: skip


def install(meter: Meter, lock: Any) -> None:
    """Charge every DynamoDB item request made for a subject with the units it consumes,
    computed from the items it names as the table holds them before and after. The request
    runs under ``lock`` (the emulator's request lock), so nothing changes them meanwhile.
    Query and Scan are charged in ``metered_query``."""
    from moto.dynamodb.responses import DynamoHandler

    for method, operation in _OPERATIONS.items():
        original = getattr(DynamoHandler, method)
        if getattr(original, "_shipshape_metered", False):
            continue

        def metered(handler: Any, __original: Any = original, __operation: str = operation) -> Any:
            subject = meter.current()
            if subject is None:
                return __original(handler)
            with lock:
                try:
                    targets = _targets(handler, __operation)
                    for t in targets:
                        item = _lookup(t.table, t.key)
                        t.before_size = item_size(item.attrs) if item is not None else 0
                        if t.kind == "write" and item is not None:
                            # The attributes as they are: moto replaces changed values.
                            t.before = dict(item.attrs)
                except Exception:  # noqa: BLE001 - a malformed request: the emulator refuses it
                    return __original(handler)
                try:
                    result = __original(handler)
                except Exception as exc:
                    if type(exc).__name__ in _CONDITION_FAILED:
                        _charge(meter, subject, __operation, targets, failed=True)
                    raise
                _charge(meter, subject, __operation, targets, failed=False)
            return result

        metered._shipshape_metered = True  # type: ignore[attr-defined]
        setattr(DynamoHandler, method, metered)


def metered_query(meter: Meter, original: Callable[..., Any], call: Any) -> Any:
    """Run moto's ``Table.query`` (bound as ``call``) and charge the items it read: all of
    them, before the filter and the projection (which DynamoDB applies after reading), their
    sizes added up and rounded up to 4 KB once."""
    subject = meter.current()
    if subject is None:
        return original(*call.args, **call.kwargs)
    arguments = call.arguments
    condition = arguments.get("filter_expression")
    projection = arguments.get("projection_expressions")
    arguments["filter_expression"] = None
    arguments["projection_expressions"] = None
    results, scanned, last_key = original(*call.args, **call.kwargs)
    consistent = bool(arguments.get("consistent_read"))
    units = query_read_units((item_size(r.attrs) for r in results), consistent=consistent)
    meter.dynamodb(subject, "Query", read=units)
    if condition is not None:
        results = [r for r in results if condition.expr(r)]
    if projection:
        results = [r.project(projection) for r in results]
    return results, scanned, last_key


# --- Step Functions: transitions from each execution's history -----------------------------


@dataclass
class ExecutionCount:
    name: str
    order_id: str | None
    status: str
    states: list[str]  # every state entered, in order
    transitions: int  # states entered plus retry attempts
    retries: int
    log_events: int  # what the state machine's log level sends to CloudWatch Logs
    log_bytes: int


def execution_counts(
    state_machine_arn: str, log_level: str, account: str, region: str
) -> list[ExecutionCount]:
    """Every execution of the state machine, counted from its history as Standard workflows
    bill: one transition per state entered (Task, Choice, Pass, Wait, Succeed, Fail...) and
    one per retry attempt (a task scheduled again in the same state)."""
    from moto.stepfunctions.parser.api import LogLevel
    from moto.stepfunctions.parser.asl.eval.event.logging import is_logging_enabled_for
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account][region]
    level = LogLevel(log_level)
    counted = []
    for execution in backend._get_executions():
        if execution.state_machine_arn != state_machine_arn:
            continue
        events = execution.to_history_output()["events"]
        states, retries = state_transitions(events)
        logged = [e for e in events if is_logging_enabled_for(level, e["type"])]
        log_bytes = sum(_log_size(e, execution.execution_arn) for e in logged)
        input_data = execution.input_data if isinstance(execution.input_data, dict) else {}
        counted.append(
            ExecutionCount(
                name=execution.name,
                order_id=input_data.get("order_id"),
                status=str(getattr(execution.exec_status, "value", execution.exec_status)),
                states=states,
                transitions=len(states) + retries,
                retries=retries,
                log_events=len(logged),
                log_bytes=log_bytes,
            )
        )
    return counted


_DATA = re.compile(r"^(input|output)(Details)?$")


def _log_size(event: dict[str, Any], execution_arn: str) -> int:
    """The size of the log event Step Functions sends for a history event, without execution
    data (IncludeExecutionData: false)."""
    details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    record = {
        "id": str(event.get("id")),
        "previous_event_id": str(event.get("previousEventId")),
        "event_timestamp": str(event.get("timestamp")),
        "type": str(getattr(event["type"], "value", event["type"])),
        "execution_arn": execution_arn,
        "details": {k: v for k, v in details.items() if not _DATA.match(k)},
    }
    return len(json.dumps(record, default=str).encode())
