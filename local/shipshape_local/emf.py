"""The CloudWatch embedded metric format (EMF), read as CloudWatch Logs reads it: the metric
datapoints one log line publishes. The one parser of the embedded runtime: the meter counts
the metrics it finds (``metering``), the alarms evaluate them (``alarms``).

Following the specification (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
CloudWatch_Embedded_Metric_Format_Specification.html): the root is a JSON object whose
``_aws`` member has ``Timestamp`` (milliseconds since the epoch) and ``CloudWatchMetrics``, a
list of directives, each with a ``Namespace``, ``Dimensions`` (a list of dimension sets, each
a list of member names) and ``Metrics`` (``Name``, optional ``Unit``). Every member a
directive names must be on the root: a dimension's as a string, a metric's as a number or a
list of numbers. A document that breaks a rule publishes nothing (CloudWatch keeps the log
event and extracts no metric), and each dimension set publishes its own metric: a metric
published with the set [service] is found only with exactly that set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Limits of the specification (and of PutMetricData, which it feeds).
MAX_DIMENSIONS = 30  # per dimension set
MAX_METRICS = 100  # per directive
MAX_VALUES = 100  # per metric member


@dataclass(frozen=True)
class Datapoint:
    """One metric value as CloudWatch stores it."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), sorted by name
    value: float
    unit: str | None
    timestamp_ms: int

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What identifies the metric in CloudWatch: namespace, name and dimensions."""
        return (self.namespace, self.name, self.dimensions)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _values(member: Any) -> list[float] | None:
    if _number(member):
        return [float(member)]
    if isinstance(member, list) and 0 < len(member) <= MAX_VALUES and all(map(_number, member)):
        return [float(v) for v in member]
    return None


def document(line: str) -> dict[str, Any] | None:
    """The EMF document a log line is, or None (not JSON, or no ``_aws`` metadata)."""
    if '"_aws"' not in line:
        return None
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("_aws"), dict):
        return None
    return parsed


def datapoints(line: str) -> list[Datapoint]:
    """Every datapoint the line publishes (none if it is not a valid EMF document)."""
    doc = document(line)
    if doc is None:
        return []
    meta = doc["_aws"]
    timestamp = meta.get("Timestamp")
    directives = meta.get("CloudWatchMetrics")
    if not _number(timestamp) or not isinstance(directives, list):
        return []
    found: list[Datapoint] = []
    for directive in directives:
        published = _directive(doc, directive, int(timestamp))
        if published is None:
            return []  # one invalid directive: CloudWatch extracts nothing from the event
        found.extend(published)
    return found


def _directive(doc: dict[str, Any], directive: Any, timestamp: int) -> list[Datapoint] | None:
    if not isinstance(directive, dict):
        return None
    namespace, sets, metrics = (
        directive.get("Namespace"), directive.get("Dimensions"), directive.get("Metrics"),
    )  # fmt: skip
    if not isinstance(namespace, str) or not 0 < len(namespace) <= 1024:
        return None
    if not isinstance(sets, list) or not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
        return None
    dimension_sets: list[tuple[tuple[str, str], ...]] = []
    for names in sets or [[]]:  # no dimension set: the metric without dimensions
        if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
            return None
        pairs = []
        for name in names:
            value = doc.get(name) if isinstance(name, str) else None
            if not isinstance(value, str):
                return None
            pairs.append((name, value))
        dimension_sets.append(tuple(sorted(pairs)))
    found: list[Datapoint] = []
    for metric in metrics:
        name = metric.get("Name") if isinstance(metric, dict) else None
        if not isinstance(name, str):
            return None
        values = _values(doc.get(name))
        if values is None:
            return None
        unit = metric.get("Unit")
        for dimensions in dimension_sets:
            found.extend(
                Datapoint(
                    namespace,
                    name,
                    dimensions,
                    value,
                    unit if isinstance(unit, str) else None,
                    timestamp,
                )
                for value in values
            )
    return found
