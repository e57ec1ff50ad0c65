"""The one place that creates the Logger and Metrics. Service and namespace come from the
POWERTOOLS_* environment variables the template sets in Globals. Every line the Logger writes
has customer PII and secrets masked first (see shipshape.masking)."""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shipshape.audit import AuditAction
from shipshape.masking import MaskingFormatter
from shipshape.models import SHIPPED_STATUSES, OrderStatus

if TYPE_CHECKING:
    from shipshape.models import AuditEvent, Order, OrderException

logger = Logger(service="shipshape", logger_formatter=MaskingFormatter())
# service given explicitly: the embedded runtime sets POWERTOOLS_* only after this import, and
# every metric must carry the same {service} dimension the CloudWatch alarm names.
metrics = Metrics(namespace="Shipshape", service="shipshape")


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
    if "sync_lag_seconds" in detail:
        _emit("SyncLag", MetricUnit.Seconds, float(detail["sync_lag_seconds"]), client_id=client)
    if event.to_status in SHIPPED_STATUSES:
        _emit("OrdersShipped", MetricUnit.Count, 1, client_id=client)
        paid = order.status_timestamps.get(OrderStatus.ACCEPTED)
        if paid is not None:
            seconds = (event.at - paid).total_seconds()
            _emit("FulfillmentTime", MetricUnit.Seconds, seconds, client_id=client)
    A = AuditAction
    match event.action:
        case A.ORDER_RECEIVED:
            _emit("OrdersReceived", MetricUnit.Count, 1, client_id=client)
        case A.QA_PASSED | A.QA_FAILED:
            _emit(
                "QaGateFailed" if event.action is A.QA_FAILED else "QaGatePassed",
                MetricUnit.Count, 1, client_id=client, gate=str(detail.get("gate")),
            )  # fmt: skip
        case A.EXCEPTION_OPENED | A.ORDER_QUARANTINED:
            _emit(
                "ExceptionsOpened", MetricUnit.Count, 1,
                client_id=client, exception_type=str(detail.get("type")),
            )  # fmt: skip
        case A.EXCEPTION_ESCALATED:
            _emit(
                "EscalationsPerOwner", MetricUnit.Count, 1,
                client_id=client, owner=str(detail.get("from_owner")),
            )  # fmt: skip
        case A.EXCEPTION_RESOLVED:
            if exception is not None:
                seconds = (event.at - exception.opened_at).total_seconds()
                met = exception.level == 0 and event.at <= exception.due_at
                _emit("TimeToResolution", MetricUnit.Seconds, seconds, client_id=client)
                _emit("SlaMet" if met else "SlaMissed", MetricUnit.Count, 1, client_id=client)
        case (
            A.STOREFRONT_UPDATED | A.FULFILMENT_REQUESTED | A.ORDER_CANCELLED
            | A.ADDRESS_VALIDATED | A.INVENTORY_RESERVED | A.INVENTORY_RESERVED_IN_PART
            | A.RESERVED_PARTIALLY | A.RESERVATION_HELD | A.BACKORDERED | A.STOCK_AWAITED
            | A.PICKER_ASSIGNED | A.PICK_REQUESTED | A.PICK_REQUESTED_AGAIN | A.PICK_CONFIRMED
            | A.PACK_REQUESTED | A.PACK_REQUESTED_AGAIN | A.PACK_CONFIRMED | A.LABEL_CREATED
            | A.LABEL_VOIDED | A.CARRIER_REJECTED | A.STOCK_CONSUMED_IN_PART | A.SHIPPED
            | A.SHIPPED_PARTIALLY | A.CUSTOMER_NOTIFIED | A.ORDER_HELD
            | A.STOCK_RELEASED_IN_PART | A.LINES_REFUNDED
            | A.EXCEPTION_WAIT_RENEWED | A.EXCEPTION_CLAIMED
            | A.EXCEPTION_REASSIGNED | A.OVERRIDE_REQUESTED | A.OVERRIDE_APPLIED
            | A.OVERRIDE_REJECTED | A.STOREFRONT_CONFIRMED | A.STOREFRONT_WRITE_BACK_REFUSED
        ):  # fmt: skip
            pass  # no metric of its own (shipments count by their status, above)
        case _:
            assert_never(event.action)
