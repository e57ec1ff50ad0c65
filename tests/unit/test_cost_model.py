"""The cost model's arithmetic: known counts give known dollars at the list prices, and the
DynamoDB request unit rules (sizes, rounding, 2x for transactions, index upkeep) hold as AWS
documents them. Pure: no emulator."""

from __future__ import annotations

import json
from collections import Counter
from enum import Enum

import pytest

from shipshape_local.cost import (
    GB,
    LAMBDA_PLATFORM_BYTES,
    FunctionUsage,
    Index,
    LambdaConfig,
    TableSchema,
    Usage,
    attribute_size,
    biggest_first,
    failed_write_charge,
    index_write_units,
    item_size,
    per_thousand,
    price,
    query_read_units,
    read_units,
    runs_per_month,
    state_transitions,
    write_charge,
    write_units,
)
from shipshape_local.metering import SHARED, Meter

KB = 1024
ORDERS = TableSchema(
    keys=("pk", "sk"),
    indexes=(
        Index("picker", ("gsi5pk",), "KEYS_ONLY"),
        Index("open", ("gsi2pk", "gsi2sk"), "ALL"),
        Index("audit", ("gsi6pk", "gsi6sk"), "INCLUDE", ("doc",)),
    ),
)


def _item(doc_bytes: int, **extra: str) -> dict[str, dict[str, str]]:
    """An item of the orders table whose size is 16 + doc_bytes plus its extra attributes:
    pk (2 + 8), sk (2 + 1), doc (3 + doc_bytes)."""
    item = {"pk": {"S": "ORDER#o1"}, "sk": {"S": "O"}, "doc": {"S": "x" * doc_bytes}}
    item.update({name: {"S": value} for name, value in extra.items()})
    return item


# --- what a set of counts costs -----------------------------------------------------------


def test_a_thousand_happy_orders_cost_what_the_price_list_says() -> None:
    # Given what 1,000 orders asked of AWS, per order: 16 transitions, 14 workflow steps of
    # 10 ms billed at 512 MB, 100 table and 20 index write units, 30 read units, 6 API
    # requests, 7 traces and one SNS publish
    usage = Usage(
        orders=1000,
        transitions=16_000,
        functions={"shipshape-WorkflowFunction": FunctionUsage(14_000, 140_000, 139_000.0)},
        write_units=100_000,
        index_write_units=20_000,
        read_units=30_000,
        api_requests=Counter({"POST /webhooks/{platform}/{client_id}": 6000}),
        traces=7000,
        calls=Counter({"sns.Publish": 1000}),
    )
    lambdas = {"shipshape-WorkflowFunction": LambdaConfig(512, "x86_64")}

    # When it is priced
    dollars = per_thousand(price(usage, lambdas), usage.orders)

    # Then each item is its count times its list price
    # Lambda's own lines (START, END, REPORT: 433 bytes) and 26 bytes per access log event
    logs = 14_000 * LAMBDA_PLATFORM_BYTES + 26 * 6000
    assert dollars == pytest.approx(
        {
            "Step Functions transitions": 16_000 * 0.025 / 1000,  # $0.40
            "Lambda requests": 14_000 * 0.20 / 1e6,
            "Lambda GB-seconds": 140 * 0.5 * 0.0000166667,  # 140 s at half a GB
            "DynamoDB writes": 120_000 * 0.625 / 1e6,  # $0.075
            "DynamoDB reads": 30_000 * 0.125 / 1e6,
            "API Gateway requests": 6000 * 1.00 / 1e6,
            "CloudWatch Logs ingestion": logs / GB * 0.50,
            "X-Ray traces": 7000 * 5.00 / 1e6,
            "others (SNS, Secrets Manager)": 1000 * 0.50 / 1e6,
        }
    )
    assert sum(dollars.values()) == pytest.approx(0.527, abs=5e-4)  # over the $0.50 target
    # and the biggest item comes first, with its share
    item, value, share = biggest_first(dollars)[0]
    assert item == "Step Functions transitions"
    assert value == pytest.approx(0.40)
    assert share == pytest.approx(0.40 / sum(dollars.values()))


def test_log_ingestion_is_half_a_dollar_per_gb_with_26_bytes_per_event() -> None:
    # Given a GB of log lines written in events of 1 KB minus the per-event overhead
    events = GB // KB
    usage = Usage(orders=1, log_bytes=GB - 26 * events, log_events=events)

    # Then ingestion costs $0.50
    assert usage.log_ingested_bytes() == GB
    assert price(usage, {})["CloudWatch Logs ingestion"] == pytest.approx(0.50)


def test_duration_is_priced_by_memory_and_architecture() -> None:
    # Given one function at 1,024 MB on Arm and one at 128 MB on x86, a second billed each
    usage = Usage(
        orders=1,
        functions={"big": FunctionUsage(1, 1000, 999.5), "small": FunctionUsage(1, 1000, 999.5)},
    )
    lambdas = {"big": LambdaConfig(1024, "arm64"), "small": LambdaConfig(128, "x86_64")}

    # Then a GB-second at the Arm price plus an eighth of one at the x86 price
    assert price(usage, lambdas)["Lambda GB-seconds"] == pytest.approx(
        0.0000133334 + 0.0000166667 / 8
    )


def test_lambda_bills_each_invocation_rounded_up_to_a_millisecond() -> None:
    usage = Usage()
    usage.invoked("fn", 0.0101)  # 10.1 ms
    usage.invoked("fn", 0.0)  # a fault before the handler ran
    assert usage.functions["fn"].billed_ms == 11 + 1
    assert usage.functions["fn"].measured_ms == pytest.approx(10.1)


def test_usage_survives_the_report_and_adds_up() -> None:
    # Given two orders' usage
    one = Usage(orders=1, transitions=16, write_units=3.5, api_requests=Counter({"GET /x": 2}))
    one.transitions_per_execution[16] += 1
    one.invoked("fn", 0.002)
    two = Usage(orders=1, transitions=23, read_units=1.5, api_requests=Counter({"GET /x": 1}))
    two.transitions_per_execution[23] += 1

    # When one goes through the report's JSON and they are added up
    again = Usage.from_dict(json.loads(json.dumps(one.as_dict())))
    total = Usage().merge(again).merge(two)

    # Then nothing is lost
    assert again == one
    assert total.orders == 2
    assert total.transitions == 39
    assert total.transitions_per_execution == Counter({16: 1, 23: 1})
    assert total.api_requests == Counter({"GET /x": 3})
    assert total.functions["fn"].invocations == 1
    assert (total.write_units, total.read_units) == (3.5, 1.5)


def test_schedules_fire_by_the_730_hour_month() -> None:
    assert runs_per_month("rate(1 minute)") == 43_800
    assert runs_per_month("rate(5 minutes)") == 8760
    assert runs_per_month("rate(1 hour)") == 730


class _EventType(str, Enum):  # noqa: UP042 - the emulator types history events so: str() is not the name
    TaskStateEntered = "TaskStateEntered"
    TaskScheduled = "TaskScheduled"
    TaskFailed = "TaskFailed"
    TaskSucceeded = "TaskSucceeded"


def _entered(kind: str | Enum, name: str) -> dict[str, object]:
    return {"type": kind, "stateEnteredEventDetails": {"name": name}}


def test_every_state_entered_and_every_retry_is_a_transition() -> None:
    # Given a history: a task that failed once and was retried, a Choice, a Pass and the end
    history = [
        {"type": "ExecutionStarted"},
        _entered(_EventType.TaskStateEntered, "ReserveInventory"),
        {"type": _EventType.TaskScheduled},
        {"type": _EventType.TaskFailed},
        {"type": _EventType.TaskScheduled},  # the retry attempt
        {"type": _EventType.TaskSucceeded},
        {"type": "TaskStateExited"},
        _entered("ChoiceStateEntered", "AfterReservation"),
        _entered("PassStateEntered", "Quarantine"),
        _entered("TaskStateEntered", "AwaitPickScans"),
        {"type": "TaskScheduled"},
        _entered("SucceedStateEntered", "Shipped"),
        {"type": "ExecutionSucceeded"},
    ]

    # When it is counted
    states, retries = state_transitions(history)

    # Then five states were entered and one retry made: six transitions billed
    assert states == ["ReserveInventory", "AfterReservation", "Quarantine", "AwaitPickScans",
                      "Shipped"]  # fmt: skip
    assert retries == 1
    assert len(states) + retries == 6


# --- DynamoDB: item sizes and request units ------------------------------------------------


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    # strings in UTF-8 bytes, names included
    assert item_size({"pk": {"S": "ORDER#1"}}) == 2 + 7
    assert attribute_size({"S": "Straße"}) == 7
    # numbers: about a byte per two significant digits, plus one
    assert attribute_size({"N": "123.45"}) == 4
    assert attribute_size({"N": "1000"}) == 2
    assert attribute_size({"N": "-7"}) == 3
    # booleans and null one byte; documents 3 bytes plus one per element
    assert attribute_size({"BOOL": True}) == 1
    assert attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert attribute_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert attribute_size({"SS": ["a", "bc"]}) == 3
    # and no item is nothing
    assert item_size(None) == 0


def test_write_units_round_up_per_kb_with_one_at_least() -> None:
    assert write_units(0) == 1
    assert write_units(KB) == 1
    assert write_units(KB + 1) == 2
    assert write_units(3 * KB + 700) == 4


def test_read_units_round_up_per_4_kb_half_for_eventual_twice_for_transactions() -> None:
    assert read_units(0, consistent=True) == 1
    assert read_units(4 * KB, consistent=True) == 1
    assert read_units(4 * KB + 1, consistent=True) == 2
    assert read_units(4 * KB + 1, consistent=False) == 1
    assert read_units(100, consistent=False) == 0.5
    assert read_units(100, consistent=True, transactional=True) == 2


def test_a_query_rounds_the_total_it_read_once() -> None:
    # Given a page of ten items of 500 bytes (5,000 bytes read)
    sizes = [500] * 10

    # Then it costs 2 units (strongly consistent), 1 eventually consistent, not one per item
    assert query_read_units(sizes, consistent=True) == 2
    assert query_read_units(sizes, consistent=False) == 1
    # and an empty page still costs the minimum
    assert query_read_units([], consistent=False) == 0.5


def test_a_write_is_charged_on_the_larger_of_the_item_before_and_after() -> None:
    new = _item(1500)  # 1,516 bytes: 2 units
    big, small = _item(3000), _item(400)

    assert write_charge(ORDERS, None, new).table == 2
    # an update that shrinks the item pays for the item as it was
    assert write_charge(ORDERS, big, small).table == 3
    assert write_charge(ORDERS, small, big).table == 3
    # a delete pays for what it removed
    assert write_charge(ORDERS, big, None).table == 3


def test_transactional_writes_cost_twice_and_index_upkeep_once() -> None:
    # Given an audit event put in a transaction: 1,516 bytes, projected into the audit index
    event = _item(1500, gsi6pk="AUDIT#acme#2026-11-02", gsi6sk="2026-11-02T08:00#o1#1")

    # When it is charged
    charge = write_charge(ORDERS, None, event, transactional=True)

    # Then the table write costs twice its 2 units, and the index entry (keys and doc) one
    # standard write per KB
    assert charge.table == 4
    assert charge.indexes == 2
    assert charge.total == 6


def test_index_writes_follow_what_happens_to_the_items_entry() -> None:
    picker = Index("picker", ("gsi5pk",), "KEYS_ONLY")
    keys = ("pk", "sk")
    plain = _item(100)
    assigned = _item(100, gsi5pk="PICKER#ana")
    reassigned = _item(100, gsi5pk="PICKER#ben")
    assigned_and_changed = _item(900, gsi5pk="PICKER#ana")

    # not in the index before or after: nothing
    assert index_write_units(picker, keys, plain, _item(200)) == 0
    # the key appears: a put
    assert index_write_units(picker, keys, plain, assigned) == 1
    # the key goes away: a delete
    assert index_write_units(picker, keys, assigned, plain) == 1
    # the key changes: a delete and a put
    assert index_write_units(picker, keys, assigned, reassigned) == 2
    # keys only, keys unchanged: the entry is the same, nothing to write
    assert index_write_units(picker, keys, assigned, assigned_and_changed) == 0


def test_an_index_projecting_everything_is_rewritten_on_any_change_at_its_new_size() -> None:
    open_index = Index("open", ("gsi2pk", "gsi2sk"), "ALL")
    keys = ("pk", "sk")
    before = _item(100, gsi2pk="OPEN", gsi2sk="2026-11-02T10:00#e1")
    after = _item(2500, gsi2pk="OPEN", gsi2sk="2026-11-02T10:00#e1")

    assert index_write_units(open_index, keys, before, after) == 3
    assert index_write_units(open_index, keys, before, dict(before)) == 0


def test_a_failed_condition_still_pays_for_the_item_as_it_stands() -> None:
    assert failed_write_charge(None).table == 1
    assert failed_write_charge(_item(2200)).table == 3
    assert failed_write_charge(_item(2200), transactional=True).table == 6
    assert failed_write_charge(_item(2200)).indexes == 0


# --- the meter's subjects ------------------------------------------------------------------


def test_each_invocation_is_charged_to_the_order_it_works_for() -> None:
    meter = Meter()

    # a workflow step names its order; a schedule's run is the schedule's; else shared
    assert meter.subject_for("wf", {"step": "reserve", "order_id": "o1"}) == "order:o1"
    assert meter.subject_for("sweeper", {"source": "aws.scheduler"}) == "schedule:sweeper"
    assert meter.subject_for("ops", {"routeKey": "GET /metrics"}) == SHARED
    # the request being served wins over the event (an API request about an order)
    with meter.serving("planned:7"):
        assert meter.subject_for("warehouse", {"order_id": "o1"}) == "planned:7"
    assert meter.current() is None


def test_log_lines_and_emf_metrics_are_counted_for_the_current_subject() -> None:
    # Given an EMF document publishing one metric with a client dimension, and a log line
    emf = json.dumps({
        "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
            "Namespace": "Shipshape", "Dimensions": [["client_id", "service"]],
            "Metrics": [{"Name": "OrdersShipped", "Unit": "Count"}]}]},
        "client_id": "acme", "service": "shipshape", "OrdersShipped": [1.0],
    })  # fmt: skip
    meter = Meter()

    # When they are written inside an order's invocation, and one outside any
    with meter.serving("order:o1"):
        meter.logged(emf)
        meter.logged('{"level":"INFO","message":"order shipped"}')
    meter.logged("the simulation's own line")

    # Then the order's usage has both lines and the metric is known once
    usage = meter.snapshot()["order:o1"]
    assert (usage.log_events, usage.emf_documents) == (2, 1)
    assert usage.log_bytes == len(emf) + len('{"level":"INFO","message":"order shipped"}')
    assert meter.metrics == {("Shipshape", "OrdersShipped", "client_id=acme", "service=shipshape")}
    assert list(meter.snapshot()) == ["order:o1"]
