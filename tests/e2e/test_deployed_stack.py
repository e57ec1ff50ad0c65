"""Against a deployed stack (`sam deploy`): `shipshape onboard` seeds what the test needs (the
client's secrets, its catalog and opening stock) and sends a signed test order, which the
deployed stack takes to AWAITING_PICK.

Skipped unless SHIPSHAPE_E2E_STACK names a deployed stack. It also needs AWS credentials
(boto3's default session, the stack's account and region), an operator ID token
(SHIPSHAPE_TOKEN, or a `shipshape login` session) and, for each secret of the client that
the stack's account does not hold yet and that a platform issues, its value: for
acme-outdoors (the default SHIPSHAPE_E2E_CLIENT) the Shopify app's client secret and Admin API
token in SHIPSHAPE_E2E_SHOPIFY_CLIENT_SECRET and SHIPSHAPE_E2E_SHOPIFY_API_TOKEN. Webhooks are
not registered (no real shop is needed): the test order is sent as Shopify would send it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

STACK = os.environ.get("SHIPSHAPE_E2E_STACK")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK, reason="set SHIPSHAPE_E2E_STACK to a deployed stack's name"),
]
CLIENTS = Path(__file__).parents[2] / "config" / "clients"
STOCK = """sku,title,barcode,weight,weight_unit,length_mm,width_mm,height_mm,warehouse,bin,quantity
MUG-ENAMEL-12,Enamel camp mug 12 oz,002461752466,340,g,110,100,100,pdx-1,B-04-2,50
"""


def test_onboard_seeds_the_deployed_stack_and_its_test_order_reaches_its_first_wait(
    tmp_path: Path,
) -> None:
    # Given the deployed stack's outputs, an operator token, and an opening stock file
    import boto3

    from shipshape_local.cli import _default_token
    from shipshape_local.onboard import OnboardOptions, onboard, session_secrets_client

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0][
            "Outputs"
        ]
    }
    token = _default_token()
    if not token:
        pytest.skip("no operator token: set SHIPSHAPE_TOKEN or run `shipshape login`")
    client = os.environ.get("SHIPSHAPE_E2E_CLIENT", "acme-outdoors")
    stock = tmp_path / "opening-stock.csv"
    stock.write_text(STOCK, encoding="utf-8")
    answers = iter(
        os.environ.get(name, "")
        for name in ("SHIPSHAPE_E2E_SHOPIFY_CLIENT_SECRET", "SHIPSHAPE_E2E_SHOPIFY_API_TOKEN")
    )
    out = io.StringIO()

    # When the client is onboarded against the stack's API (webhooks left alone)
    result = onboard(
        OnboardOptions(
            client_file=CLIENTS / f"{client}.toml",
            url=outputs["ApiUrl"],
            token=token,
            stock_file=stock,
            test_sku="MUG-ENAMEL-12",
            register_webhooks=False,
        ),
        console=Console(file=out, width=200, no_color=True),
        secrets_client=session_secrets_client(None),
        ask=lambda _prompt: next(answers, ""),
    )

    # Then every step it ran succeeded, and its test order reached AWAITING_PICK (and was
    # cancelled after it, or was by an earlier run)
    assert result.status == 0, out.getvalue()
    assert result.test_order_id is not None
    table = boto3.client("dynamodb")
    key = {"pk": {"S": f"ORDER#{result.test_order_id}"}, "sk": {"S": "ORDER"}}
    item = table.get_item(TableName=outputs["OrdersTableName"], Key=key)["Item"]
    assert item["status"]["S"] == "CANCELLED"
    assert "sent by an earlier run" in out.getvalue() or "AWAITING_PICK" in result.statuses_seen
