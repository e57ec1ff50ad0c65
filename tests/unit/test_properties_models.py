"""Properties of the models that parse outside input, checked with Hypothesis.

Warehouse events and the ops API's request bodies, the raw body at the HTTP edge, operator
claims, client configuration files and proposed rule changes: whatever arrives is either a
valid model (which survives its own JSON round trip) or a typed refusal, never a crash. A
refusal at the HTTP edge is a pydantic ``ValidationError`` (the resolver answers it 422 as
``RequestInvalid``) or one of the project's ``ClientRequestError`` subclasses.

Hostile bodies (integers of thousands of digits, nesting thousands deep, strings past the
body limit, NaN) are read as the routes read them, by the edge's JSON reader: each is refused
naming the limit it broke, or reads as a document within every limit.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import string
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from shipshape.authorization import Operator
from shipshape.config import (
    GOVERNED_SECTIONS,
    ClientConfig,
    ClientDirectory,
    ConfigurationError,
    load_client_file,
)
from shipshape.errors import ClientRequestError, PayloadInvalid
from shipshape.http import (
    JSON_BODY_LIMIT,
    JSON_MAX_DEPTH,
    JSON_MAX_DIGITS,
    PayloadTooLarge,
    RequestInvalid,
    operator_from_claims,
    raw_body,
    read_json,
)
from shipshape.models import (
    NOTE_MAX_LENGTH,
    ExceptionType,
    OrderId,
    Platform,
    QaGate,
    RuleChange,
    canonical_order_id,
)
from shipshape.ports import RuleStore
from shipshape.rules import MAX_REMEDIATION_STEPS, due_at
from shipshape.services.away import MarkAwayRequest
from shipshape.services.exceptions import ResolveExceptionRequest
from shipshape.services.governance import (
    PATCH_MAX_DEPTH,
    RULE_VERSION_MAX_BYTES,
    ProposeRuleChangeRequest,
    ReviewRequest,
    RulesInvalid,
    RulesTooLarge,
    propose_rule_change,
)
from shipshape.services.overrides import OverrideRequest, OverrideReview
from shipshape.services.warehouse import WarehouseEvent
from tests.fakes import SettableClock
from tests.helpers import json_slots

PROPERTY = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
CLIENTS_DIR = Path(__file__).parents[2] / "config" / "clients"
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
ORDER_ID = "ord_" + "a" * 20

# --- JSON, valid examples of each body, and mutations of them ------------------------------

edge_values = st.sampled_from(
    [
        "", " ", "0", "-1", "1e999999", "NaN", "0001-01-01", "9999-12-31", "0000-00-00",
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-23T09:00:00",
        "x" * 300, "ord_" + "a" * 20, "ord_" + "a" * 20 + ".e1", "A-01", "#", "|",
        -1, 0, 1, 10**6, 2**63, 10**40, 1e308, -0.0, 0.5, True, [], {},
    ]
)  # fmt: skip
json_values = st.recursive(
    st.none()
    | edge_values
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

VALID_BODIES: dict[str, list[dict[str, Any]]] = {
    "WarehouseEvent": [
        {"type": "pick_scans", "event_id": "pick-1", "order_id": ORDER_ID, "picker": "pia",
         "scans": [{"sku": "TENT-2P-GRN", "barcode": "0712345", "quantity": 1}]},
        {"type": "pack_data", "event_id": "pack-1", "order_id": ORDER_ID, "packer": "pat",
         "pack": {"weight_grams": 2400, "length_mm": 400, "width_mm": 300, "height_mm": 200}},
        {"type": "sku_updated", "event_id": "sku-1", "sku": "MUG-ENAMEL-12", "title": "Mug",
         "barcode": "0799", "unit_weight_grams": 300, "length_mm": 100, "width_mm": 100,
         "height_mm": 120},
        {"type": "stock_received", "event_id": "stock-1", "sku": "MUG-ENAMEL-12",
         "warehouse": "PDX-1", "quantity": 24, "bin": "A-01-2", "lot": "L2026-11",
         "expires_on": "2028-01-31"},
    ],
    "ProposeRuleChangeRequest": [
        {"summary": "Add a picker", "base_version": 1, "changes": {"pickers": ["pia", "pat"]}},
    ],
    "ReviewRequest": [{"note": "Checked with the client"}],
    "OverrideRequest": [
        {"field": "owner", "value": "ops", "reason": "Taking this over"},
        {"field": "status", "value": "CANCELLED", "reason": "Customer called"},
    ],
    "OverrideReview": [{"note": ""}],
    "ResolveExceptionRequest": [
        {"action": "retry", "note": "Address fixed", "address": {"line1": "500 SW Market St",
         "city": "Portland", "region": "OR", "postal_code": "97204", "country_code": "US"}},
        {"action": "partial", "note": "Ship the tent", "ship_lines": [{"line_id": "1",
         "quantity": 1}]},
    ],
    "MarkAwayRequest": [
        {"client_id": "acme-outdoors", "starts_at": "2026-11-23T09:00:00-08:00",
         "ends_at": "2026-11-27T17:00:00-08:00", "note": "Holiday"},
    ],
}  # fmt: skip
MODELS: dict[str, TypeAdapter[Any]] = {
    "WarehouseEvent": TypeAdapter(WarehouseEvent),
    **{
        model.__name__: TypeAdapter(model)
        for model in (
            ProposeRuleChangeRequest,
            ReviewRequest,
            OverrideRequest,
            OverrideReview,
            ResolveExceptionRequest,
            MarkAwayRequest,
        )
    },
}
each_model = pytest.mark.parametrize("name", sorted(MODELS))


@st.composite
def mutated(draw: st.DrawFn, documents: list[dict[str, Any]]) -> Any:
    """A valid document with one to three values replaced, removed or added."""
    document = json.loads(json.dumps(draw(st.sampled_from(documents))))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(json_slots(document))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove" and isinstance(container, dict):
            del container[key]
        elif action == "add" and isinstance(container, dict):
            container[draw(st.text(max_size=8))] = draw(json_values)
        else:
            container[key] = draw(json_values)
    return document


def bodies(name: str) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        mutated(VALID_BODIES[name]).map(lambda v: json.dumps(v).encode()),
    )


# --- request bodies: a model or a ValidationError, and models survive a round trip ---------


@each_model
def test_valid_examples_parse(name: str) -> None:
    # Given the hand-written valid bodies the mutations start from
    # When each is parsed
    # Then each is valid (so the mutations start from something the API accepts)
    for document in VALID_BODIES[name]:
        MODELS[name].validate_python(document)


@each_model
def test_any_body_is_a_model_or_a_validation_error(name: str) -> None:
    adapter = MODELS[name]

    @PROPERTY
    @given(body=bodies(name))
    def check(body: bytes) -> None:
        # Given any body at all
        # When it is parsed as the route parses it
        try:
            value = adapter.validate_json(body)
        # Then it is refused with a validation error the edge answers 422...
        except ValidationError as refused:
            assert refused.errors()
        # ...or it is a model that reads back as itself from its own JSON
        else:
            assert adapter.validate_json(adapter.dump_json(value)) == value

    check()


# --- hostile bodies, read as every route reads its JSON body ---------------------------------

HOLE = "\x00hostile\x00"
# Raw JSON text no model takes: each is valid JSON that Python's own parser either cannot read
# (over 4,300 digits, nesting past its recursion limit) or reads into what nothing here stores.
hostile_json = st.one_of(
    st.integers(JSON_MAX_DIGITS + 1, 6_000).map(lambda n: "9" * n),
    st.integers(JSON_MAX_DIGITS + 1, 6_000).map(lambda n: "-" + "1" * n),
    st.integers(JSON_MAX_DEPTH - 2, 30_000).map(lambda n: "[" * n + "]" * n),
    st.integers(JSON_MAX_DEPTH - 2, 3_000).map(lambda n: '{"a":' * n + "0" + "}" * n),
    st.integers(1_000, JSON_BODY_LIMIT + 10).map(lambda n: '"' + "x" * n + '"'),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400", "1" * 400 + ".5"]),
)
REFUSALS = re.compile(
    rf"body: nested more than {JSON_MAX_DEPTH} levels deep; the limit is {JSON_MAX_DEPTH}"
    rf"|body: a number has (?P<digits>\d+) digits; the limit is {JSON_MAX_DIGITS}"
    r"|body: a number is out of range; the limit is 1\.79769e\+308"
    r"|body: (NaN|Infinity|-Infinity) is not a JSON number"
    rf"|body is (?P<size>\d+) bytes; the limit is {JSON_BODY_LIMIT}"
)


@st.composite
def hostile_bodies(draw: st.DrawFn, name: str) -> str:
    """A valid body with one value replaced by hostile JSON, or hostile JSON alone."""
    document = json.loads(json.dumps(draw(st.sampled_from(VALID_BODIES[name]))))
    slots = list(json_slots(document))
    if not slots or draw(st.booleans()):
        return str(draw(hostile_json))
    container, key = draw(st.sampled_from(slots))
    container[key] = HOLE
    return json.dumps(document).replace(json.dumps(HOLE), draw(hostile_json), 1)


def depth_and_leaves(document: Any) -> tuple[int, list[Any]]:
    """How many levels arrays and objects nest, and every value that is neither."""
    depth, level, leaves = 0, [document], []
    while level:
        leaves += [node for node in level if not isinstance(node, dict | list)]
        containers = [node for node in level if isinstance(node, dict | list)]
        if not containers:
            break
        depth += 1
        level = [c for n in containers for c in (n.values() if isinstance(n, dict) else n)]
    return depth, leaves


@each_model
def test_any_hostile_body_is_refused_naming_the_limit_or_read_within_every_limit(
    name: str,
) -> None:
    adapter = MODELS[name]

    @PROPERTY
    @example(text="[" * 100_000 + "]" * 100_000)
    @example(text='{"event_id": ' + "9" * 5_000 + "}")
    @given(text=hostile_bodies(name))
    def check(text: str) -> None:
        # Given a body with an integer of thousands of digits, nesting thousands deep, a
        # string past the body limit, or a number no model takes
        # When the edge reads it as a route's JSON body
        try:
            document = read_json(text, JSON_BODY_LIMIT)
        # Then it is refused as the sender's mistake, naming the limit it broke...
        except (RequestInvalid, PayloadTooLarge) as refused:
            matched = REFUSALS.fullmatch(str(refused))
            assert matched, str(refused)
            assert int(matched["digits"] or JSON_MAX_DIGITS + 1) > JSON_MAX_DIGITS
            assert int(matched["size"] or JSON_BODY_LIMIT + 1) > JSON_BODY_LIMIT
            return
        # ...or it is a document within every limit, which the model takes or refuses
        depth, leaves = depth_and_leaves(document)
        assert depth <= JSON_MAX_DEPTH
        assert len(text.encode()) <= JSON_BODY_LIMIT
        for leaf in leaves:
            if isinstance(leaf, int) and not isinstance(leaf, bool):
                assert len(str(abs(leaf))) <= JSON_MAX_DIGITS
            if isinstance(leaf, float):
                assert math.isfinite(leaf)
        try:
            value = adapter.validate_python(document)
        except ValidationError as refused:
            assert refused.errors()
        else:
            assert adapter.validate_json(adapter.dump_json(value)) == value

    check()


# --- the raw body at the HTTP edge ---------------------------------------------------------


def test_raw_body_is_the_sent_bytes_or_a_typed_refusal() -> None:
    @PROPERTY
    @example(body="é", encoded=True, limit=10)  # not ASCII, so not base64 either
    @given(
        body=st.none() | st.text(max_size=80) | st.binary(max_size=60).map(base64_text),
        encoded=st.booleans(),
        limit=st.integers(0, 100),
    )
    def check(body: str | None, encoded: bool, limit: int) -> None:
        # Given a request body as API Gateway hands it over, base64 or not, and a size limit
        event = APIGatewayProxyEventV2({"body": body, "isBase64Encoded": encoded})
        # When the edge reads it
        try:
            data = raw_body(event, limit)
        # Then a body over the limit is refused naming both sizes
        except PayloadTooLarge as refused:
            size = int(str(refused).split()[2])
            assert size > limit
            assert str(refused) == f"body is {size} bytes; the limit is {limit}"
        # ...a body that is not the base64 it claims to be is refused as such
        except PayloadInvalid as refused:
            assert encoded and "base64" in str(refused)
        # ...and anything else is exactly the bytes that were sent, within the limit
        else:
            sent = body or ""
            assert data == (base64.b64decode(sent) if encoded else sent.encode())
            assert len(data) <= limit

    check()


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- operator claims, as API Gateway's JWT authorizer passes them (every value a string) --


def test_any_claims_make_an_operator_who_sees_only_the_named_clients() -> None:
    names = st.text(string.ascii_lowercase + "-*", min_size=1, max_size=12)

    @PROPERTY
    @given(
        claims=st.fixed_dictionaries(
            {},
            optional={
                "sub": st.text(max_size=20),
                "username": st.text(max_size=20),
                "cognito:groups": st.lists(names, max_size=3).map(lambda g: f"[{' '.join(g)}]"),
                "custom:clients": st.lists(names, max_size=3).map(",".join) | st.text(),
            },
        ),
        client=names,
    )
    def check(claims: dict[str, str], client: str) -> None:
        # Given whatever string claims the authorizer passes on
        # When the operator is read from them
        operator = operator_from_claims(claims)
        # Then the operator sees a client only if the claims name it (or every client)
        named = claims.get("custom:clients", "").replace(",", " ").split()
        assert operator.may_see(client) is ("*" in named or client in named)

    check()


# --- canonical order ids ------------------------------------------------------------------


def test_any_business_key_maps_to_one_well_formed_order_id() -> None:
    order_ids = TypeAdapter(OrderId)

    @PROPERTY
    @given(
        client=st.text(max_size=64),
        store=st.text(string.ascii_letters + string.digits + ".-/:", max_size=64),
        order=st.text(max_size=64),
        platform=st.sampled_from(Platform),
    )
    def check(client: str, store: str, order: str, platform: Platform) -> None:
        # Given any business key
        # When its order id is computed, with the store spelled in any case
        first = canonical_order_id(client, platform, store, order)
        # Then it is a valid order id (and Step Functions execution name), whatever the case
        assert order_ids.validate_python(first) == first
        assert canonical_order_id(client, platform, store.swapcase(), order) == first

    check()


# --- client configuration files -----------------------------------------------------------

CLIENT_FILES = sorted(CLIENTS_DIR.glob("*.toml"))
toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=30).map(json.dumps),
    st.booleans().map(lambda b: str(b).lower()),
    st.sampled_from(
        [
            "[]",
            "{}",
            '["x"]',
            "1979-05-27",
            "07:32:00",
            "1979-05-27T07:32:00Z",
            '"Mars/Olympus"',
            '"ZZ"',
            "[9]",
            '"25:00"',
            "-1",
            "0",
            '""',
        ]
    ),
)


@st.composite
def edited_client_file(draw: st.DrawFn) -> str:
    """A real client file with one to three `key = value` lines given another value (or cut)."""
    lines = draw(st.sampled_from(CLIENT_FILES)).read_text(encoding="utf-8").splitlines()
    assignments = [i for i, line in enumerate(lines) if " = " in line]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.sampled_from(assignments))
        key = lines[i].split(" = ", 1)[0]
        lines[i] = "" if draw(st.booleans()) and i % 3 == 0 else f"{key} = {draw(toml_values)}"
    return "\n".join(lines) + "\n"


def test_any_client_file_loads_or_is_refused_naming_the_file(tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("clients")

    @PROPERTY
    @given(text=edited_client_file() | st.text(max_size=200))
    def check(text: str) -> None:
        # Given a client file as an operator might edit it
        path = folder / "acme-outdoors.toml"
        path.write_text(text, encoding="utf-8")
        # When it is loaded
        try:
            config = load_client_file(path)
        # Then it is refused with a configuration error naming the file...
        except ConfigurationError as refused:
            assert str(refused).startswith("acme-outdoors.toml")
        # ...or it is a configuration of that client
        else:
            assert isinstance(config, ClientConfig) and config.client_id == "acme-outdoors"

    check()


# --- rule changes: what the service accepts, the SLA clock can run on ---------------------


class RuleStoreInMemory(RuleStore):
    def __init__(self) -> None:
        self.changes: list[RuleChange] = []

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        return [c for c in self.changes if c.client_id == client_id]

    def active_rules(self, client_id: str) -> RuleChange | None:
        return None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        self.changes.append(change)

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        raise NotImplementedError  # not reached: proposals only


LEAD = Operator(subject="olivia.lead", roles=frozenset({"lead"}), clients=frozenset({"*"}))
schedule_values = st.one_of(
    st.sampled_from([[], [0], [1, 2, 3], [7], [8], [-1], "x", None, 5]).map(lambda d: {"days": d}),
    st.sampled_from(["00:00:00", "08:00:00", "18:00:00", "23:59:58", "25:00", "x", 0]).map(
        lambda t: {"start": t}
    ),
    st.sampled_from(["00:00:01", "09:00:00", "17:00:00", "23:59:59", "x", 0]).map(
        lambda t: {"end": t}
    ),
    st.sampled_from(["US", "DE", "GB", "ZZ", "us", "", None, 1]).map(
        lambda c: {"holiday_country": c}
    ),
    st.sampled_from(["OR", "BE", "XX", "", None]).map(lambda s: {"holiday_subdivision": s}),
    st.sampled_from(["2026-12-24", "0001-01-01", "9999-12-31", "x"]).map(
        lambda d: {"extra_closed_dates": [d]}
    ),
)


@st.composite
def rule_patches(draw: st.DrawFn) -> dict[str, Any]:
    """Merge patches over the governed sections: working hours, SLAs, teams, fulfilment."""
    working_hours: dict[str, Any] = {}
    for part in draw(st.lists(schedule_values, min_size=1, max_size=3)):
        working_hours.update(part)
    patch: dict[str, Any] = {"rules": {"working_hours": working_hours}}
    if draw(st.booleans()):
        hours = draw(st.sampled_from([0, 0.001, 1, 8, 720, 721, -1, "x"]))
        patch["rules"]["exceptions"] = {"address_invalid": {"sla_hours": hours}}
    if draw(st.booleans()):
        patch[draw(st.sampled_from(GOVERNED_SECTIONS))] = draw(json_values)
    return patch


@pytest.mark.parametrize("client_id", [p.stem for p in CLIENT_FILES])
def test_an_accepted_rule_change_gives_rules_the_sla_clock_can_run_on(client_id: str) -> None:
    clients = ClientDirectory(CLIENTS_DIR)
    base = clients.get(client_id)

    @PROPERTY
    @example(patch={"rules": {"working_hours": {"days": []}}})
    @example(patch={"rules": {"working_hours": {"start": "00:00:00", "end": "00:00:01"}}})
    @given(patch=rule_patches())
    def check(patch: dict[str, Any]) -> None:
        # Given a lead proposing a change to the client's working hours and rules
        store = RuleStoreInMemory()
        request = ProposeRuleChangeRequest(summary="Change hours", base_version=1, changes=patch)
        # When the change is proposed
        try:
            propose_rule_change(store, clients, SettableClock(NOW), client_id, LEAD, request)
        # Then it is refused with a typed client error (nothing stored)...
        except ClientRequestError:
            assert store.changes == []
        # ...or, once in force, every exception gets an owner and a deadline from it
        else:
            (change,) = store.changes
            kept = base.model_dump(mode="json", exclude=set(GOVERNED_SECTIONS))
            config = ClientConfig.model_validate({**kept, **change.document})
            for rule in config.rules.exceptions.values():
                owner, due = due_at(config.calendar, rule, NOW)
                assert owner and due > NOW - timedelta(seconds=1)

    check()


def nested(depth: int, leaf: Any) -> Any:
    """``leaf`` inside ``depth`` levels of arrays and objects, alternating."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"owner": leaf}
    return leaf


def test_a_rule_patch_of_any_depth_is_refused_naming_changes_or_proposed() -> None:
    clients = ClientDirectory(CLIENTS_DIR)

    @PROPERTY
    @given(
        depth=st.integers(1, JSON_MAX_DEPTH),
        section=st.sampled_from(GOVERNED_SECTIONS),
        leaf=st.sampled_from(["ops", None, 1, ""]),
    )
    def check(depth: int, section: str, leaf: Any) -> None:
        # Given a patch nested ``depth`` levels (the edge lets up to 32 through)
        patch = {section: nested(depth - 1, leaf)}
        store = RuleStoreInMemory()
        # When a lead proposes it
        try:
            request = ProposeRuleChangeRequest(summary="Deep", base_version=1, changes=patch)
            propose_rule_change(store, clients, SettableClock(NOW), "acme-outdoors", LEAD, request)
        # Then a patch deeper than any governed section is refused naming the field and the
        # limit, before anything walks it...
        except ValidationError as refused:
            assert depth > PATCH_MAX_DEPTH
            [error] = refused.errors()
            assert error["loc"] == ("changes",)
            assert f"the limit is {PATCH_MAX_DEPTH}" in error["msg"]
        # ...and any other is proposed or refused as a client error, never a crash
        except ClientRequestError:
            assert store.changes == []
        else:
            assert depth <= PATCH_MAX_DEPTH

    check()


REMEDIATIONS = [("rules", "exceptions", kind.value) for kind in ExceptionType] + [
    ("fulfilment", "gates", gate.value) for gate in QaGate
]


def test_a_rule_change_is_stored_within_one_dynamodb_item_or_refused_as_too_large() -> None:
    clients = ClientDirectory(CLIENTS_DIR)

    @PROPERTY
    @example(rules=len(REMEDIATIONS), steps=MAX_REMEDIATION_STEPS, size=NOTE_MAX_LENGTH)
    @example(rules=1, steps=1, size=300_000)
    @given(
        rules=st.integers(1, len(REMEDIATIONS)),
        steps=st.integers(1, MAX_REMEDIATION_STEPS + 1),
        size=st.integers(1, NOTE_MAX_LENGTH + 1),
    )
    def check(rules: int, steps: int, size: int) -> None:
        # Given remediation steps of any size and count for some of the client's rules (the
        # domain, called directly, has no body limit)
        patch: dict[str, Any] = {}
        for section, kind, name in REMEDIATIONS[:rules]:
            patch.setdefault(section, {}).setdefault(kind, {})[name] = {
                "remediation": [f"{n}".ljust(size, "x") for n in range(steps)]
            }
        request = ProposeRuleChangeRequest(summary="Long steps", base_version=1, changes=patch)
        store = RuleStoreInMemory()
        # When a lead proposes it
        try:
            propose_rule_change(store, clients, SettableClock(NOW), "acme-outdoors", LEAD, request)
        # Then a step or a list past its limit is refused naming the field and the limit...
        except RulesInvalid as refused:
            assert store.changes == []
            assert size > NOTE_MAX_LENGTH or steps > MAX_REMEDIATION_STEPS, str(refused)
            assert re.search(
                rf"remediation(\.\d+)?: \w+ should have at most "
                rf"({NOTE_MAX_LENGTH} characters|{MAX_REMEDIATION_STEPS} items)",
                str(refused),
            ), str(refused)[:300]
        # ...a version too large for one item naming the stored size and the limit...
        except RulesTooLarge as refused:
            assert store.changes == []
            matched = re.fullmatch(
                rf"changes: the rules version would be (\d+) bytes stored; "
                rf"the limit is {RULE_VERSION_MAX_BYTES}",
                str(refused),
            )
            assert matched and int(matched[1]) > RULE_VERSION_MAX_BYTES, str(refused)
        # ...or what is stored fits one DynamoDB item (400 KB) with room for its approval
        else:
            (change,) = store.changes
            assert len(change.model_dump_json().encode()) <= RULE_VERSION_MAX_BYTES < 400 * 1024

    check()


def test_client_files_in_the_repository_are_valid() -> None:
    # Given the client files the edits start from
    # When each is loaded
    # Then each is valid, and its TOML parses on its own
    for path in CLIENT_FILES:
        assert load_client_file(path).client_id == path.stem
        assert tomllib.loads(path.read_text(encoding="utf-8"))


def test_working_hours_the_calendar_refuses_are_refused_naming_the_field() -> None:
    # Given a lead proposing working hours with no working day at all
    store = RuleStoreInMemory()
    request = ProposeRuleChangeRequest(
        summary="No more working days",
        base_version=1,
        changes={"rules": {"working_hours": {"days": []}}},
    )
    clients = ClientDirectory(CLIENTS_DIR)
    # When the change is proposed
    with pytest.raises(RulesInvalid) as refused:
        propose_rule_change(store, clients, SettableClock(NOW), "acme-outdoors", LEAD, request)
    # Then it is refused, naming the field, and nothing is stored
    assert str(refused.value).startswith("rules.working_hours.days: ")
    assert store.changes == []


def test_working_hours_too_short_for_the_slas_are_refused() -> None:
    # Given a lead proposing a working window of one second a day
    store = RuleStoreInMemory()
    hours = {"start": "00:00:00", "end": "00:00:01"}
    request = ProposeRuleChangeRequest(
        summary="One second a day", base_version=1, changes={"rules": {"working_hours": hours}}
    )
    # When the change is proposed
    with pytest.raises(RulesInvalid) as refused:
        propose_rule_change(
            store, ClientDirectory(CLIENTS_DIR), SettableClock(NOW), "acme-outdoors", LEAD, request
        )
    # Then it is refused (no deadline could ever be reached), and nothing is stored
    assert "the working hours leave too little time" in str(refused.value)
    assert store.changes == []
