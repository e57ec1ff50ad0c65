"""Hostile input at the HTTP edge, on the embedded stack: bodies Python's JSON parser cannot
read (integers past its digit limit, nesting past its recursion limit), values too long for a
DynamoDB key, and rule changes too large for one DynamoDB item.

Each is answered with a 4xx that names the field and the limit, never a 5xx, and a refused
request changes no table (every item of every table is compared before and after). A
warehouse sender is authenticated before its body is read, and an unknown client id is
answered exactly as a wrong token is.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shipshape.models import ExceptionType, OrderException, QaGate
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import ACCOUNT, REGION, EmbeddedRuntime, HttpResponse, ManualClock
from tests.helpers import sign_generic, sign_shopify, sign_woocommerce
from tests.integration.stack import open_address_exception

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

DOCUMENT = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
LEAD = dev_bearer("olivia.lead")
LEAD_2 = dev_bearer("hana.lead")
VIEWER = dev_bearer("vic.viewer")
ACME_OPERATOR = dev_bearer("omar.operator")
JSON = {"Content-Type": "application/json"}
# Past Python's 4,300-digit limit for int(), and past its recursion limit (1,000): 20,000
# levels are 40 KB, within every route's body limit; 100,000 are within the warehouse's.
HUGE_INTEGER = b'{"type": "pick_scans", "event_id": ' + b"9" * 5000 + b"}"
DEEP_NESTING = b"[" * 20_000 + b"]" * 20_000
HOSTILE_JSON = {"huge-integer": HUGE_INTEGER, "deep-nesting": DEEP_NESTING}
UNAUTHENTICATED_JSON = {**HOSTILE_JSON, "deep-nesting": b"[" * 100_000 + b"]" * 100_000}
# How each refusal names its problem, for the edge's own parser and for the storefront
# adapters' (pydantic's), which read webhook bodies after checking their signature.
NAMES_THE_PROBLEM = {
    "huge-integer": re.compile(r"has \d+ digits; the limit is \d+|number out of range"),
    "deep-nesting": re.compile(r"nested more than \d+ levels deep|recursion limit exceeded"),
}
WEBHOOK_SENDERS = {
    "shopify": ("acme-outdoors", "shipshape/acme-outdoors/shopify-webhook"),
    "woocommerce": ("nordlicht", "shipshape/nordlicht/woocommerce-webhook"),
    "generic": ("kite-and-kin", "shipshape/kite-and-kin/generic-webhook"),
}


def _binary(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class Stack:
    runtime: EmbeddedRuntime
    exception: OrderException

    def tables(self) -> dict[str, frozenset[str]]:
        """Every item of every table, read straight from the emulator (a test may look)."""
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[ACCOUNT][REGION]
        return {
            name: frozenset(
                json.dumps(item.to_json()["Attributes"], sort_keys=True, default=_binary)
                for item in table.all_items()
            )
            for name, table in list(backend.tables.items())
        }

    def refused(self, call: Callable[[], HttpResponse]) -> HttpResponse:
        """Send a request that must be refused: a 4xx with the error body, and no table
        changed by it."""
        assert self.runtime.settle(timeout=10)
        before, crashes = self.tables(), len(self.runtime.integration_errors)
        answer = call()
        assert self.runtime.integration_errors[crashes:] == [], self.runtime.integration_errors[-1]
        assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
        assert set(answer.json()) == {"error", "message"}, answer.body[:300]
        assert self.runtime.settle(timeout=10)
        assert self.tables() == before, f"a refused request ({answer.status}) changed a table"
        return answer

    def warehouse_token(self, client_id: str) -> dict[str, str]:
        token = self.runtime.secret(f"shipshape/{client_id}/warehouse-token")
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    clock = ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))
    with EmbeddedRuntime(clock=clock) as runtime:
        yield Stack(runtime, open_address_exception(clock))
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


# --- the routes of the document, with credentials that get each one into its handler ------


def _operations(*tags: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in DOCUMENT["paths"].items()
        for method, operation in methods.items()
        if set(operation.get("tags", ())) & set(tags)
    ]


JSON_ROUTES = [
    (method, path)
    for method, path, operation in _operations("ops", "warehouse", "webhooks")
    if "application/json" in operation.get("requestBody", {}).get("content", {})
]
PARAMETERS = [
    (method, path, parameter["in"], parameter["name"])
    for method, path, operation in _operations("ops", "warehouse", "webhooks")
    for parameter in operation.get("parameters", ())
    if parameter["in"] in ("path", "query")
]


def _known_values(stack: Stack) -> dict[str, str]:
    return {
        "client_id": "acme-outdoors", "client": "acme-outdoors", "platform": "shopify",
        "order_id": stack.exception.order_id, "exception_id": stack.exception.exception_id,
        "version": "1", "override_id": "o1", "person": "maya.cs", "name": "pick_list-1",
        "owner": "ops", "days": "7", "status": "proposed", "type": "address_invalid",
        "overdue": "true",
    }  # fmt: skip


def _send(
    stack: Stack,
    method: str,
    template: str,
    body: bytes | None,
    path_values: dict[str, str] | None = None,
    query: str = "",
) -> HttpResponse:
    """Send ``body`` to a route of the document with the credentials its family needs: a
    lead's token, the client's warehouse token, or the client's webhook signature."""
    values = {**_known_values(stack), **(path_values or {})}
    path = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], template) + query
    headers = dict(JSON)
    if template.startswith("/warehouse/"):
        headers |= stack.warehouse_token("acme-outdoors")
    elif template.startswith("/webhooks/"):
        # Each platform's own client, unless the test sends a client id of its own
        platform = values["platform"] if values["platform"] in WEBHOOK_SENDERS else "shopify"
        client_id, secret_name = WEBHOOK_SENDERS[platform]
        client_id = (path_values or {}).get("client_id", client_id)
        path = f"/webhooks/{values['platform']}/{client_id}"
        headers |= _signed(stack, platform, body or b"", secret_name)
    else:
        headers |= LEAD
    return stack.runtime.http(method, path, headers=headers, body=body)


def _signed(stack: Stack, platform: str, body: bytes, secret_name: str) -> dict[str, str]:
    secret = stack.runtime.secret(secret_name).encode()
    if platform == "shopify":
        return {"X-Shopify-Hmac-Sha256": sign_shopify(body, secret),
                "X-Shopify-Topic": "orders/paid",
                "X-Shopify-Shop-Domain": "acme-outdoors.myshopify.com"}  # fmt: skip
    if platform == "woocommerce":
        return {"X-WC-Webhook-Signature": sign_woocommerce(body, secret),
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Source": "https://nordlicht-shop.de/"}  # fmt: skip
    signed_at = int(stack.runtime.clock.now().timestamp())
    return {"Shipshape-Signature": sign_generic(body, secret, signed_at),
            "Shipshape-Source": "kite-and-kin"}  # fmt: skip


# --- 3: the warehouse authenticates before it reads; unreadable JSON is the sender's mistake


@pytest.mark.parametrize("token", [None, "Bearer not-the-token", "Basic abc"])
@pytest.mark.parametrize("body", sorted(UNAUTHENTICATED_JSON))
def test_a_warehouse_event_without_a_valid_token_is_refused_before_its_body_is_read(
    stack: Stack, body: str, token: str | None
) -> None:
    # Given a body Python's JSON parser cannot read, with no token or a wrong one
    headers = JSON | ({"Authorization": token} if token else {})
    # When it is posted to a real client's warehouse route
    answer = stack.refused(
        lambda: stack.runtime.http(
            "POST",
            "/warehouse/acme-outdoors/events",
            headers=headers,
            body=UNAUTHENTICATED_JSON[body],
        )
    )
    # Then it is refused as unauthenticated (its body was never parsed), writing nothing
    assert (answer.status, answer.json()["error"]) == (401, "Unauthorized")


@pytest.mark.parametrize("body", sorted(HOSTILE_JSON))
@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=[f"{m} {p}" for m, p in JSON_ROUTES])
def test_unreadable_json_is_a_4xx_naming_the_problem_on_every_route(
    stack: Stack, method: str, path: str, body: str
) -> None:
    # Given a body Python's JSON parser cannot read, sent with the credentials the route
    # needs (so it gets past authentication to the parsing)
    # When it reaches the route
    answer = stack.refused(lambda: _send(stack, method, path, HOSTILE_JSON[body]))
    # Then it is refused as the caller's mistake, naming what is wrong, writing nothing
    assert answer.status == 422, answer.body[:300]
    assert NAMES_THE_PROBLEM[body].search(answer.json()["message"]), answer.json()


@pytest.mark.parametrize("family", ["ops", "warehouse", "webhooks"])
def test_a_json_body_over_the_routes_limit_is_refused_with_413(stack: Stack, family: str) -> None:
    # Given a JSON body (one long string) a byte over the limit of a route of each family
    method, path = next((m, p) for m, p in JSON_ROUTES if family in _tags(m, p))
    limit = {"ops": 64 * 1024, "warehouse": 256 * 1024, "webhooks": 256 * 1024}[family]
    body = json.dumps({"note": "x" * (limit + 1 - 12)}).encode()
    assert len(body) == limit + 1
    # When it is posted with valid credentials
    answer = stack.refused(lambda: _send(stack, method, path, body))
    # Then it is refused with 413, naming both sizes, and nothing is written
    assert answer.status == 413
    assert answer.json() == {
        "error": "PayloadTooLarge",
        "message": f"body is {limit + 1} bytes; the limit is {limit}",
    }


def _tags(method: str, path: str) -> list[str]:
    return list(DOCUMENT["paths"][path][method.lower()].get("tags", ()))


@pytest.mark.parametrize("token", ["none", "made-up", "acme's own"])
@pytest.mark.parametrize(
    "unknown", ["no-such-client", "acme-outdoors-2", "x" * 3000], ids=["made-up", "near", "long"]
)
def test_the_warehouse_answers_an_unknown_client_exactly_as_a_wrong_token(
    stack: Stack, unknown: str, token: str
) -> None:
    # Given a valid warehouse event, with no token, a made-up one, or a real client's token
    event = json.dumps({"type": "pack_data", "event_id": "probe-1",
                        "order_id": stack.exception.order_id, "packer": "pat",
                        "pack": {"weight_grams": 900, "length_mm": 300, "width_mm": 200,
                                 "height_mm": 100}})  # fmt: skip
    presented = {"none": {}, "made-up": {"Authorization": "Bearer not-the-token"},
                 "acme's own": stack.warehouse_token("acme-outdoors")}[token]  # fmt: skip
    headers = JSON | presented
    wrong = JSON | ({"Authorization": "Bearer not-the-token"} if presented else {})

    # When it is posted for a client id nobody configured, and for a real client with a
    # wrong token (or none)
    def post(client_id: str, sent: dict[str, str]) -> HttpResponse:
        return stack.runtime.http(
            "POST", f"/warehouse/{client_id}/events", headers=sent, body=event
        )

    for_unknown = stack.refused(lambda: post(unknown, headers))
    for_real = stack.refused(lambda: post("acme-outdoors", wrong))

    # Then both answers are the same, status and body: nothing tells a real client id from a
    # made-up one, and neither request wrote anything
    assert (for_unknown.status, for_unknown.json()) == (for_real.status, for_real.json())
    assert for_unknown.status == 401


# --- 4: hostile values that reach an authenticated handler --------------------------------


@pytest.mark.parametrize("operator", [VIEWER, LEAD], ids=["viewer", "lead"])
@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "partial", "note": "ship it", "ship_lines": [{"line_id": "1", '
        b'"quantity": ' + b"9" * 5000 + b"}]}",
        b'{"action": "retry", "note": "fixed", "address": ' + DEEP_NESTING + b"}",
    ],
    ids=["huge-integer", "deep-nesting"],
)  # fmt: skip
def test_resolving_with_huge_integers_or_deep_nesting_is_refused_not_a_server_error(
    stack: Stack, operator: dict[str, str], body: bytes
) -> None:
    # Given a resolution Python's JSON parser cannot read, sent by a viewer or a lead
    path = f"/exceptions/{stack.exception.exception_id}/resolve"
    # When it is posted
    answer = stack.refused(lambda: stack.runtime.http("POST", path, headers=JSON | operator,
                                                      body=body))  # fmt: skip
    # Then it is refused as unreadable, naming the limit, and nothing is written
    assert (answer.status, answer.json()["error"]) == (422, "RequestInvalid")
    assert re.search(r"the limit is \d+", answer.json()["message"]), answer.json()


def test_a_partial_resolution_with_too_many_lines_is_refused_naming_the_count_limit(
    stack: Stack,
) -> None:
    # Given a partial resolution listing more lines than any order has
    lines = [{"line_id": str(n), "quantity": 1} for n in range(1001)]
    body = json.dumps({"action": "partial", "note": "ship these", "ship_lines": lines})
    path = f"/exceptions/{stack.exception.exception_id}/resolve"
    # When a lead posts it
    answer = stack.refused(lambda: stack.runtime.http("POST", path, headers=JSON | LEAD,
                                                      body=body))  # fmt: skip
    # Then it is refused naming the field and its limit
    assert answer.status == 422
    assert "body.ship_lines: List should have at most 1000 items" in answer.json()["message"]


def _nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {"owner": "ops"}
    for _ in range(depth):
        document = {"a": document}
    return document


def test_a_rule_change_nested_1000_deep_is_refused_naming_the_depth_limit(stack: Stack) -> None:
    # Given a rule change whose patch is nested 1,000 objects deep
    proposal = {"summary": "deep", "base_version": 1, "changes": {"rules": _nested(1000)}}
    # When a lead proposes it
    answer = stack.refused(
        lambda: stack.runtime.http("POST", "/rules/acme-outdoors/changes",
                                   headers=JSON | LEAD, body=json.dumps(proposal))
    )  # fmt: skip
    # Then the edge refuses the body before any handler walks it, naming the limit
    assert (answer.status, answer.json()["error"]) == (422, "RequestInvalid")
    assert answer.json()["message"] == "body: nested more than 32 levels deep; the limit is 32"


def test_a_rule_change_nested_deeper_than_any_rule_is_refused_naming_changes(
    stack: Stack,
) -> None:
    # Given a patch within the edge's depth limit but deeper than any governed section goes
    proposal = {"summary": "deep", "base_version": 1, "changes": {"rules": _nested(20)}}
    # When a lead proposes it
    answer = stack.refused(
        lambda: stack.runtime.http("POST", "/rules/acme-outdoors/changes",
                                   headers=JSON | LEAD, body=json.dumps(proposal))
    )  # fmt: skip
    # Then it is refused naming the field and its depth limit
    assert answer.status == 422
    assert answer.json()["message"].startswith("body.changes: ")
    assert "nested more than 8 levels deep; the limit is 8" in answer.json()["message"]


@pytest.mark.parametrize(
    "changes",
    [
        {"rules": {"exceptions": {"address_invalid": {"remediation": ["x" * 300_000]}}}},
        {"rules": {"people": ["carla.cs-lead", "olivia.lead"]
                   + [f"person-{n:05d}" for n in range(20_000)]}},
    ],
    ids=["300-KB-remediation", "20k-people"],
)  # fmt: skip
def test_a_rule_change_too_large_for_one_request_is_refused_with_413(
    stack: Stack, changes: dict[str, Any]
) -> None:
    # Given a rule change too large to store as one DynamoDB item
    body = json.dumps({"summary": "large", "base_version": 1, "changes": changes})
    # When a lead proposes it
    answer = stack.refused(
        lambda: stack.runtime.http("POST", "/rules/acme-outdoors/changes",
                                   headers=JSON | LEAD, body=body)
    )  # fmt: skip
    # Then it is refused with 413, naming the size and the limit
    assert (answer.status, answer.json()["error"]) == (413, "PayloadTooLarge")
    assert answer.json()["message"] == f"body is {len(body)} bytes; the limit is 65536"


def test_a_rule_change_whose_stored_version_would_outgrow_a_dynamodb_item_is_refused(
    stack: Stack,
) -> None:
    # Given Kite & Kin's rules grown, one activated change at a time (each request under the
    # body limit), by 15 remediation steps of 2,000 characters (the limit of a step) for two
    # rules at a time: the six exception types, then two QA gates
    runtime, client = stack.runtime, "kite-and-kin"
    rules = [("rules", "exceptions", kind.value) for kind in ExceptionType] + [
        ("fulfilment", "gates", gate.value) for gate in QaGate
    ]

    def propose(first: int, version: int) -> HttpResponse:
        changes: dict[str, Any] = {}
        for section, kind, name in rules[first : first + 2]:
            steps = [f"{name}-{n:02d}-".ljust(2000, name[0]) for n in range(15)]
            changes.setdefault(section, {}).setdefault(kind, {})[name] = {"remediation": steps}
        proposal = {"summary": f"long steps {first}", "base_version": version,
                    "changes": changes}  # fmt: skip
        return runtime.http("POST", f"/rules/{client}/changes", headers=JSON | LEAD,
                            body=json.dumps(proposal))  # fmt: skip

    active = runtime.http("GET", f"/rules/{client}", headers=LEAD).json()["active_version"]
    for first in range(0, 8, 2):
        proposed = propose(first, active)
        assert proposed.status == 201, proposed.body[:300]
        version = proposed.json()["version"]
        for step, who in (("approve", LEAD_2), ("activate", LEAD)):
            done = runtime.http("POST", f"/rules/{client}/changes/{version}/{step}", headers=who)
            assert done.status == 200, done.body[:300]
        active = version

    # When a fifth such change is proposed: its version record (the patch, the whole rules
    # and the release notes) would be over DynamoDB's 400 KB item limit
    answer = stack.refused(lambda: propose(8, active))

    # Then it is refused with 413, naming the size and the limit, and nothing is written
    assert (answer.status, answer.json()["error"]) == (413, "RulesTooLarge")
    assert re.fullmatch(
        r"changes: the rules version would be \d+ bytes stored; the limit is 393216",
        answer.json()["message"],
    ), answer.json()


@pytest.mark.parametrize("operator", [ACME_OPERATOR, LEAD], ids=["acme-operator", "lead"])
def test_an_over_long_client_in_the_exceptions_query_is_refused_naming_the_limit(
    stack: Stack, operator: dict[str, str]
) -> None:
    # Given a client id of 2,100 characters (over DynamoDB's 2,048-byte partition key)
    # When an operator lists the exceptions of that client
    answer = stack.refused(
        lambda: stack.runtime.http("GET", "/exceptions?client=" + "a" * 2100, headers=operator)
    )
    # Then it is refused naming the parameter and its limit (no key is built from it, so no
    # refusal record either)
    assert answer.status == 422
    assert answer.json()["message"] == "query.client: String should have at most 64 characters"


@pytest.mark.parametrize("operator", [ACME_OPERATOR, LEAD], ids=["acme-operator", "lead"])
def test_marking_away_with_an_over_long_client_id_is_refused_naming_the_field(
    stack: Stack, operator: dict[str, str]
) -> None:
    # Given an away period for a client id of 3,000 characters
    body = json.dumps({"client_id": "a" * 3000, "starts_at": "2026-11-24T09:00:00Z",
                       "ends_at": "2026-11-24T17:00:00Z"})  # fmt: skip
    # When an operator marks someone away with it
    answer = stack.refused(
        lambda: stack.runtime.http("PUT", "/owners/x/away", headers=JSON | operator, body=body)
    )
    # Then it is refused naming the field and its limit
    assert answer.status == 422
    assert answer.json()["message"] == "body.client_id: String should have at most 64 characters"


@pytest.mark.parametrize(
    ("method", "path", "where", "name"),
    PARAMETERS,
    ids=[f"{m} {p} {w}.{n}" for m, p, w, n in PARAMETERS],
)
def test_every_path_and_query_parameter_refuses_an_over_long_value(
    stack: Stack, method: str, path: str, where: str, name: str
) -> None:
    # Given a request to a route of the document with one path or query parameter of 3,000
    # characters (or a 5,000-digit number), every other value valid
    spec = next(
        p for p in DOCUMENT["paths"][path][method.lower()]["parameters"] if p["name"] == name
    )
    schema = json.dumps(spec["schema"])
    numeric = '"integer"' in schema
    free_text = '"string"' in schema and "$ref" not in schema
    value = "9" * 5000 if numeric else "a" * 3000
    body = b"{}" if (method, path) in JSON_ROUTES else None
    if where == "path":
        send = lambda: _send(stack, method, path, body, path_values={name: value})  # noqa: E731
    else:
        send = lambda: _send(stack, method, path, body, query=f"?{name}={value}")  # noqa: E731
    # When it is sent with the credentials the route needs
    answer = stack.refused(send)
    # Then it is refused naming the parameter and its limit; a warehouse client id nobody
    # configured is answered as a wrong token is (see above)
    if path.startswith("/warehouse/"):
        assert (answer.status, answer.json()["error"]) == (401, "Unauthorized")
        return
    assert answer.status == 422, answer.body[:300]
    if numeric:
        problem = "Unable to parse input string as an integer, exceeded maximum size"
    elif free_text:
        problem = "String should have at most 64 characters"
    else:  # an enum or a boolean: only its own values are accepted
        problem = ""
    assert f"{where}.{name}: {problem}" in answer.json()["message"], answer.json()


def test_a_body_of_thousands_of_invalid_values_gets_a_short_answer_naming_the_first(
    stack: Stack,
) -> None:
    # Given a partial resolution whose every one of 900 lines is invalid
    lines = [{"line_id": "", "quantity": 0}] * 900
    body = json.dumps({"action": "partial", "note": "ship these", "ship_lines": lines})
    path = f"/exceptions/{stack.exception.exception_id}/resolve"
    # When a lead posts it
    answer = stack.refused(lambda: stack.runtime.http("POST", path, headers=JSON | LEAD,
                                                      body=body))  # fmt: skip
    # Then it is refused in a short answer naming the first problems and how many more
    assert answer.status == 422
    message = answer.json()["message"]
    assert message.startswith("body.ship_lines.0.line_id: ")
    assert message.endswith(" (and 1790 more)"), message[-80:]
    assert len(answer.body) < 2_000
