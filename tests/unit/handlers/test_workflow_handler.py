"""The workflow function's handler (the state machine's Task states) on in-memory fakes: the
task input the ASL passes in, the step's output and the order's state out."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError

from shipshape.errors import AddressInvalid
from shipshape.models import OrderStatus
from tests.builders import lambda_event
from tests.helpers import sign_shopify
from tests.unit.handlers.support import DEV_SECRETS, Fakes, Invoke

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ORDER_ID = "ord_zkf6d3uqo7divywbunyt"  # Acme's Shopify order 5600001, as in the samples


def accepted(invoke: Invoke, *, postal_code: str | None = None) -> None:
    """Acme's paid order, received through the ingest function (``postal_code`` replaces the
    one it ships to, re-signed as the shop would sign it)."""
    event = lambda_event("webhook_shopify_orders_paid")
    if postal_code is not None:
        order = json.loads(event["body"])
        order["shipping_address"]["zip"] = postal_code
        event["body"] = json.dumps(order)
        secret = DEV_SECRETS["shipshape/acme-outdoors/shopify-webhook"]
        event["headers"]["x-shopify-hmac-sha256"] = sign_shopify(event["body"].encode(), secret)
    assert invoke("ingest", event)["statusCode"] == 202


def test_validate_address_validates_the_order_and_hands_its_state_on(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given an accepted order
    accepted(invoke)

    # When the ValidateAddress task runs with the input the state machine passes
    output = invoke("workflow", lambda_event("workflow_validate_address"))

    # Then the step hands the order on, and the order is validated, audited as such
    assert output == {"order_id": ORDER_ID, "client_id": "acme-outdoors"}
    order = fakes.repo.get(ORDER_ID)
    assert order is not None and order.status is OrderStatus.ADDRESS_VALIDATED
    assert [e.action for e in fakes.repo.audit_trail(ORDER_ID)] == [
        "order_received",
        "address_validated",
    ]


def test_an_address_without_a_postal_code_fails_the_step_by_the_name_the_asl_catches(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given an accepted order whose address has no postal code
    accepted(invoke, postal_code="")

    # When the ValidateAddress task runs
    # Then it fails with AddressInvalid (the state machine's Catch opens an exception on it)
    with pytest.raises(AddressInvalid):
        invoke("workflow", lambda_event("workflow_validate_address"))
    order = fakes.repo.get(ORDER_ID)
    assert order is not None and order.status is OrderStatus.ACCEPTED


def test_an_unknown_step_is_refused_before_anything_is_read_or_written(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given an accepted order, and a task input naming a step the function does not have
    accepted(invoke)
    before = fakes.repo.audit_trail(ORDER_ID)
    event = {**lambda_event("workflow_validate_address"), "step": "ship_it_anyway"}

    # When the function is invoked with it
    # Then the input is refused, and the order is as it was
    with pytest.raises(ValidationError, match="unknown step 'ship_it_anyway'"):
        invoke("workflow", event)
    assert fakes.repo.audit_trail(ORDER_ID) == before
