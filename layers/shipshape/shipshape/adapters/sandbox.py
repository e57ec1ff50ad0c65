"""The carrier sandbox and the log notifier: what a stack uses until a real carrier and a
notification channel are configured. Both are deterministic, so audits can be replayed."""

from __future__ import annotations

import hashlib

from shipshape.models import Label, Order, OrderException
from shipshape.observability import logger
from shipshape.ports import Carrier, Notifier


class SandboxCarrier(Carrier):
    def buy_label(self, order: Order) -> Label:
        digest = hashlib.sha256(order.order_id.encode()).hexdigest().upper()
        return Label(carrier="sandbox", service="ground", tracking_number=f"1ZSS{digest[:14]}")


class LogNotifier(Notifier):
    """Logs notifications (ids only, no customer data) until a channel is configured."""

    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        logger.info(
            "exception owner notified",
            extra={
                "order_id": order.order_id,
                "exception_id": exception.exception_id,
                "exception_type": exception.type.value,
                "owner": exception.owner,
                "recipients": list(recipients),
                "due_at": exception.due_at.isoformat(),
                "reason": reason,
            },
        )

    def shipment_sent(self, order: Order) -> None:
        tracking = order.label.tracking_number if order.label else None
        logger.info(
            "shipment notification handed over",
            extra={"order_id": order.order_id, "client_id": order.client_id, "tracking": tracking},
        )
