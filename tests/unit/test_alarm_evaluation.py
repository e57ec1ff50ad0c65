"""The alarm evaluator of the embedded runtime (local/shipshape_local/alarms.py) on EMF lines
and a manual clock, without the emulator: statistics, comparisons, M of N and the four
missing-data treatments as CloudWatch documents them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape_local import emf
from shipshape_local.alarms import AlarmEvaluator, AlarmSpec, spec_of

START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
WALL = 1_800_000_000.0  # the wall clock's now, in seconds: what Powertools stamps with


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def line(value: float | list[float], *, dims: dict[str, str] | None = None,
         name: str = "Failures", unit: str = "Count", stamp: float = WALL) -> str:  # fmt: skip
    dimensions = {"service": "shipshape"} if dims is None else dims
    return json.dumps({
        "_aws": {"Timestamp": int(stamp * 1000), "CloudWatchMetrics": [{
            "Namespace": "Shipshape", "Dimensions": [sorted(dimensions)],
            "Metrics": [{"Name": name, "Unit": unit}],
        }]},
        **dimensions, name: value,
    })  # fmt: skip


def spec(**changes: Any) -> AlarmSpec:
    props = {
        "Namespace": "Shipshape", "MetricName": "Failures",
        "Dimensions": [{"Name": "service", "Value": "shipshape"}],
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:owners"],
    } | changes  # fmt: skip
    return spec_of("FailuresAlarm", "shipshape-FailuresAlarm", props, str)


def evaluator(alarm: AlarmSpec, clock: Clock) -> tuple[AlarmEvaluator, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []

    def sink(s: AlarmSpec, old: str, new: str, reason: str, data: Any, at: datetime) -> None:
        changes.append((new, at.strftime("%H:%M")))

    found = AlarmEvaluator([alarm], {}, clock=clock, account="123456789012",
                           region="us-east-1", lock=threading.RLock(),
                           wall=lambda: WALL, sink=sink)  # fmt: skip
    for watched in found._watched.values():
        watched.evaluated_through = int(START.timestamp()) // watched.spec.period
    return found, changes


def run(alarm: AlarmSpec, periods: list[list[str]]) -> list[tuple[str, str]]:
    """Print each period's lines at its start, then evaluate at its end."""
    clock = Clock()
    found, changes = evaluator(alarm, clock)
    for lines in periods:
        for each in lines:
            found.record(each)
        clock.now += timedelta(minutes=5)
        found.evaluate()
    return changes


@pytest.mark.parametrize(
    ("statistic", "threshold", "fires"),
    [("Sum", 5.5, True), ("Sum", 6, False), ("Average", 1.9, True), ("Average", 2, False),
     ("Minimum", 0.5, True), ("Minimum", 1, False), ("Maximum", 2.9, True),
     ("Maximum", 3, False), ("SampleCount", 2, True), ("SampleCount", 3, False)],
)  # fmt: skip
def test_each_statistic_of_a_period_is_compared_with_the_threshold(
    statistic: str, threshold: float, fires: bool
) -> None:
    # Given values 1 and 2 (one document with a list) and 3 (another) in one period
    periods = [[line([1.0, 2.0]), line(3.0)]]

    # When the period is evaluated (Sum 6, Average 2, Minimum 1, Maximum 3, SampleCount 3)
    changes = run(spec(Statistic=statistic, Threshold=threshold), periods)

    # Then it alarms only when the statistic is greater than the threshold
    assert changes == [("ALARM" if fires else "OK", "17:05")]


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("GreaterThanThreshold", "OK"), ("GreaterThanOrEqualToThreshold", "ALARM"),
     ("LessThanThreshold", "OK"), ("LessThanOrEqualToThreshold", "ALARM")],
)  # fmt: skip
def test_the_four_comparisons_at_the_threshold(operator: str, expected: str) -> None:
    # Given / When a period whose sum equals the threshold
    changes = run(spec(ComparisonOperator=operator, Threshold=2), [[line(2.0)]])

    # Then only the comparisons that include equality breach
    assert changes == [(expected, "17:05")]


def test_m_of_n_alarms_when_enough_periods_of_the_window_breach() -> None:
    # Given 2 of 3 periods must breach
    alarm = spec(EvaluationPeriods=3, DatapointsToAlarm=2)

    # When breaching, fine, breaching periods follow, then fine ones
    changes = run(alarm, [[line(1.0)], [line(0.0)], [line(1.0)], [line(0.0)], [line(0.0)]])

    # Then one breach is not enough; the second (in the window) alarms; it clears as soon as
    # the window (17:05-17:20) holds one breach only
    assert changes == [("OK", "17:05"), ("ALARM", "17:15"), ("OK", "17:20")]


@pytest.mark.parametrize(
    ("treatment", "expected"),
    [
        ("notBreaching", [("OK", "17:05")]),
        ("breaching", [("ALARM", "17:05")]),
        ("missing", []),  # INSUFFICIENT_DATA, as it starts
        ("ignore", []),  # keeps its state
    ],
)
def test_missing_data_treatments_with_no_datapoint_at_all(
    treatment: str, expected: list[tuple[str, str]]
) -> None:
    # Given / When three silent periods
    changes = run(spec(TreatMissingData=treatment), [[], [], []])

    # Then each treatment decides as CloudWatch documents
    assert changes == expected


@pytest.mark.parametrize(
    ("treatment", "expected"),
    [
        ("notBreaching", [("ALARM", "17:05"), ("OK", "17:10")]),
        ("breaching", [("ALARM", "17:05")]),
        ("missing", [("ALARM", "17:05"), ("INSUFFICIENT_DATA", "17:10")]),
        ("ignore", [("ALARM", "17:05")]),
    ],
)
def test_an_alarm_after_its_metric_goes_silent(
    treatment: str, expected: list[tuple[str, str]]
) -> None:
    # Given / When a breaching period, then silence
    changes = run(spec(TreatMissingData=treatment), [[line(1.0)], [], []])

    # Then notBreaching clears, breaching and ignore stay, missing has no data to judge
    assert changes == expected


@pytest.mark.parametrize(
    "printed",
    [
        line(1.0, dims={}),  # no dimensions: another metric
        line(1.0, dims={"service": "shipshape", "client_id": "acme"}),  # another set
        line(1.0, dims={"service": "other"}),  # another value
        line(1.0, name="Failure"),  # another name
        line(1.0, unit="Seconds"),  # the alarm names Count
        line(1.0, stamp=WALL - 15 * 86400),  # older than CloudWatch accepts
        line(1.0, stamp=WALL + 3 * 3600),  # too far ahead
        line(1.0).replace('"Timestamp"', '"Time"'),  # no Timestamp: not a valid document
        line(1.0).replace("1.0", '"1"'),  # a string value: not a valid document
    ],
)
def test_only_exactly_the_alarms_metric_is_counted(printed: str) -> None:
    # Given an alarm on Failures [service=shipshape] in Count
    alarm = spec(Unit="Count")

    # When a datapoint of another metric (or no valid datapoint) is printed
    changes = run(alarm, [[printed]])

    # Then the alarm sees a silent period
    assert changes == [("OK", "17:05")]


def test_a_datapoint_lands_on_the_runtime_clock_at_its_distance_from_the_wall() -> None:
    # Given a document stamped 10 minutes ago by the wall clock (an explicit timestamp)
    clock = Clock()
    clock.now = START + timedelta(minutes=10)
    found, _changes = evaluator(spec(), clock)

    # When it is printed
    found.record(line(1.0, stamp=WALL - 600))
    found.record(line(2.0))

    # Then it is binned 10 minutes before the runtime's now; one stamped as printed, at now
    (watched,) = found._watched.values()
    start = int(START.timestamp()) // 300
    assert watched.bins == {start: [1.0], start + 2: [2.0]}


def test_emf_datapoints_each_dimension_set_is_its_own_metric() -> None:
    # Given one document with two dimension sets and two values
    document = json.dumps({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
            "Namespace": "Shipshape", "Dimensions": [["service"], ["service", "client_id"]],
            "Metrics": [{"Name": "Failures", "Unit": "Count"}],
        }]},
        "service": "shipshape", "client_id": "acme", "Failures": [1, 2],
    })  # fmt: skip

    # When it is read
    points = emf.datapoints(document)

    # Then each set publishes both values
    assert [(p.dimensions, p.value) for p in points] == [
        ((("service", "shipshape"),), 1.0),
        ((("service", "shipshape"),), 2.0),
        ((("client_id", "acme"), ("service", "shipshape")), 1.0),
        ((("client_id", "acme"), ("service", "shipshape")), 2.0),
    ]
