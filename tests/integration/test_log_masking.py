"""No customer PII and no secret in any log line: real traffic through the embedded stack (a
Shopify order that ships, a generic order, an address exception that is opened, notified,
claimed and resolved with the customer's corrected address, warehouse events, ops reads, a
forged webhook), then every line every function wrote and every record other libraries logged
is searched for the customer's name, e-mail, phone and street and for the development secrets.

It runs twice: as deployed, and with POWERTOOLS_LOGGER_LOG_EVENT switched on (what an engineer
turns on to debug), which logs every request with its body and headers."""

from __future__ import annotations

import json
import logging
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import shipshape_local
from shipshape.masking import MASK
from shipshape_local.issuer import dev_bearer, dev_operator_secrets
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import GenericStore, Person, PostalAddress, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import KITE, TENT, paid_shopify_order
from tests.integration.stack import LEAD, deliver

CUSTOMER = Person(
    "Zephyrine", "Quillfeather", "zephyrine.quillfeather@mailbox.example", "+1 503 555 0199"
)
HOME = PostalAddress("4242 Obsidian Lantern Way", "Portland", "OR", "97204", "US")
NO_ZIP = replace(HOME, postal_code="")
LONDON_HOME = PostalAddress("17 Marigold Vane Mews", "London", "", "E1 6AN", "GB")
CORRECTED = {
    "name": f"{CUSTOMER.first_name} {CUSTOMER.last_name}",
    "line1": HOME.line1,
    "city": HOME.city,
    "region": HOME.region,
    "postal_code": HOME.postal_code,
    "country_code": HOME.country_code,
    "phone": CUSTOMER.phone,
}
ACME_OPERATOR = dev_bearer("omar.operator")
# Case-insensitive, street lines by their distinctive part (USPS standardization upper-cases
# them and abbreviates the suffix), the phone also as bare digits.
PII = (
    CUSTOMER.first_name, CUSTOMER.last_name, CUSTOMER.email, CUSTOMER.phone, "5035550199",
    "Obsidian Lantern", "Marigold Vane",
)  # fmt: skip


def _dev_secrets() -> list[str]:
    """Every secret value, operator password and operator token the embedded runtime knows."""
    document = tomllib.loads(
        (Path(shipshape_local.__file__).parent / "dev-secrets.toml").read_text()
    )
    return [*document["secrets"].values(), *dev_operator_secrets()]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    lowered = text.lower()
    return [value for value in (*PII, *secrets) if value.lower() in lowered]


@pytest.fixture(autouse=True, params=[False, True], ids=["as-deployed", "event-logging"])
def log_events(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """With event logging on, the handlers are loaded afresh (Powertools reads the switch when
    it decorates them) and the ones loaded before are put back afterwards."""
    if not request.param:
        yield False
        return
    loaded = {
        name: module for name, module in sys.modules.items() if name.startswith("shipshape_fn_")
    }
    for name in loaded:
        del sys.modules[name]
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    try:
        yield True
    finally:
        for name in [name for name in sys.modules if name.startswith("shipshape_fn_")]:
            del sys.modules[name]
        sys.modules.update(loaded)


def _drive_traffic(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    kite: GenericStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> list[str]:
    """Orders that ship, an address exception worked by an operator; the order ids."""
    paid = paid_shopify_order(acme, clock, lines=[TENT], person=CUSTOMER, address=HOME)
    shipped = deliver(runtime, acme.deliver("orders/paid", paid))
    generic = deliver(
        runtime,
        kite.deliver(
            "order.upsert",
            kite.order(
                "KK-77", version=1, lines=[KITE], person=CUSTOMER, address=LONDON_HOME,
                updated_at=clock.now(), payment_status="paid",
            ),
            signed_at=clock.now(),
        ),
    )  # fmt: skip
    invalid = deliver(
        runtime,
        acme.deliver(
            "orders/paid",
            paid_shopify_order(acme, clock, 5_600_077, person=CUSTOMER, address=NO_ZIP),
        ),
    )
    forged = acme.deliver("orders/paid", paid_shopify_order(acme, clock, 5_600_078))
    refused = runtime.http(
        "POST", forged.path, headers={**forged.headers, "X-Shopify-Hmac-Sha256": "AAAA"},
        body=forged.body,
    )  # fmt: skip
    assert [a.status for a in (shipped, generic, invalid, refused)] == [202, 202, 202, 401]
    order_ids = [str(a.json()["order_id"]) for a in (shipped, generic, invalid)]

    # The invalid address opens an exception (and notifies its owner); the operator claims it
    # and resolves it with the address the customer gave on the phone.
    invalid_id = order_ids[2]
    assert runtime.wait_for(
        lambda: any(n["message"]["order_id"] == invalid_id for n in runtime.notifications())
    )
    [exception] = runtime.http("GET", "/exceptions?type=address_invalid", headers=LEAD).json()[
        "exceptions"
    ]
    path = f"/exceptions/{exception['exception_id']}"
    assert runtime.http("POST", f"{path}/claim", headers=ACME_OPERATOR).status == 200
    resolution = {"action": "retry", "note": "customer confirmed the ZIP", "address": CORRECTED}
    resolved = runtime.http(
        "POST", f"{path}/resolve", headers=ACME_OPERATOR, body=json.dumps(resolution)
    )
    assert resolved.status == 202, resolved.body

    # The warehouse picks and packs all three; operators read what they would.
    assert set(warehouse.run(order_ids).values()) == {"SHIPPED"}
    for order_id in order_ids:
        view = runtime.http("GET", f"/orders/{order_id}", headers=LEAD)
        assert view.status == 200
        assert runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).status == 200
        for name in view.json().get("documents", []):
            document = runtime.http("GET", f"/orders/{order_id}/documents/{name}", headers=LEAD)
            assert document.status == 200
    for read in ("/exceptions", "/metrics?client=acme-outdoors", "/checklist?client=acme-outdoors"):
        assert runtime.http("GET", read, headers=LEAD).status == 200
    return order_ids


def test_no_customer_pii_or_secret_in_any_log_line(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    kite: GenericStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
    caplog: pytest.LogCaptureFixture,
    log_events: bool,
) -> None:
    # Given Python logging captured at INFO from every library, and the development secrets
    caplog.set_level(logging.INFO)
    secrets = _dev_secrets()

    # When real traffic with a distinctive customer runs through the stack
    order_ids = _drive_traffic(runtime, acme, kite, clock, warehouse)
    runtime.settle()

    # Then no line any function wrote carries the customer's data or a secret
    lines = runtime.lambdas.captured()
    leaking = [(line, _leaks(line, secrets)) for line in lines if _leaks(line, secrets)]
    assert leaking == [], "\n".join(f"{found}: {line}" for line, found in leaking[:5])
    # nor any record a library logged (the shipshape logger's own records reach no other
    # handler in Lambda: Powertools filters them from the root logger's; its lines are above)
    records = [
        record
        for record in (*caplog.get_records("setup"), *caplog.records)
        if record.name.split(".")[0] != "shipshape"
    ]
    texts = [
        f"{r.name} {r.getMessage()} {logging.Formatter().formatException(r.exc_info)}"
        if r.exc_info
        else f"{r.name} {r.getMessage()}"
        for r in records
    ]
    assert [(t, _leaks(t, secrets)) for t in texts if _leaks(t, secrets)] == []

    # and masking left the lines useful: they still name the orders and clients
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    structured = [entry for entry in logs if "level" in entry]
    ingested = {
        (entry["order_id"], entry["client_id"])
        for entry in structured
        if entry["message"] == "order version ingested"
    }
    shipped_id, generic_id, invalid_id = order_ids
    assert ingested == {
        (shipped_id, "acme-outdoors"), (generic_id, "kite-and-kin"), (invalid_id, "acme-outdoors"),
    }  # fmt: skip
    opened = [entry for entry in structured if entry["message"] == "exception opened"]
    assert [(e["order_id"], e["client_id"], e["exception_type"]) for e in opened] == [
        (invalid_id, "acme-outdoors", "address_invalid")
    ]
    if log_events:
        # the requests themselves were logged: route and path kept, body and signature masked
        events = [entry["message"] for entry in structured if isinstance(entry["message"], dict)]
        webhooks = [event for event in events if event["rawPath"].startswith("/webhooks/")]
        assert len(webhooks) == 4
        assert {event["body"] for event in webhooks} == {MASK}
        signatures = [
            value
            for event in webhooks
            for header, value in event["headers"].items()
            if "signature" in header or "hmac" in header
        ]
        assert signatures == [MASK] * 4
