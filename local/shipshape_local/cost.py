"""What running Shipshape on AWS costs: list prices and the arithmetic that turns counted usage
into dollars. Pure: no AWS, no moto. The embedded runtime counts with the DynamoDB unit rules
below (see ``metering``); ``bench/cost.py`` prices a pilot's counts with ``price``.

Prices: the AWS public price list for us-east-1 (on-demand list prices, free tiers left out),
as published in 2025; DynamoDB on-demand at the rates in force since the price cut of
1 November 2024. This machine is offline: re-check them against the price list before quoting.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

GB = 1024**3  # CloudWatch Logs bills ingestion per GB of 2**30 bytes


@dataclass(frozen=True)
class Price:
    usd: float
    per: float  # units the price is for (1,000 transitions, 1 million requests, 1 GB...)
    unit: str
    source: str  # the price list entry it comes from

    def of(self, amount: float) -> float:
        return amount * self.usd / self.per


# The price list entries Shipshape's stack uses (us-east-1, list prices, free tiers left out).
PRICES: dict[str, Price] = {
    "sfn_transition": Price(0.025, 1_000, "state transition",
                            "AWS Step Functions pricing, Standard workflows"),
    "lambda_request": Price(0.20, 1_000_000, "request", "AWS Lambda pricing, requests"),
    "lambda_gb_second_x86_64": Price(0.0000166667, 1, "GB-second",
                                     "AWS Lambda pricing, duration, x86, first 6 billion GB-s"),
    "lambda_gb_second_arm64": Price(0.0000133334, 1, "GB-second",
                                    "AWS Lambda pricing, duration, Arm, first 7.5 billion GB-s"),
    "dynamodb_write_unit": Price(0.625, 1_000_000, "write request unit",
                                 "Amazon DynamoDB on-demand pricing (since 1 November 2024)"),
    "dynamodb_read_unit": Price(0.125, 1_000_000, "read request unit",
                                "Amazon DynamoDB on-demand pricing (since 1 November 2024)"),
    "http_api_request": Price(1.00, 1_000_000, "request",
                              "Amazon API Gateway pricing, HTTP APIs, first 300 million"),
    "logs_ingested_gb": Price(0.50, 1, "GB ingested",
                              "Amazon CloudWatch pricing, Logs, Standard ingestion"),
    "xray_trace": Price(5.00, 1_000_000, "trace recorded", "AWS X-Ray pricing, traces recorded"),
    "sns_publish": Price(0.50, 1_000_000, "publish (64 KB chunk)",
                         "Amazon SNS pricing, standard topics, API requests"),
    "secrets_api_call": Price(0.05, 10_000, "API call", "AWS Secrets Manager pricing, API calls"),
    "scheduler_invocation": Price(1.00, 1_000_000, "scheduled invocation",
                                  "Amazon EventBridge Scheduler pricing (14 million a month free)"),
    "custom_metric_month": Price(0.30, 1, "metric-month",
                                 "Amazon CloudWatch pricing, custom metrics, first 10,000"),
    "alarm_month": Price(0.10, 1, "alarm-month",
                         "Amazon CloudWatch pricing, standard resolution alarm"),
    "dashboard_month": Price(3.00, 1, "dashboard-month",
                             "Amazon CloudWatch pricing, dashboards (first 3 free)"),
    "secret_month": Price(0.40, 1, "secret-month", "AWS Secrets Manager pricing, per secret"),
    "kms_key_month": Price(1.00, 1, "key-month", "AWS KMS pricing, customer managed key"),
}  # fmt: skip
HOURS_PER_MONTH = 730  # AWS's month for monthly prices

# Bytes CloudWatch Logs counts per log event besides its message (the PutLogEvents batch
# size rule; ingestion is metered on the same bytes).
LOG_EVENT_OVERHEAD = 26
# What Lambda itself writes per invocation (text log format, tracing on): START, END and the
# REPORT line with its XRAY part. Representative lines; only their length matters.
_REQUEST_ID = "6f1c2e7a-0b7d-4e8c-9d7e-2a3b4c5d6e7f"
LAMBDA_PLATFORM_LINES = (
    f"START RequestId: {_REQUEST_ID} Version: $LATEST",
    f"END RequestId: {_REQUEST_ID}",
    f"REPORT RequestId: {_REQUEST_ID}\tDuration: 23.45 ms\tBilled Duration: 24 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 112 MB\t\n"
    "XRAY TraceId: 1-6566a1b2-0123456789abcdef01234567\tSegmentId: 0123456789abcdef\t"
    "Sampled: true\t",
)
LAMBDA_PLATFORM_BYTES = sum(len(x.encode()) + LOG_EVENT_OVERHEAD for x in LAMBDA_PLATFORM_LINES)

# --- DynamoDB request units (on-demand) -----------------------------------------------------

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


def _parts(value: Any) -> tuple[str, Any]:
    """(type, value) of an attribute value: DynamoDB JSON ({"S": "x"}) or an object with
    ``type`` and ``value`` (the emulator's own representation)."""
    if isinstance(value, Mapping):
        ((kind, raw),) = value.items()
        return str(kind), raw
    return str(value.type), value.value


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (DynamoDB's number encoding)."""
    digits = text.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return max(1, (len(digits) + 1) // 2 + 1) + (1 if text.startswith("-") else 0)


def _binary_size(raw: Any) -> int:
    """Raw bytes; base64 text (as the wire carries binary) decodes to three quarters."""
    return len(raw) if isinstance(raw, bytes | bytearray) else len(str(raw)) * 3 // 4


def attribute_size(value: Any) -> int:
    """The bytes DynamoDB counts for one attribute value (its name not included)."""
    kind, raw = _parts(value)
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return _number_size(str(raw))
    if kind == "B":
        return _binary_size(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in raw)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in raw)
    if kind == "BS":
        return sum(_binary_size(v) for v in raw)
    # A document (M or L) costs 3 bytes, and each element one more besides its own size.
    if kind == "M":
        return 3 + sum(1 + len(str(k).encode()) + attribute_size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in raw)
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Attribute names (UTF-8) plus values, as DynamoDB sizes an item; 0 for no item."""
    if not item:
        return 0
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    """Write request units for writing ``size`` bytes: one per KB or part of one, at least 1."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """Read request units for reading ``size`` bytes: one per 4 KB or part of one, at least 1;
    half that eventually consistent, twice that in a transaction."""
    units = float(max(1, math.ceil(size / READ_UNIT_BYTES)))
    if transactional:
        return 2 * units
    return units if consistent else units / 2


def query_read_units(sizes: Iterable[int], *, consistent: bool) -> float:
    """A Query or Scan page: the sizes of all items read (before any filter) added up, then
    rounded up to 4 KB once."""
    return read_units(sum(sizes), consistent=consistent)


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str = "ALL"  # ALL, KEYS_ONLY or INCLUDE
    include: tuple[str, ...] = ()

    def entry(
        self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]
    ) -> dict[str, Any] | None:
        """The index's copy of ``item``; None when the item lacks a key of the index (a
        sparse index holds only items that have all of its keys)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        wanted = set(self.keys) | set(table_keys)
        if self.projection == "INCLUDE":
            wanted |= set(self.include)
        return {name: value for name, value in item.items() if name in wanted}


@dataclass(frozen=True)
class TableSchema:
    keys: tuple[str, ...]  # partition key, then sort key if any
    indexes: tuple[Index, ...] = ()


def index_write_units(
    index: Index,
    table_keys: tuple[str, ...],
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> int:
    """What one table write costs on one index: nothing if the item is in the index neither
    before nor after, or its copy there does not change; a write to put or delete the copy;
    two (a delete and a put) when an index key changes."""
    old, new = index.entry(before, table_keys), index.entry(after, table_keys)
    if old is None and new is None:
        return 0
    if old is None:
        return write_units(item_size(new))
    if new is None:
        return write_units(item_size(old))
    if any(_differs(old.get(key), new.get(key)) for key in (*index.keys, *table_keys)):
        return write_units(item_size(old)) + write_units(item_size(new))
    if old.keys() == new.keys() and not any(_differs(old[k], new[k]) for k in old):
        return 0
    return write_units(item_size(new))


def _differs(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is not b
    if type(a) is type(b):
        return bool(a != b)
    return bool(_plain(a) != _plain(b))


def _plain(value: Any) -> Any:
    kind, raw = _parts(value)
    if kind == "M":
        return {kind: {k: _plain(v) for k, v in raw.items()}}
    if kind == "L":
        return {kind: [_plain(v) for v in raw]}
    return {kind: raw}


@dataclass(frozen=True)
class WriteCharge:
    table: float
    indexes: float = 0.0

    @property
    def total(self) -> float:
        return self.table + self.indexes


def write_charge(
    schema: TableSchema,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    transactional: bool = False,
    before_size: int | None = None,
) -> WriteCharge:
    """An applied PutItem, UpdateItem or DeleteItem: the larger of the item before and after,
    in KB rounded up (twice that in a transaction), plus each index's write. Index upkeep is
    charged as standard writes, also for a transaction's items (an assumption: AWS documents
    the 2x for the transaction's own items). ``before_size``: the size of ``before`` if
    already known."""
    size = max(item_size(before) if before_size is None else before_size, item_size(after))
    table = write_units(size) * (2 if transactional else 1)
    indexes = sum(index_write_units(i, schema.keys, before, after) for i in schema.indexes)
    return WriteCharge(float(table), float(indexes))


def failed_write_charge(
    before: Mapping[str, Any] | None, *, transactional: bool = False, before_size: int | None = None
) -> WriteCharge:
    """A write whose condition failed still consumes units for the item as it stands (at
    least 1), and changes no index."""
    size = item_size(before) if before_size is None else before_size
    return WriteCharge(float(write_units(size) * (2 if transactional else 1)))


# --- Step Functions (Standard): state transitions -------------------------------------------


def state_transitions(history: Iterable[Mapping[str, Any]]) -> tuple[list[str], int]:
    """The states an execution entered, in order, and its retry attempts, from its history
    events: Standard workflows bill a transition for every state entered (Task, Choice, Pass,
    Wait, Succeed, Fail...) and one for every retry (a task scheduled again in its state)."""
    states: list[str] = []
    scheduled = tasks = 0
    for event in history:
        kind = str(getattr(event["type"], "value", event["type"]))  # a name or an enum of names
        if kind.endswith("StateEntered"):
            states.append(str(event["stateEnteredEventDetails"]["name"]))
            tasks += kind == "TaskStateEntered"
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"):
            scheduled += 1
    return states, max(0, scheduled - tasks)


# --- what a run used, and what that costs ---------------------------------------------------


@dataclass
class FunctionUsage:
    invocations: int = 0
    billed_ms: int = 0  # each invocation rounded up to 1 ms, as Lambda bills
    measured_ms: float = 0.0

    def add(self, other: FunctionUsage) -> None:
        self.invocations += other.invocations
        self.billed_ms += other.billed_ms
        self.measured_ms += other.measured_ms


@dataclass
class Usage:
    """What a set of orders (or a run of a schedule) asked of AWS: the counts a bill is made
    of. ``orders`` is how many orders it covers, for per-order figures."""

    orders: int = 0
    executions: int = 0
    transitions: int = 0  # states entered plus retry attempts, as Standard workflows bill
    retries: int = 0
    transitions_per_execution: Counter[int] = field(default_factory=Counter)
    functions: dict[str, FunctionUsage] = field(default_factory=dict)
    write_units: float = 0.0  # the table's own
    index_write_units: float = 0.0
    read_units: float = 0.0
    dynamodb_requests: Counter[str] = field(default_factory=Counter)  # by operation
    # units by operation and kind ("TransactWriteItems write", "... index write", "... read")
    dynamodb_units: dict[str, float] = field(default_factory=dict)
    failed_writes: int = 0  # condition failed or transaction cancelled: charged all the same
    api_requests: Counter[str] = field(default_factory=Counter)  # by route
    access_log_bytes: int = 0
    log_events: int = 0  # what the handlers wrote (structured logs and EMF documents)
    log_bytes: int = 0
    emf_documents: int = 0
    state_machine_log_events: int = 0
    state_machine_log_bytes: int = 0
    traces: int = 0  # X-Ray traces: one per execution, API request and scheduled run
    calls: Counter[str] = field(default_factory=Counter)  # AWS API calls, service.Operation

    def invoked(self, function: str, seconds: float) -> None:
        usage = self.functions.setdefault(function, FunctionUsage())
        usage.invocations += 1
        usage.measured_ms += seconds * 1000
        usage.billed_ms += max(1, math.ceil(seconds * 1000))

    def merge(self, other: Usage) -> Usage:
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif f.name == "dynamodb_units":
                for key, units in theirs.items():
                    mine[key] = mine.get(key, 0.0) + units
            elif isinstance(mine, dict):
                for name, usage in theirs.items():
                    mine.setdefault(name, FunctionUsage()).add(usage)
            else:
                setattr(self, f.name, mine + theirs)
        return self

    @property
    def invocations(self) -> int:
        return sum(f.invocations for f in self.functions.values())

    def log_ingested_bytes(self) -> int:
        """Every byte CloudWatch Logs ingests for this usage: the handlers' lines, Lambda's own
        lines per invocation, API access log lines and the state machine's log events."""
        return (
            self.log_bytes + LOG_EVENT_OVERHEAD * self.log_events
            + LAMBDA_PLATFORM_BYTES * self.invocations
            + self.access_log_bytes + LOG_EVENT_OVERHEAD * sum(self.api_requests.values())
            + self.state_machine_log_bytes + LOG_EVENT_OVERHEAD * self.state_machine_log_events
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value = {str(k): v for k, v in sorted(value.items())}
            elif f.name == "dynamodb_units":
                value = {k: round(v, 3) for k, v in sorted(value.items())}
            elif isinstance(value, dict):
                value = {k: vars(v) | {"measured_ms": round(v.measured_ms, 3)}
                         for k, v in sorted(value.items())}  # fmt: skip
            elif isinstance(value, float):
                value = round(value, 3)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        usage = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "transitions_per_execution":
                value = Counter({int(k): v for k, v in value.items()})
            elif f.name == "functions":
                value = {k: FunctionUsage(**v) for k, v in value.items()}
            elif f.name == "dynamodb_units":
                value = {k: float(v) for k, v in value.items()}
            elif isinstance(getattr(usage, f.name), Counter):
                value = Counter(value)
            setattr(usage, f.name, value)
        return usage


@dataclass(frozen=True)
class LambdaConfig:
    memory_mb: int = 512
    architecture: str = "x86_64"


ITEMS = (
    "Step Functions transitions",
    "Lambda requests",
    "Lambda GB-seconds",
    "DynamoDB writes",
    "DynamoDB reads",
    "API Gateway requests",
    "CloudWatch Logs ingestion",
    "X-Ray traces",
    "others (SNS, Secrets Manager)",
)


def gb_seconds(usage: Usage, lambdas: Mapping[str, LambdaConfig]) -> dict[str, float]:
    """Billed GB-seconds by architecture."""
    out: dict[str, float] = {}
    for name, function in usage.functions.items():
        config = lambdas.get(name, LambdaConfig())
        seconds = function.billed_ms / 1000 * config.memory_mb / 1024
        out[config.architecture] = out.get(config.architecture, 0.0) + seconds
    return out


def price(
    usage: Usage, lambdas: Mapping[str, LambdaConfig], prices: Mapping[str, Price] = PRICES
) -> dict[str, float]:
    """Dollars by item (ITEMS) for everything ``usage`` counts."""
    duration = sum(
        prices[f"lambda_gb_second_{arch}"].of(seconds)
        for arch, seconds in gb_seconds(usage, lambdas).items()
    )
    return {
        "Step Functions transitions": prices["sfn_transition"].of(usage.transitions),
        "Lambda requests": prices["lambda_request"].of(usage.invocations),
        "Lambda GB-seconds": duration,
        "DynamoDB writes": prices["dynamodb_write_unit"].of(
            usage.write_units + usage.index_write_units
        ),
        "DynamoDB reads": prices["dynamodb_read_unit"].of(usage.read_units),
        "API Gateway requests": prices["http_api_request"].of(sum(usage.api_requests.values())),
        "CloudWatch Logs ingestion": prices["logs_ingested_gb"].of(usage.log_ingested_bytes() / GB),
        "X-Ray traces": prices["xray_trace"].of(usage.traces),
        "others (SNS, Secrets Manager)": prices["sns_publish"].of(usage.calls["sns.Publish"])
        + prices["secrets_api_call"].of(usage.calls["secretsmanager.GetSecretValue"]),
    }


def per_thousand(dollars: Mapping[str, float], orders: int) -> dict[str, float]:
    """Dollars per 1,000 orders, by item."""
    return {item: value / orders * 1000 if orders else 0.0 for item, value in dollars.items()}


def biggest_first(dollars: Mapping[str, float]) -> list[tuple[str, float, float]]:
    """(item, dollars, share of the total), the biggest item first."""
    total = sum(dollars.values())
    return [
        (item, value, value / total if total else 0.0)
        for item, value in sorted(dollars.items(), key=lambda kv: -kv[1])
    ]


def runs_per_month(schedule: str) -> float:
    """How often ``rate(N unit)`` fires in AWS's 730-hour month."""
    inner = schedule.strip().removeprefix("rate(").removesuffix(")")
    amount, unit = inner.split()
    minutes = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}
    return HOURS_PER_MONTH * 60 / (int(amount) * minutes[unit])


@dataclass(frozen=True)
class PathCost:
    """One path of a pilot at list prices: what the report and its summary show."""

    path: str
    orders: int
    transitions_per_order: float
    dollars_per_thousand: float
    biggest: str  # the biggest item and its share


def by_path(cost_inputs: Mapping[str, Any]) -> list[PathCost]:
    """Each path of a pilot's cost inputs (``report["load"]["cost_inputs"]``), priced: the
    request-driven items only (bench/cost.py adds what is fixed each month)."""
    lambdas = {
        name: LambdaConfig(int(spec["memory_mb"]), str(spec["architecture"]))
        for name, spec in cost_inputs["stack"]["lambda"].items()
    }
    out = []
    for path, data in sorted(cost_inputs["paths"].items(), key=lambda kv: -kv[1]["orders"]):
        usage = Usage.from_dict(data)
        dollars = per_thousand(price(usage, lambdas), usage.orders)
        item, _, share = biggest_first(dollars)[0]
        out.append(
            PathCost(
                path=path,
                orders=usage.orders,
                transitions_per_order=usage.transitions / usage.orders if usage.orders else 0.0,
                dollars_per_thousand=sum(dollars.values()),
                biggest=f"{item} {share:.0%}",
            )
        )
    return out
