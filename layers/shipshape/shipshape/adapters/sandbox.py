"""The carrier sandbox, the log notifier and the log warehouse channel: what a stack uses
until a real carrier, a notification channel and a warehouse integration are configured. All
are deterministic, so audits can be replayed."""

from __future__ import annotations

import hashlib
import re
import threading
from decimal import Decimal

from shipshape.errors import CarrierRejected
from shipshape.models import Document, Label, Order, OrderException
from shipshape.observability import logger
from shipshape.ports import Carrier, Notifier, Rate, Shipment, WarehouseChannel

_PO_BOX = re.compile(r"\bP\.?\s*O\.?\s*BOX\b|\bPOST OFFICE BOX\b", re.IGNORECASE)


class SandboxCarrier(Carrier):
    """A carrier with real-world rules, deterministic: three services with weight limits and
    transit times by distance; ground neither crosses borders nor delivers to PO boxes (it
    finds out at tender, as real carriers do, so the label must be voided and re-rated)."""

    name = "sandbox"
    LIMITS = {"ground": 30_000, "express": 30_000, "postal": 20_000}

    def __init__(self) -> None:
        self._voided: set[str] = set()
        self._lock = threading.Lock()

    def rates(self, shipment: Shipment) -> list[Rate]:
        domestic = shipment.to.country_code == shipment.ship_from_country
        zone = _zone(shipment) if domestic else 9
        kg = Decimal(shipment.weight_grams) / 1000
        rates = []
        if domestic and shipment.weight_grams <= self.LIMITS["ground"]:
            rates.append(
                self._rate("ground", Decimal("6.40") + kg * Decimal("1.10"), 2 + zone // 2)
            )
        if shipment.weight_grams <= self.LIMITS["express"]:
            rates.append(
                self._rate("express", Decimal("19.00") + kg * Decimal("2.60"), 1 if domestic else 3)
            )
        if (
            shipment.weight_grams <= self.LIMITS["postal"]
            and max(shipment.length_mm, shipment.width_mm, shipment.height_mm) <= 1050
        ):
            rates.append(
                self._rate(
                    "postal",
                    Decimal("7.90") + kg * Decimal("1.60"),
                    3 + zone // 2 if domestic else 8,
                )
            )
        return rates

    def _rate(self, service: str, amount: Decimal, transit_days: int) -> Rate:
        return Rate(
            carrier=self.name, service=service, amount=amount.quantize(Decimal("0.01")),
            transit_days=transit_days,
        )  # fmt: skip

    def buy_label(self, shipment: Shipment, rate: Rate, idempotency_key: str) -> Label:
        digest = hashlib.sha256(f"{idempotency_key}|{rate.service}".encode()).hexdigest().upper()
        return Label(
            carrier=self.name,
            service=rate.service,
            tracking_number=f"1ZSS{digest[:14]}",
            label_id=f"lbl_{digest[:16].lower()}",
            amount=rate.amount,
            currency=rate.currency,
            transit_days=rate.transit_days,
            destination_postal_code=shipment.to.postal_code,
            destination_country=shipment.to.country_code,
        )

    def void_label(self, label: Label) -> None:
        with self._lock:
            self._voided.add(label.label_id)

    def tender(self, label: Label, shipment: Shipment) -> None:
        with self._lock:
            voided = label.label_id in self._voided
        if voided:
            raise CarrierRejected("LABEL_VOIDED", f"label {label.label_id} was voided")
        street = " ".join(p for p in (shipment.to.line1, shipment.to.line2) if p)
        if label.service == "ground" and _PO_BOX.search(street):
            raise CarrierRejected("PO_BOX_NOT_SERVICED", "ground does not deliver to PO boxes")
        if label.service == "ground" and shipment.to.country_code != shipment.ship_from_country:
            raise CarrierRejected("SERVICE_UNAVAILABLE", "ground does not cross borders")


def _zone(shipment: Shipment) -> int:
    """Distance band 0-9 from the first digits of the postal codes (US ZIPs: by region)."""
    origin, dest = shipment.ship_from_postal_code[:1], (shipment.to.postal_code or "")[:1]
    if origin.isdigit() and dest.isdigit():
        return abs(int(origin) - int(dest))
    return 2


class LogWarehouseChannel(WarehouseChannel):
    """Logs that a document is ready (ids only); the warehouse reads it through the ops API
    until an integration with its system is configured."""

    def send(self, order: Order, document: Document) -> None:
        logger.info(
            "document ready for the warehouse",
            extra={
                "order_id": order.order_id,
                "client_id": order.client_id,
                "document": document.name,
                "sha256": document.sha256,
            },
        )


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
