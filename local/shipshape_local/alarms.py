"""The template's CloudWatch alarms, evaluated on the embedded stack as CloudWatch evaluates
them: moto stores alarms but never changes their state.

What is evaluated: every ``AWS::CloudWatch::Alarm`` on one metric in a custom namespace (the
EMF metrics the functions print, ``Shipshape``). The recorder keeps, for each alarm, the
datapoints of exactly its metric: the same namespace, metric name and dimension set (a
metric published with [service] is not the metric [service, client_id]), of its unit if it
names one. At the end of every period (on the runtime's clock) the alarm takes its statistic
(Sum, Average, Minimum, Maximum, SampleCount) of each of its last ``EvaluationPeriods``
periods, compares each with its threshold, treats the periods without data as its
``TreatMissingData`` says, and goes to ALARM when at least ``DatapointsToAlarm`` breach. A
change of state is set in moto's CloudWatch (``describe_alarms``, ``describe_alarm_history``
read it) and, when the new state has actions (``AlarmActions``, ``OKActions``,
``InsufficientDataActions``), published to each topic as CloudWatch's alarm notification.

What is not: alarms on AWS namespaces (``AWS/SQS`` queue depths: SQS publishes those, not a
function), metric math (``Metrics``), percentiles (``ExtendedStatistic``), and alarms that
treat missing data as breaching: they watch a scheduled function's per-pass metric (the
reconciler's), and the embedded runtime runs no schedule on its own, so their silence here
would be an alarm AWS never raises (the evaluator itself implements ``breaching``; the unit
tests hold it). They are created
in moto's CloudWatch and stay in INSUFFICIENT_DATA; ``AlarmEvaluator.not_evaluated`` names
each with the reason (docs/EMULATOR.md, "Alarms").

Time: Powertools stamps an EMF document with the wall clock; the runtime's functions live on
its clock (a test's or the pilot's, weeks ahead in seconds). A datapoint is placed on the
runtime's clock at the same distance from "now" as its Timestamp is from the wall clock when
it is printed; a document stamped as it is printed (within 5 s) lands at the runtime's now,
on the runtime's period boundaries as the clock is (a test's 20:00 is in 20:00-20:05). As in
CloudWatch, a datapoint more than two weeks old or two hours ahead is dropped.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shipshape_local import emf
from shipshape_local.template import Template

STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Average": lambda values: sum(values) / len(values),
    "Minimum": min,
    "Maximum": max,
    "SampleCount": lambda values: float(len(values)),
}
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")
# CloudWatch accepts datapoints up to two weeks old and two hours ahead.
OLDEST, NEWEST = timedelta(days=14), timedelta(hours=2)
STAMPED_AS_PRINTED = 5.0  # seconds between a document's Timestamp and its printing
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)",
                "eu-west-1": "Europe (Ireland)", "eu-central-1": "Europe (Frankfurt)"}  # fmt: skip

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm of the template, its references resolved in the embedded stack."""

    logical_id: str
    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str
    unit: str | None
    actions_enabled: bool
    actions: Mapping[str, tuple[str, ...]]  # state -> topic ARNs

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.namespace, self.metric_name, self.dimensions)

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison][0](value, self.threshold)


def not_evaluated_reason(properties: Mapping[str, Any]) -> str | None:
    """Why an alarm is not evaluated locally (None: it is)."""
    if "Metrics" in properties:
        return "metric math (Metrics): not evaluated locally"
    if "ExtendedStatistic" in properties:
        return "a percentile (ExtendedStatistic): not evaluated locally"
    namespace = str(properties.get("Namespace", ""))
    if namespace.startswith("AWS/"):
        return f"{namespace} metric, published by the service, not by a function's EMF"
    if properties.get("TreatMissingData") == "breaching":
        return (
            "missing data is breaching: it watches a scheduled function's metric, and the "
            "embedded runtime runs no schedule on its own (silence here is not silence on AWS)"
        )
    return None


def alarm_specs(
    template: Template,
    resolve: Callable[[Any], str],
    stack_name: str = "shipshape",
) -> tuple[list[AlarmSpec], dict[str, str]]:
    """The template's alarms that are evaluated locally, and the others (name -> reason)."""
    evaluated: list[AlarmSpec] = []
    skipped: dict[str, str] = {}
    for logical_id, resource in template.of_type("AWS::CloudWatch::Alarm").items():
        props = resource["Properties"]
        name = _alarm_name(props.get("AlarmName"), logical_id, stack_name)
        reason = not_evaluated_reason(props)
        if reason is not None:
            skipped[name] = reason
            continue
        evaluated.append(spec_of(logical_id, name, props, resolve))
    return evaluated, skipped


def spec_of(
    logical_id: str, name: str, props: Mapping[str, Any], resolve: Callable[[Any], str]
) -> AlarmSpec:
    """One alarm's properties as the evaluator reads them (references resolved)."""
    treatment = str(props.get("TreatMissingData", "missing"))
    if treatment not in TREATMENTS or props["ComparisonOperator"] not in COMPARISONS:
        raise ValueError(f"{logical_id}: {treatment} / {props['ComparisonOperator']}")
    if props["Statistic"] not in STATISTICS:
        raise ValueError(f"{logical_id}: statistic {props['Statistic']}")
    periods = int(props["EvaluationPeriods"])
    return AlarmSpec(
        logical_id=logical_id,
        name=name,
        description=str(props.get("AlarmDescription", "")),
        namespace=str(props["Namespace"]),
        metric_name=str(props["MetricName"]),
        dimensions=tuple(
            sorted((str(d["Name"]), resolve(d["Value"])) for d in props.get("Dimensions", []))
        ),
        statistic=str(props["Statistic"]),
        period=int(props["Period"]),
        evaluation_periods=periods,
        datapoints_to_alarm=int(props.get("DatapointsToAlarm", periods)),
        threshold=float(props["Threshold"]),
        comparison=str(props["ComparisonOperator"]),
        treat_missing_data=treatment,
        unit=props.get("Unit"),
        actions_enabled=bool(props.get("ActionsEnabled", True)),
        actions={
            ALARM: tuple(resolve(a) for a in props.get("AlarmActions", [])),
            OK: tuple(resolve(a) for a in props.get("OKActions", [])),
            INSUFFICIENT: tuple(resolve(a) for a in props.get("InsufficientDataActions", [])),
        },
    )


def _alarm_name(declared: Any, logical_id: str, stack_name: str) -> str:
    if isinstance(declared, str):
        return declared
    if isinstance(declared, dict) and isinstance(declared.get("Fn::Sub"), str):
        return str(declared["Fn::Sub"]).replace("${AWS::StackName}", stack_name)
    # CloudFormation names an unnamed alarm from the stack and the logical id.
    return f"{stack_name}-{logical_id}"


@dataclass
class _Watched:
    spec: AlarmSpec
    state: str = INSUFFICIENT
    evaluated_through: int = 0  # the index of the last period boundary evaluated
    bins: dict[int, list[float]] = field(default_factory=dict)  # period index -> values


Sink = Callable[["AlarmSpec", str, str, str, dict[str, Any], datetime], None]


@dataclass(frozen=True)
class _Pending:
    spec: AlarmSpec
    old: str
    new: str
    reason: str
    data: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class Transition:
    alarm: str
    old: str
    new: str
    at: datetime
    reason: str


class AlarmEvaluator:
    """Records the functions' EMF datapoints and evaluates the alarms on them."""

    def __init__(
        self,
        specs: list[AlarmSpec],
        not_evaluated: Mapping[str, str],
        *,
        clock: Callable[[], datetime],
        account: str,
        region: str,
        lock: Any,
        wall: Callable[[], float] = time.time,
        sink: Sink | None = None,
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self.not_evaluated = dict(sorted(not_evaluated.items()))
        self.clock = clock
        self.wall = wall
        self.account, self.region = account, region
        self.lock = lock
        self.transitions: list[Transition] = []
        self._watched = {s.name: _Watched(s) for s in specs}
        self._by_key: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[_Watched]] = {}
        for watched in self._watched.values():
            self._by_key.setdefault(watched.spec.key, []).append(watched)
        self._guard = threading.RLock()
        self._acting = threading.RLock()
        self._local = threading.local()  # .at: the period end being acted on, for the history
        # Where a change of state goes: moto's CloudWatch and the actions' topics.
        self.sink: Sink = sink or self._in_moto

    # --- set-up ------------------------------------------------------------------------------

    def create(
        self, declared: Mapping[str, Mapping[str, Any]], resolve: Callable[[Any], str]
    ) -> None:
        """Create every alarm of the template (name -> properties) in moto's CloudWatch,
        evaluated or not, as CloudFormation would; each starts in INSUFFICIENT_DATA."""
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[self.account][self.region]
        now = self.clock()
        with self.lock:
            for name, props in declared.items():
                periods = int(props["EvaluationPeriods"])
                backend.put_metric_alarm(
                    name=name,
                    namespace=str(props.get("Namespace", "")),
                    metric_name=str(props.get("MetricName", "")),
                    metric_data_queries=None,
                    comparison_operator=str(props["ComparisonOperator"]),
                    evaluation_periods=periods,
                    period=int(props.get("Period", 60)),
                    threshold=float(props.get("Threshold", 0)),
                    statistic=str(props.get("Statistic", "")),
                    description=str(props.get("AlarmDescription", "")),
                    dimensions=[
                        {"Name": str(d["Name"]), "Value": resolve(d["Value"])}
                        for d in props.get("Dimensions", [])
                    ],
                    alarm_actions=[resolve(a) for a in props.get("AlarmActions", [])],
                    ok_actions=[resolve(a) for a in props.get("OKActions", [])],
                    insufficient_data_actions=[
                        resolve(a) for a in props.get("InsufficientDataActions", [])
                    ],
                    datapoints_to_alarm=int(props.get("DatapointsToAlarm", periods)),
                    treat_missing_data=props.get("TreatMissingData"),
                    unit=props.get("Unit"),
                    actions_enabled=bool(props.get("ActionsEnabled", True)),
                )
        # Periods that ended before the alarm existed are not evaluated.
        for watched in self._watched.values():
            watched.evaluated_through = _index(now, watched.spec.period)

    def stamp(self) -> datetime:
        """The time a state change is recorded at: the end of the period being evaluated,
        else the runtime's now (SetAlarmState)."""
        at: datetime | None = getattr(self._local, "at", None)
        return at if at is not None else self.clock()

    # --- the datapoints ----------------------------------------------------------------------

    def record(self, line: str) -> None:
        """One line a function printed: keep the datapoints an alarm watches."""
        if '"_aws"' not in line:
            return
        points = [p for p in emf.datapoints(line) if p.key in self._by_key] if self._by_key else []  # fmt: skip  # noqa: E501
        if not points:
            return
        now = self.clock().timestamp()
        wall = self.wall()
        with self._guard:
            for point in points:
                # Stamped as it was printed (Powertools stamps a document as it flushes it):
                # now on the runtime's clock; else as far from now as it is from the wall.
                ahead = point.timestamp_ms / 1000 - wall
                at = now if abs(ahead) <= STAMPED_AS_PRINTED else now + ahead
                if not now - OLDEST.total_seconds() <= at <= now + NEWEST.total_seconds():
                    continue
                for watched in self._by_key[point.key]:
                    if watched.spec.unit is not None and point.unit != watched.spec.unit:
                        continue
                    index = int(at // watched.spec.period)
                    watched.bins.setdefault(index, []).append(point.value)

    # --- evaluation --------------------------------------------------------------------------

    def evaluate(self, now: datetime | None = None) -> list[Transition]:
        """Evaluate every alarm at each period end up to ``now`` (the runtime's clock) not
        evaluated yet; the state changes, oldest first."""
        seconds = (now or self.clock()).timestamp()
        with self._acting:
            changed: list[_Pending] = []
            with self._guard:  # what ``record`` adds to; not held while acting on moto
                for watched in self._watched.values():
                    last = math.floor(seconds / watched.spec.period)
                    if last > watched.evaluated_through:  # a period ended since last time
                        changed.extend(self._evaluate(watched, last))
            changed.sort(key=lambda p: p.at)
            for pending in changed:
                self._local.at = pending.at
                try:
                    self.sink(pending.spec, pending.old, pending.new, pending.reason,
                              pending.data, pending.at)  # fmt: skip
                finally:
                    self._local.at = None
            done = [Transition(p.spec.name, p.old, p.new, p.at, p.reason) for p in changed]
            self.transitions.extend(done)
        return done

    def _evaluate(self, watched: _Watched, last: int) -> list[_Pending]:
        spec = watched.spec
        n = spec.evaluation_periods
        boundary = watched.evaluated_through + 1
        changed = []
        while boundary <= last:
            window = range(boundary - n, boundary)
            if not any(k in watched.bins for k in window):
                settled = _all_missing(spec, watched.state)
                if settled == watched.state:
                    # Nothing can change until a period with data enters the window.
                    # (data of period k enters the window at boundary k + 1).
                    ahead = [k for k in watched.bins if k >= boundary]
                    boundary = min(min(ahead) + 1, last + 1) if ahead else last + 1
                    continue
            # The words of a change only when there is one: the pilot evaluates thousands.
            if _judge(spec, watched, window) != watched.state:
                new, reason, data = _decide(spec, watched, window, boundary)
                at = datetime.fromtimestamp(boundary * spec.period, UTC)
                changed.append(_Pending(spec, watched.state, new, reason, data, at))
                watched.state = new
            for stale in [k for k in watched.bins if k < boundary - n]:
                del watched.bins[stale]
            boundary += 1
        watched.evaluated_through = max(watched.evaluated_through, last)
        return changed

    def _in_moto(
        self, spec: AlarmSpec, old: str, new: str, reason: str, data: dict[str, Any],
        at: datetime,
    ) -> None:  # fmt: skip
        """Set the new state in moto's CloudWatch (SetAlarmState's backend) and publish the
        notification to each topic of the new state's actions."""
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.sns.models import sns_backends

        region = REGION_NAMES.get(self.region, self.region)
        with self.lock:
            cloudwatch_backends[self.account][self.region].set_alarm_state(
                spec.name, reason, json.dumps(data), new
            )
            if not spec.actions_enabled:
                return
            for topic in spec.actions[new]:
                message = notification(spec, old, new, reason, at, account=self.account,
                                       region=self.region, region_name=region)  # fmt: skip
                sns_backends[self.account][self.region].publish(
                    json.dumps(message), arn=topic,
                    subject=f'{new}: "{spec.name}" in {region}'[:100],
                )  # fmt: skip


def notification(
    spec: AlarmSpec, old: str, new: str, reason: str, at: datetime, *,
    account: str, region: str, region_name: str,
) -> dict[str, Any]:  # fmt: skip
    """CloudWatch's SNS message for an alarm's state change (the shape of
    aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-single-metric.json)."""
    return {
        "AlarmName": spec.name,
        "AlarmDescription": spec.description or None,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _iso(at),
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": _iso(at),
        "Region": region_name,
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{spec.name}",
        "OldStateValue": old,
        "OKActions": list(spec.actions[OK]),
        "AlarmActions": list(spec.actions[ALARM]),
        "InsufficientDataActions": list(spec.actions[INSUFFICIENT]),
        "Trigger": {
            "MetricName": spec.metric_name,
            "Namespace": spec.namespace,
            "StatisticType": "Statistic",
            "Statistic": spec.statistic.upper(),
            "Unit": spec.unit,
            "Dimensions": [{"value": v, "name": n} for n, v in spec.dimensions],
            "Period": spec.period,
            "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm,
            "ComparisonOperator": spec.comparison,
            "Threshold": spec.threshold,
            "TreatMissingData": spec.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def _index(moment: datetime, period: int) -> int:
    """The index of the last period boundary at or before ``moment``."""
    return math.floor(moment.timestamp() / period)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _all_missing(spec: AlarmSpec, current: str) -> str:
    """The state an evaluation with no datapoint at all gives."""
    return {
        "notBreaching": OK,
        "breaching": ALARM,
        "ignore": current,
        "missing": INSUFFICIENT,
    }[spec.treat_missing_data]


def _judge(spec: AlarmSpec, watched: _Watched, window: range) -> str:
    """The state one evaluation gives (what ``_decide`` says, without its words)."""
    statistic = STATISTICS[spec.statistic]
    values = [statistic(watched.bins[k]) for k in window if k in watched.bins]
    if not values:
        return _all_missing(spec, watched.state)
    breaching = sum(1 for v in values if spec.breaches(v))
    if spec.treat_missing_data == "breaching":
        breaching += len(window) - len(values)
    return ALARM if breaching >= spec.datapoints_to_alarm else OK


def _decide(
    spec: AlarmSpec, watched: _Watched, window: range, boundary: int
) -> tuple[str, str, dict[str, Any]]:
    """The state one evaluation gives, its reason and reason data, as CloudWatch words them."""
    statistic = STATISTICS[spec.statistic]
    values = {k: statistic(watched.bins[k]) for k in window if k in watched.bins}
    missing = len(window) - len(values)
    m, n = spec.datapoints_to_alarm, spec.evaluation_periods
    breaching = sum(1 for v in values.values() if spec.breaches(v))
    if spec.treat_missing_data == "breaching":
        breaching += missing
    newest = sorted(values.items(), reverse=True)
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _iso(datetime.fromtimestamp(boundary * spec.period, UTC)),
        "startDate": _iso(datetime.fromtimestamp(window.start * spec.period, UTC)),
        "statistic": spec.statistic,
        "period": spec.period,
        "recentDatapoints": [v for _k, v in newest],
        "threshold": spec.threshold,
        "evaluatedDatapoints": [
            {
                "timestamp": _iso(datetime.fromtimestamp(k * spec.period, UTC)),
                "sampleCount": float(len(watched.bins[k])),
                "value": v,
            }
            for k, v in newest
        ],
    }
    if not values:
        state = _all_missing(spec, watched.state)
        treated = {"notBreaching": "NonBreaching", "breaching": "Breaching"}.get(
            spec.treat_missing_data
        )
        periods = f"{n} period{'s' if n > 1 else ''}"
        reason = f"Threshold Crossed: no datapoints were received for {periods}" + (
            f" and {n} missing datapoint{'s were' if n > 1 else ' was'} treated as [{treated}]."
            if treated
            else "."
        )
        return state, reason, data
    state = ALARM if breaching >= m else OK
    shown = ", ".join(
        f"{v} ({datetime.fromtimestamp(k * spec.period, UTC):%d/%m/%y %H:%M:%S})" for k, v in newest
    )
    verb = COMPARISONS[spec.comparison][1]
    count = breaching if state == ALARM else len(values)
    was = "was" if count == 1 else "were"
    if state == OK:
        verb = f"not {verb}"
    transition = "OK -> ALARM" if state == ALARM else "ALARM -> OK"
    reason = (
        f"Threshold Crossed: {count} out of the last {n} datapoint{'s' if n > 1 else ''} "
        f"[{shown}] {was} {verb} the threshold ({spec.threshold}) "
        f"(minimum {m} datapoint{'s' if m > 1 else ''} for {transition} transition)."
    )
    return state, reason, data


# --- the embedded stack's alarms ------------------------------------------------------------


def resolver(
    names: Mapping[str, str], attributes: Mapping[tuple[str, str], Any]
) -> Callable[[Any], str]:
    """Resolve a template value (a string, ``Ref``, ``Fn::GetAtt``) in the embedded stack."""

    def resolve(value: Any) -> str:
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and "Ref" in value:
            return str(names[value["Ref"]])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return str(attributes[(logical_id, attribute)])
        raise ValueError(f"an alarm property this runtime cannot resolve: {value!r}")

    return resolve


def declared(template: Template, stack_name: str = "shipshape") -> dict[str, dict[str, Any]]:
    """Every alarm of the stack, by its name: its properties as written."""
    return {
        _alarm_name(res["Properties"].get("AlarmName"), logical_id, stack_name): res["Properties"]
        for logical_id, res in template.of_type("AWS::CloudWatch::Alarm").items()
    }


def attach(
    template: Template,
    names: Mapping[str, str],
    attributes: Mapping[tuple[str, str], Any],
    *,
    clock: Callable[[], datetime],
    account: str,
    region: str,
    lock: Any,
) -> AlarmEvaluator:
    """The evaluator of the stack's alarms, with every alarm created in moto's CloudWatch.
    The runtime feeds it what its functions print (``record``) and evaluates it whenever its
    clock moves (``evaluate``)."""
    resolve = resolver(names, attributes)
    specs, skipped = alarm_specs(template, resolve)
    evaluator = AlarmEvaluator(
        specs, skipped, clock=clock, account=account, region=region, lock=lock
    )
    evaluator.create(declared(template), resolve)
    return evaluator
