"""The one place that creates the Logger and Metrics. Service and namespace come from the
POWERTOOLS_* environment variables the template sets in Globals. Every line the Logger writes
has customer PII and secrets masked first (see shipshape.masking)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shipshape.masking import MaskingFormatter

if TYPE_CHECKING:
    from shipshape.models import AuditEvent, Order, OrderException

logger = Logger(service="shipshape", logger_formatter=MaskingFormatter())
# service given explicitly: the embedded runtime sets POWERTOOLS_* only after this import, and
# every metric must carry the same {service} dimension the CloudWatch alarm names.
metrics = Metrics(namespace="Shipshape", service="shipshape")

_SHIPPED = ("SHIPPED", "COMPLETED_PARTIAL")


def _emit(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
        metric.add_dimension(name="service", value="shipshape")
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def business_metrics(
    order: Order, event: AuditEvent, exception: OrderException | None = None
) -> None:
    """The business events of the audit trail, as EMF metrics per client (what the
    CloudWatch dashboard charts). Called once an order change and its event are written."""
    client = order.client_id
    detail = event.detail
    if event.action == "order_received":
        _emit("OrdersReceived", MetricUnit.Count, 1, client_id=client)
    if "sync_lag_seconds" in detail:
        _emit("SyncLag", MetricUnit.Seconds, float(detail["sync_lag_seconds"]), client_id=client)
    if event.to_status is not None and event.to_status.value in _SHIPPED:
        _emit("OrdersShipped", MetricUnit.Count, 1, client_id=client)
        paid = next(
            (at for status, at in order.status_timestamps.items() if status.value == "ACCEPTED"),
            None,
        )
        if paid is not None:
            seconds = (event.at - paid).total_seconds()
            _emit("FulfillmentTime", MetricUnit.Seconds, seconds, client_id=client)
    if event.action in ("qa_passed", "qa_failed"):
        _emit(
            "QaGateFailed" if event.action == "qa_failed" else "QaGatePassed",
            MetricUnit.Count, 1, client_id=client, gate=str(detail.get("gate")),
        )  # fmt: skip
    if event.action in ("exception_opened", "order_quarantined"):
        _emit(
            "ExceptionsOpened", MetricUnit.Count, 1,
            client_id=client, exception_type=str(detail.get("type")),
        )  # fmt: skip
    if event.action == "exception_escalated":
        _emit(
            "EscalationsPerOwner", MetricUnit.Count, 1,
            client_id=client, owner=str(detail.get("from_owner")),
        )  # fmt: skip
    if event.action == "exception_resolved" and exception is not None:
        seconds = (event.at - exception.opened_at).total_seconds()
        met = exception.level == 0 and event.at <= exception.due_at
        _emit("TimeToResolution", MetricUnit.Seconds, seconds, client_id=client)
        _emit("SlaMet" if met else "SlaMissed", MetricUnit.Count, 1, client_id=client)
