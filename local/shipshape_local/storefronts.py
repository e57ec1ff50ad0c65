"""Simulated storefronts: build order payloads shaped as Shopify, WooCommerce and Shipshape's
generic format deliver them, and sign them the way each platform does. Used by the demo, the
pilot and the tests (never shipped to Lambda)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook


def sign_shopify(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()


sign_woocommerce = sign_shopify  # WooCommerce uses the same base64 HMAC-SHA256 over the body


def sign_generic(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def standard_webhooks_secret(secret: str) -> str:
    """The ``whsec_`` form of a store's webhook secret, as a Standard Webhooks sender holds it:
    base64 of the secret's bytes (what Shipshape stores)."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def sign_standard(body: bytes, secret: str, message_id: str, signed_at: datetime) -> str:
    """``webhook-signature`` made by the Standard Webhooks library itself (``Webhook.sign``).
    ``signed_at`` goes in as UTC: the library replaces, rather than converts, its time zone."""
    webhook = Webhook(standard_webhooks_secret(secret))
    return webhook.sign(message_id, signed_at.astimezone(UTC), body.decode())


@dataclass(frozen=True)
class Delivery:
    """One signed webhook request, ready to send to ``path``."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Line:
    sku: str
    title: str
    quantity: int
    price: str


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    company: str = ""


@dataclass(frozen=True)
class PostalAddress:
    line1: str
    city: str
    region: str
    postal_code: str
    country_code: str
    line2: str = ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ShopifyStore:
    client_id: str
    domain: str
    secret: str
    _deliveries: int = field(default=0, repr=False)

    def order(
        self,
        order_id: int,
        number: int,
        *,
        lines: list[Line],
        person: Person,
        address: PostalAddress,
        created_at: datetime,
        updated_at: datetime,
        financial_status: str,
        cancelled_at: datetime | None = None,
    ) -> dict[str, Any]:
        total = sum(float(ln.price) * ln.quantity for ln in lines)
        shipping = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "name": f"{person.first_name} {person.last_name}",
            "company": person.company or None,
            "address1": address.line1,
            "address2": address.line2 or None,
            "city": address.city,
            "province": address.region,
            "province_code": address.region,
            "zip": address.postal_code,
            "country": address.country_code,
            "country_code": address.country_code,
            "phone": person.phone,
        }
        return {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "email": person.email,
            "phone": person.phone,
            "created_at": created_at.isoformat(),
            "updated_at": updated_at.isoformat(),
            "cancelled_at": cancelled_at.isoformat() if cancelled_at else None,
            "cancel_reason": "customer" if cancelled_at else None,
            "financial_status": financial_status,
            "fulfillment_status": None,
            "currency": "USD",
            "total_price": f"{total:.2f}",
            "customer": {
                "id": order_id + 7_000_000,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": person.email,
                "phone": person.phone,
            },
            "shipping_address": shipping,
            "line_items": [
                {
                    "id": order_id * 10 + i,
                    "variant_id": 40_000_000 + i,
                    "product_id": 8_000_000 + i,
                    "sku": ln.sku,
                    "title": ln.title,
                    "name": ln.title,
                    "quantity": ln.quantity,
                    "price": ln.price,
                    "requires_shipping": True,
                    "fulfillable_quantity": ln.quantity,
                }
                for i, ln in enumerate(lines, start=1)
            ],
        }

    def deliver(
        self, topic: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> Delivery:
        body = json.dumps(payload).encode()
        return Delivery(
            path=f"/webhooks/shopify/{self.client_id}",
            headers=self._headers(topic, payload, body, event_id),
            body=body,
        )

    def deliver_event(
        self, topic: str, payload: dict[str, Any], *, source: str, event_id: str | None = None
    ) -> PartnerEvent:
        """The same webhook as Shopify's Amazon EventBridge delivery puts it on the partner
        event source ``source``: the body as ``detail.payload``, the headers (the HMAC among
        them, which nobody needs to check there) as ``detail.metadata``."""
        body = json.dumps(payload).encode()
        metadata = self._headers(topic, payload, body, event_id)
        return PartnerEvent(source=source, detail={"payload": payload, "metadata": metadata})

    def _headers(
        self, topic: str, payload: dict[str, Any], body: bytes, event_id: str | None
    ) -> dict[str, str]:
        self._deliveries += 1
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-Hmac-Sha256": sign_shopify(body, self.secret),
            "X-Shopify-API-Version": "2025-10",
            # .get: hostile-input tests deliberately send payloads missing these fields
            "X-Shopify-Webhook-Id": f"wh-{payload.get('id')}-{self._deliveries}",
            "X-Shopify-Event-Id": event_id or f"ev-{payload.get('id')}-{payload.get('updated_at')}",
            "X-Shopify-Triggered-At": str(payload.get("updated_at", "")),
        }


SHOPIFY_DETAIL_TYPE = "shopifyWebhook"  # every webhook Shopify puts on EventBridge


@dataclass(frozen=True)
class PartnerEvent:
    """One event as a partner event source (Shopify's) puts it on EventBridge."""

    source: str
    detail: Any
    detail_type: str = SHOPIFY_DETAIL_TYPE

    def entry(self, bus: str) -> dict[str, str]:
        """The PutEvents entry that puts it on ``bus``."""
        return {
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail),
            "EventBusName": bus,
        }

    def put(self, bus: str) -> str:
        """Put it on ``bus`` of the embedded stack (moto's EventBridge, whose rules deliver it
        as the template declares); its event id. moto's PutPartnerEvents would put it on the
        account's default bus, not on the partner bus AWS delivers to, so this is a PutEvents
        on that bus, with the partner's source."""
        import boto3

        from shipshape_local.stack import REGION

        answer = boto3.client("events", region_name=REGION).put_events(Entries=[self.entry(bus)])
        result = answer["Entries"][0]
        if answer.get("FailedEntryCount") or "EventId" not in result:
            raise RuntimeError(f"EventBridge refused the event: {result}")
        return str(result["EventId"])


@dataclass
class WooCommerceStore:
    client_id: str
    site: str
    secret: str
    _deliveries: int = field(default=0, repr=False)

    def order(
        self,
        order_id: int,
        *,
        lines: list[Line],
        person: Person,
        address: PostalAddress,
        created_at: datetime,
        modified_at: datetime,
        status: str,
    ) -> dict[str, Any]:
        gmt = "%Y-%m-%dT%H:%M:%S"
        party = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "company": person.company,
            "address_1": address.line1,
            "address_2": address.line2,
            "city": address.city,
            "state": address.region,
            "postcode": address.postal_code,
            "country": address.country_code,
            "phone": person.phone,
        }
        paid = status in ("processing", "completed")
        return {
            "id": order_id,
            "parent_id": 0,
            "number": str(order_id),
            "order_key": f"wc_order_{order_id:08x}",
            "status": status,
            "currency": "EUR",
            "date_created": created_at.strftime(gmt),
            "date_created_gmt": created_at.astimezone(UTC).strftime(gmt),
            "date_modified": modified_at.strftime(gmt),
            "date_modified_gmt": modified_at.astimezone(UTC).strftime(gmt),
            "date_paid_gmt": modified_at.astimezone(UTC).strftime(gmt) if paid else None,
            "total": f"{sum(float(ln.price) * ln.quantity for ln in lines):.2f}",
            "customer_id": order_id + 500,
            "billing": {**party, "email": person.email},
            "shipping": party,
            "payment_method": "stripe",
            "transaction_id": f"pi_{order_id}" if paid else "",
            "line_items": [
                {
                    "id": order_id * 10 + i,
                    "name": ln.title,
                    "product_id": 300 + i,
                    "variation_id": 0,
                    "quantity": ln.quantity,
                    "sku": ln.sku,
                    "price": float(ln.price),
                    "total": f"{float(ln.price) * ln.quantity:.2f}",
                }
                for i, ln in enumerate(lines, start=1)
            ],
        }

    def deliver(self, topic: str, payload: dict[str, Any]) -> Delivery:
        self._deliveries += 1
        body = json.dumps(payload).encode()
        return Delivery(
            path=f"/webhooks/woocommerce/{self.client_id}",
            headers={
                "Content-Type": "application/json",
                "X-WC-Webhook-Source": self.site,
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": topic.split(".", 1)[0],
                "X-WC-Webhook-Event": topic.split(".", 1)[1],
                "X-WC-Webhook-Signature": sign_woocommerce(body, self.secret),
                "X-WC-Webhook-ID": "17",
                "X-WC-Webhook-Delivery-ID": str(1000 + self._deliveries),
            },
            body=body,
        )


@dataclass
class GenericStore:
    client_id: str
    source: str
    secret: str

    def order(
        self,
        order_id: str,
        *,
        version: int,
        lines: list[Line],
        person: Person,
        address: PostalAddress,
        updated_at: datetime,
        payment_status: str,
        currency: str = "GBP",
    ) -> dict[str, Any]:
        return {
            "id": order_id,
            "number": order_id,
            "version": version,
            "updated_at": _iso(updated_at),
            "payment_status": payment_status,
            "currency": currency,
            "total": f"{sum(float(ln.price) * ln.quantity for ln in lines):.2f}",
            "customer": {
                "name": f"{person.first_name} {person.last_name}",
                "email": person.email,
                "phone": person.phone,
            },
            "shipping_address": {
                "name": f"{person.first_name} {person.last_name}",
                "company": person.company or None,
                "line1": address.line1,
                "line2": address.line2 or None,
                "city": address.city,
                "region": address.region or None,
                "postal_code": address.postal_code,
                "country_code": address.country_code,
                "phone": person.phone,
            },
            "lines": [
                {
                    "line_id": f"{order_id}-{i}",
                    "sku": ln.sku,
                    "title": ln.title,
                    "quantity": ln.quantity,
                    "unit_price": ln.price,
                }
                for i, ln in enumerate(lines, start=1)
            ],
        }

    def deliver(
        self,
        event: str,
        order: dict[str, Any],
        *,
        signed_at: datetime,
        message_id: str | None = None,
    ) -> Delivery:
        """A signed delivery: ``Shipshape-Signature``, or given a ``message_id`` the Standard
        Webhooks headers instead (``webhook-id``, the same on every retry, ``webhook-timestamp``
        and ``webhook-signature``, with the secret in its ``whsec_`` form)."""
        body = json.dumps({"event": event, "order": order}).encode()
        headers = {"Content-Type": "application/json", "Shipshape-Source": self.source}
        if message_id is None:
            timestamp = int(signed_at.timestamp())
            headers["Shipshape-Signature"] = sign_generic(body, self.secret, timestamp)
        else:
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(int(signed_at.timestamp()))
            headers["webhook-signature"] = sign_standard(body, self.secret, message_id, signed_at)
        return Delivery(path=f"/webhooks/generic/{self.client_id}", headers=headers, body=body)


# --- BigCommerce: a pointer-only webhook, and the API read it points to -------------------
# A self-contained section: its imports are here rather than at the top of the file.

from decimal import Decimal  # noqa: E402
from email.utils import format_datetime, parsedate_to_datetime  # noqa: E402

BIGCOMMERCE_TOKEN_HEADER = "X-Shipshape-Webhook-Token"  # noqa: S105 - a header name

_BIGCOMMERCE_STATUS_NAMES = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}  # fmt: skip


def _bigcommerce_money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.0001")))


@dataclass
class BigCommerceStore:
    """A BigCommerce store. Its webhooks carry only the order id, with the store's webhook
    token in the custom header the operator set on the hook (``deliver``); ``order`` builds
    what the storefront API client returns for that id (the v2 order, its products and its
    shipping addresses in one document), so a test or the pilot can serve the read a
    delivery leads to: ``deliver(scope, bundle)`` and ``resource(bundle)`` are a pair."""

    client_id: str
    store_hash: str
    token: str
    store_id: str = "1001197568"

    def order(
        self,
        order_id: int,
        *,
        lines: list[Line],
        person: Person,
        address: PostalAddress,
        created_at: datetime,
        modified_at: datetime,
        status_id: int,
        payment_status: str,
        currency: str = "GBP",
    ) -> dict[str, Any]:
        """The bundle GET /v2/orders/{id}, .../products and .../shipping_addresses make."""
        subtotal = sum((Decimal(ln.price) * ln.quantity for ln in lines), Decimal(0))
        address_id = order_id * 10 + 1
        party = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "company": person.company,
            "street_1": address.line1,
            "street_2": address.line2,
            "city": address.city,
            "state": address.region,
            "zip": address.postal_code,
            "country": address.country_code,
            "country_iso2": address.country_code,
            "phone": person.phone,
            "email": person.email,
        }
        name = _BIGCOMMERCE_STATUS_NAMES.get(status_id, "")
        return {
            "order": {
                "id": order_id,
                "customer_id": order_id + 9_000,
                "date_created": format_datetime(created_at.astimezone(UTC)),
                "date_modified": format_datetime(modified_at.astimezone(UTC)),
                "date_shipped": "",
                "status_id": status_id,
                "status": name,
                "custom_status": name,
                "subtotal_inc_tax": _bigcommerce_money(subtotal),
                "total_inc_tax": _bigcommerce_money(subtotal),
                "items_total": sum(ln.quantity for ln in lines),
                "items_shipped": 0,
                "payment_method": "Credit Card" if payment_status else "Bank Deposit",
                "payment_status": payment_status,
                "currency_code": currency,
                "default_currency_code": currency,
                "currency_exchange_rate": "1.0000000000",
                "order_is_digital": False,
                "shipping_address_count": 1,
                "is_deleted": False,
                "billing_address": {**party, "form_fields": []},
                "order_source": "www",
                "channel_id": 1,
            },
            "products": [
                {
                    "id": order_id * 100 + i,
                    "order_id": order_id,
                    "product_id": 100 + i,
                    "order_address_id": address_id,
                    "name": ln.title,
                    "sku": ln.sku,
                    "type": "physical",
                    "base_price": _bigcommerce_money(Decimal(ln.price)),
                    "price_inc_tax": _bigcommerce_money(Decimal(ln.price)),
                    "total_inc_tax": _bigcommerce_money(Decimal(ln.price) * ln.quantity),
                    "quantity": ln.quantity,
                    "quantity_shipped": 0,
                    "is_refunded": False,
                    "product_options": [],
                }
                for i, ln in enumerate(lines, start=1)
            ],
            "shipping_addresses": [
                {
                    **party,
                    "id": address_id,
                    "order_id": order_id,
                    "items_total": sum(ln.quantity for ln in lines),
                    "items_shipped": 0,
                    "shipping_method": "Standard",
                    "form_fields": [],
                }
            ],
        }

    def resource(self, bundle: dict[str, Any]) -> bytes:
        """The bundle as the storefront API client hands it to the adapter."""
        return json.dumps(bundle).encode()

    def deliver(
        self,
        scope: str,
        bundle: dict[str, Any],
        *,
        sent_at: datetime | None = None,
        previous_status_id: int | None = None,
    ) -> Delivery:
        """The webhook for ``scope`` ("store/order/created", ".../updated",
        ".../statusUpdated") pointing at the bundle's order; sent at its date_modified unless
        ``sent_at`` says otherwise."""
        # .get: hostile-input tests deliberately build bundles missing these fields
        order = bundle.get("order") or {}
        order_id = order.get("id")
        if sent_at is None:
            sent_at = parsedate_to_datetime(str(order.get("date_modified")))
        created = int(sent_at.timestamp())
        data: dict[str, Any] = {"type": "order", "id": order_id}
        if scope == "store/order/statusUpdated":
            data["status"] = {
                "previous_status_id": previous_status_id or 0,
                "new_status_id": order.get("status_id"),
            }
        event = f"{scope}|{order_id}|{created}".encode()
        body = {
            "store_id": self.store_id,
            "producer": f"stores/{self.store_hash}",
            "scope": scope,
            "data": data,
            # The same event delivered twice carries the same hash.
            "hash": hashlib.sha1(event, usedforsecurity=False).hexdigest(),
            "created_at": created,
        }
        return Delivery(
            path=f"/webhooks/bigcommerce/{self.client_id}",
            headers={
                "Content-Type": "application/json",
                BIGCOMMERCE_TOKEN_HEADER: self.token,
            },
            body=json.dumps(body).encode(),
        )
