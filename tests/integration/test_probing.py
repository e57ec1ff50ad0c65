"""Operators cannot learn which clients and orders exist by asking for ones that are not theirs.

Order ids are a hash of public facts (client, platform, store, storefront order number), so
anyone can compute the id of another client's order. Over HTTP, on the real ops handlers: a
client or order the operator does not serve gets the very answer a made-up one gets (404,
the same error and words), and a refused request for a made-up client writes nothing. A
refusal for a real client is still recorded for that client's access review.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from shipshape.models import Platform, canonical_order_id
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import REGION, EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import PostalAddress, ShopifyStore
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, deliver, table_items

ACME_OPERATOR = dev_bearer("omar.operator")
ACME_VIEWER = dev_bearer("vic.viewer")
NORDLICHT_OPERATOR = dev_bearer("nils.operator")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
MONDAY_9AM_PORTLAND = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
REAL_CLIENT = "acme-outdoors"  # served by neither the Nordlicht operator nor the probe below
MADE_UP_CLIENT = "acme-outdoors-eu"
# The id Acme's next Shopify order would get: computed from public facts, it exists nowhere.
MADE_UP_ORDER = canonical_order_id(
    "acme-outdoors", Platform.SHOPIFY, "acme-outdoors.myshopify.com", "5699999"
)
PROPOSAL = {
    "summary": "longer address SLA",
    "base_version": 1,
    "changes": {"rules": {"exceptions": {"address_invalid": {"sla_hours": 3}}}},
}
AWAY = {"starts_at": "2026-11-24T09:00:00Z", "ends_at": "2026-11-24T18:00:00Z"}

# Every ops route that names a client: (method, path, body), with {client} to fill in.
CLIENT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/metrics?client={client}", None),
    ("GET", "/checklist?client={client}", None),
    ("GET", "/exceptions?client={client}", None),
    ("GET", "/rules/{client}", None),
    ("POST", "/rules/{client}/changes", PROPOSAL),
    ("POST", "/rules/{client}/changes/2/approve", None),
    ("POST", "/rules/{client}/changes/2/activate", None),
    ("POST", "/rules/{client}/changes/2/reject", {"note": "no"}),
    ("PUT", "/owners/maya.cs/away", {"client_id": "{client}", **AWAY}),
]
# Every ops route that names an order: (method, path, body), with {order} to fill in.
ORDER_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/orders/{order}", None),
    ("GET", "/orders/{order}/audit", None),
    ("GET", "/orders/{order}/documents/pick-list-1", None),
    ("POST", "/orders/{order}/overrides", {"field": "owner", "value": "ops", "reason": "mine"}),
    ("POST", "/orders/{order}/overrides/o1/approve", {"note": "ok"}),
    ("POST", "/orders/{order}/overrides/o1/reject", {"note": "no"}),
]


def _filled(text: str, **values: str) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def call(
    runtime: EmbeddedRuntime,
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    **values: str,
) -> HttpResponse:
    payload = _filled(json.dumps(body), **values) if body is not None else None
    return runtime.http(method, _filled(path, **values), headers=headers, body=payload)


def denials(runtime: EmbeddedRuntime, client_id: str) -> Counter[tuple[str, str, str]]:
    """The refusals recorded for a client's access review: (who, method, path), counted."""
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=runtime.names["OrdersTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"DENIED#{client_id}"}},
    )["Items"]
    docs = [json.loads(i["doc"]["S"]) for i in items]
    assert all(d["client_id"] == client_id for d in docs), docs
    return Counter((d["subject"], d["method"], d["path"]) for d in docs)


def denied_names(runtime: EmbeddedRuntime) -> set[str]:
    """Every partition of recorded refusals (a test may scan; the product never does)."""
    return {i["pk"]["S"] for i in table_items(runtime) if i["pk"]["S"].startswith("DENIED#")}


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[EmbeddedRuntime, str]]:
    """The embedded stack with one Acme order, stopped in an address exception (nothing runs
    in the background while a test counts writes)."""
    clock = ManualClock(MONDAY_9AM_PORTLAND)
    with EmbeddedRuntime(clock=clock) as runtime:
        acme = ShopifyStore(
            "acme-outdoors", "acme-outdoors.myshopify.com",
            runtime.secret("shipshape/acme-outdoors/shopify-webhook"),
        )  # fmt: skip
        payload = paid_shopify_order(acme, clock, 5_600_001, address=NO_ZIP)
        answer = deliver(runtime, acme.deliver("orders/paid", payload))
        assert answer.status == 202, answer.body
        order_id = str(answer.json()["order_id"])

        def stopped() -> bool:
            found = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
            return found["status"] == "EXCEPTION"

        assert runtime.wait_for(stopped), "the seeded order opened no exception"
        assert runtime.settle(timeout=10), "the workflow did not settle"
        yield runtime, order_id
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


@pytest.mark.parametrize(("method", "path", "body"), CLIENT_ROUTES)
def test_a_refusal_for_a_client_that_does_not_exist_writes_nothing(
    stack: tuple[EmbeddedRuntime, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    # Given Acme's operator and a client id nobody configured
    runtime, _ = stack
    before = runtime.writes.count

    # When they ask for it, once and again under another made-up name
    answers = [
        call(runtime, method, path, ACME_OPERATOR, body, client=name)
        for name in (MADE_UP_CLIENT, "x" * 60)
    ]

    # Then it is not found, and nothing at all was written (no record under a chosen name)
    assert [a.status for a in answers] == [404, 404], [a.body for a in answers]
    assert runtime.writes.count == before
    assert denied_names(runtime) <= {"DENIED#acme-outdoors", "DENIED#nordlicht"}


@pytest.mark.parametrize(("method", "path", "body"), CLIENT_ROUTES)
def test_another_clients_id_is_answered_as_a_made_up_one_and_recorded_for_its_review(
    stack: tuple[EmbeddedRuntime, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    # Given Nordlicht's operator, who does not serve Acme
    runtime, _ = stack
    recorded = denials(runtime, REAL_CLIENT)

    # When they ask for Acme, and for a client that does not exist
    real = call(runtime, method, path, NORDLICHT_OPERATOR, body, client=REAL_CLIENT)
    made_up = call(runtime, method, path, NORDLICHT_OPERATOR, body, client=MADE_UP_CLIENT)

    # Then both get the same answer: same status, same error, the same words about the id
    assert real.status == made_up.status == 404, (real.body, made_up.body)
    assert set(real.json()) == set(made_up.json()) == {"error", "message"}
    assert real.json() == {
        "error": "UnknownClient",
        "message": f"no client {REAL_CLIENT!r} among yours",
    }
    assert real.json()["message"].replace(REAL_CLIENT, "<id>") == made_up.json()["message"].replace(
        MADE_UP_CLIENT, "<id>"
    )
    # and only the attempt on the real client is recorded, for Acme's review
    new = denials(runtime, REAL_CLIENT) - recorded
    where = _filled(path, client=REAL_CLIENT).partition("?")[0]
    assert new == Counter({("nils.operator", method, where): 1})
    assert denials(runtime, MADE_UP_CLIENT) == Counter()


@pytest.mark.parametrize(("method", "path", "body"), ORDER_ROUTES)
def test_another_clients_order_is_answered_as_a_made_up_one_and_recorded_for_its_review(
    stack: tuple[EmbeddedRuntime, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    # Given Nordlicht's operator and the id of an Acme order they could compute from its
    # storefront number, and the id of an order that does not exist
    runtime, order_id = stack
    recorded = denials(runtime, REAL_CLIENT)
    before = runtime.writes.count

    # When they ask for both
    real = call(runtime, method, path, NORDLICHT_OPERATOR, body, order=order_id)
    made_up = call(runtime, method, path, NORDLICHT_OPERATOR, body, order=MADE_UP_ORDER)

    # Then both get the same answer, which does not tell that one of them exists
    assert real.status == made_up.status == 404, (real.body, made_up.body)
    assert real.json()["error"] == made_up.json()["error"] == "OrderNotFound"
    assert real.json()["message"] == f"no order {order_id} among your clients"
    assert made_up.json()["message"] == f"no order {MADE_UP_ORDER} among your clients"
    assert REAL_CLIENT.encode() not in real.body
    # and the one write is the denial recorded for Acme's review
    new = denials(runtime, REAL_CLIENT) - recorded
    assert new == Counter({("nils.operator", method, _filled(path, order=order_id)): 1})
    assert runtime.writes.count == before + 1


def test_a_role_refusal_on_a_served_client_stays_403_and_reveals_nothing_elsewhere(
    stack: tuple[EmbeddedRuntime, str],
) -> None:
    # Given Acme's viewer and operator, an Acme order, and the Nordlicht operator
    runtime, order_id = stack
    fix = {"field": "owner", "value": "ops", "reason": "picker called in sick"}

    # When the viewer tries to act on Acme's order and a made-up one, and the operator tries
    # a lead's part on Acme's rules
    viewer_acts = call(runtime, "POST", f"/orders/{order_id}/overrides", ACME_VIEWER, fix)
    viewer_probes = call(runtime, "POST", f"/orders/{MADE_UP_ORDER}/overrides", ACME_VIEWER, fix)
    operator_approves = call(
        runtime, "POST", f"/rules/{REAL_CLIENT}/changes/2/approve", ACME_OPERATOR
    )
    viewer_away = call(
        runtime, "PUT", "/owners/maya.cs/away", ACME_VIEWER, {"client_id": REAL_CLIENT, **AWAY}
    )

    # Then a role refusal on a served client is 403 naming the role; a made-up order is 404
    assert (viewer_acts.status, viewer_acts.json()["error"]) == (403, "Forbidden")
    assert "role viewer" in viewer_acts.json()["message"]
    assert (viewer_probes.status, viewer_probes.json()["error"]) == (404, "OrderNotFound")
    assert (operator_approves.status, operator_approves.json()["error"]) == (403, "Forbidden")
    assert "needs the lead role" in operator_approves.json()["message"]
    assert (viewer_away.status, viewer_away.json()["error"]) == (403, "Forbidden")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/exceptions/{exception}/claim", None),
        ("POST", "/exceptions/{exception}/resolve", {"action": "retry", "note": "fixed"}),
    ],
)
def test_another_clients_exception_is_answered_as_a_made_up_one_and_recorded_for_its_review(
    stack: tuple[EmbeddedRuntime, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    # Given Nordlicht's operator, the id of Acme's open exception, and an id of the same shape
    # that names no exception
    runtime, order_id = stack
    exception_id = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()[
        "open_exception_id"
    ]
    made_up_id = exception_id[:-4] + ("zzzz" if not exception_id.endswith("zzzz") else "yyyy")
    recorded = denials(runtime, REAL_CLIENT)
    before = runtime.writes.count

    # When they act on both
    real = call(runtime, method, path, NORDLICHT_OPERATOR, body, exception=exception_id)
    made_up = call(runtime, method, path, NORDLICHT_OPERATOR, body, exception=made_up_id)

    # Then both get the same answer, which names no client
    assert real.status == made_up.status == 404, (real.body, made_up.body)
    assert real.json() == {
        "error": "ExceptionNotFound",
        "message": f"no exception {exception_id} among your clients",
    }
    assert made_up.json() == {
        "error": "ExceptionNotFound",
        "message": f"no exception {made_up_id} among your clients",
    }
    # and the one write is the denial recorded for Acme's review; the exception is untouched
    new = denials(runtime, REAL_CLIENT) - recorded
    where = _filled(path, exception=exception_id)
    assert new == Counter({("nils.operator", method, where): 1})
    assert runtime.writes.count == before + 1
    still = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    assert still["status"] == "EXCEPTION" and still["open_exception_id"] == exception_id


def test_a_lead_only_action_on_another_clients_exception_is_answered_as_a_made_up_one(
    stack: tuple[EmbeddedRuntime, str],
) -> None:
    # Given Nordlicht's operator (no lead), the id of Acme's open exception, and an id of the
    # same shape that names no exception
    runtime, order_id = stack
    exception_id = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()[
        "open_exception_id"
    ]
    made_up_id = exception_id[:-4] + ("zzzz" if not exception_id.endswith("zzzz") else "yyyy")
    waive = {"action": "waive", "note": "the client accepts it"}
    recorded = denials(runtime, REAL_CLIENT)

    # When they ask to waive both (a lead's part)
    path = "/exceptions/{exception}/resolve"
    real = call(runtime, "POST", path, NORDLICHT_OPERATOR, waive, exception=exception_id)
    made_up = call(runtime, "POST", path, NORDLICHT_OPERATOR, waive, exception=made_up_id)

    # Then scope comes before role: both are not found, and the attempt on Acme's exception
    # is recorded for Acme's review
    assert (real.status, made_up.status) == (404, 404), (real.body, made_up.body)
    assert real.json()["error"] == made_up.json()["error"] == "ExceptionNotFound"
    new = denials(runtime, REAL_CLIENT) - recorded
    assert new == Counter({("nils.operator", "POST", _filled(path, exception=exception_id)): 1})
