"""Owner notifications through an SNS topic (email, chat or paging subscribe to it).

Messages carry the exception, the order id, the deadline and the remediation steps; never
customer data. ``owner`` and ``client_id`` are message attributes, so a subscription can
filter to one team's or one client's notifications.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.adapters.sandbox import LogNotifier
from shipshape.errors import TransientDependencyError
from shipshape.models import Order, OrderException

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
else:
    SNSClient = Any


class SnsNotifier(LogNotifier):
    """Publishes exception assignments; shipment notices stay with the storefront."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic = topic_arn

    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        message = {
            "version": 1,
            "reason": reason,
            "exception_id": exception.exception_id,
            "type": exception.type.value,
            "order_id": order.order_id,
            "order_number": order.order_number,
            "client_id": order.client_id,
            "owner": exception.owner,
            "recipients": list(recipients),
            "level": exception.level,
            "due_at": exception.due_at.isoformat(),
            "error": exception.error,
            "remediation": list(exception.remediation),
        }
        subject = f"[{order.client_id}] {exception.type.value} {reason}: {order.order_number}"
        try:
            self._client.publish(
                TopicArn=self._topic,
                Subject=subject[:100],
                Message=json.dumps(message),
                MessageAttributes={
                    "owner": {"DataType": "String", "StringValue": exception.owner},
                    "client_id": {"DataType": "String", "StringValue": order.client_id},
                    "reason": {"DataType": "String", "StringValue": reason},
                },
            )
        except ClientError as exc:
            raise TransientDependencyError(
                f"SNS publish failed: {exc.response['Error']['Code']}"
            ) from exc
