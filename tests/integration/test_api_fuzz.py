"""The HTTP API under generated and hostile requests, from its OpenAPI document.

schemathesis generates requests for every route of docs/openapi.json (valid ones, and ones
that break the document on purpose) and sends them over HTTP, through the embedded stack's
front door, to the real handlers. Known ids and valid credentials are mixed in (operator and
warehouse tokens, webhook bodies signed with the client's secret), so requests get past the
authorizer and the signature check into the handlers' validation and the adapters.

For every request: no 5xx; the answer is what the document says (status, media type, body);
a refusal (4xx) changes no table and has the error body; no answer carries a secret. Bodies
over the size limits are refused with 413, over HTTP, and write nothing. Every route also gets
hostile values: path and query values of thousands of characters or digits, and bodies
nested thousands deep, with integers of thousands of digits, or strings past the body limit.
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import dev_bearer, dev_operator_secrets, dev_token
from shipshape_local.runtime import ACCOUNT, API_BODY_LIMIT, REGION, EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import Line, Person, PostalAddress, ShopifyStore
from tests.helpers import sign_generic, sign_shopify, sign_woocommerce

pytestmark = [
    # Powertools' notes, not problems: a refused request publishes no business metric, and
    # multipart bodies arrive here without base64 (API Gateway would base64 them).
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.filterwarnings("ignore:Received multipart/form-data without base64"),
]
ROOT = Path(__file__).parents[2]
SCHEMA = schemathesis.openapi.from_path(ROOT / "docs" / "openapi.json")
# The coverage phase also tries each route with methods it does not serve. The front door
# serves the methods API Gateway routes here (other methods never reach a handler), so only
# those are tried.
SCHEMA.config.phases.coverage.unexpected_methods = {"get", "put", "post", "delete", "patch"}
# Monday 2026-11-23, 09:00 in Portland: inside Acme's working hours.
START = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 25))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure reproduces, CI stays steady
    suppress_health_check=list(HealthCheck),
    database=None,
)
# What schemathesis checks on each answer, against the document.
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]

JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")  # opens an exception
MUG = Line("MUG-ENAMEL-12", "Enamel camp mug 12 oz", 2, "14.50")


@dataclass(frozen=True)
class Sender:
    """A client's webhook sender: its route, its headers and how it signs."""

    platform: str
    client_id: str
    store: str
    secret_name: str
    sign: Callable[[bytes, bytes, int], str]
    signature_header: str
    source_header: str
    topic_header: str | None
    topics: tuple[str, ...]


SENDERS = (
    Sender("shopify", "acme-outdoors", "acme-outdoors.myshopify.com",
           "shipshape/acme-outdoors/shopify-webhook", lambda b, s, t: sign_shopify(b, s),
           "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain", "X-Shopify-Topic",
           ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")),
    Sender("woocommerce", "nordlicht", "https://nordlicht-shop.de/",
           "shipshape/nordlicht/woocommerce-webhook", lambda b, s, t: sign_woocommerce(b, s),
           "X-WC-Webhook-Signature", "X-WC-Webhook-Source", "X-WC-Webhook-Topic",
           ("order.created", "order.updated")),
    Sender("generic", "kite-and-kin", "kite-and-kin", "shipshape/kite-and-kin/generic-webhook",
           sign_generic, "Shipshape-Signature", "Shipshape-Source", None, ()),
)  # fmt: skip
CLIENTS = ("acme-outdoors", "nordlicht", "kite-and-kin")
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # what a header may carry


def _binary(value: object) -> str:
    """Binary attribute values (an order's compressed document), as DynamoDB JSON spells them."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass
class Stack:
    """The embedded stack on a real port, what was seeded into it, and what the fuzzing saw."""

    runtime: EmbeddedRuntime
    url: str
    order_id: str
    exception_id: str
    session: requests.Session = field(default_factory=requests.Session)
    requests_by_family: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    write_calls_on_refusals: Counter[str] = field(default_factory=Counter)

    @property
    def secrets(self) -> list[str]:
        """Every secret, operator password and operator token of dev-secrets.toml: no answer
        may contain one."""
        return [*self.runtime.dev["secrets"].values(), *dev_operator_secrets()]

    def tables(self) -> dict[str, frozenset[str]]:
        """Every item of every table, read straight from the emulator (a test may look)."""
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[ACCOUNT][REGION]
        for _ in range(5):
            try:
                return {
                    name: frozenset(
                        json.dumps(item.to_json()["Attributes"], sort_keys=True, default=_binary)
                        for item in table.all_items()
                    )
                    for name, table in list(backend.tables.items())
                }
            except RuntimeError:  # a background step wrote while we read: read again
                time.sleep(0.01)
        raise AssertionError("the tables kept changing while the test read them")

    def quiet(self) -> None:
        """Wait until no workflow step is running, so every write seen is the request's."""
        assert self.runtime.settle(timeout=10), "the workflow did not settle"
        seen = self.runtime.writes.count
        while self.runtime.writes.wait_past(seen, timeout=0.05) != seen:
            seen = self.runtime.writes.count

    def send(self, family: str, case: Any, call: Callable[[], requests.Response]) -> None:
        """Send one generated request and check everything the module promises about it."""
        before_writes, before = self.runtime.writes.count, self.tables()
        response = call()
        if self.runtime.writes.count != before_writes:
            self.quiet()  # it wrote: let any workflow it started settle before looking
        writes = self.runtime.writes.count - before_writes
        self.requests_by_family[family] += 1
        self.statuses[(family, response.status_code)] += 1
        text = response.text
        assert self.runtime.integration_errors == [], self.runtime.integration_errors[-1]
        # Then: no server error, and the answer is what the document says
        case.validate_response(response, checks=CHECKS)
        # ...no answer carries a secret
        leaked = [secret for secret in self.secrets if secret in text]
        assert not leaked, f"{response.status_code} answer carries a secret: {text[:300]}"
        if 400 <= response.status_code < 500:
            self._check_refusal(family, response, before, writes)

    def _check_refusal(
        self, family: str, response: requests.Response, before: dict[str, Any], writes: int
    ) -> None:
        body = response.json()
        # A refusal has the project's error body, or API Gateway's own for what it refuses
        gateway = response.status_code in (401, 404, 413) and set(body) == {"message"}
        assert gateway or set(body) == {"error", "message"}, body
        assert all(isinstance(v, str) and v for v in body.values()), body
        # ...and changes no table. An ops 404 for a real client the operator does not serve
        # records the refusal for that client's review (by design): that record is the one
        # change allowed, and never under any other name.
        after, recorded = self.tables(), 0
        if family == "ops" and response.status_code == 404:
            new = [i for name, items in after.items() for i in items - before.get(name, set())]
            recorded = sum(1 for i in new if any(d in i for d in DENIALS))
            after, before = _without_denials(after), _without_denials(before)
        assert after == before, f"a refused request ({response.status_code}) changed a table"
        if family == "warehouse":
            # Powertools' idempotency records an event before handling it and deletes the
            # record when handling refuses it: write calls, but no change (checked above).
            self.write_calls_on_refusals[family] += writes
        else:
            assert writes == recorded, f"a refused request ({response.status_code}) wrote {writes}"


# The partitions where the ops API records refusals: one a configured client.
DENIALS = tuple(f'"pk": {{"S": "DENIED#{client}"}}' for client in CLIENTS)


def _without_denials(tables: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(i for i in items if not any(d in i for d in DENIALS))
        for name, items in tables.items()
    }


def _place(runtime: EmbeddedRuntime, store: ShopifyStore) -> str:
    """A paid Acme order without a ZIP code: it stops in an address exception."""
    now = runtime.clock.now()
    payload = store.order(
        5_620_001, 3001, lines=[MUG], created_at=now, updated_at=now,
        financial_status="paid", person=JANE, address=NO_ZIP,
    )  # fmt: skip
    delivery = store.deliver("orders/paid", payload)
    answer = runtime.http("POST", delivery.path, headers=delivery.headers, body=delivery.body)
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"])


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with EmbeddedRuntime(clock=ManualClock(START)) as runtime:
        door = FrontDoorServer(runtime).start()
        # Send each answer at once: with Nagle's algorithm on, the body waits for the client's
        # delayed ACK of the headers (about 40 ms a request, most of this module's time).
        door.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        try:
            acme = ShopifyStore(
                "acme-outdoors", "acme-outdoors.myshopify.com",
                runtime.secret("shipshape/acme-outdoors/shopify-webhook"),
            )  # fmt: skip
            order_id = _place(runtime, acme)
            lead = dev_bearer("olivia.lead")

            def opened() -> bool:
                found = runtime.http("GET", f"/orders/{order_id}", headers=lead).json()
                return bool(found.get("open_exception_id"))

            assert runtime.wait_for(opened, timeout=20), "the seeded order opened no exception"
            order = runtime.http("GET", f"/orders/{order_id}", headers=lead).json()
            seeded = Stack(runtime, door.url, order_id, order["open_exception_id"])
            seeded.quiet()
            yield seeded
            print_figures(seeded)
            # Nor did any request put a secret in the functions' logs
            logged = runtime.lambdas.captured()
            assert logged, "no log line was captured, so none was checked"
            leaks = [line for line in logged for secret in seeded.secrets if secret in line]
            assert not leaks, f"a secret in the logs: {leaks[0][:300]}"
        finally:
            door.stop()
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


def print_figures(stack: Stack) -> None:
    print("\nrequests by route family:", dict(stack.requests_by_family))
    print("answers by (family, status):", dict(sorted(stack.statuses.items())))
    print("write calls on refused requests (net change 0):", dict(stack.write_calls_on_refusals))


# --- known values mixed into generated requests -------------------------------------------

OPERATOR_TOKENS = [
    dev_token(name)
    for name in ("olivia.lead", "hana.lead", "omar.operator", "vic.viewer", "nils.operator")
]


def known_values(stack: Stack) -> dict[str, list[Any]]:
    return {
        "client_id": [*CLIENTS, "no-such-client"],
        "client": [*CLIENTS, "no-such-client"],
        "order_id": [stack.order_id, "ord_" + "a" * 20, "ORD_X"],
        "exception_id": [stack.exception_id, f"{stack.order_id}.e9", "x.e1"],
        "version": [1, 2, 3],
        "person": ["pdx-picker-ana", "ops", "nobody"],
        "platform": ["shopify", "woocommerce", "generic", "bigcommerce"],
        "name": ["pick_list-1", "packing_manifest-1", "app.js", "../app.js"],
    }


def mix_in_known(case: Any, data: st.DataObject, stack: Stack) -> None:
    """Replace some generated path and query values with ones the stack knows."""
    known = known_values(stack)
    for container in (case.path_parameters, case.query):
        if not container:
            continue
        for name in list(container):
            if name in known and data.draw(st.booleans(), label=f"known {name}"):
                container[name] = data.draw(st.sampled_from(known[name]), label=name)


# --- the fuzzing, one route family at a time ---------------------------------------------


@SCHEMA.include(tag="ops").parametrize()
@SCHEMA.given(data=st.data())
@FUZZ
def test_the_ops_api_answers_any_request_without_a_server_error_or_a_leak(
    case: Any, data: st.DataObject, stack: Stack
) -> None:
    # Given a generated request to an ops route, often with a valid operator's token and ids
    # the stack knows (so it gets past the authorizer into the handler's validation)
    mix_in_known(case, data, stack)
    token = data.draw(st.sampled_from([*OPERATOR_TOKENS, None, "not-a-token"]), label="token")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # When it is sent through the front door
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("ops", case, lambda: case.call(base_url=stack.url, session=stack.session,
                                              headers=headers))  # fmt: skip


@SCHEMA.include(tag="dashboard").parametrize()
@FUZZ
def test_the_dashboard_answers_any_request_without_a_server_error(case: Any, stack: Stack) -> None:
    # Given a generated request for the dashboard's page or an asset
    # When it is sent through the front door
    # Then (in send): no 5xx, and the answer is as documented
    stack.send("dashboard", case, lambda: case.call(base_url=stack.url, session=stack.session))


@SCHEMA.include(tag="warehouse").parametrize()
@SCHEMA.given(data=st.data())
@FUZZ
def test_warehouse_events_answer_any_request_without_a_server_error_or_a_write(
    case: Any, data: st.DataObject, stack: Stack
) -> None:
    # Given a generated warehouse event, often for a known client with its own token
    mix_in_known(case, data, stack)
    client = case.path_parameters.get("client_id")
    tokens = {c: stack.runtime.secret(f"shipshape/{c}/warehouse-token") for c in CLIENTS}
    token = data.draw(
        st.sampled_from([tokens.get(client), *tokens.values(), None]), label="warehouse token"
    )
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # When it is sent through the front door
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("warehouse", case, lambda: case.call(base_url=stack.url, session=stack.session,
                                                    headers=headers))  # fmt: skip


def _body_bytes(case: Any) -> tuple[bytes, str | None]:
    """The generated body as the bytes that go on the wire, and their media type."""
    body = case.body
    if case.media_type is None or type(body).__name__ == "NotSet":
        return b"", None
    if case.media_type == "application/x-www-form-urlencoded" and isinstance(body, dict):
        return urlencode(body, doseq=True).encode(), case.media_type
    if isinstance(body, bytes):
        return body, case.media_type
    if isinstance(body, str) and not case.media_type.endswith("json"):
        return body.encode("utf-8", "surrogatepass"), case.media_type
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"), "application/json"


@SCHEMA.include(tag="webhooks").parametrize()
@SCHEMA.given(data=st.data())
@FUZZ
def test_webhooks_answer_any_delivery_without_a_server_error_or_a_write(
    case: Any, data: st.DataObject, stack: Stack
) -> None:
    # Given a generated delivery: as generated, or for a client's own route with its headers
    # and signed with its secret (so the body reaches the adapter and the domain)
    body, media_type = _body_bytes(case)
    headers: dict[str, str] = {"Content-Type": media_type} if media_type else {}
    sender = data.draw(st.sampled_from([None, *SENDERS]), label="sender")
    if sender is not None:
        case.path_parameters = {"platform": sender.platform, "client_id": sender.client_id}
        secret = stack.runtime.secret(sender.secret_name).encode()
        signed_at = int(stack.runtime.clock.now().timestamp())
        if data.draw(st.booleans(), label="signed"):  # else: whatever signature was generated
            headers[sender.signature_header] = sender.sign(body, secret, signed_at)
        headers[sender.source_header] = sender.store
        if sender.topic_header:
            headers[sender.topic_header] = data.draw(
                st.sampled_from(sender.topics) | st.text(PRINTABLE, max_size=20).map(str.strip),
                label="topic",
            )
    # When it is sent through the front door, exactly these bytes
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("webhooks", case, lambda: case.call(base_url=stack.url, session=stack.session,
                                                   headers=headers, data=body))  # fmt: skip


# --- the same routes with credentials, every phase (examples, coverage, fuzzing) ----------
#
# Without mixed-in values, schemathesis also runs its coverage phase: boundary and
# schema-breaking values for every parameter and body field, one at a time. With valid
# credentials and the stack's own ids, those reach the handlers' validation and the domain.


def pin(case: Any, stack: Stack, **values: Any) -> None:
    """Point the case's path parameters at resources the stack has."""
    known = {"client_id": "acme-outdoors", "order_id": stack.order_id,
             "exception_id": stack.exception_id, **values}  # fmt: skip
    for name in case.path_parameters or {}:
        if name in known:
            case.path_parameters[name] = known[name]


@SCHEMA.include(tag="ops").parametrize()
@FUZZ
def test_the_ops_api_validates_every_field_for_a_lead(case: Any, stack: Stack) -> None:
    # Given a generated request for the stack's own order, exception and client, by a lead
    pin(case, stack)
    lead = dev_bearer("olivia.lead")
    # When it is sent through the front door
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("ops", case, lambda: case.call(base_url=stack.url, session=stack.session,
                                              headers=lead))  # fmt: skip


@SCHEMA.include(tag="warehouse").parametrize()
@FUZZ
def test_warehouse_events_validate_every_field_for_the_clients_warehouse(
    case: Any, stack: Stack
) -> None:
    # Given a generated event for Acme, sent with Acme's warehouse token
    pin(case, stack)
    token = stack.runtime.secret("shipshape/acme-outdoors/warehouse-token")
    # When it is sent through the front door
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("warehouse", case, lambda: case.call(base_url=stack.url, session=stack.session,
               headers={"Authorization": f"Bearer {token}"}))  # fmt: skip


@SCHEMA.include(tag="webhooks").parametrize()
@FUZZ
def test_webhooks_validate_every_field_of_a_signed_delivery(case: Any, stack: Stack) -> None:
    # Given a generated delivery on a client's own route, signed with its secret, with the
    # headers its platform sends (so every generated body reaches the adapter and the domain);
    # the platform is picked by the body's checksum, so each platform gets its share
    body, media_type = _body_bytes(case)
    sender = SENDERS[zlib.crc32(body) % len(SENDERS)]
    case.path_parameters = {"platform": sender.platform, "client_id": sender.client_id}
    secret = stack.runtime.secret(sender.secret_name).encode()
    signed_at = int(stack.runtime.clock.now().timestamp())
    headers = {sender.signature_header: sender.sign(body, secret, signed_at),
               sender.source_header: sender.store}  # fmt: skip
    if media_type:
        headers["Content-Type"] = media_type
    if sender.topic_header:
        headers[sender.topic_header] = sender.topics[len(body) % len(sender.topics)]
    # When it is sent through the front door, exactly these bytes
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send("webhooks", case, lambda: case.call(base_url=stack.url, session=stack.session,
                                                   headers=headers, data=body))  # fmt: skip


# --- hostile values in every route, path and query parameter and body --------------------

HOSTILE_VALUES = ["a" * 3000, "9" * 5000, "ord_" + "a" * 2100, "%5B" * 1000]
HOSTILE_BODIES = [
    b"[" * 20_000 + b"]" * 20_000,  # past Python's recursion limit, within every body limit
    b'{"a": ' * 3_000 + b"1" + b"}" * 3_000,
    b'{"type": "pick_scans", "event_id": "e", "quantity": ' + b"9" * 5_000 + b"}",
    b'{"note": "' + b"x" * (API_BODY_LIMIT // 32) + b'"}',  # 320 KB: past every route's limit
    b'{"action": "retry", "note": "fixed", "weight_grams": NaN, "x": 1e999}',
]
HOSTILE = settings(FUZZ, max_examples=max(EXAMPLES // 3, 4))


def _credentials(case: Any, stack: Stack, body: bytes) -> dict[str, str]:
    """What gets a request for ``case``'s route past authentication to its parsing: a lead's
    token, the client's warehouse token, or the client's webhook signature over ``body``."""
    headers = {"Content-Type": "application/json"}
    if "webhooks" in (case.operation.tags or ()):
        platform = case.path_parameters.get("platform")
        sender = next((s for s in SENDERS if s.platform == platform), SENDERS[0])
        secret = stack.runtime.secret(sender.secret_name).encode()
        signed_at = int(stack.runtime.clock.now().timestamp())
        headers |= {sender.signature_header: sender.sign(body, secret, signed_at),
                    sender.source_header: sender.store}  # fmt: skip
        if sender.topic_header:
            headers[sender.topic_header] = sender.topics[0]
    elif "warehouse" in (case.operation.tags or ()):
        token = stack.runtime.secret("shipshape/acme-outdoors/warehouse-token")
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers["Authorization"] = f"Bearer {dev_token('olivia.lead')}"
    return headers


@SCHEMA.include(tag=["ops", "warehouse", "webhooks"]).parametrize()
@SCHEMA.given(data=st.data())
@HOSTILE
def test_hostile_values_in_any_parameter_or_body_get_no_server_error_and_no_write(
    case: Any, data: st.DataObject, stack: Stack
) -> None:
    # Given a request for the stack's own resources, with credentials that get it into the
    # handler, where some path and query values are thousands of characters or digits long
    # and the body (if the route takes one) is nested thousands deep, holds an integer of
    # thousands of digits or a string past the body limit, or a number JSON has not
    pin(case, stack)
    for values in (case.path_parameters, case.query):
        for name in list(values or {}):
            if data.draw(st.booleans(), label=f"hostile {name}"):
                values[name] = data.draw(st.sampled_from(HOSTILE_VALUES), label=name)
    body = b""
    if case.operation.body:
        body = data.draw(st.sampled_from(HOSTILE_BODIES), label="hostile body")
    family = next(t for t in ("webhooks", "warehouse", "ops") if t in case.operation.tags)
    if family == "webhooks" and case.path_parameters.get("client_id") == "acme-outdoors":
        sender = next((s for s in SENDERS if s.platform == case.path_parameters["platform"]),
                      None)  # fmt: skip
        if sender is not None:
            case.path_parameters["client_id"] = sender.client_id
    headers = _credentials(case, stack, body)
    # When it is sent through the front door, exactly these bytes
    # Then (in send): no 5xx, the answer is as documented, a refusal changes nothing
    stack.send(family, case, lambda: case.call(base_url=stack.url, session=stack.session,
                                               headers=headers, data=body or None))  # fmt: skip


# --- bodies the route cannot read, over HTTP -----------------------------------------------


def _post_warehouse(stack: Stack, body: bytes, content_type: str) -> requests.Response:
    token = stack.runtime.secret("shipshape/acme-outdoors/warehouse-token")
    return stack.session.post(
        f"{stack.url}/warehouse/acme-outdoors/events", data=body, timeout=30,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b'{"type": "sku_updated", "title": "\xb5"}', "application/json", 422, "RequestInvalid"),
        (b"--x\r\nContent-Disposition: form-data\r\n\r\n1\r\n--x--", "multipart/form-data",
         422, "RequestInvalid"),
        (b"type=pick_scans", "text/plain", 415, "UnsupportedMediaType"),
    ],
    ids=["not-utf-8", "multipart-without-boundary", "text-plain"],
)  # fmt: skip
def test_a_body_the_route_cannot_read_is_refused_with_the_error_body(
    stack: Stack, body: bytes, content_type: str, status: int, error: str
) -> None:
    # Given a warehouse event whose bytes or media type the route cannot read as JSON
    writes = stack.runtime.writes.count
    # When it is posted, with the client's valid token, through the front door
    answer = _post_warehouse(stack, body, content_type)
    # Then it is refused as the sender's mistake, with the error body, and nothing is written
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error and answer.json()["message"].startswith("body: ")
    assert stack.runtime.writes.count == writes
    assert stack.runtime.integration_errors == []


# --- body size limits, over HTTP --------------------------------------------------------


def _signed_shopify(stack: Stack, body: bytes) -> dict[str, str]:
    secret = stack.runtime.secret("shipshape/acme-outdoors/shopify-webhook").encode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Shop-Domain": "acme-outdoors.myshopify.com",
        "X-Shopify-Hmac-Sha256": sign_shopify(body, secret),
    }


def _limit(stack: Stack) -> int:
    import shipshape.bootstrap

    return int(shipshape.bootstrap.container().settings.max_body_bytes)


def _padded_order(stack: Stack, size: int, order_number: int) -> bytes:
    """A valid paid Shopify order, padded with trailing spaces (still JSON) to ``size`` bytes."""
    store = ShopifyStore("acme-outdoors", "acme-outdoors.myshopify.com", "unused")
    now = stack.runtime.clock.now()
    payload = store.order(
        5_630_000 + order_number, 4000 + order_number, lines=[MUG], created_at=now,
        updated_at=now, financial_status="paid", person=JANE,
        address=PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US"),
    )  # fmt: skip
    body = json.dumps(payload).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def test_a_body_over_the_gateway_limit_is_refused_with_the_gateways_body(stack: Stack) -> None:
    # Given a warehouse event body over API Gateway's 10 MB payload limit
    stack.quiet()
    writes = stack.runtime.writes.count
    token = stack.runtime.secret("shipshape/acme-outdoors/warehouse-token")
    # When it is posted through the front door
    answer = stack.session.post(
        f"{stack.url}/warehouse/acme-outdoors/events", data=b"{" + b" " * API_BODY_LIMIT + b"}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )  # fmt: skip
    # Then it is refused as API Gateway refuses it, and nothing is written
    assert answer.status_code == 413
    assert stack.runtime.writes.count == writes
    assert answer.json() == {"message": "Request Entity Too Large"}


def test_a_signed_webhook_one_byte_over_the_limit_is_refused_and_writes_nothing(
    stack: Stack,
) -> None:
    # Given a genuine, signed Shopify order one byte over the webhook body limit
    limit = _limit(stack)
    body = _padded_order(stack, limit + 1, 1)
    stack.quiet()
    writes = stack.runtime.writes.count
    # When it is posted through the front door
    answer = stack.session.post(
        f"{stack.url}/webhooks/shopify/acme-outdoors", data=body,
        headers=_signed_shopify(stack, body), timeout=30,
    )  # fmt: skip
    # Then it is refused with 413, naming both sizes, and nothing is written
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "PayloadTooLarge",
        "message": f"body is {limit + 1} bytes; the limit is {limit}",
    }
    stack.quiet()
    assert stack.runtime.writes.count == writes


def test_a_signed_webhook_exactly_at_the_limit_is_accepted(stack: Stack) -> None:
    # Given a genuine, signed Shopify order of exactly the limit's size
    body = _padded_order(stack, _limit(stack), 2)
    # When it is posted through the front door
    answer = stack.session.post(
        f"{stack.url}/webhooks/shopify/acme-outdoors", data=body,
        headers=_signed_shopify(stack, body), timeout=30,
    )  # fmt: skip
    # Then the limit is inclusive: the order is recorded
    assert answer.status_code == 202, answer.text
    stack.quiet()


def test_an_unsigned_webhook_over_the_limit_is_refused_before_anything_else(
    stack: Stack,
) -> None:
    # Given an unsigned body of garbage over the limit, for a client that does not exist
    limit = _limit(stack)
    stack.quiet()
    writes = stack.runtime.writes.count
    # When it is posted through the front door
    answer = stack.session.post(
        f"{stack.url}/webhooks/generic/kite-and-kin", data=b"\xff" * (limit + 10), timeout=30
    )
    # Then the size is what is refused (413, not a signature or parsing error), writing nothing
    assert answer.status_code == 413
    assert answer.json()["message"] == f"body is {limit + 10} bytes; the limit is {limit}"
    stack.quiet()
    assert stack.runtime.writes.count == writes
