"""Every free-form field a request carries has a limit of its own, over HTTP on the embedded
stack: an operator's resolution, override, review or away note, a proposed rule change, and a
warehouse event. A value one past its field's limit is refused with 422 naming the field and
the limit, before anything is written; a value at the limit is never refused for its length
(it is accepted, or refused for what it says).

Where a limit comes from is written beside it in the models: a person or team name is as
long as an id in a path (64), a note or remediation step a paragraph (2,000), an address
field as long as Shopify allows (255; a name is Shopify's first and last name, 511), a
barcode as long as the SKU master's (64, room for GS1-128's 48 data characters), a ship line
as a storefront's line id (64) and an order line's quantity (100,000).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shipshape.models import OrderException
from shipshape_local.issuer import dev_token
from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from tests.integration.stack import open_address_exception

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

LEAD = {"Authorization": f"Bearer {dev_token('olivia.lead')}", "Content-Type": "application/json"}
CLIENT = "acme-outdoors"
# Acme's rules name these owners in escalation chains and its zones name these pickers, so
# a patch that replaces the lists keeps them for the rules to stay valid otherwise.
ACME_PEOPLE = ["carla.cs-lead", "olivia.lead"]
ACME_PICKERS = ["pdx-picker-ana", "pdx-picker-ben", "pdx-picker-cruz"]
# No US postal code: a corrected address built on this one stays invalid for what it lacks,
# so a resolution with a field at its limit is refused for that, not for the length.
NO_ZIP = {"line1": "500 SW Market St", "city": "Portland", "region": "OR", "country_code": "US"}
PACK = {"weight_grams": 900, "length_mm": 300, "width_mm": 200, "height_mm": 100}
LENGTH_PROBLEM = re.compile(r"should have at most \d+|less than or equal to \d+")
EVENT_IDS = itertools.count(1)


@dataclass
class Stack:
    runtime: EmbeddedRuntime
    resolving: OrderException  # an Acme order in an address exception, for resolutions
    overriding: OrderException  # another, for overrides and their reviews

    def warehouse_token(self) -> dict[str, str]:
        token = self.runtime.secret(f"shipshape/{CLIENT}/warehouse-token")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The embedded stack with two Acme orders stopped in address exceptions, written as the
    workflow writes them (no execution runs in the background while a test counts writes)."""
    clock = ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))
    with EmbeddedRuntime(clock=clock) as runtime:
        yield Stack(
            runtime,
            open_address_exception(clock, 5_600_001),
            open_address_exception(clock, 5_600_002),
        )
        assert runtime.integration_errors == [], "a handler crashed:\n" + "\n".join(
            runtime.integration_errors
        )


# --- how each limited field is sent --------------------------------------------------------


def resolve(body: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return lambda s: s.runtime.http(
        "POST", f"/exceptions/{s.resolving.exception_id}/resolve", headers=LEAD,
        body=json.dumps(body),
    )  # fmt: skip


def override(body: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return lambda s: s.runtime.http(
        "POST", f"/orders/{s.overriding.order_id}/overrides", headers=LEAD, body=json.dumps(body)
    )


def review(body: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return lambda s: s.runtime.http(
        "POST", f"/orders/{s.overriding.order_id}/overrides/o1/approve", headers=LEAD,
        body=json.dumps(body),
    )  # fmt: skip


def reject_rules(body: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return lambda s: s.runtime.http(
        "POST", f"/rules/{CLIENT}/changes/2/reject", headers=LEAD, body=json.dumps(body)
    )


def mark_away(body: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return lambda s: s.runtime.http(
        "PUT", "/owners/maya.cs/away", headers=LEAD, body=json.dumps(body)
    )


def propose(changes: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    body = {"summary": "limits", "base_version": 1, "changes": changes}
    return lambda s: s.runtime.http(
        "POST", f"/rules/{CLIENT}/changes", headers=LEAD, body=json.dumps(body)
    )


def warehouse(event: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    def send(s: Stack) -> HttpResponse:
        # A new event id each time: a resend of an id with other content is refused as such.
        sent = {"event_id": f"limit-{next(EVENT_IDS)}", **event}
        return s.runtime.http(
            "POST", f"/warehouse/{CLIENT}/events", headers=s.warehouse_token(),
            body=json.dumps(sent),
        )  # fmt: skip

    return send


def on_the_order(kind: str, fields: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    """A pick_scans or pack_data event for the resolving order (which waits for neither)."""
    base = {
        "pick_scans": {"type": "pick_scans", "picker": "pia",
                       "scans": [{"sku": "TENT-2P-GRN", "barcode": "0840012345678"}]},
        "pack_data": {"type": "pack_data", "packer": "pat", "pack": PACK},
    }[kind]  # fmt: skip
    return lambda s: warehouse({**base, "order_id": s.resolving.order_id, **fields})(s)


SKU = {"type": "sku_updated", "sku": "LIMIT-TEST-1", "barcode": "0840099999999",
       "unit_weight_grams": 300, "length_mm": 100, "width_mm": 100, "height_mm": 100}  # fmt: skip
STOCK = {"type": "stock_received", "sku": "TENT-2P-GRN", "warehouse": "pdx-1", "quantity": 1,
         "bin": "A-01-1"}  # fmt: skip


@dataclass(frozen=True)
class Limit:
    """One limited field: how a request carrying a value for it is sent, where a refusal
    names it, its limit, and a value at the limit and one past it."""

    id: str
    send: Callable[[Any], Callable[[Stack], HttpResponse]]
    where: str
    limit: int
    at: Any
    past: Any

    def problem(self) -> re.Pattern[str]:
        """How the refusal of the value one past the limit reads, in pydantic's words."""
        if isinstance(self.past, str):
            said = f"String should have at most {self.limit} characters"
        elif isinstance(self.past, int):
            said = f"Input should be less than or equal to {self.limit}"
        else:  # a tuple, a dictionary, a set
            said = rf"\w+ should have at most {self.limit} items after validation"
        return re.compile(rf"(^|; ){re.escape(self.where)}: {said}")


def text(n: int, char: str = "x") -> str:
    return char * n


def names(n: int, prefix: str, keep: tuple[str, ...] = ()) -> list[str]:
    """``n`` distinct names, starting with ``keep``."""
    return [*keep, *(f"{prefix}-{i:04d}" for i in range(n - len(keep)))]


def days(n: int) -> list[str]:
    return [(date(2027, 1, 1) + timedelta(days=i)).isoformat() for i in range(n)]


def in_address(send: Callable[[dict[str, Any]], Callable[[Stack], HttpResponse]], where: str
               ) -> list[Limit]:  # fmt: skip
    """One Limit per field of a corrected address: 255 characters, a name 511."""
    fields = {"name": 511, "company": 255, "line1": 255, "line2": 255, "city": 255,
              "region": 255, "postal_code": 255, "phone": 255}  # fmt: skip

    def with_field(field: str) -> Callable[[Any], Callable[[Stack], HttpResponse]]:
        return lambda value: send({**NO_ZIP, field: value})

    return [
        Limit(f"{where}.{field}", with_field(field), f"{where}.{field}", limit, text(limit),
              text(limit + 1))
        for field, limit in fields.items()
    ]  # fmt: skip


def partial(line: dict[str, Any]) -> Callable[[Stack], HttpResponse]:
    return resolve({"action": "partial", "note": "ship what we have", "ship_lines": [line]})


def remediation(where: str, steps: list[str]) -> dict[str, Any]:
    if where == "gate":
        return {"fulfilment": {"gates": {"post_pick": {"remediation": steps}}}}
    return {"rules": {"exceptions": {"address_invalid": {"remediation": steps}}}}


AWAY = {"client_id": CLIENT, "starts_at": "2026-11-24T09:00:00Z", "ends_at": "2026-11-24T18:00:00Z"}
LEVEL = {"owner": "olivia.lead", "sla_hours": 1}

LIMITS: list[Limit] = [
    # --- a resolution: its note, the corrected address, the lines that ship now -------------
    Limit("resolve note", lambda v: resolve({"action": "retry", "note": v}),
          "body.note", 2000, text(2000), text(2001)),
    *in_address(lambda a: resolve({"action": "retry", "note": "customer called", "address": a}),
                "body.address"),
    Limit("ship line id", lambda v: partial({"line_id": v, "quantity": 1}),
          "body.ship_lines.0.line_id", 64, text(64, "1"), text(65, "1")),
    Limit("ship line quantity", lambda v: partial({"line_id": "1", "quantity": v}),
          "body.ship_lines.0.quantity", 100_000, 100_000, 100_001),
    # --- an override: the value for each field, its reason; a review's note ----------------
    Limit("override owner",
          lambda v: override({"field": "owner", "value": v, "reason": "taking it over"}),
          "body.value", 64, text(64, "o"), text(65, "o")),
    *in_address(lambda a: override({"field": "shipping_address", "value": a,
                                    "reason": "customer moved"}), "body.value"),
    Limit("override reason",
          lambda v: override({"field": "owner", "value": "ops", "reason": v}),
          "body.reason", 2000, text(2000), text(2001)),
    Limit("override review note", lambda v: review({"note": v}),
          "body.note", 2000, text(2000), text(2001)),
    # --- rules governance, owners away --------------------------------------------------------
    Limit("rule rejection note", lambda v: reject_rules({"note": v}),
          "body.note", 2000, text(2000), text(2001)),
    Limit("away note", lambda v: mark_away({**AWAY, "note": v}),
          "body.note", 500, text(500), text(501)),
    Limit("remediation step", lambda v: propose(remediation("rule", [v])),
          "rules.exceptions.address_invalid.remediation.0", 2000, text(2000), text(2001)),
    Limit("remediation steps", lambda v: propose(remediation("rule", v)),
          "rules.exceptions.address_invalid.remediation", 20,
          names(20, "step"), names(21, "step")),
    Limit("escalation levels",
          lambda v: propose({"rules": {"exceptions": {"address_invalid": {"escalation": v}}}}),
          "rules.exceptions.address_invalid.escalation", 10, [LEVEL] * 10, [LEVEL] * 11),
    Limit("people", lambda v: propose({"rules": {"people": v}}), "rules.people", 500,
          names(500, "person", ACME_PEOPLE), names(501, "person", ACME_PEOPLE)),
    Limit("team members", lambda v: propose({"rules": {"teams": {"logistics": v}}}),
          "rules.teams.logistics", 500, names(500, "person"), names(501, "person")),
    # Acme has six teams; the patch adds to them
    Limit("teams", lambda v: propose({"rules": {"teams": {t: ["dana.logistics"] for t in v}}}),
          "rules.teams", 100, names(94, "team"), names(95, "team")),
    Limit("holiday country",
          lambda v: propose({"rules": {"working_hours": {"holiday_country": v,
                                                         "holiday_subdivision": None}}}),
          "rules.working_hours.holiday_country", 64, text(64, "U"), text(65, "U")),
    Limit("holiday subdivision",
          lambda v: propose({"rules": {"working_hours": {"holiday_subdivision": v}}}),
          "rules.working_hours.holiday_subdivision", 64, text(64, "O"), text(65, "O")),
    Limit("closed dates",
          lambda v: propose({"rules": {"working_hours": {"extra_closed_dates": v}}}),
          "rules.working_hours.extra_closed_dates", 1000, days(1000), days(1001)),
    Limit("status owner", lambda v: propose({"status_owners": {"ON_HOLD": v}}),
          "status_owners.ON_HOLD", 64, text(64, "o"), text(65, "o")),
    Limit("picker", lambda v: propose({"pickers": [*ACME_PICKERS, v]}),
          "pickers.3", 64, text(64, "p"), text(65, "p")),
    Limit("pickers", lambda v: propose({"pickers": v}), "pickers", 500,
          names(500, "picker", ACME_PICKERS), names(501, "picker", ACME_PICKERS)),
    Limit("gate owner",
          lambda v: propose({"fulfilment": {"gates": {"post_pick": {"owner": v}}}}),
          "fulfilment.gates.post_pick.owner", 64, text(64, "q"), text(65, "q")),
    Limit("gate remediation step", lambda v: propose(remediation("gate", [v])),
          "fulfilment.gates.post_pick.remediation.0", 2000, text(2000), text(2001)),
    Limit("gate remediation steps", lambda v: propose(remediation("gate", v)),
          "fulfilment.gates.post_pick.remediation", 20, names(20, "step"), names(21, "step")),
    Limit("warehouse", lambda v: propose({"fulfilment": {"warehouses": ["pdx-1", v]}}),
          "fulfilment.warehouses.1", 32, text(32, "w"), text(33, "w")),
    Limit("warehouses", lambda v: propose({"fulfilment": {"warehouses": v}}),
          "fulfilment.warehouses", 50, names(50, "wh", ("pdx-1",)),
          names(51, "wh", ("pdx-1",))),
    Limit("ship-from postal code",
          lambda v: propose({"fulfilment": {"ship_from_postal_code": v}}),
          "fulfilment.ship_from_postal_code", 255, text(255, "9"), text(256, "9")),
    Limit("service", lambda v: propose({"fulfilment": {"services": ["ground", v]}}),
          "fulfilment.services.1", 64, text(64, "s"), text(65, "s")),
    Limit("services", lambda v: propose({"fulfilment": {"services": v}}),
          "fulfilment.services", 20, names(20, "service"), names(21, "service")),
    Limit("picker zone",
          lambda v: propose({"fulfilment": {"picker_zones": {"pdx-picker-ana": ["A", v]}}}),
          "fulfilment.picker_zones.pdx-picker-ana.1", 32, text(32, "Z"), text(33, "Z")),
    Limit("picker zones",
          lambda v: propose({"fulfilment": {"picker_zones": {"pdx-picker-ana": v}}}),
          "fulfilment.picker_zones.pdx-picker-ana", 100, names(100, "Z"), names(101, "Z")),
    # --- warehouse events --------------------------------------------------------------------
    Limit("scan barcode",
          lambda v: on_the_order("pick_scans", {"scans": [{"sku": "TENT-2P-GRN", "barcode": v}]}),
          "body.pick_scans.scans.0.barcode", 64, text(64, "0"), text(65, "0")),
    Limit("picker of scans", lambda v: on_the_order("pick_scans", {"picker": v}),
          "body.pick_scans.picker", 64, text(64, "p"), text(65, "p")),
    Limit("packer", lambda v: on_the_order("pack_data", {"packer": v}),
          "body.pack_data.packer", 64, text(64, "p"), text(65, "p")),
    Limit("event id", lambda v: on_the_order("pack_data", {"event_id": v}),
          "body.pack_data.event_id", 128, text(128, "e"), text(129, "e")),
    Limit("sku title", lambda v: warehouse({**SKU, "title": v}),
          "body.sku_updated.title", 200, text(200, "t"), text(201, "t")),
    Limit("sku barcode", lambda v: warehouse({**SKU, "barcode": v}),
          "body.sku_updated.barcode", 64, text(64, "0"), text(65, "0")),
    Limit("stock warehouse", lambda v: warehouse({**STOCK, "warehouse": v}),
          "body.stock_received.warehouse", 32, text(32, "w"), text(33, "w")),
    Limit("stock bin", lambda v: warehouse({**STOCK, "bin": v}),
          "body.stock_received.bin", 32, text(32, "A"), text(33, "A")),
    Limit("stock lot", lambda v: warehouse({**STOCK, "lot": v}),
          "body.stock_received.lot", 64, text(64, "L"), text(65, "L")),
]  # fmt: skip
each_limit = pytest.mark.parametrize("field", LIMITS, ids=[f.id for f in LIMITS])


def settled(stack: Stack) -> int:
    """The writes so far, once nothing runs in the background."""
    assert stack.runtime.settle(timeout=10)
    return stack.runtime.writes.count


# --- the tests --------------------------------------------------------------------------------


@each_limit
def test_a_value_one_past_its_fields_limit_is_refused_naming_both_and_writes_nothing(
    stack: Stack, field: Limit
) -> None:
    # Given a request whose one field holds a value one past its limit, every other valid
    before, crashes = settled(stack), len(stack.runtime.integration_errors)

    # When it is sent with the credentials its route needs
    answer = field.send(field.past)(stack)

    # Then it is refused with 422 naming the field and its limit, and nothing is written
    assert stack.runtime.integration_errors[crashes:] == []
    assert answer.status == 422, (answer.status, answer.body[:300])
    assert set(answer.json()) == {"error", "message"}
    assert field.problem().search(answer.json()["message"]), answer.json()["message"][:500]
    assert settled(stack) == before, "a refused request wrote to a table"


@each_limit
def test_a_value_at_its_fields_limit_is_never_refused_for_its_length(
    stack: Stack, field: Limit
) -> None:
    # Given a request whose one field holds a value exactly at its limit
    crashes = len(stack.runtime.integration_errors)

    # When it is sent
    answer = field.send(field.at)(stack)

    # Then it is accepted, or refused for what it says (an owner nobody has, an order that
    # is not waiting), never for a length and never as a server error
    assert stack.runtime.integration_errors[crashes:] == []
    assert answer.status < 500, answer.body[:300]
    if answer.status >= 400:
        assert not LENGTH_PROBLEM.search(answer.json()["message"]), answer.json()


@pytest.mark.parametrize(
    "value",
    [text(5000, "C"), "cancelled", 1, {"status": "CANCELLED"}],
    ids=["long", "not-a-status", "number", "object"],
)
def test_an_override_of_the_status_takes_only_a_status(stack: Stack, value: Any) -> None:
    # Given a status override whose value is no order status
    before = settled(stack)
    # When it is requested
    answer = override({"field": "status", "value": value, "reason": "customer called"})(stack)
    # Then it is refused naming the value and the statuses it may be, and nothing is written
    assert answer.status == 422, answer.body[:300]
    message = answer.json()["message"]
    assert message.startswith(
        "body.value: Input should be 'RECEIVED', 'PARTIALLY_PAID', 'ACCEPTED'"
    ), message
    assert len(message) < 1000
    assert settled(stack) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("owner", {"name": "ops"}), ("owner", ["ops"]), ("shipping_address", "500 SW Market St")],
    ids=["owner-object", "owner-list", "address-text"],
)
def test_an_override_value_of_the_wrong_shape_for_its_field_is_refused(
    stack: Stack, field: str, value: Any
) -> None:
    # Given an override whose value has the shape of another field's (an object for an owner,
    # text for an address)
    before = settled(stack)
    # When it is requested
    answer = override({"field": field, "value": value, "reason": "fixing it"})(stack)
    # Then it is refused naming the value, without quoting it back, and nothing is written
    assert answer.status == 422, answer.body[:300]
    message = answer.json()["message"]
    assert message.startswith("body.value: "), message
    assert str(value) not in message and json.dumps(value) not in message, message
    assert settled(stack) == before


def test_a_corrected_address_with_a_field_it_does_not_have_is_refused(stack: Stack) -> None:
    # Given a corrected address carrying a key no address has, 60,000 characters long
    address = {**NO_ZIP, "notes": text(60_000)}
    before = settled(stack)
    # When an operator resolves with it
    answer = resolve({"action": "retry", "note": "customer called", "address": address})(stack)
    # Then it is refused naming the key, and nothing is written
    assert answer.status == 422, answer.body[:300]
    assert "body.address.notes: Extra inputs are not permitted" in answer.json()["message"]
    assert settled(stack) == before
