"""Shopify's Amazon EventBridge webhook delivery: the event, and the delivery inside it.

Shopify can deliver a webhook to an EventBridge partner event source
(``aws.partner/shopify.com/<app id>/<source name>``) instead of an HTTPS endpoint. The event's
``detail`` holds the webhook as it would have been posted: ``payload`` is the body (the REST
Order resource for ``orders/*`` topics) and ``metadata`` the headers (``X-Shopify-Topic``,
``X-Shopify-Shop-Domain``, ``X-Shopify-Webhook-Id``, ``X-Shopify-Triggered-At``,
``X-Shopify-API-Version``...). Only Shopify can put events on its partner source, so the source
is the proof of the sender: there is no HMAC to check (tests/events/real/SOURCES.md cites the
shape).
"""

import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.shopify import SHOP_DOMAIN_HEADER, TOPIC_HEADER

DETAIL_TYPE = "shopifyWebhook"
MAX_HEADER_LENGTH = 1024


class ShopifyWebhookMetadata(BaseModel):
    """The webhook's headers. Names are read case-insensitively (Shopify's own sample spells
    ``X-Shopify-Hmac-SHA256`` and ``X-Shopify-API-Version``); the others are kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    topic: str = Field(alias=TOPIC_HEADER.lower(), min_length=1, max_length=MAX_HEADER_LENGTH)
    shop_domain: str = Field(
        alias=SHOP_DOMAIN_HEADER.lower(), min_length=1, max_length=MAX_HEADER_LENGTH
    )
    webhook_id: str | None = Field(default=None, alias="x-shopify-webhook-id")
    triggered_at: str | None = Field(default=None, alias="x-shopify-triggered-at")
    api_version: str | None = Field(default=None, alias="x-shopify-api-version")

    @field_validator("*", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("a header value is text")
        return value


class ShopifyWebhookDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    payload: dict[str, Any]
    metadata: ShopifyWebhookMetadata

    @field_validator("metadata", mode="before")
    @classmethod
    def _lower_names(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).lower(): v for k, v in value.items()}
        return value


class ShopifyWebhookEvent(EventBridgeModel):
    """An EventBridge event from Shopify's partner event source, its detail typed."""

    detail: ShopifyWebhookDetail


def delivery_of(event: ShopifyWebhookEvent, received_at: datetime) -> WebhookDelivery:
    """The webhook the event carries, as the adapters read an HTTP one: header names
    lower-cased, the payload as the body's bytes."""
    detail = event.detail
    headers = {
        str(name).lower(): str(value)
        for name, value in (detail.metadata.model_extra or {}).items()
        if isinstance(value, str)
    }
    metadata = detail.metadata
    named = {
        TOPIC_HEADER: metadata.topic,
        SHOP_DOMAIN_HEADER: metadata.shop_domain,
        "X-Shopify-Webhook-Id": metadata.webhook_id,
        "X-Shopify-Triggered-At": metadata.triggered_at,
        "X-Shopify-API-Version": metadata.api_version,
    }
    headers.update({name.lower(): value for name, value in named.items() if value is not None})
    return WebhookDelivery(
        headers=headers,
        body=json.dumps(detail.payload, separators=(",", ":")).encode(),
        received_at=received_at,
    )
