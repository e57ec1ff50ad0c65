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


def sign_shopify(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.digest(secret.encode(), body, "sha256")).decode()


sign_woocommerce = sign_shopify  # WooCommerce uses the same base64 HMAC-SHA256 over the body


def sign_generic(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


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
        self._deliveries += 1
        body = json.dumps(payload).encode()
        return Delivery(
            path=f"/webhooks/shopify/{self.client_id}",
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": self.domain,
                "X-Shopify-Hmac-Sha256": sign_shopify(body, self.secret),
                "X-Shopify-API-Version": "2025-10",
                # .get: hostile-input tests deliberately send payloads missing these fields
                "X-Shopify-Webhook-Id": f"wh-{payload.get('id')}-{self._deliveries}",
                "X-Shopify-Event-Id": event_id
                or f"ev-{payload.get('id')}-{payload.get('updated_at')}",
                "X-Shopify-Triggered-At": str(payload.get("updated_at", "")),
            },
            body=body,
        )


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
                "X-WC-Webhook-Resource": "order",
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

    def deliver(self, event: str, order: dict[str, Any], *, signed_at: datetime) -> Delivery:
        body = json.dumps({"event": event, "order": order}).encode()
        return Delivery(
            path=f"/webhooks/generic/{self.client_id}",
            headers={
                "Content-Type": "application/json",
                "Shipshape-Source": self.source,
                "Shipshape-Signature": sign_generic(body, self.secret, int(signed_at.timestamp())),
            },
            body=body,
        )
