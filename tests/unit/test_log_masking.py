"""The shared Logger masks customer PII and secrets before it writes a line: whatever the
depth, shape or spelling of the key, in extra keys, appended keys, the message and exceptions;
ids and everything else stay readable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from shipshape.masking import MASK, is_sensitive
from shipshape.models import (
    Address,
    Customer,
    OrderLine,
    PaymentState,
    Platform,
    StorefrontOrder,
)
from shipshape.observability import logger

EST = timezone(-timedelta(hours=5))
NAME, FIRST, LAST = "Zephyrine Quillfeather", "Zephyrine", "Quillfeather"
EMAIL = "zephyrine.q@mailbox.example"
PHONE = "+1 503 555 0199"
STREET, STREET_2 = "4242 Obsidian Lantern Way", "Unit 17B"
POSTAL_CODE = "97299"
PII = (NAME, FIRST, LAST, EMAIL, PHONE, STREET, STREET_2, POSTAL_CODE)
SECRET = "dev-only-acme-shopify-webhook-secret"
TOKEN = "dev-only-acme-warehouse-token"
ORDER_ID = "ord_abcdefghijklmnopqrst"


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the shared Logger writes, as the Lambda runtime would send it to CloudWatch."""
    [handler] = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)
        logger.remove_keys(["customer", "client_id"])


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _assert_clean(stream: io.StringIO) -> None:
    text = stream.getvalue()
    leaked = [value for value in (*PII, SECRET, TOKEN) if value in text]
    assert leaked == [], text


def test_nested_customer_data_in_extra_keys_is_masked_and_the_rest_kept(
    written: io.StringIO,
) -> None:
    # Given a record whose extra keys hold customer data at several depths and spellings
    extra = {
        "order_id": ORDER_ID,
        "client_id": "acme-outdoors",
        "customer": {"name": NAME, "email": EMAIL, "phone": PHONE},
        "change": {
            "field": "shipping_address",
            "value": {
                "name": NAME,
                "line1": STREET,
                "line2": STREET_2,
                "city": "Portland",
                "region": "OR",
                "postal_code": POSTAL_CODE,
                "country_code": "US",
            },
            "lines": [{"sku": "TENT-2P-GRN", "quantity": 1}],
        },
        "billing": {"first_name": FIRST, "last_name": LAST, "address_1": STREET},
        "contactEmail": EMAIL,
        "recipients": ["client-success"],
    }

    # When it is logged
    logger.info("order changed", extra=extra)

    # Then no customer value is written; ids, statuses, SKUs and the region are
    [line] = _lines(written)
    _assert_clean(written)
    assert line["message"] == "order changed"
    assert (line["order_id"], line["client_id"]) == (ORDER_ID, "acme-outdoors")
    assert line["customer"] == MASK
    assert line["billing"] == MASK
    assert line["contactEmail"] == MASK
    assert line["change"] == {
        "field": "shipping_address",
        "value": {
            "name": MASK,
            "line1": MASK,
            "line2": MASK,
            "city": MASK,
            "region": "OR",
            "postal_code": MASK,
            "country_code": "US",
        },
        "lines": [{"sku": "TENT-2P-GRN", "quantity": 1}],
    }
    assert line["recipients"] == ["client-success"]
    assert line["service"] == "shipshape"


def test_models_and_appended_keys_are_masked(written: io.StringIO) -> None:
    # Given canonical-model values, one appended to every line and one in a record
    customer = Customer(name=NAME, email=EMAIL, phone=PHONE)
    address = Address(line1=STREET, city="Portland", postal_code=POSTAL_CODE, country_code="US")
    logger.append_keys(client_id="acme-outdoors", customer=customer)

    # When lines are logged
    logger.info("address checked", extra={"order_id": ORDER_ID, "to": address})
    logger.info("next line")

    # Then both lines carry the ids but no customer value
    first, second = _lines(written)
    _assert_clean(written)
    assert first["to"]["line1"] == MASK
    assert first["to"]["country_code"] == "US"
    assert first["customer"] == second["customer"] == MASK
    assert first["client_id"] == second["client_id"] == "acme-outdoors"
    assert first["order_id"] == ORDER_ID


def test_a_model_with_times_amounts_and_enums_is_written_as_its_json_with_pii_masked(
    written: io.StringIO,
) -> None:
    # Given a canonical order version (a time, amounts, enums, nested customer models) in a
    # record's extra keys
    order = StorefrontOrder(
        platform=Platform.SHOPIFY,
        store="acme-outdoors.myshopify.com",
        storefront_order_id="5934127349876",
        order_number="#1001",
        version=1_763_651_732_000,
        storefront_updated_at=datetime(2026, 11, 20, 10, 15, 32, tzinfo=EST),
        payment=PaymentState.PAID,
        ready_to_fulfil=True,
        total=Decimal("297.00"),
        customer=Customer(name=NAME, email=EMAIL, phone=PHONE),
        shipping_address=Address(
            line1=STREET, city="Portland", postal_code=POSTAL_CODE, country_code="US"
        ),
        lines=(
            OrderLine(
                line_id="1", sku="TENT-2P-GRN", title="Tent", quantity=1,
                unit_price=Decimal("249.00"),
            ),
        ),
    )  # fmt: skip

    # When it is logged
    logger.info("order version received", extra={"order_id": ORDER_ID, "incoming": order})

    # Then the line holds the model as its JSON form writes it (the time in ISO 8601 with its
    # offset, amounts as decimal strings, enums as their values), the customer masked
    [line] = _lines(written)
    _assert_clean(written)
    expected = json.loads(order.model_dump_json())
    expected.update(customer=MASK, shipping_address=MASK)
    assert line["incoming"] == expected
    assert line["incoming"]["storefront_updated_at"] == "2026-11-20T10:15:32-05:00"
    assert line["incoming"]["total"] == "297.00"
    assert line["incoming"]["payment"] == "paid"


def test_secrets_are_masked_in_keys_and_in_exception_text(written: io.StringIO) -> None:
    # Given headers and a task token in a record, and an error whose text names a credential
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl",
        "X-Shopify-Topic": "orders/paid",
    }

    # When they are logged, the error with logger.exception
    logger.info("request", extra={"headers": headers, "task_token": "AAAA-token", "secret": SECRET})
    try:
        raise RuntimeError(f"refused Bearer {TOKEN} for {EMAIL}")
    except RuntimeError:
        logger.exception("call failed", extra={"order_id": ORDER_ID})

    # Then no secret, token or address is written; the topic, the error type and the id are
    request, failure = _lines(written)
    _assert_clean(written)
    assert request["headers"] == {
        "Authorization": MASK,
        "X-Shopify-Hmac-Sha256": MASK,
        "X-Shopify-Topic": "orders/paid",
    }
    assert request["task_token"] == request["secret"] == MASK
    assert failure["exception_name"] == "RuntimeError"
    assert f"refused Bearer {MASK} for {MASK}" in failure["exception"]
    assert failure["stack_trace"]["value"] == f"refused Bearer {MASK} for {MASK}"
    assert failure["order_id"] == ORDER_ID


def test_a_logged_api_gateway_event_has_its_body_and_credentials_masked(
    written: io.StringIO,
) -> None:
    # Given a webhook request as API Gateway delivers it (what POWERTOOLS_LOGGER_LOG_EVENT logs)
    body = json.dumps({"email": EMAIL, "shipping_address": {"address1": STREET}})
    event = {
        "routeKey": "POST /webhooks/{platform}/{client_id}",
        "rawPath": "/webhooks/shopify/acme-outdoors",
        "headers": {"x-shopify-hmac-sha256": "c2lnbmF0dXJl", "authorization": f"Bearer {TOKEN}"},
        "pathParameters": {"platform": "shopify", "client_id": "acme-outdoors"},
        "body": body,
        "isBase64Encoded": False,
    }

    # When the event itself is the message
    logger.info(event)

    # Then the body and credentials are masked, the route and path parameters kept
    [line] = _lines(written)
    _assert_clean(written)
    assert line["message"]["body"] == MASK
    assert line["message"]["headers"] == {"x-shopify-hmac-sha256": MASK, "authorization": MASK}
    assert line["message"]["pathParameters"] == {
        "platform": "shopify",
        "client_id": "acme-outdoors",
    }
    assert line["message"]["routeKey"] == "POST /webhooks/{platform}/{client_id}"


@pytest.mark.parametrize(
    "key",
    [
        "customer", "name", "first_name", "lastName", "email", "contact_email", "phone",
        "phone_number", "address", "shipping_address", "billingAddress", "standardized_address",
        "line1", "line2", "address1", "address_2", "street_1", "city", "postal_code", "zip",
        "postcode", "destination_postal_code", "note", "body", "content", "Authorization",
        "X-WC-Webhook-Signature", "Shipshape-Signature", "task_token", "webhook_secret",
    ],
)  # fmt: skip
def test_keys_naming_customer_data_or_secrets_are_sensitive(key: str) -> None:
    assert is_sensitive(key)


@pytest.mark.parametrize(
    "key",
    [
        "order_id", "client_id", "exception_id", "exception_type", "exception_name",
        "function_name", "correlation_id", "sku", "owner", "status", "outcome", "platform",
        "region", "country_code", "recipients", "document", "message", "level", "location",
    ],
)  # fmt: skip
def test_ids_and_operational_keys_are_kept(key: str) -> None:
    assert not is_sensitive(key)
