"""`shipshape onboard` on the embedded stack: a client nobody configured before, on an empty
table, onboarded over HTTP (the stack's front door, the fake storefronts' APIs) and Secrets
Manager (moto, in this process), from its files to a first order waiting for its pick."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console

import shipshape.bootstrap
from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import dev_bearer, dev_token
from shipshape_local.onboard import (
    BIGCOMMERCE_SCOPES,
    SHOPIFY_TOPICS,
    WOOCOMMERCE_TOPICS,
    OnboardOptions,
    OnboardResult,
    onboard,
)
from shipshape_local.runtime import REGION, EmbeddedRuntime
from tests.helpers import EVENTS_DIR

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NORDLICHT = Path(__file__).parents[2] / "config" / "clients" / "nordlicht.toml"
# A client file's own part; its rules and fulfilment are Nordlicht's (Berlin, warehouse ber-1).
RIDGE = """# Ridge Supply: a new client on Shopify.
client_id = "ridge-supply"
name = "Ridge Supply"
timezone = "Europe/Berlin"
rules_version = "1"
warehouse_token_secret_name = "shipshape/ridge-supply/warehouse-token"
pickers = ["ber-picker-jonas", "ber-picker-lea"]

[[stores]]
platform = "shopify"
store = "ridge-supply.myshopify.com"
webhook_secret_name = "shipshape/ridge-supply/shopify-webhook"
api_token_secret_name = "shipshape/ridge-supply/shopify-api-token"

"""
FJORD = """# Fjord Home: a new client on WooCommerce, with a wholesale shop on BigCommerce.
client_id = "fjord-home"
name = "Fjord Home"
timezone = "Europe/Berlin"
rules_version = "1"
warehouse_token_secret_name = "shipshape/fjord-home/warehouse-token"
pickers = ["ber-picker-jonas", "ber-picker-lea"]

[[stores]]
platform = "woocommerce"
store = "https://fjord-home.example/"
webhook_secret_name = "shipshape/fjord-home/woocommerce-webhook"
api_token_secret_name = "shipshape/fjord-home/woocommerce-api-key"

[[stores]]
platform = "bigcommerce"
store = "f7q2k9x1"
webhook_secret_name = "shipshape/fjord-home/bigcommerce-webhook"
api_token_secret_name = "shipshape/fjord-home/bigcommerce-api-token"

"""
STOCK = (
    (
        "sku,title,barcode,weight,weight_unit,length_mm,width_mm,height_mm,lot_tracked,"
        "warehouse,bin,quantity,lot,expires_on\n"
    )
    + """LAMP-BIRCH,Birch lamp,004012345678,1.2,kg,400,250,250,,ber-1,A-01-1,40,,
MUG-STONE,Stoneware mug,004098765432,350,g,120,100,100,,ber-1,B-02-1,120,,
CANDLE-SOY,Soy candle,004011122233,200,g,80,80,90,true,ber-1,C-01-1,60,L2701,2028-01-31
CANDLE-SOY,Soy candle,004011122233,200,g,80,80,90,true,ber-1,C-01-2,25,L2702,2028-02-29
"""
)
SHOPIFY_TOKEN = "shpat_ridge-onboarding-test-token"
SHOPIFY_CLIENT_SECRET = "ridge-app-client-secret"
WOO_KEY = "ck_fjord-test:cs_fjord-test"
BIGCOMMERCE_TOKEN = "fjord-bigcommerce-api-token"


def client_file(folder: Path, header: str) -> Path:
    """A client file: its own part, then Nordlicht's rules and fulfilment."""
    text = NORDLICHT.read_text(encoding="utf-8")
    body = text[text.index("# --- operating rules") :]
    client_id = header.split('client_id = "', 1)[1].split('"', 1)[0]
    path = folder / f"{client_id}.toml"
    path.write_text(header + body, encoding="utf-8")
    return path


@dataclass
class Stack:
    runtime: EmbeddedRuntime
    url: str
    config_dir: Path
    stock: Path

    def options(self, client: Path, **changes: Any) -> OnboardOptions:
        assert self.runtime.storefronts is not None
        given: dict[str, Any] = {
            "client_file": client,
            "url": self.url,
            "token": dev_token("olivia.lead"),
            "stock_file": self.stock,
            "storefront_api_url": self.runtime.storefronts.url,
            "timeout": 60.0,
            "poll_interval": 0.05,
        }
        return OnboardOptions(**{**given, **changes})

    def run(self, options: OnboardOptions, answers: list[str]) -> tuple[OnboardResult, str]:
        """Onboard as the command does, the operator's answers given one by one."""
        out = io.StringIO()
        asked = iter(answers)
        result = onboard(
            options,
            console=Console(file=out, width=200, no_color=True),
            secrets_client=lambda: boto3.client("secretsmanager", region_name=REGION),
            ask=lambda _prompt: next(asked),
        )
        return result, out.getvalue()

    def order(self, order_id: str) -> dict[str, Any]:
        return dict(self.runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json())

    def audit(self, order_id: str) -> list[dict[str, Any]]:
        answer = self.runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()
        return list(answer["events"])


LEAD = dev_bearer("olivia.lead")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The embedded stack knowing only the two new clients, with no SKU and no stock (no seed),
    served over HTTP, and the fake storefronts serving the new clients' stores."""
    config_dir = tmp_path / "clients"
    config_dir.mkdir()
    client_file(config_dir, RIDGE)
    client_file(config_dir, FJORD)
    stock = tmp_path / "opening-stock.csv"
    stock.write_text(STOCK, encoding="utf-8")
    with EmbeddedRuntime(config_dir=config_dir, seed=None) as runtime:
        assert runtime.storefronts is not None
        runtime.storefronts.admit("shopify", "ridge-supply.myshopify.com", SHOPIFY_TOKEN)
        runtime.storefronts.admit("woocommerce", "https://fjord-home.example/", WOO_KEY)
        runtime.storefronts.admit("bigcommerce", "f7q2k9x1", BIGCOMMERCE_TOKEN)
        door = FrontDoorServer(runtime).start()
        try:
            yield Stack(runtime, door.url, config_dir, stock)
        finally:
            door.stop()
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


def secret_names(prefix: str) -> list[str]:
    client = boto3.client("secretsmanager", region_name=REGION)
    names = [s["Name"] for s in client.list_secrets(MaxResults=100)["SecretList"]]
    return sorted(n for n in names if n.startswith(prefix))


def secret(name: str) -> str:
    client = boto3.client("secretsmanager", region_name=REGION)
    return str(client.get_secret_value(SecretId=name)["SecretString"])


def on_hand(client_id: str, sku: str) -> list[tuple[str, int, int]]:
    lots = shipshape.bootstrap.container().inventory.stock_of(client_id, sku)
    return sorted((lot.bin, lot.available, lot.reserved) for lot in lots)


def masters_of(client_id: str, sku: str) -> Any:
    return shipshape.bootstrap.container().inventory.skus(client_id, [sku])[sku]


def documented_keys(name: str) -> set[str]:
    """The keys of a subscription as the platform's API reference shows it (SOURCES.md)."""
    document = json.loads((EVENTS_DIR / "real" / "webhooks" / name).read_text())
    for wrapper in ("webhook", "data"):
        if isinstance(document, dict) and wrapper in document:
            document = document[wrapper]
    return set(document)


def test_a_new_shopify_client_is_onboarded_from_an_empty_table_to_an_order_waiting_for_its_pick(
    stack: Stack,
) -> None:
    # Given a new client's file (a Shopify store) on a stack whose table is empty, its opening
    # stock file, and the operator's two Shopify secrets (the app's client secret, the token)
    client = stack.config_dir / "ridge-supply.toml"
    assert secret_names("shipshape/ridge-supply/") == []
    assert on_hand("ridge-supply", "MUG-STONE") == []
    options = stack.options(client, keep_test_order=True)

    # When it is onboarded, the test order left waiting
    result, out = stack.run(options, [SHOPIFY_CLIENT_SECRET, SHOPIFY_TOKEN])

    # Then every step is done and the command says so
    assert result.status == 0, out
    assert [step.name for step in result.steps] == [
        "client file",
        "the stack knows the client",
        "secrets",
        "catalog and opening stock (warehouse API)",
        "webhooks: shopify store ridge-supply.myshopify.com",
        "signed test order to its first wait (AWAITING_PICK)",
    ]
    assert all(step.ok and not step.skipped for step in result.steps), out
    assert "ridge-supply is onboarded." in out
    # and the secrets exist: the operator's as given, the warehouse token issued, none printed
    assert secret_names("shipshape/ridge-supply/") == [
        "shipshape/ridge-supply/shopify-api-token",
        "shipshape/ridge-supply/shopify-webhook",
        "shipshape/ridge-supply/warehouse-token",
    ]
    assert secret("shipshape/ridge-supply/shopify-api-token") == SHOPIFY_TOKEN
    assert secret("shipshape/ridge-supply/shopify-webhook") == SHOPIFY_CLIENT_SECRET
    warehouse_token = secret("shipshape/ridge-supply/warehouse-token")
    assert len(warehouse_token) >= 40
    for value in (SHOPIFY_TOKEN, SHOPIFY_CLIENT_SECRET, warehouse_token):
        assert value not in out
    # and the SKU master holds the catalog, with the warehouse's facts
    masters = shipshape.bootstrap.container().inventory.skus(
        "ridge-supply", ["LAMP-BIRCH", "MUG-STONE"]
    )
    assert {sku: m.missing_for_fulfilment() for sku, m in masters.items()} == {
        "LAMP-BIRCH": [],
        "MUG-STONE": [],
    }
    lamp = masters["LAMP-BIRCH"]
    assert (lamp.title, lamp.barcode, lamp.unit_weight_grams) == (
        "Birch lamp",
        "004012345678",
        1200,
    )
    assert (lamp.length_mm, lamp.width_mm, lamp.height_mm) == (400, 250, 250)
    # and the stock is on hand, one unit of the lamp reserved by the test order
    assert on_hand("ridge-supply", "LAMP-BIRCH") == [("A-01-1", 39, 1)]
    assert on_hand("ridge-supply", "MUG-STONE") == [("B-02-1", 120, 0)]
    assert on_hand("ridge-supply", "CANDLE-SOY") == [("C-01-1", 60, 0), ("C-01-2", 25, 0)]
    assert masters_of("ridge-supply", "CANDLE-SOY").lot_tracked
    # and Shopify records one subscription per topic the ingest takes, to the stack's address
    assert stack.runtime.storefronts is not None
    shop = stack.runtime.storefronts.shopify("ridge-supply.myshopify.com")
    hooks = shop.webhooks()
    address = f"{stack.url}/webhooks/shopify/ridge-supply"
    assert sorted((h["topic"], h["address"], h["format"]) for h in hooks) == [
        (topic, address, "json") for topic in SHOPIFY_TOPICS
    ]
    assert SHOPIFY_TOPICS == (
        "orders/cancelled", "orders/create", "orders/paid", "orders/updated",
        "products/create", "products/delete", "products/update",
    )  # fmt: skip
    assert {frozenset(h) for h in hooks} == {
        frozenset(documented_keys("shopify-webhook-created.json"))
    }
    # and the test order, recognisably a test, waits for its pick
    assert result.test_order_id is not None
    order = stack.order(result.test_order_id)
    assert order["status"] == "AWAITING_PICK"
    assert order["order_number"] == "SHIPSHAPE-TEST"
    assert order["customer"]["name"] == "Shipshape Onboarding Test"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("LAMP-BIRCH", 1)]
    assert result.statuses_seen[-1] == "AWAITING_PICK"


def test_onboarding_twice_changes_nothing_the_second_time(stack: Stack) -> None:
    # Given a client onboarded once (its test order left waiting for its pick)
    client = stack.config_dir / "ridge-supply.toml"
    options = stack.options(client, keep_test_order=True)
    first, _ = stack.run(options, [SHOPIFY_CLIENT_SECRET, SHOPIFY_TOKEN])
    assert first.status == 0
    assert first.test_order_id is not None
    assert stack.runtime.storefronts is not None
    fake = stack.runtime.storefronts
    hooks = fake.shopify("ridge-supply.myshopify.com").webhooks()
    values = {name: secret(name) for name in secret_names("shipshape/ridge-supply/")}
    order, trail = stack.order(first.test_order_id), stack.audit(first.test_order_id)
    stock = {sku: on_hand("ridge-supply", sku) for sku in ("LAMP-BIRCH", "MUG-STONE", "CANDLE-SOY")}
    fake.clear_requests()

    # When it is onboarded again, the operator asked for nothing
    second, out = stack.run(options, [])

    # Then it succeeds and nothing changed: secrets, subscriptions, stock, the test order
    assert second.status == 0, out
    assert {name: secret(name) for name in secret_names("shipshape/ridge-supply/")} == values
    assert fake.shopify("ridge-supply.myshopify.com").webhooks() == hooks
    assert [r.method for r in fake.requests_to("shopify")] == ["GET"]
    assert {sku: on_hand("ridge-supply", sku) for sku in stock} == stock
    assert second.test_order_id == first.test_order_id
    assert stack.order(first.test_order_id) == order
    assert stack.audit(first.test_order_id) == trail
    assert "0 created, 3 existed" in out
    assert (
        "3 SKU(s), 4 stock row(s): 0 applied, 7 already applied before; 0 unit(s) received now"
        in out
    )
    assert "0 created (none), 7 already there" in out


def test_a_woocommerce_client_is_onboarded_and_its_test_order_cancelled_after_its_first_wait(
    stack: Stack,
) -> None:
    # Given a new client with a WooCommerce shop and a BigCommerce one, on an empty table
    client = stack.config_dir / "fjord-home.toml"

    # When it is onboarded (the operator gives each store's API credential)
    result, out = stack.run(stack.options(client), [WOO_KEY, BIGCOMMERCE_TOKEN])

    # Then it is onboarded: issued webhook secrets, given API credentials
    assert result.status == 0, out
    assert secret_names("shipshape/fjord-home/") == [
        "shipshape/fjord-home/bigcommerce-api-token",
        "shipshape/fjord-home/bigcommerce-webhook",
        "shipshape/fjord-home/warehouse-token",
        "shipshape/fjord-home/woocommerce-api-key",
        "shipshape/fjord-home/woocommerce-webhook",
    ]
    woo_secret = secret("shipshape/fjord-home/woocommerce-webhook")
    bc_token = secret("shipshape/fjord-home/bigcommerce-webhook")
    assert woo_secret not in out and bc_token not in out
    # and WooCommerce holds one active webhook per topic, signing with the stored secret
    assert stack.runtime.storefronts is not None
    site = stack.runtime.storefronts.woocommerce("https://fjord-home.example/")
    address = f"{stack.url}/webhooks/woocommerce/fjord-home"
    hooks = site.webhooks()
    assert sorted((h["topic"], h["delivery_url"], h["status"]) for h in hooks) == [
        (topic, address, "active") for topic in WOOCOMMERCE_TOPICS
    ]
    assert {site.webhook_secret(h["id"]) for h in hooks} == {woo_secret}
    assert {frozenset(h) for h in hooks} == {
        frozenset(documented_keys("woocommerce-webhook-created.json"))
    }
    # and BigCommerce one hook per order scope, with the token header Shipshape checks
    shop = stack.runtime.storefronts.bigcommerce("f7q2k9x1")
    bc_address = f"{stack.url}/webhooks/bigcommerce/fjord-home"
    assert sorted(
        (h["scope"], h["destination"], h["is_active"], json.dumps(h["headers"]))
        for h in shop.hooks()
    ) == [
        (scope, bc_address, True, json.dumps({"X-Shipshape-Webhook-Token": bc_token}))
        for scope in BIGCOMMERCE_SCOPES
    ]
    assert {frozenset(h) for h in shop.hooks()} == {
        frozenset(documented_keys("bigcommerce-hook-created.json"))
    }
    # and the test order went through WooCommerce to its pick, then was cancelled by the
    # platform's signed cancellation: its unit is back on the shelf
    assert result.test_order_id is not None
    order = stack.order(result.test_order_id)
    assert order["platform"] == "woocommerce"
    assert order["status"] == "CANCELLED"
    assert "AWAITING_PICK" in order["status_timestamps"]
    assert result.statuses_seen[-1] == "CANCELLED"
    assert "AWAITING_PICK" in result.statuses_seen
    assert on_hand("fjord-home", "LAMP-BIRCH") == [("A-01-1", 40, 0)]

    # and onboarded again, it changes nothing: no write to either store, the order as it was
    trail = stack.audit(result.test_order_id)
    stack.runtime.storefronts.clear_requests()
    again, out = stack.run(stack.options(client), [])
    assert again.status == 0, out
    assert {r.method for r in stack.runtime.storefronts.requests} == {"GET"}
    assert stack.order(result.test_order_id) == order
    assert stack.audit(result.test_order_id) == trail
    assert "sent by an earlier run: it reached AWAITING_PICK at" in out


def test_a_refused_client_file_writes_nothing_and_exits_2(stack: Stack, tmp_path: Path) -> None:
    # Given a client file naming an unknown timezone and a secret outside the stack's prefix
    text = (stack.config_dir / "ridge-supply.toml").read_text()
    bad = tmp_path / "ridge-supply.toml"
    bad.write_text(text.replace('"Europe/Berlin"', '"Europe/Atlantis"'))
    elsewhere = tmp_path / "elsewhere" / "ridge-supply.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(text.replace('"shipshape/ridge-supply/warehouse-token"',
                                      '"other/ridge-supply/warehouse-token"'))  # fmt: skip
    assert stack.runtime.storefronts is not None
    stack.runtime.storefronts.clear_requests()

    # When each is onboarded
    refused, out = stack.run(stack.options(bad), [])
    outside, out_outside = stack.run(stack.options(elsewhere), [])

    # Then each exits 2 naming its problem, and nothing was written anywhere
    assert refused.status == 2
    assert "refused, nothing written" in out
    assert "timezone: Value error, unknown IANA timezone 'Europe/Atlantis'" in out
    assert outside.status == 2
    assert "secret other/ridge-supply/warehouse-token is not under the stack's SecretsPrefix" in (
        out_outside
    )
    assert secret_names("shipshape/ridge-supply/") == []
    assert secret_names("other/") == []
    assert stack.runtime.storefronts.requests == []
    assert on_hand("ridge-supply", "LAMP-BIRCH") == []


def test_a_bad_stock_file_is_refused_whole_naming_each_row(stack: Stack, tmp_path: Path) -> None:
    # Given a stock file with a warehouse the client does not have, a zero quantity and a lot
    # listed twice
    bad = tmp_path / "stock.csv"
    bad.write_text(
        STOCK.replace("ber-1,A-01-1,40", "pdx-1,A-01-1,40")
        .replace("B-02-1,120", "B-02-1,0")
        .replace("L2702", "L2701")
    )

    # When the client is onboarded with it
    result, out = stack.run(stack.options(stack.config_dir / "ridge-supply.toml",
                                          stock_file=bad), [])  # fmt: skip

    # Then it exits 2 naming both rows, and writes nothing
    assert result.status == 2
    assert "stock.csv: row 2: warehouse 'pdx-1' is not one of the client's (ber-1)" in out
    assert "stock.csv: row 3: quantity: Input should be greater than or equal to 1" in out
    assert "stock.csv: row 5: CANDLE-SOY lot L2701 in ber-1 is listed twice" in out
    assert secret_names("shipshape/ridge-supply/") == []


def test_a_wrong_operator_token_fails_clearly_before_anything_is_written(stack: Stack) -> None:
    # Given an operator token the stack's issuer never signed
    options = stack.options(stack.config_dir / "ridge-supply.toml", token="not-a-real-token")

    # When the client is onboarded with it
    result, out = stack.run(options, [SHOPIFY_CLIENT_SECRET, SHOPIFY_TOKEN])

    # Then the stack check fails saying what to do, and no later step ran
    assert result.status == 1
    assert [(s.name, s.ok) for s in result.steps] == [
        ("client file", True),
        ("the stack knows the client", False),
    ]
    assert "the operator token was refused (401" in out
    assert "sign in again (`shipshape login`), or pass a fresh --token" in out
    assert "not onboarded: the stack knows the client failed" in out
    assert secret_names("shipshape/ridge-supply/") == []


def test_an_operator_who_does_not_serve_the_client_is_told_to_deploy_or_use_another(
    stack: Stack,
) -> None:
    # Given an operator who serves Acme only (dev-secrets.toml)
    options = stack.options(
        stack.config_dir / "ridge-supply.toml", token=dev_token("omar.operator")
    )

    # When they onboard the new client
    result, out = stack.run(options, [])

    # Then the check fails naming both causes a 404 can have, and nothing is written
    assert result.status == 1
    assert "sam build && sam deploy" in out
    assert secret_names("shipshape/ridge-supply/") == []


def test_the_command_refuses_a_bad_client_file_with_exit_2(tmp_path: Path) -> None:
    # Given a client file whose name is not its client id
    path = tmp_path / "someone-else.toml"
    client_file(tmp_path, RIDGE).rename(path)

    # When `shipshape onboard` runs as a process on it (no stack, no AWS needed to refuse it)
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "shipshape_local.cli", "onboard", "--client", str(path),
         "--url", "http://127.0.0.1:9", "--token", "unused"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip

    # Then it exits 2 naming the problem
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refused, nothing written" in done.stdout
    assert "client_id 'ridge-supply' must match the file name" in done.stdout


def test_a_rehearsal_onboards_the_new_clients_files_on_a_throwaway_stack_without_aws(
    tmp_path: Path,
) -> None:
    # Given a new WooCommerce and BigCommerce client's file and its opening stock, and no AWS
    # credentials at all (a rehearsal reaches neither AWS nor a real store)
    path = client_file(tmp_path, FJORD)
    stock = tmp_path / "opening-stock.csv"
    stock.write_text(STOCK, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    # When `shipshape onboard --rehearse` runs as a process, and then with --url as well
    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "shipshape_local.cli", "onboard", "--client", str(path),
             "--stock", str(stock), *extra],
            capture_output=True, text=True, timeout=300, check=False,
            env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
        )  # fmt: skip

    rehearsed = run("--rehearse")
    ambiguous = run("--rehearse", "--url", "http://127.0.0.1:9")

    # Then every step passed on the throwaway stack, the test order reached its pick and was
    # cancelled, and no secret value was shown; naming a stack too is refused
    out = rehearsed.stdout
    assert rehearsed.returncode == 0, out + rehearsed.stderr
    assert "Rehearsal of onboarding Fjord Home" in out and "fjord-home is onboarded." in out
    assert "reached AWAITING_PICK" in out and "then cancelled" in out
    assert out.count("✓") >= 7 and "✗" not in out
    assert "ck_rehearsal" not in out and "rehearsal-" not in out
    assert ambiguous.returncode == 2 and "give --url" in ambiguous.stderr
