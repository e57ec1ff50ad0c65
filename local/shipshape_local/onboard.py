"""`shipshape onboard`: a new client on a stack, in one command, step by step.

    shipshape onboard --client config/clients/ridge-supply.toml --url $API_URL \\
        --stock ridge-opening-stock.csv [--token ...] [--storefront-token ...]

1. **The files**: the client file is validated as the stack validates it (``load_client_file``),
   every secret it names must lie under the stack's ``SecretsPrefix`` (the functions may read
   no other), and the opening stock file is checked row by row as the warehouse API would check
   each event. Anything wrong: exit 2, listing every problem, nothing written.
2. **The stack knows the client**: ``GET /rules/{client_id}`` answers 200 for the operator.
   The client files ship in the ClientConfigLayer, so a new client needs ``sam build && sam
   deploy`` first. Checked before anything is written: a refused token writes nothing.
3. **Secrets** (Secrets Manager, boto3's default session): each secret the file names exists,
   or is created. Shipshape issues the ones it may choose (the warehouse token; the webhook
   secret of a WooCommerce, BigCommerce or generic store, which Shipshape hands to the
   platform or the shop's developer); the operator gives the ones a platform issues (a
   storefront API credential, and a Shopify store's webhook secret, which is the app's client
   secret: Shopify signs with it and no API sets it), read without echo (or one line each from
   stdin). Values are never printed or logged, except a secret the operator must copy into a
   storefront by hand, and then the output says so.
4. **Catalog and opening stock**, over the stack's own warehouse API (``sku_updated`` and
   ``stock_received`` with the client's warehouse token), so the same command seeds a deployed
   stack: the warehouse's facts (barcode, weight, dimensions, bins and quantities) are what the
   pick and pack gates need, and only the warehouse knows them. The storefront's side of the
   catalog (titles, what is on sale) then follows from the product webhooks registered in step
   5 (``shipshape catalog sync`` pulls it on the embedded stack). Event ids are derived from
   the content (a SKU) or the place (a stock row's SKU, warehouse and lot), so a second
   run is answered as a duplicate and receives no stock twice. The warehouse API remembers an
   event id for 7 days: after that a second run would receive the opening stock again.
5. **Webhooks**, through each platform's API where it allows it, listing what exists and
   creating only what is missing: Shopify REST ``webhooks.json`` (the HMAC key is the app's
   client secret, which the API cannot set), WooCommerce ``POST /wp-json/wc/v3/webhooks``
   (with the secret), BigCommerce ``POST /v3/hooks`` (with the token header Shipshape checks).
   A generic store: the address and the secret to give the shop's developer.
6. **A signed test order**, as the platform would send it, to ``/webhooks/{platform}/{client}``,
   followed with ``GET /orders/{id}`` to its first waiting state, AWAITING_PICK. It is
   recognisably a test (storefront id and number ``SHIPSHAPE-TEST``, customer "Shipshape
   Onboarding Test", Shopify's ``test: true``), exists in Shipshape only (never in the shop),
   and is then cancelled by the platform's own signed cancellation, which releases its stock
   and stops its workflow (``--keep-test-order`` leaves it waiting). Its ids and times are
   fixed, so a second run is a duplicate delivery and changes nothing.

Exit status: 0 onboarded; 1 a step failed (the checklist says which, and what to do); 2
misused, or the client or stock file refused (nothing written).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import secrets as tokens
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from shipshape.config import ClientConfig, StoreConfig, load_client_file
from shipshape.errors import (
    ConfigurationError,
    PayloadInvalid,
    StorefrontRefused,
    StorefrontUnavailable,
)
from shipshape.models import Platform
from shipshape.services.warehouse import SkuUpdatedEvent, StockReceivedEvent
from shipshape.storefronts import bigcommerce as bigcommerce_adapter
from shipshape.storefronts import shopify as shopify_adapter
from shipshape.storefronts.api import StorefrontHttp, StoreSession, scrub
from shipshape.storefronts.base import grams
from shipshape_local.storefronts import (
    BIGCOMMERCE_TOKEN_HEADER,
    Delivery,
    GenericStore,
    Line,
    Person,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
)

EXIT_ONBOARDED, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2
DEFAULT_SECRETS_PREFIX = "shipshape/"  # template.yaml's SecretsPrefix default
SHOPIFY_ADMIN = "/admin/api/2025-07"  # the version the stack's storefront client speaks
WOOCOMMERCE_API = "/wp-json/wc/v3"

# What each platform is subscribed to: every topic (scope) the stack's ingest accepts.
SHOPIFY_TOPICS = tuple(sorted(shopify_adapter.TOPICS | shopify_adapter.PRODUCT_TOPICS))
# WooCommerce's core topics among those the ingest accepts (product.restored is no core topic).
WOOCOMMERCE_TOPICS = (
    "order.created",
    "order.updated",
    "product.created",
    "product.deleted",
    "product.updated",
)
BIGCOMMERCE_SCOPES = tuple(sorted(bigcommerce_adapter.SCOPES))

STOCK_COLUMNS = (
    "sku",
    "title",
    "barcode",
    "weight",
    "weight_unit",
    "length_mm",
    "width_mm",
    "height_mm",
    "lot_tracked",
    "active",
    "warehouse",
    "bin",
    "quantity",
    "lot",
    "expires_on",
)
_SKU_COLUMNS = STOCK_COLUMNS[:10]
_TRUE, _FALSE = frozenset({"1", "true", "yes", "y"}), frozenset({"", "0", "false", "no", "n"})

# The test order: fixed ids and times, so a second run is the same delivery (a duplicate).
TEST_ORDER_REF = "SHIPSHAPE-TEST"
TEST_PLACED_AT = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TEST_CANCELLED_AT = TEST_PLACED_AT + timedelta(minutes=1)
TEST_PERSON = Person(
    "Shipshape", "Onboarding Test", "onboarding-test@example.com", "+1 503 555 0100"
)
# Where the test order "ships" to when the operator names no address: a public address in the
# client's ship-from country (it never ships: it is cancelled at its first wait).
TEST_ADDRESSES = {
    "US": PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US"),
    "GB": PostalAddress("1 Brick Lane", "London", "", "E1 6AN", "GB"),
    "DE": PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE"),
}
FIRST_WAIT = "AWAITING_PICK"
# Statuses a test order does not come back from on its own: someone must look.
STOPPED = frozenset(
    {
        "EXCEPTION",
        "ON_HOLD",
        "QUARANTINED",
        "CANCELLED",
        "BACKORDERED",
        "NOTHING_TO_SHIP",
        "PARTIALLY_PAID",
        "RECEIVED",
    }
)

Ask = Callable[[str], str]


class Refused(Exception):
    """The command cannot start: ``problems`` lists every reason; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class StepFailed(Exception):
    """A step could not be done; ``todo`` says what the operator does about it."""

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(what)
        self.todo = todo


@dataclass
class Step:
    name: str
    ok: bool = True
    lines: list[str] = field(default_factory=list)
    todo: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class SkuRow:
    event: SkuUpdatedEvent
    stock: tuple[StockReceivedEvent, ...]


@dataclass(frozen=True)
class OnboardOptions:
    client_file: Path
    url: str
    token: str
    stock_file: Path | None = None
    storefront_token: str | None = None
    secrets_prefix: str = DEFAULT_SECRETS_PREFIX
    storefront_api_url: str | None = None
    test_sku: str | None = None
    test_address: str | None = None  # "line1|city|region|postal code|country"
    keep_test_order: bool = False
    register_webhooks: bool = True  # False: the storefronts' webhooks are left alone
    timeout: float = 120.0
    poll_interval: float = 0.5


@dataclass
class OnboardResult:
    status: int
    steps: list[Step]
    test_order_id: str | None = None
    statuses_seen: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Secret:
    name: str
    what: str
    kind: str  # "warehouse", "webhook", "previous" (a rotation's) or "api" (a storefront's)
    issued: bool  # Shipshape makes it up; otherwise the operator gives it


@dataclass
class _Plan:
    client: ClientConfig
    skus: list[SkuRow]
    test_store: StoreConfig | None
    test_sku: tuple[str, str] | None  # the SKU the test order takes, and its title
    test_address: PostalAddress | None
    needed: list[_Secret]


# --- 1. the files ---------------------------------------------------------------------------


def read_stock_file(text: str, client: ClientConfig) -> list[SkuRow]:
    """The opening catalog and stock, one SKU per group of rows (a row per bin and lot), as
    the warehouse API's events; ``Refused`` naming every bad row."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    required = ("sku", "barcode", "weight", "length_mm", "width_mm", "height_mm")
    lacking = [name for name in required if name not in header]
    if lacking:
        raise Refused(
            [
                f"the stock file's header lacks {', '.join(lacking)} (columns: "
                f"{', '.join(STOCK_COLUMNS)})"
            ]
        )
    unknown = sorted(set(header) - set(STOCK_COLUMNS))
    if unknown:
        raise Refused([f"the stock file has unknown columns {', '.join(unknown)}"])
    problems: list[str] = []
    skus: dict[str, SkuUpdatedEvent] = {}
    stock: dict[str, list[StockReceivedEvent]] = {}
    places: set[tuple[str, str, str]] = set()
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        try:
            sku_event = _sku_event(row)
            received = _stock_event(row, client)
        except (ValidationError, PayloadInvalid, ValueError) as exc:
            problems.append(f"row {number}: {_message(exc)}")
            continue
        sku = sku_event.sku
        if sku in skus and skus[sku] != sku_event:
            problems.append(f"row {number}: SKU {sku} is described differently on an earlier row")
            continue
        skus.setdefault(sku, sku_event)
        if received is not None:
            # The SKU master keeps one bin for each lot of a SKU in a warehouse.
            place = (sku, received.warehouse, received.lot or "")
            if place in places:
                problems.append(
                    f"row {number}: {sku} lot {received.lot or '-'} in {received.warehouse} "
                    "is listed twice (one bin for each lot of a SKU in a warehouse)"
                )
                continue
            places.add(place)
            stock.setdefault(sku, []).append(received)
    if not skus and not problems:
        problems.append("the stock file lists no SKU")
    if problems:
        raise Refused(problems)
    return [SkuRow(event, tuple(stock.get(sku, ()))) for sku, event in skus.items()]


def _sku_event(row: dict[str, str]) -> SkuUpdatedEvent:
    if not row.get("sku"):
        raise ValueError("sku is empty")
    flags = {}
    for name, default in (("lot_tracked", False), ("active", True)):
        text = row.get(name, "").lower()
        if text not in _TRUE | _FALSE:
            raise ValueError(f"{name} {row[name]!r} is not true or false")
        flags[name] = text in _TRUE if text else default
    weight = grams(row.get("weight") or None, row.get("weight_unit") or "g", "weight")
    facts = {name: row.get(name, "") for name in _SKU_COLUMNS}
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]
    return SkuUpdatedEvent.model_validate(
        {
            "type": "sku_updated",
            "event_id": f"onboard-sku-{digest}",
            "sku": row["sku"],
            "title": row.get("title", ""),
            "barcode": row.get("barcode", ""),
            "unit_weight_grams": weight or 0,
            "length_mm": row.get("length_mm"),
            "width_mm": row.get("width_mm"),
            "height_mm": row.get("height_mm"),
            **flags,
        }
    )


def _stock_event(row: dict[str, str], client: ClientConfig) -> StockReceivedEvent | None:
    stock = {name: row.get(name, "") for name in ("warehouse", "bin", "quantity")}
    if not any(stock.values()) and not row.get("lot"):
        return None  # a SKU with no opening stock
    if stock["warehouse"] and stock["warehouse"] not in client.fulfilment.warehouses:
        raise ValueError(
            f"warehouse {stock['warehouse']!r} is not one of the client's "
            f"({', '.join(client.fulfilment.warehouses)})"
        )
    place = "|".join((row["sku"], stock["warehouse"], row.get("lot", "")))
    digest = hashlib.sha256(place.encode()).hexdigest()[:24]
    return StockReceivedEvent.model_validate(
        {
            "type": "stock_received",
            "event_id": f"onboard-stock-{digest}",
            "sku": row["sku"],
            "warehouse": stock["warehouse"],
            "bin": stock["bin"],
            "quantity": stock["quantity"],
            "lot": row.get("lot") or None,
            "expires_on": row.get("expires_on") or None,
        }
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


def secrets_needed(client: ClientConfig) -> list[_Secret]:
    """Every secret the client file names, with who makes it up."""
    needed = [
        _Secret(
            client.warehouse_token_secret_name,
            "the warehouse's bearer token",
            "warehouse",
            issued=True,
        )
    ]
    for store in client.stores:
        where = f"{store.platform.value} store {store.store}"
        if store.platform is Platform.SHOPIFY:
            needed.append(
                _Secret(
                    store.webhook_secret_name,
                    f"{where}: the app's client secret (Shopify signs its webhooks with it)",
                    "webhook",
                    issued=False,
                )
            )
        else:
            needed.append(
                _Secret(
                    store.webhook_secret_name, f"{where}: webhook secret", "webhook", issued=True
                )
            )
        if store.previous_webhook_secret_name:
            needed.append(
                _Secret(
                    store.previous_webhook_secret_name,
                    f"{where}: previous webhook secret (rotation)",
                    "previous",
                    issued=False,
                )
            )
        if store.api_token_secret_name:
            kind = {
                Platform.SHOPIFY: "Admin API access token (shpat_...)",
                Platform.WOOCOMMERCE: "REST API key as consumer_key:consumer_secret",
                Platform.BIGCOMMERCE: "API account access token",
            }.get(store.platform, "API credential")
            needed.append(
                _Secret(store.api_token_secret_name, f"{where}: {kind}", "api", issued=False)
            )
    return needed


def plan(options: OnboardOptions) -> _Plan:
    """Everything checked before anything is written; ``Refused`` with every problem."""
    try:
        client = load_client_file(options.client_file)
    except ConfigurationError as exc:
        raise Refused([str(exc)]) from None
    except OSError as exc:
        raise Refused([f"{options.client_file}: {exc.strerror}"]) from None
    problems: list[str] = []
    if not options.url.startswith(("https://", "http://")):
        problems.append(f"--url {options.url!r} is not an http(s) URL (the stack's ApiUrl)")
    if not options.token:
        problems.append(
            "no operator token: pass --token, set SHIPSHAPE_TOKEN, or run `shipshape login` first"
        )
    needed = secrets_needed(client)
    for secret in needed:
        if not secret.name.startswith(options.secrets_prefix):
            problems.append(
                f"secret {secret.name} is not under the stack's SecretsPrefix "
                f"{options.secrets_prefix!r}: its functions could not read it"
            )
    given = [s for s in needed if s.kind == "api"]
    if options.storefront_token and len(given) != 1:
        problems.append(
            "--storefront-token names one store's API credential, but this client "
            f"has {len(given)}: give each on stdin instead"
        )
    skus: list[SkuRow] = []
    if options.stock_file is not None:
        try:
            skus = read_stock_file(options.stock_file.read_text(encoding="utf-8-sig"), client)
        except Refused as exc:
            problems += [f"{options.stock_file.name}: {p}" for p in exc.problems]
        except OSError as exc:
            problems.append(f"{options.stock_file}: {exc.strerror}")
    test_store = next((s for s in client.stores if s.platform is not Platform.BIGCOMMERCE), None)
    stocked = next((s for s in skus if s.stock and s.event.active), None)
    test_sku = (stocked.event.sku, stocked.event.title) if stocked else None
    if options.test_sku:
        named = next((s for s in skus if s.event.sku == options.test_sku), None)
        test_sku = (options.test_sku, named.event.title if named else "")
        if named is None and skus:
            problems.append(f"--test-sku {options.test_sku} is not in the stock file")
    address = TEST_ADDRESSES.get(client.fulfilment.ship_from_country)
    if options.test_address:
        parts = [p.strip() for p in options.test_address.split("|")]
        if len(parts) != 5:
            problems.append("--test-address is 'line1|city|region|postal code|country'")
        else:
            address = PostalAddress(parts[0], parts[1], parts[2], parts[3], parts[4].upper())
    if problems:
        raise Refused(problems)
    return _Plan(client, skus, test_store, test_sku, address, needed)


# --- talking to the stack -------------------------------------------------------------------


@dataclass
class StackApi:
    """The stack's HTTP API (the ops API with the operator's token, the warehouse route with
    the client's warehouse token, the webhook route as a storefront)."""

    url: str
    token: str
    pool: urllib3.PoolManager = field(default_factory=urllib3.PoolManager)

    def call(
        self,
        method: str,
        path: str,
        *,
        bearer: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        signed: bool = False,
    ) -> tuple[int, Any]:
        """One request: the operator's token by default, ``bearer`` instead (the warehouse
        route), or none (``signed``: a storefront's delivery, signed in its own headers)."""
        sent = {"Accept": "application/json", **(headers or {})}
        if not signed:
            sent["Authorization"] = f"Bearer {bearer if bearer is not None else self.token}"
        try:
            answer = self.pool.request(
                method,
                self.url.rstrip("/") + path,
                body=body,
                headers=sent,
                retries=False,
                timeout=urllib3.Timeout(connect=5.0, read=30.0),
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StepFailed(
                f"{self.url} did not answer ({type(exc).__name__})",
                "check --url (the stack's ApiUrl output, or `shipshape serve`'s address)",
            ) from None
        try:
            document = json.loads(answer.data or b"{}")
        except ValueError:
            document = {}
        return answer.status, document


def check_stack(api: StackApi, client: ClientConfig) -> Step:
    step = Step("the stack knows the client")
    status, answer = api.call("GET", f"/rules/{quote(client.client_id, safe='')}")
    if status == 200:
        step.lines.append(
            f"GET /rules/{client.client_id}: active rules version {answer.get('active_version')}"
        )
        return step
    message = answer.get("message") if isinstance(answer, dict) else ""
    if status == 401:
        raise StepFailed(
            f"the operator token was refused (401 {message or ''})".strip(),
            "sign in again (`shipshape login`), or pass a fresh --token",
        )
    if status == 403:
        raise StepFailed(
            f"the operator may not read client {client.client_id} (403)",
            "onboard as a lead, or an operator who serves this client",
        )
    if status == 404:
        raise StepFailed(
            f"the stack has no client {client.client_id} among the operator's (404)",
            f"add the file as config/clients/{client.client_id}.toml, run `sam build && sam "
            "deploy` (the client files ship in the ClientConfigLayer), then onboard again; "
            "or onboard as an operator who serves this client",
        )
    raise StepFailed(
        f"GET /rules/{client.client_id} answered {status}",
        "look at the stack's logs (the ops function)",
    )


# --- 3. secrets -----------------------------------------------------------------------------


def _issue(secret: _Secret, client: ClientConfig) -> str:
    if secret.name == client.warehouse_token_secret_name:
        return tokens.token_urlsafe(32)
    store = next(s for s in client.stores if s.webhook_secret_name == secret.name)
    if store.platform is Platform.GENERIC:  # the Standard Webhooks form a sender configures
        return "whsec_" + base64.b64encode(tokens.token_bytes(32)).decode()
    return tokens.token_urlsafe(32)


def ensure_secrets(
    plan_: _Plan, secrets_client: Any, ask: Ask, storefront_token: str | None
) -> tuple[Step, dict[str, str], set[str]]:
    """Each secret exists (checked) or is created; their values (in memory only) and the
    names of those created now."""
    from botocore.exceptions import ClientError

    step = Step("secrets")
    values: dict[str, str] = {}
    created: list[str] = []
    for secret in plan_.needed:
        try:
            held = secrets_client.get_secret_value(SecretId=secret.name)["SecretString"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "InvalidRequestException":  # scheduled for deletion
                raise StepFailed(
                    f"secret {secret.name} is scheduled for deletion",
                    f"aws secretsmanager restore-secret --secret-id {secret.name}"
                    ", then onboard again",
                ) from None
            if code != "ResourceNotFoundException":
                raise StepFailed(
                    f"secret {secret.name} could not be read ({code})",
                    "check the AWS credentials and region boto3 uses",
                ) from None
            held = None
        if held is not None:
            if not held.strip():
                raise StepFailed(
                    f"secret {secret.name} is empty",
                    f"put its value: aws secretsmanager put-secret-value "
                    f"--secret-id {secret.name} --secret-string ...",
                )
            values[secret.name] = held
            step.lines.append(f"{secret.name}: exists ({secret.what})")
            continue
        if secret.kind == "previous":
            raise StepFailed(
                f"secret {secret.name} (a rotation's previous secret) is missing",
                "remove previous_webhook_secret_name from the client file, or "
                "create the secret with the old value",
            )
        if secret.issued:
            value = _issue(secret, plan_.client)
        elif storefront_token and secret.kind == "api":
            value = storefront_token
        else:
            value = ask(f"{secret.what} (kept as {secret.name}): ").strip()
        if not value:
            raise StepFailed(
                f"no value given for {secret.name} ({secret.what})",
                "give it when asked (or one line on stdin), or create the "
                "secret yourself and onboard again",
            )
        if "consumer_key:consumer_secret" in secret.what and ":" not in value:
            raise StepFailed(
                f"the value for {secret.name} is not consumer_key:consumer_secret",
                "give the WooCommerce REST API key as ck_...:cs_...",
            )
        secrets_client.create_secret(
            Name=secret.name,
            SecretString=value,
            Description=f"Shipshape {plan_.client.client_id}: {secret.what}",
        )
        values[secret.name] = value
        created.append(secret.name)
        step.lines.append(
            f"{secret.name}: created ({secret.what}"
            + (", issued by Shipshape)" if secret.issued else ")")
        )
    step.lines.append(f"{len(created)} created, {len(plan_.needed) - len(created)} existed")
    return step, values, set(created)


# --- 4. catalog and opening stock -----------------------------------------------------------


def seed_stock(api: StackApi, plan_: _Plan, warehouse_token: str) -> Step:
    step = Step("catalog and opening stock (warehouse API)")
    if not plan_.skus:
        step.skipped = True
        step.lines.append("no --stock file: the SKU master and stock are left as they are")
        step.todo = (
            "the test order needs a SKU with stock: give --stock, or --test-sku for "
            "one the warehouse already sent"
        )
        return step
    path = f"/warehouse/{quote(plan_.client.client_id, safe='')}/events"
    counts = {"applied": 0, "already": 0}
    received = 0
    for row in plan_.skus:
        events: list[SkuUpdatedEvent | StockReceivedEvent] = [row.event, *row.stock]
        for event in events:
            status, answer = api.call(
                "POST",
                path,
                bearer=warehouse_token,
                headers={"Content-Type": "application/json"},
                body=event.model_dump_json().encode(),
            )
            what = f"{event.type} {event.sku}"
            if status == 202:
                counts["applied"] += 1
                received += event.quantity if isinstance(event, StockReceivedEvent) else 0
            elif status == 200:
                counts["already"] += 1
            elif status == 409 and isinstance(event, StockReceivedEvent):
                raise StepFailed(
                    f"{what}: opening stock for {event.warehouse} bin {event.bin} was received "
                    "before with another quantity; it is not received again",
                    "correct the stock with a stock event from the warehouse, not by onboarding",
                )
            elif status == 401:
                raise StepFailed(
                    f"{what}: the warehouse token was refused (401)",
                    f"the secret {plan_.client.warehouse_token_secret_name} must "
                    "hold the token the stack reads (deployed with this prefix?)",
                )
            else:
                raise StepFailed(
                    f"{what}: answered {status} {answer.get('message', '')}",
                    "fix the stock file's row for this SKU",
                )
    step.lines.append(
        f"{len(plan_.skus)} SKU(s), {sum(len(r.stock) for r in plan_.skus)} "
        f"stock row(s): {counts['applied']} applied, {counts['already']} already "
        f"applied before; {received} unit(s) received now"
    )
    return step


# --- 5. webhooks ----------------------------------------------------------------------------


def _session(http: StorefrontHttp, store: StoreConfig, credential: str) -> StoreSession:
    if store.platform is Platform.SHOPIFY:
        return http.session(store, {"X-Shopify-Access-Token": credential}, [credential])
    if store.platform is Platform.WOOCOMMERCE:
        basic = base64.b64encode(credential.encode()).decode()
        key, _, secret = credential.partition(":")
        return http.session(
            store, {"Authorization": f"Basic {basic}"}, [credential, key, secret, basic]
        )
    return http.session(store, {"X-Auth-Token": credential}, [credential])


def _handed_over(step: Step, store: StoreConfig, secret: str, created: bool) -> None:
    """The one place a secret's value is printed: the operator copies it into a storefront
    (or hands it to the shop's developer) by hand, once, when it was just issued."""
    name = store.webhook_secret_name
    if created:
        step.lines.append(
            f"webhook secret (copy it into the store's webhook settings now; "
            f"it is kept in Secrets Manager as {name}): {secret}"
        )
    else:
        step.lines.append(
            f"webhook secret: kept in Secrets Manager as {name} (`aws "
            f"secretsmanager get-secret-value --secret-id {name}`)"
        )


def register_webhooks(
    http: StorefrontHttp,
    api_url: str,
    client: ClientConfig,
    store: StoreConfig,
    values: dict[str, str],
    created: set[str],
) -> Step:
    """The store's webhook subscriptions to the stack: listed, and only the missing made."""
    address = f"{api_url.rstrip('/')}/webhooks/{store.platform.value}/{client.client_id}"
    step = Step(f"webhooks: {store.platform.value} store {store.store}")
    secret = values[store.webhook_secret_name]
    if store.platform is Platform.GENERIC:
        step.lines.append(
            f"give the shop's developer the address {address} and the secret "
            "below: they sign with it (Shipshape-Signature, or Standard Webhooks "
            "with this whsec_ secret)"
        )
        _handed_over(step, store, secret, store.webhook_secret_name in created)
        return step
    if not store.api_token_secret_name:
        step.ok = False
        step.lines.append(
            "no api_token_secret_name in the client file: Shipshape cannot "
            "register the webhooks through the platform's API"
        )
        if store.platform is not Platform.SHOPIFY:
            _handed_over(step, store, secret, store.webhook_secret_name in created)
        step.todo = (
            f"create them in the store's admin: address {address}, "
            f"{_topics_of(store)}; or add api_token_secret_name and onboard again"
        )
        return step
    session = _session(http, store, values[store.api_token_secret_name])
    try:
        if store.platform is Platform.SHOPIFY:
            made, kept = _shopify_hooks(session, address)
            step.lines.append(
                "signed with the app's client secret (Shopify sets it; the API "
                f"cannot): kept as {store.webhook_secret_name}"
            )
        elif store.platform is Platform.WOOCOMMERCE:
            made, kept = _woocommerce_hooks(session, address, secret)
        else:
            made, kept = _bigcommerce_hooks(session, address, secret)
    except (StorefrontRefused, StorefrontUnavailable) as exc:
        text = scrub(str(exc), list(values.values()))
        raise StepFailed(text, _refusal_todo(store, exc)) from None
    step.lines.append(
        f"{address}: {len(made)} created ({', '.join(made) or 'none'}), {len(kept)} already there"
    )
    return step


def _not_registered(store: StoreConfig) -> Step:
    return Step(
        f"webhooks: {store.platform.value} store {store.store}",
        skipped=True,
        lines=["not registered (--no-webhooks): the store sends nothing to the stack yet"],
        todo="onboard again without --no-webhooks, or create them in the store's admin",
    )


def _topics_of(store: StoreConfig) -> str:
    topics = {
        Platform.SHOPIFY: SHOPIFY_TOPICS,
        Platform.WOOCOMMERCE: WOOCOMMERCE_TOPICS,
        Platform.BIGCOMMERCE: BIGCOMMERCE_SCOPES,
    }.get(store.platform, ())
    return "topics " + ", ".join(topics)


def _refusal_todo(store: StoreConfig, exc: Exception) -> str:
    if isinstance(exc, StorefrontRefused) and exc.status in (401, 403):
        return (
            f"the store refused the credential in {store.api_token_secret_name}: put the "
            "right one (aws secretsmanager put-secret-value) with the webhook permission "
            "(Shopify: read_orders and the webhook topics' scopes; WooCommerce: read/write "
            "key; BigCommerce: any API account), then onboard again"
        )
    return "the store's API is not answering as it should: try again later"


def _shopify_hooks(session: StoreSession, address: str) -> tuple[list[str], list[str]]:
    listed = session.get(f"{SHOPIFY_ADMIN}/webhooks.json", {"limit": 250}).json()
    have = {h["topic"] for h in listed.get("webhooks", []) if h.get("address") == address}
    made = []
    for topic in SHOPIFY_TOPICS:
        if topic not in have:
            document = {"webhook": {"topic": topic, "address": address, "format": "json"}}
            session.post(f"{SHOPIFY_ADMIN}/webhooks.json", document, repeatable=False)
            made.append(topic)
    return made, sorted(have & set(SHOPIFY_TOPICS))


def _woocommerce_hooks(
    session: StoreSession, address: str, secret: str
) -> tuple[list[str], list[str]]:
    have: dict[str, str] = {}
    page = 1
    while True:
        answer = session.get(f"{WOOCOMMERCE_API}/webhooks", {"per_page": 100, "page": page})
        for hook in answer.json():
            if hook.get("delivery_url") == address:
                have[hook["topic"]] = hook.get("status", "")
        if page >= int(answer.header("X-WP-TotalPages") or 1):
            break
        page += 1
    idle = sorted(t for t in WOOCOMMERCE_TOPICS if have.get(t) not in (None, "active"))
    if idle:
        raise StorefrontRefused(
            "woocommerce",
            0,
            "webhook_not_active",
            f"webhooks {', '.join(idle)} to {address} are not active",
        )
    made = []
    for topic in WOOCOMMERCE_TOPICS:
        if topic not in have:
            document = {
                "name": f"Shipshape {topic}",
                "topic": topic,
                "delivery_url": address,
                "secret": secret,
                "status": "active",
            }
            session.post(f"{WOOCOMMERCE_API}/webhooks", document, repeatable=False)
            made.append(topic)
    return made, sorted(set(have) & set(WOOCOMMERCE_TOPICS))


def _bigcommerce_hooks(
    session: StoreSession, address: str, secret: str
) -> tuple[list[str], list[str]]:
    listed = session.get("/v3/hooks", {"destination": address, "limit": 250}).json()
    headers = {BIGCOMMERCE_TOKEN_HEADER: secret}
    have = {h["scope"]: h for h in listed.get("data", []) if h.get("destination") == address}
    made, kept = [], []
    for scope in BIGCOMMERCE_SCOPES:
        hook = have.get(scope)
        if hook is None:
            document = {
                "scope": scope,
                "destination": address,
                "is_active": True,
                "headers": headers,
            }
            session.post("/v3/hooks", document, repeatable=False)
            made.append(scope)
        elif not hook.get("is_active") or (hook.get("headers") or {}) != headers:
            # Inactive, or sending another token: put it right (a second run finds it so).
            session.put(
                f"/v3/hooks/{hook['id']}", {"is_active": True, "headers": headers}, repeatable=True
            )
            made.append(f"{scope} (updated)")
        else:
            kept.append(scope)
    return made, kept


# --- 6. the test order ----------------------------------------------------------------------


def _test_number(client_id: str) -> int:
    return 9_000_000_000 + int(hashlib.sha256(client_id.encode()).hexdigest()[:8], 16) % 10**9


def trial_deliveries(
    store: StoreConfig,
    client: ClientConfig,
    secret: str,
    sku: tuple[str, str],
    address: PostalAddress,
    now: datetime,
) -> tuple[Delivery, Delivery]:
    """The test order as the store's platform would deliver it, and its cancellation."""
    lines = [Line(sku[0], f"{sku[1] or sku[0]} (Shipshape test)", 1, "1.00")]
    number = _test_number(client.client_id)
    if store.platform is Platform.SHOPIFY:
        shop = ShopifyStore(client.client_id, store.store, secret)
        order = shop.order(
            number,
            number % 100_000,
            lines=lines,
            person=TEST_PERSON,
            address=address,
            created_at=TEST_PLACED_AT,
            updated_at=TEST_PLACED_AT,
            financial_status="paid",
        )
        order.update(name=TEST_ORDER_REF, test=True, tags="shipshape-onboarding-test")
        cancelled = {
            **order,
            "cancelled_at": TEST_CANCELLED_AT.isoformat(),
            "updated_at": TEST_CANCELLED_AT.isoformat(),
            "cancel_reason": "other",
        }
        return shop.deliver("orders/paid", order), shop.deliver("orders/cancelled", cancelled)
    if store.platform is Platform.WOOCOMMERCE:
        site = WooCommerceStore(client.client_id, store.store, secret)

        def woo_order(modified_at: datetime, status: str) -> dict[str, Any]:
            order = site.order(
                number, lines=lines, person=TEST_PERSON, address=address,
                created_at=TEST_PLACED_AT, modified_at=modified_at, status=status,
            )  # fmt: skip
            return {**order, "number": TEST_ORDER_REF}

        placed = woo_order(TEST_PLACED_AT, "processing")
        cancelled_later = woo_order(TEST_CANCELLED_AT, "cancelled")
        return site.deliver("order.created", placed), site.deliver("order.updated", cancelled_later)
    sender = GenericStore(client.client_id, store.store, secret)
    order = sender.order(
        TEST_ORDER_REF,
        version=1,
        lines=lines,
        person=TEST_PERSON,
        address=address,
        updated_at=TEST_PLACED_AT,
        payment_status="paid",
        currency="USD",
    )
    later = {**order, "version": 2, "updated_at": TEST_CANCELLED_AT.isoformat()}
    return (
        sender.deliver("order.upsert", order, signed_at=now),
        sender.deliver("order.cancelled", later, signed_at=now),
    )


def follow(
    api: StackApi,
    order_id: str,
    wanted: str,
    *,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    seen: list[str],
) -> dict[str, Any]:
    """``GET /orders/{id}`` until the order is ``wanted`` (or stopped elsewhere, or the time
    is up); each status met goes into ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        status, order = api.call("GET", f"/orders/{order_id}")
        if status != 200:
            raise StepFailed(
                f"GET /orders/{order_id} answered {status}", "check the operator serves this client"
            )
        current = str(order.get("status"))
        if not seen or seen[-1] != current:
            seen.append(current)
        if current == wanted or (current in STOPPED and current != "RECEIVED"):
            return dict(order)
        if time.monotonic() >= deadline:
            return dict(order)
        sleep(interval)


def send_test_order(
    api: StackApi,
    plan_: _Plan,
    values: dict[str, str],
    options: OnboardOptions,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    result: OnboardResult,
) -> Step:
    step = Step("signed test order to its first wait (AWAITING_PICK)")
    store, sku, address = plan_.test_store, plan_.test_sku, plan_.test_address
    if store is None:
        step.skipped = True
        step.lines.append(
            "BigCommerce webhooks carry only an order id: a test order needs a "
            "real order in the store"
        )
        step.todo = "place an order in the store's admin and follow it on the dashboard"
        return step
    if sku is None:
        raise StepFailed(
            "no SKU with opening stock to order", "give --stock with a stocked SKU, or --test-sku"
        )
    if address is None:
        raise StepFailed(
            f"no test address for {plan_.client.fulfilment.ship_from_country}",
            "give --test-address 'line1|city|region|postal code|country'",
        )
    placed, cancelled = trial_deliveries(
        store, plan_.client, values[store.webhook_secret_name], sku, address, now()
    )
    status, answer = api.call(
        "POST", placed.path, headers=placed.headers, body=placed.body, signed=True
    )
    if status not in (200, 202) or "order_id" not in answer:
        raise StepFailed(
            f"POST {placed.path} answered {status} {answer.get('message', '')}",
            f"the stack must verify with the secret {store.webhook_secret_name}; "
            "look at the ingest function's log",
        )
    order_id = str(answer["order_id"])
    result.test_order_id = order_id
    step.lines.append(
        f"{store.platform.value} order {TEST_ORDER_REF} (1 x {sku[0]}): "
        f"{answer.get('outcome')}, Shipshape order {order_id}"
    )
    seen = result.statuses_seen
    order = follow(
        api,
        order_id,
        FIRST_WAIT,
        timeout=options.timeout,
        interval=options.poll_interval,
        sleep=sleep,
        seen=seen,
    )
    reached = FIRST_WAIT in (order.get("status_timestamps") or {})
    if not reached:
        raise StepFailed(
            f"order {order_id} is {order.get('status')}, not {FIRST_WAIT} "
            f"(seen: {' > '.join(seen)})",
            f"read why in GET /orders/{order_id}/audit or the dashboard; fix the client file "
            "or the SKU master, then onboard again",
        )
    if order.get("status") == "CANCELLED":  # an earlier run's, followed and cancelled then
        step.lines.append(
            f"sent by an earlier run: it reached {FIRST_WAIT} at "
            f"{order['status_timestamps'][FIRST_WAIT]} and is cancelled"
        )
        return step
    step.lines.append(f"reached {FIRST_WAIT} (seen: {' > '.join(seen)})")
    if options.keep_test_order:
        step.lines.append(
            f"kept waiting for its pick (--keep-test-order): tell the warehouse "
            f"{order_id} is a test; onboard again without the flag to cancel it"
        )
        return step
    status, _ = api.call(
        "POST", cancelled.path, headers=cancelled.headers, body=cancelled.body, signed=True
    )
    if status not in (200, 202):
        raise StepFailed(
            f"the test order's cancellation answered {status}",
            f"cancel order {order_id} through the dashboard",
        )
    order = follow(
        api,
        order_id,
        "CANCELLED",
        timeout=options.timeout,
        interval=options.poll_interval,
        sleep=sleep,
        seen=seen,
    )
    if order.get("status") != "CANCELLED":
        raise StepFailed(
            f"the test order {order_id} is {order.get('status')}, not cancelled",
            f"cancel order {order_id} through the dashboard",
        )
    step.lines.append(
        "then cancelled by the platform's signed cancellation: its stock is "
        "released and nothing ships"
    )
    return step


# --- the command ----------------------------------------------------------------------------


def _show(console: Console, step: Step) -> None:
    mark = "[yellow]-[/]" if step.skipped else ("[green]✓[/]" if step.ok else "[red]✗[/]")
    console.print(f"{mark} [bold]{escape(step.name)}[/]")
    for line in step.lines:
        console.print(f"    {line}", markup=False, highlight=False)
    if step.todo:
        console.print(f"    → {step.todo}", markup=False, highlight=False)


def onboard(
    options: OnboardOptions,
    *,
    console: Console,
    secrets_client: Callable[[], Any],
    ask: Ask,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
) -> OnboardResult:
    """Run the steps, printing each as it ends; stop at the first that the next ones need."""
    result = OnboardResult(EXIT_ONBOARDED, [])

    def done(step: Step) -> Step:
        result.steps.append(step)
        _show(console, step)
        if not step.ok:
            result.status = EXIT_FAILED
        return step

    try:
        plan_ = plan(options)
    except Refused as exc:
        console.print("[red]✗ refused, nothing written:[/]")
        for problem in exc.problems:
            console.print(f"    {problem}", markup=False, highlight=False)
        result.status = EXIT_REFUSED
        return result
    client = plan_.client
    console.print(
        f"[bold]Onboarding {escape(client.name)} ({client.client_id})[/] on {escape(options.url)}",
        highlight=False,
    )
    done(
        Step(
            "client file",
            lines=[
                f"{options.client_file.name}: valid; "
                f"{len(client.stores)} store(s), "
                f"{len(plan_.needed)} secret(s) named"
            ],
        )
    )
    api = StackApi(options.url, options.token)
    values: dict[str, str] = {}
    created: set[str] = set()
    stages: list[tuple[str, Callable[[], Step]]] = []

    def secrets_stage() -> Step:
        from botocore.exceptions import BotoCoreError

        try:
            client_of_secrets = secrets_client()
        except BotoCoreError as exc:  # no region, no credentials
            raise StepFailed(
                f"Secrets Manager is out of reach: {exc}",
                "set AWS_REGION (or --region) and the AWS credentials of the stack's account",
            ) from None
        step, found, made = ensure_secrets(plan_, client_of_secrets, ask, options.storefront_token)
        values.update(found)
        created.update(made)
        return step

    stages.append(("the stack knows the client", lambda: check_stack(api, client)))
    stages.append(("secrets", secrets_stage))
    stages.append(
        (
            "catalog and opening stock (warehouse API)",
            lambda: seed_stock(api, plan_, values[client.warehouse_token_secret_name]),
        )
    )
    http = StorefrontHttp(api_url_override=options.storefront_api_url)
    for store in client.stores:
        stages.append(
            (
                f"webhooks: {store.platform.value} store {store.store}",
                lambda store=store: (
                    register_webhooks(  # type: ignore[misc]
                        http, options.url, client, store, values, created
                    )
                    if options.register_webhooks
                    else _not_registered(store)
                ),
            )
        )
    stages.append(
        (
            "signed test order to its first wait (AWAITING_PICK)",
            lambda: send_test_order(api, plan_, values, options, now, sleep, result),
        )
    )
    needed_by_all = 2  # the stack's answer and the secrets: nothing goes on without them
    for index, (name, run) in enumerate(stages):
        if name.startswith("signed test order") and any(
            not s.ok for s in result.steps if s.name.startswith("catalog")
        ):
            done(Step(name, ok=False, skipped=True, todo="the opening stock failed above"))
            continue
        try:
            step = run()
        except StepFailed as exc:
            step = Step(
                name, ok=False, lines=[scrub(str(exc), list(values.values()))], todo=exc.todo
            )
        done(step)
        if not step.ok and index < needed_by_all:
            break
    _summary(console, result, client)
    return result


def _summary(console: Console, result: OnboardResult, client: ClientConfig) -> None:
    failed = [s.name for s in result.steps if not s.ok]
    if result.status == EXIT_ONBOARDED:
        console.print(f"[green bold]{client.client_id} is onboarded.[/]", highlight=False)
    else:
        console.print(
            f"[red bold]not onboarded:[/] {escape(', '.join(failed))} failed; fix "
            "what is said above and run the same command again (what is done stays "
            "done)",
            highlight=False,
        )


def session_secrets_client(region: str | None) -> Callable[[], Any]:
    """Secrets Manager on boto3's default session (the stack's account and region), made when
    first needed: a refused file needs no AWS at all."""

    def make() -> Any:
        import boto3

        if region:
            return boto3.client("secretsmanager", region_name=region)
        return boto3.client("secretsmanager")

    return make


# --- a rehearsal on a throwaway embedded stack ---------------------------------------------


def rehearse(options: OnboardOptions, *, console: Console) -> int:
    """Every step of ``onboard`` against an embedded stack that knows only this client (no
    seed, an empty table), its fake storefronts admitting made-up credentials, Secrets
    Manager in this process (moto), and a development lead's token; then all of it is
    discarded. What it proves: the client and stock files, the secrets' names, the webhook
    topics, and the test order reaching its pick. What it cannot: the real stack's deploy,
    the real credentials and the real stores."""
    import shutil
    import tempfile
    from dataclasses import replace

    import boto3

    from shipshape_local.frontdoor import FrontDoorServer
    from shipshape_local.issuer import dev_token
    from shipshape_local.runtime import REGION, EmbeddedRuntime

    try:
        client = load_client_file(options.client_file)
    except (OSError, ConfigurationError, ValidationError, ValueError):
        # The refusal is onboard's to word; it stops at the files, before any call.
        return onboard(
            options, console=console, secrets_client=lambda: None, ask=lambda _: ""
        ).status
    answers = {
        store.api_token_secret_name: _made_up_credential(store)
        for store in client.stores
        if store.api_token_secret_name
    }
    with tempfile.TemporaryDirectory(prefix="shipshape-rehearsal-") as folder:
        shutil.copy(options.client_file, Path(folder) / f"{client.client_id}.toml")
        console.print(
            f"[bold]Rehearsal[/] of onboarding {escape(client.name)} on a throwaway embedded "
            "stack: made-up credentials, fake storefronts, nothing kept.", highlight=False
        )  # fmt: skip
        with EmbeddedRuntime(config_dir=Path(folder), seed=None) as runtime:
            storefronts = runtime.storefronts
            assert storefronts is not None  # the runtime serves the fakes unless told not to
            for store in client.stores:
                if store.api_token_secret_name:
                    storefronts.admit(
                        store.platform.value, store.store, answers[store.api_token_secret_name]
                    )
            door = FrontDoorServer(runtime).start()
            try:
                rehearsed = replace(
                    options, url=door.url, token=dev_token("olivia.lead"),
                    storefront_api_url=storefronts.url, storefront_token=None,
                    keep_test_order=False,
                )  # fmt: skip
                result = onboard(
                    rehearsed, console=console,
                    secrets_client=lambda: boto3.client("secretsmanager", region_name=REGION),
                    ask=lambda prompt: _rehearsal_answer(prompt, answers),
                )  # fmt: skip
            finally:
                door.stop()
    return result.status


def _made_up_credential(store: StoreConfig) -> str:
    if store.platform is Platform.WOOCOMMERCE:
        return f"ck_rehearsal{tokens.token_hex(8)}:cs_rehearsal{tokens.token_hex(8)}"
    return f"rehearsal-{tokens.token_urlsafe(18)}"


def _rehearsal_answer(prompt: str, answers: dict[str, str]) -> str:
    """What the operator would type: the credential the fake store admits, or (a Shopify
    app's client secret) any secret, since the rehearsal signs with what it stores."""
    for name, value in answers.items():
        if f"(kept as {name})" in prompt:
            return value
    return tokens.token_urlsafe(24)
