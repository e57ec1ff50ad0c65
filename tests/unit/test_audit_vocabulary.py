"""The audit vocabulary and the one way an order changes.

Every action an order's trail can hold is an ``AuditAction`` with a detail model; the order
aggregate's ``transition`` is the only writer of the next snapshot and its event, and it refuses
a misspelt change, a wrong type or a detail its action does not record. Each reader of the
trail (domain events, business metrics, the measurement, the checklist) decides every action.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from shipshape.audit import AGAIN, DETAILS, AuditAction, Detail
from shipshape.events import domain_events, event_of
from shipshape.models import (
    Actor,
    AuditEvent,
    Order,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from shipshape.observability import business_metrics
from shipshape.services.checklist import _failed_automation
from shipshape.services.metrics import _Counted, _counted
from tests.builders import least_detail

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shipshape" / "shipshape"
AT = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
WORKFLOW = Actor(kind="workflow", id="fulfillment")
SHOP = "acme-outdoors.myshopify.com"
ORDER_ID = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, "5600001")


def _order(status: OrderStatus = OrderStatus.ACCEPTED) -> Order:
    return Order(
        order_id=ORDER_ID,
        client_id="acme-outdoors", platform=Platform.SHOPIFY, store=SHOP,
        storefront_order_id="5600001", version=1, storefront_updated_at=AT, received_at=AT,
        payment=PaymentState.PAID, lines=(OrderLine(line_id="1", sku="TENT-2P-GRN", quantity=1),),
        status=status, owner="ops", status_timestamps={status: AT}, rules_version="1",
        audit_seq=1,
    )  # fmt: skip


EXCEPTION_ID = f"{ORDER_ID}.e1"


def event_for(action: AuditAction) -> AuditEvent:
    return AuditEvent(
        order_id=_order().order_id, seq=2, at=AT, action=action, actor=WORKFLOW, owner="ops",
        detail=least_detail(action),
    )  # fmt: skip


# --- the vocabulary ------------------------------------------------------------------------


def test_every_action_says_what_it_records_and_nothing_else_is_described() -> None:
    # Given the vocabulary
    # When its detail models are listed
    # Then every action has one, each refusing keys it does not know, and none is spare
    assert set(DETAILS) == set(AuditAction)
    for model in DETAILS.values():
        assert issubclass(model, Detail)
        assert model.model_config.get("extra") == "forbid"


def test_every_action_is_one_the_code_writes() -> None:
    # Given the package's source outside the vocabulary itself and the trail's readers
    readers = {"audit.py", "events.py", "observability.py", "metrics.py", "checklist.py"}
    source = "\n".join(
        p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py") if p.name not in readers
    )
    # When the actions written there are collected (AuditAction.X, or AGAIN's renewals)
    written = set(re.findall(r"AuditAction\.([A-Z_]+)", source))
    written |= {again.name for again in AGAIN.values()}
    # Then each action of the vocabulary is written somewhere: none is a fixture's invention
    assert {a.name for a in AuditAction} - written == set()


def test_an_action_outside_the_vocabulary_is_refused() -> None:
    # Given an event with an action no code writes
    # When it is built
    # Then it is refused, naming the field
    with pytest.raises(ValidationError, match="action"):
        AuditEvent(
            order_id=_order().order_id, seq=2, at=AT, action="order_accepted", actor=WORKFLOW
        )


def test_a_detail_that_does_not_fit_its_action_is_refused_naming_what_is_wrong() -> None:
    # Given the detail of a shipment with a misspelt key, and one with a wrong type
    # When each is recorded
    # Then each is refused, naming the action and the key
    shipped = event_for(AuditAction.SHIPPED).model_dump()
    misspelt = {**shipped["detail"], "tracking_nr": "1Z"}
    with pytest.raises(
        ValidationError,
        match="the detail of shipped does not fit: tracking_nr: Extra inputs are not permitted",
    ):
        AuditEvent(**{**shipped, "detail": misspelt})
    with pytest.raises(ValidationError, match="the detail of pick_confirmed does not fit"):
        AuditEvent(
            **{**event_for(AuditAction.PICK_CONFIRMED).model_dump(),
               "detail": {"event_id": "e1", "units_scanned": "many"}}
        )  # fmt: skip


def test_the_typed_detail_reads_back_what_was_written() -> None:
    # Given a picker assignment as the workflow records it
    _, event = _order().transition(
        AuditAction.PICKER_ASSIGNED, actor=WORKFLOW, at=AT,
        detail={"picker": "ana", "rule": "zone", "zones": ["A"], "workload": {"ana": 2},
                "document": "pick-list-1", "sha256": "0" * 64},
    )  # fmt: skip
    # When its detail is read typed
    details = event.details
    # Then it is the action's model, with the values written
    assert type(details) is DETAILS[AuditAction.PICKER_ASSIGNED]
    assert details.model_dump()["workload"] == {"ana": 2}


# --- the one way an order changes ----------------------------------------------------------


def test_a_transition_moves_the_order_and_records_one_event_for_it() -> None:
    # Given an accepted order
    order = _order()
    # When its address is validated
    new, event = order.transition(
        AuditAction.ADDRESS_VALIDATED, actor=WORKFLOW, at=AT,
        to=OrderStatus.ADDRESS_VALIDATED, owner="ops",
        detail={"standard": "usps", "standardized_fields": ["line1"]},
        changes={"warehouse": "pdx-1"},
    )  # fmt: skip
    # Then the next snapshot is in the new status since then, one event further on, and the
    # event says from what to what; the order it came from is unchanged
    assert (new.status, new.audit_seq, new.warehouse) == (OrderStatus.ADDRESS_VALIDATED, 2, "pdx-1")
    assert new.status_timestamps[OrderStatus.ADDRESS_VALIDATED] == AT
    assert (event.seq, event.from_status, event.to_status) == (
        2, OrderStatus.ACCEPTED, OrderStatus.ADDRESS_VALIDATED,
    )  # fmt: skip
    assert (order.status, order.audit_seq, order.warehouse) == (OrderStatus.ACCEPTED, 1, None)


def test_a_transition_refuses_a_misspelt_change_and_a_wrong_type() -> None:
    # Given an order
    order = _order()
    # When a change names a field the order does not have, or gives a field the wrong type
    # Then it is refused instead of being dropped or stored
    with pytest.raises(ValidationError, match="warehose"):
        order.transition(
            AuditAction.CUSTOMER_NOTIFIED, actor=WORKFLOW, at=AT, detail={"channel": "email"},
            changes={"warehose": "pdx-1"},  # type: ignore[typeddict-unknown-key]
        )  # fmt: skip
    with pytest.raises(ValidationError, match="exceptions_opened"):
        order.transition(
            AuditAction.CUSTOMER_NOTIFIED, actor=WORKFLOW, at=AT, detail={"channel": "email"},
            changes={"exceptions_opened": "two"},  # type: ignore[typeddict-item]
        )  # fmt: skip


def test_a_move_to_a_new_status_needs_its_owner() -> None:
    # Given an order
    # When it is moved to a new status without saying who owns it there
    # Then the move is refused
    with pytest.raises(ValueError, match="needs its owner"):
        _order().transition(
            AuditAction.ADDRESS_VALIDATED, actor=WORKFLOW, at=AT,
            to=OrderStatus.ADDRESS_VALIDATED,
            detail={"standard": "usps", "standardized_fields": []},
        )  # fmt: skip


def test_a_paid_order_keeps_the_time_it_was_first_accepted() -> None:
    # Given an order accepted at AT, rolled back to ACCEPTED an hour later
    order = _order()
    later = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    moved, _ = order.transition(
        AuditAction.ADDRESS_VALIDATED, actor=WORKFLOW, at=AT, to=OrderStatus.ADDRESS_VALIDATED,
        owner="ops", detail={"standard": "usps", "standardized_fields": []},
    )  # fmt: skip
    back, _ = moved.transition(
        AuditAction.EXCEPTION_RESOLVED, actor=WORKFLOW, at=later, to=OrderStatus.ACCEPTED,
        owner="ops", detail={"exception_id": EXCEPTION_ID, "type": "address_invalid",
                             "due_at": later.isoformat(), "action": "retry", "note": "fixed"},
    )  # fmt: skip
    # Then fulfilment time still starts when it was paid
    assert back.status_timestamps[OrderStatus.ACCEPTED] == AT


# --- every reader decides every action ------------------------------------------------------


@pytest.mark.parametrize("action", list(AuditAction), ids=str)
def test_every_reader_of_the_trail_decides_every_action(action: AuditAction) -> None:
    # Given an event of this action, as small as its detail allows
    event = event_for(action)
    # When each reader of the trail reads it
    # Then each gives its answer (a reader that forgot the action fails on assert_never)
    builder = event_of(action)
    assert builder is None or callable(builder)
    counted = _counted(action)
    assert counted is None or isinstance(counted, _Counted)
    assert _failed_automation(event) in (True, False)
    assert isinstance(domain_events(event, "acme-outdoors"), list)
    business_metrics(_order(), event)


def test_the_readers_count_what_each_action_stands_for() -> None:
    # Given the actions the measurement and the week's review count
    # When they are read
    # Then received orders, QA verdicts, opened, escalated and resolved exceptions are counted,
    # and a held or quarantined order is an automation that failed
    counted = {a for a in AuditAction if _counted(a) is not None}
    assert counted == {
        AuditAction.ORDER_RECEIVED, AuditAction.QA_PASSED, AuditAction.QA_FAILED,
        AuditAction.EXCEPTION_OPENED, AuditAction.ORDER_QUARANTINED,
        AuditAction.EXCEPTION_ESCALATED, AuditAction.EXCEPTION_RESOLVED,
    }  # fmt: skip
    failed = {a for a in AuditAction if _failed_automation(event_for(a))}
    assert failed == {AuditAction.ORDER_QUARANTINED, AuditAction.ORDER_HELD}
    with_events = {a for a in AuditAction if event_of(a) is not None}
    assert {AuditAction.SHIPPED, AuditAction.EXCEPTION_OPENED} <= with_events
    assert AuditAction.PICK_REQUESTED_AGAIN not in with_events
