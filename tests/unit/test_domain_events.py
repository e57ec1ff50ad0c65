"""Domain events: each audit event maps to the events it stands for, read from the table's
stream as Lambda delivers it; every detail matches its checked-in schema, carries no customer
PII, and has the same id however often it is delivered."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from shipshape.adapters.dynamodb import audit_item
from shipshape.adapters.dynamodb.stream import MalformedAuditRecord, from_stream_record
from shipshape.adapters.eventbridge import EventTooLarge, entry_size, put_batches, put_entries
from shipshape.authorization import Operator
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.events import (
    EVENT_TYPES,
    DomainEvent,
    ExceptionEscalated,
    ExceptionOpened,
    ExceptionResolved,
    OrderShipped,
    OrderStatusChanged,
    QaResultRecorded,
    domain_events,
)
from shipshape.models import (
    Actor,
    Address,
    AuditEvent,
    ExceptionType,
    OrderStatus,
    Platform,
    canonical_order_id,
)
from shipshape.services.escalation import sweep_overdue
from shipshape.services.exceptions import (
    OpenExceptionRequest,
    ResolveExceptionRequest,
    claim_exception,
    open_exception,
    resolve_exception,
)
from shipshape.services.fulfillment import (
    AwaitRequest,
    PackResult,
    PickResult,
    StepContext,
    WorkflowState,
    assign_picker,
    await_pack,
    await_pick,
    create_label,
    mark_shipped,
    notify_shipped,
    pack_qa,
    post_pick_qa,
    pre_pick_qa,
    record_pack,
    record_pick,
    reserve_inventory,
    shipping_qa,
    validate_address,
)
from shipshape.services.ingest import ingest_webhook
from tests.fakes import (
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import load_event, sign_shopify, webhook_delivery

ROOT = Path(__file__).parents[2]
SCHEMAS = ROOT / "schemas" / "events"

CLIENT = "acme-outdoors"
SHOP = "acme-outdoors.myshopify.com"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
SECRET = b"dev-shpss-acme-outdoors-current"
ORDER_ID = canonical_order_id(CLIENT, Platform.SHOPIFY, SHOP, "5600001")
EXCEPTION_ID = f"{ORDER_ID}.e1"
AT = datetime(2026, 11, 20, 15, 42, 10, tzinfo=UTC)
DUE = "2026-11-20T19:00:00+00:00"
WORKFLOW = Actor(kind="workflow", id="fulfillment")
OPERATOR = Actor(kind="operator", id="ana.ops")

# Keys that would carry a customer's personal data; none may appear in any event's schema.
PII_KEYS = {
    "name", "first_name", "last_name", "customer", "email", "phone", "address",
    "shipping_address", "billing_address", "standardized_address", "line1", "line2",
    "address1", "address2", "city", "postal_code", "zip", "company", "note", "cause",
    "message", "latitude", "longitude",
}  # fmt: skip
# What the Shopify fixture says about its customer: no event may repeat any of it.
CUSTOMER_VALUES = ("Jane", "Doe", "jane.doe@example.com", "415 SW Alder", "97204", "5035550142")


def audit(
    action: str,
    detail: dict[str, Any] | None = None,
    *,
    seq: int = 7,
    actor: Actor = WORKFLOW,
    from_status: OrderStatus | None = None,
    to_status: OrderStatus | None = None,
    owner: str | None = "ops",
) -> AuditEvent:
    """An audit event as the services write them (the detail shaped as each action's is)."""
    return AuditEvent(
        order_id=ORDER_ID,
        seq=seq,
        at=AT,
        action=action,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        owner=owner,
        detail=detail or {},
    )


def _exception(kind: str = "address_invalid", **detail: Any) -> dict[str, Any]:
    return {"exception_id": EXCEPTION_ID, "type": kind, "due_at": DUE, **detail}


# One audit event per action the events come from, and the detail-types each gives.
CASES: dict[str, tuple[AuditEvent, list[str]]] = {
    "order_received": (
        audit(
            "order_received",
            {
                "version": 3,
                "storefront_updated_at": "2026-11-16T18:21:40+00:00",
                "sync_lag_seconds": 0.81,
                "source": "webhook",
                "payment": "paid",
                "rules_version": "acme-2026-11",
            },
            seq=1,
            actor=Actor(kind="storefront", id=f"shopify:{SHOP}"),
            to_status=OrderStatus.ACCEPTED,
        ),
        ["order-status-changed.v1"],
    ),
    "shipped": (
        audit(
            "shipped",
            {"carrier": "ups", "tracking_number": "1ZSANDBOX0000001", "service": "GROUND"},
            from_status=OrderStatus.LABELLED,
            to_status=OrderStatus.SHIPPED,
        ),
        ["order-status-changed.v1", "order-shipped.v1"],
    ),
    "shipped_partially": (
        audit(
            "shipped_partially",
            {
                "carrier": "ups",
                "tracking_number": "1ZSANDBOX0000002",
                "service": "GROUND",
                "shipped": [{"sku": "TENT-2P-GRN", "quantity": 1}],
                "not_shipped": [{"sku": "MUG-ENAMEL-12", "quantity": 2}],
            },
            from_status=OrderStatus.LABELLED,
            to_status=OrderStatus.COMPLETED_PARTIAL,
        ),
        ["order-status-changed.v1", "order-shipped.v1"],
    ),
    "exception_opened": (
        audit(
            "exception_opened",
            _exception(
                step="ValidateAddress",
                error="AddressInvalid",
                cause="415 SW Alder St, Portland 97204: no such street number",
            ),
            from_status=OrderStatus.ACCEPTED,
            to_status=OrderStatus.EXCEPTION,
            owner="client-success",
        ),
        ["order-status-changed.v1", "exception-opened.v1"],
    ),
    "order_quarantined": (
        audit(
            "order_quarantined",
            _exception(
                "automation_failure",
                step="ReserveInventory",
                error="KeyError",
                cause="'warehouse'",
                skipped_away=["ops-on-call"],
            ),
            from_status=OrderStatus.ADDRESS_VALIDATED,
            to_status=OrderStatus.QUARANTINED,
            owner="olivia.lead",
        ),
        ["order-status-changed.v1", "exception-opened.v1"],
    ),
    "exception_claimed": (
        audit("exception_claimed", _exception(), actor=OPERATOR, owner="client-success"),
        ["exception-claimed.v1"],
    ),
    "exception_escalated": (
        audit(
            "exception_escalated",
            _exception(
                from_owner="client-success",
                to_owner="carla.cs-lead",
                level=1,
                overdue_by_business_minutes=420,
                previous_claimant="ana.ops",
            ),
            actor=Actor(kind="system", id="escalation-sweeper"),
            owner="carla.cs-lead",
        ),
        ["exception-escalated.v1"],
    ),
    "exception_escalated_exhausted": (
        audit(
            "exception_escalated",
            _exception(
                from_owner="olivia.lead",
                to_owner="olivia.lead",
                level=2,
                overdue_by_business_minutes=30,
                chain_exhausted=True,
                note="escalation chain exhausted: the last level keeps the exception",
            ),
            actor=Actor(kind="system", id="escalation-sweeper"),
            owner="olivia.lead",
        ),
        ["exception-escalated.v1"],
    ),
    "exception_reassigned": (
        audit(
            "exception_reassigned",
            _exception(
                from_owner="client-success",
                to_owner="olivia.lead",
                skipped=["carla.cs-lead"],
                level=2,
                reason="owner away longer than 4 business hours",
            ),
            actor=Actor(kind="system", id="away-reassignment"),
            owner="olivia.lead",
        ),
        ["exception-escalated.v1"],
    ),
    "exception_resolved_retry": (
        audit(
            "exception_resolved",
            _exception(
                action="retry",
                note="Called Jane Doe: the door is 451 SW Alder St",
                corrected=["shipping_address"],
                rolled_back_to="ACCEPTED",
                resume_at="ValidateAddress",
            ),
            actor=OPERATOR,
            from_status=OrderStatus.EXCEPTION,
            to_status=OrderStatus.ACCEPTED,
            owner="client-success",
        ),
        ["order-status-changed.v1", "exception-resolved.v1"],
    ),
    "exception_resolved_partial": (
        audit(
            "exception_resolved",
            _exception(
                "inventory_short",
                action="partial",
                note="client agreed to ship the tent now",
                ships_now=[{"sku": "TENT-2P-GRN", "quantity": 1}],
                not_shipped=[{"sku": "MUG-ENAMEL-12", "quantity": 2}],
                resume_at="ReserveInventory",
            ),
            actor=OPERATOR,
            from_status=OrderStatus.EXCEPTION,
            to_status=OrderStatus.ADDRESS_VALIDATED,
        ),
        ["order-status-changed.v1", "exception-resolved.v1"],
    ),
    "exception_resolved_waive": (
        audit(
            "exception_resolved",
            _exception(
                "qa_failed",
                action="waive",
                note="client approved the heavier box by email",
                waived_gate="packing",
                resume_at="CreateLabel",
            ),
            actor=Actor(kind="operator", id="olivia.lead"),
            from_status=OrderStatus.EXCEPTION,
            to_status=OrderStatus.PACKED,
            owner="qa",
        ),
        ["order-status-changed.v1", "exception-resolved.v1"],
    ),
    "qa_passed": (
        audit(
            "qa_passed",
            {"gate": "pre_pick", "owner": "qa", "checks": ["TENT-2P-GRN: in the SKU master"]},
        ),
        ["qa-result-recorded.v1"],
    ),
    "qa_failed": (
        audit(
            "qa_failed",
            {
                "gate": "packing",
                "owner": "qa",
                "checks": ["weight 3000-3600 g"],
                "failures": ["weighs 4100 g; expected 3000-3600 g (items 2900 g)"],
                "remediation": ["re-weigh the parcel", "repack in the listed box"],
            },
        ),
        ["qa-result-recorded.v1"],
    ),
    "pick_requested_again": (
        audit("pick_requested_again", {"reason": "the wait was retried"}),
        [],
    ),
}


def _events(case: str) -> list[DomainEvent]:
    event, _ = CASES[case]
    return domain_events(event, CLIENT)


def _schema(detail_type: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{detail_type}.json").read_text(encoding="utf-8")))


def _validator(detail_type: str) -> Draft202012Validator:
    return Draft202012Validator(
        _schema(detail_type), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _keys(node: Any) -> Iterator[str]:
    """Every property name a schema declares, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def stream_record(event: AuditEvent, client_id: str = CLIENT, name: str = "INSERT") -> dict:
    """The stream record Lambda delivers for the audit item the repository writes."""
    plain = {
        key: TypeDeserializer().deserialize(value)
        for key, value in audit_item(event, client_id).items()
    }
    image = {key: TypeSerializer().serialize(value) for key, value in plain.items()}
    return {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795707730,
            "Keys": {"pk": image["pk"], "sk": image["sk"]},
            "NewImage": image,
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 412,
            "StreamViewType": "NEW_IMAGE",
        },
    }


# --- mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_each_audit_action_maps_to_its_events(case: str) -> None:
    # Given an audit event as its service writes it
    event, expected = CASES[case]
    # When it is mapped
    events = domain_events(event, CLIENT)
    # Then it gives the events its action stands for, each with the envelope of the change
    assert [e.detail_type() for e in events] == expected
    for domain_event in events:
        assert domain_event.order_id == ORDER_ID
        assert domain_event.client_id == CLIENT
        assert domain_event.audit_seq == event.seq
        assert domain_event.occurred_at == AT
        assert domain_event.actor_kind == event.actor.kind
        assert domain_event.version == "1"


def test_a_status_change_says_from_what_to_what_and_why() -> None:
    # Given the audit event of a new order and of a shipment
    # When they are mapped
    received = _events("order_received")[0]
    shipped = _events("shipped")[0]
    # Then each status change names both statuses (none before the first) and its action
    assert isinstance(received, OrderStatusChanged) and isinstance(shipped, OrderStatusChanged)
    assert (received.from_status, received.to_status) == (None, OrderStatus.ACCEPTED)
    assert received.actor_kind == "storefront"
    assert (shipped.from_status, shipped.to_status) == (OrderStatus.LABELLED, OrderStatus.SHIPPED)
    assert shipped.action == "shipped"


def test_a_shipment_carries_its_tracking_and_for_a_partial_one_its_lines() -> None:
    # Given a full and a partial shipment
    # When they are mapped
    full = _events("shipped")[1]
    partial = _events("shipped_partially")[1]
    # Then both carry service and tracking number; only the partial one lists lines
    assert isinstance(full, OrderShipped) and isinstance(partial, OrderShipped)
    assert (full.service, full.tracking_number, full.partial) == (
        "GROUND",
        "1ZSANDBOX0000001",
        False,
    )
    assert full.shipped_lines is None and full.not_shipped_lines is None
    assert (full.carrier, partial.carrier) == ("ups", "ups")
    assert partial.partial is True
    assert partial.shipped_lines is not None and partial.not_shipped_lines is not None
    assert [(ln.sku, ln.quantity) for ln in partial.shipped_lines] == [("TENT-2P-GRN", 1)]
    assert [(ln.sku, ln.quantity) for ln in partial.not_shipped_lines] == [("MUG-ENAMEL-12", 2)]


def test_an_opened_exception_names_type_owner_deadline_but_not_its_cause() -> None:
    # Given an exception opened with a cause quoting the customer's address, and a quarantine
    # When they are mapped
    opened = _events("exception_opened")[1]
    quarantined = _events("order_quarantined")[1]
    # Then the events say what failed and who owns it by when, without the free-text cause
    assert isinstance(opened, ExceptionOpened) and isinstance(quarantined, ExceptionOpened)
    assert opened.exception_type is ExceptionType.ADDRESS_INVALID
    assert (opened.owner, opened.failed_step, opened.error) == (
        "client-success", "ValidateAddress", "AddressInvalid",
    )  # fmt: skip
    assert opened.due_at == datetime(2026, 11, 20, 19, 0, tzinfo=UTC)
    assert opened.quarantined is False
    assert "Alder" not in opened.model_dump_json()
    assert quarantined.quarantined is True
    assert quarantined.exception_type is ExceptionType.AUTOMATION_FAILURE
    assert quarantined.skipped_owners == ("ops-on-call",)


def test_escalation_and_reassignment_are_one_event_type_with_their_reason() -> None:
    # Given an overdue escalation of a claimed exception, one at the end of its chain, and a
    # reassignment away from an absent owner
    # When they are mapped
    overdue = _events("exception_escalated")[0]
    exhausted = _events("exception_escalated_exhausted")[0]
    away = _events("exception_reassigned")[0]
    # Then each says why it moved, from whom to whom
    assert isinstance(overdue, ExceptionEscalated)
    assert isinstance(exhausted, ExceptionEscalated) and isinstance(away, ExceptionEscalated)
    assert (overdue.reason, overdue.from_owner, overdue.to_owner) == (
        "overdue", "client-success", "carla.cs-lead",
    )  # fmt: skip
    assert overdue.overdue_by_business_minutes == 420
    assert overdue.previous_claimant == "ana.ops"
    assert overdue.chain_exhausted is False and exhausted.chain_exhausted is True
    assert (away.reason, away.skipped_owners, away.overdue_by_business_minutes) == (
        "owner_away", ("carla.cs-lead",), None,
    )  # fmt: skip


def test_a_resolution_carries_what_was_decided_but_not_the_operators_note() -> None:
    # Given a retry with a corrected address, a partial fulfilment and a waived gate
    # When they are mapped
    retry = _events("exception_resolved_retry")[1]
    partial = _events("exception_resolved_partial")[1]
    waive = _events("exception_resolved_waive")[1]
    # Then each says the decision, who made it and where the order resumes
    assert isinstance(retry, ExceptionResolved)
    assert isinstance(partial, ExceptionResolved) and isinstance(waive, ExceptionResolved)
    assert (retry.resolution, retry.resolved_by, retry.resume_at) == (
        "retry", "ana.ops", "ValidateAddress",
    )  # fmt: skip
    assert retry.corrected_fields == ("shipping_address",)
    assert retry.rolled_back_to is OrderStatus.ACCEPTED
    assert "Jane" not in retry.model_dump_json() and "Alder" not in retry.model_dump_json()
    assert partial.ship_now_lines is not None and partial.not_shipped_lines is not None
    assert [ln.sku for ln in partial.ship_now_lines] == ["TENT-2P-GRN"]
    assert waive.waived_gate is not None and waive.waived_gate.value == "packing"


def test_a_qa_result_is_discrete_with_failures_and_remediation() -> None:
    # Given a passed and a failed gate
    # When they are mapped
    passed = _events("qa_passed")[0]
    failed = _events("qa_failed")[0]
    # Then the pass has no failures, the failure says what failed and what to do
    assert isinstance(passed, QaResultRecorded) and isinstance(failed, QaResultRecorded)
    assert (passed.gate.value, passed.passed, passed.failures, passed.remediation) == (
        "pre_pick", True, (), (),
    )  # fmt: skip
    assert (failed.gate.value, failed.passed, failed.owner) == ("packing", False, "qa")
    assert failed.failures == ("weighs 4100 g; expected 3000-3600 g (items 2900 g)",)
    assert failed.remediation == ("re-weigh the parcel", "repack in the listed box")


def test_an_audit_detail_missing_what_its_action_records_is_refused() -> None:
    # Given a shipment whose detail lost its tracking number
    # When it is recorded / Then it is refused, naming what is missing, so no half-empty
    # event can reach the trail or the bus
    with pytest.raises(ValueError, match="tracking_number: Field required"):
        audit("shipped", {"carrier": "ups", "service": "GROUND"}, to_status=OrderStatus.SHIPPED)


# --- event ids -----------------------------------------------------------------------------


def test_event_ids_are_deterministic_and_unique_per_change_and_type() -> None:
    # Given every case, mapped twice (a redelivered stream record)
    first = [e for case in CASES for e in _events(case)]
    again = [e for case in CASES for e in _events(case)]
    # Then the ids are the same both times
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first == again
    # And each is order id, audit seq and type
    shipped = _events("shipped")
    assert [e.event_id for e in shipped] == [
        f"{ORDER_ID}:00000007:order-status-changed",
        f"{ORDER_ID}:00000007:order-shipped",
    ]
    # And another change of the order gives other ids
    later = domain_events(CASES["shipped"][0].model_copy(update={"seq": 8}), CLIENT)
    assert {e.event_id for e in later}.isdisjoint(e.event_id for e in shipped)


# --- the stream record ---------------------------------------------------------------------


def test_a_stream_record_of_an_audit_item_gives_its_events() -> None:
    # Given the stream record of the audit item the repository writes for a shipment
    event, _ = CASES["shipped"]
    record = stream_record(event)
    assert record["dynamodb"]["NewImage"] == audit_item(event, CLIENT)
    # When it is read
    events = from_stream_record(record)
    # Then it gives the same events as the audit event itself, the client read from the index
    assert events == domain_events(event, CLIENT)
    assert {e.client_id for e in events} == {CLIENT}


def test_a_stream_record_keeps_the_client_of_its_index_key() -> None:
    # Given an audit item of another client
    record = stream_record(CASES["qa_passed"][0], client_id="bright-goods")
    # When it is read / Then its events are that client's
    assert [e.client_id for e in from_stream_record(record)] == ["bright-goods"]


@pytest.mark.parametrize("name", ["MODIFY", "REMOVE"])
def test_only_inserts_are_read(name: str) -> None:
    # Given a record of a change that is not an insert
    record = stream_record(CASES["shipped"][0], name=name)
    # When it is read / Then it gives nothing
    assert from_stream_record(record) == []


def test_items_other_than_audit_items_are_ignored() -> None:
    # Given the insert of an order item
    record = stream_record(CASES["shipped"][0])
    record["dynamodb"]["NewImage"] = {
        "pk": {"S": f"ORDER#{ORDER_ID}"},
        "sk": {"S": "ORDER"},
        "doc": {"B": b"x\x9c..."},
    }
    # When it is read / Then it gives nothing
    assert from_stream_record(record) == []


@pytest.mark.parametrize("attribute", ["gsi6pk", "doc"])
def test_an_audit_item_without_its_index_key_or_doc_is_refused(attribute: str) -> None:
    # Given an audit item that lost its index key or its event (never written so)
    record = stream_record(CASES["shipped"][0])
    del record["dynamodb"]["NewImage"][attribute]
    # When it is read / Then it is refused rather than published without a client
    with pytest.raises(MalformedAuditRecord):
        from_stream_record(record)


# --- PutEvents entries ---------------------------------------------------------------------


def test_entries_are_what_put_events_takes() -> None:
    # Given the events of a shipment
    events = _events("shipped")
    # When they become entries
    entries = put_entries(events, "shipshape-events")
    # Then each names the bus, the source, its detail-type, the time, and the detail as JSON
    assert [e["DetailType"] for e in entries] == ["order-status-changed.v1", "order-shipped.v1"]
    for entry, event in zip(entries, events, strict=True):
        assert entry["Source"] == "shipshape"
        assert entry["EventBusName"] == "shipshape-events"
        assert entry["Time"] == AT
        assert json.loads(entry["Detail"]) == json.loads(event.model_dump_json())
    assert put_entries(events, "bus", source="shipshape.test")[0]["Source"] == "shipshape.test"


def test_batches_hold_at_most_ten_entries_in_order() -> None:
    # Given 23 entries
    entries = put_entries([e for case in CASES for e in _events(case)] * 2, "bus")[:23]
    # When they are cut into requests
    batches = put_batches(entries)
    # Then 10, 10 and 3, in the original order
    assert [len(b) for b in batches] == [10, 10, 3]
    assert [e for b in batches for e in b] == entries


def test_batches_stay_under_the_request_size() -> None:
    # Given entries of 100 KB each
    entry = {"Source": "shipshape", "DetailType": "x.v1", "Detail": "a" * 100_000, "Time": AT}
    # When they are cut into requests
    batches = put_batches([dict(entry) for _ in range(5)])
    # Then two fit in one request of 256 KB, three do not
    assert [len(b) for b in batches] == [2, 2, 1]
    assert all(sum(entry_size(e) for e in b) <= 256 * 1024 for b in batches)


def test_an_entry_over_the_request_size_is_refused() -> None:
    # Given an entry that alone is over 256 KB
    entry = {"Source": "shipshape", "DetailType": "x.v1", "Detail": "a" * 262_144}
    # When it is batched / Then it is refused by name
    with pytest.raises(EventTooLarge, match=r"x\.v1"):
        put_batches([entry])


# --- schemas -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """scripts/event_schemas.py, loaded by path (scripts/ is not a package)."""
    path = ROOT / "scripts" / "event_schemas.py"
    spec = importlib.util.spec_from_file_location("shipshape_event_schemas", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_event_type_has_a_checked_in_schema() -> None:
    # Given the event types / Then each has its schema file, named and identified by version
    for event_type in EVENT_TYPES:
        schema = _schema(event_type.detail_type())
        assert schema["$id"] == f"shipshape/events/{event_type.NAME}/v{event_type.VERSION}"
        assert schema["title"] and schema["description"]
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("case", list(CASES))
def test_every_detail_validates_against_its_schema(case: str) -> None:
    # Given the entries of a case's events
    for entry in put_entries(_events(case), "bus"):
        # When each detail is validated against the checked-in schema of its detail-type
        errors = list(_validator(entry["DetailType"]).iter_errors(json.loads(entry["Detail"])))
        # Then it is valid
        assert errors == [], f"{entry['DetailType']}: {[e.message for e in errors]}"


@pytest.mark.parametrize(
    ("index", "spoil"),
    [
        pytest.param(1, lambda d: d.pop("event_id"), id="a required field is missing"),
        pytest.param(1, lambda d: d.update(order_id="12345"), id="not a Shipshape order id"),
        pytest.param(0, lambda d: d.update(to_status="TELEPORTED"), id="no such status"),
        pytest.param(1, lambda d: d.update(version="2"), id="another schema version"),
        pytest.param(0, lambda d: d.update(audit_seq=0), id="audit sequence starts at 1"),
        pytest.param(1, lambda d: d.update(partial="yes"), id="a flag is a boolean"),
        pytest.param(1, lambda d: d.update(shipped_lines=[{"sku": ""}]), id="a line is whole"),
    ],
)
def test_an_invalid_detail_fails_its_schema(index: int, spoil: Any) -> None:
    # Given one of a shipment's details, spoiled
    entry = put_entries(_events("shipped"), "bus")[index]
    detail = json.loads(entry["Detail"])
    spoil(detail)
    # When it is validated against its schema / Then it fails
    with pytest.raises(ValidationError):
        _validator(entry["DetailType"]).validate(detail)


def test_the_schema_files_are_what_the_models_generate(generator: ModuleType) -> None:
    # Given the checked-in files and the models as they are now
    # When the generator checks them
    status = generator.main(["--check"])
    # Then they match (else: .venv/bin/python scripts/event_schemas.py)
    assert status == 0
    assert generator.stale(SCHEMAS) == []


def test_the_check_names_every_stale_file(generator: ModuleType, tmp_path: Path) -> None:
    # Given a copy of the schemas with one edited, one removed and one no model generates
    for path in SCHEMAS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    edited = json.loads((tmp_path / "order-shipped.v1.json").read_text(encoding="utf-8"))
    edited["required"].remove("tracking_number")
    (tmp_path / "order-shipped.v1.json").write_text(json.dumps(edited), encoding="utf-8")
    (tmp_path / "exception-claimed.v1.json").unlink()
    (tmp_path / "order-shipped.v0.json").write_text("{}", encoding="utf-8")
    # When the check runs on them
    problems = generator.stale(tmp_path)
    # Then it names each
    assert problems == [
        "exception-claimed.v1.json is missing",
        "order-shipped.v1.json differs from its model",
        "order-shipped.v0.json is generated by no model",
    ]


def test_no_schema_has_a_key_for_customer_pii() -> None:
    # Given every checked-in schema
    for path in sorted(SCHEMAS.glob("*.json")):
        # When its property names are listed, at any depth
        keys = set(_keys(json.loads(path.read_text(encoding="utf-8"))))
        # Then none names personal data
        assert keys, path.name
        assert not keys & PII_KEYS, f"{path.name}: {sorted(keys & PII_KEYS)}"


def test_a_new_field_in_a_detail_still_validates_against_its_version() -> None:
    # Given a v1 detail with a field added later (an additive change keeps the version)
    entry = put_entries(_events("shipped")[1:], "bus")[0]
    detail = {**json.loads(entry["Detail"]), "estimated_delivery": "2026-11-24"}
    # When it is validated against the v1 schema / Then consumers still accept it
    _validator(entry["DetailType"]).validate(detail)


# --- through the real services -------------------------------------------------------------


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(AT)


@pytest.fixture
def accepted(
    acme: ClientConfig, repo: InMemoryOrderRepository, clock: SettableClock
) -> WorkflowState:
    """A paid Shopify order (Jane Doe's, with her address), ingested as the webhook does."""
    body = load_event("shopify/orders_paid.json")
    headers = {
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET),
    }
    result = ingest_webhook(
        client=acme,
        platform=Platform.SHOPIFY,
        delivery=webhook_delivery(headers, body, clock.now()),
        repo=repo,
        secrets=FixedSecrets({SECRET_NAME: SECRET}),
        workflow=RecordingWorkflow(),
        clock=clock,
    )
    return WorkflowState(order_id=result.order_id, client_id=acme.client_id)


def _published(repo: InMemoryOrderRepository, order_id: str) -> list[dict[str, Any]]:
    """What the publisher puts on the bus for the order's whole audit trail, each record
    read from the stream as Lambda delivers it."""
    entries = []
    for event in repo.audit_trail(order_id):
        entries.extend(put_entries(from_stream_record(stream_record(event)), "bus"))
    return entries


def _assert_valid_and_free_of_pii(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        _validator(entry["DetailType"]).validate(json.loads(entry["Detail"]))
        for value in CUSTOMER_VALUES:
            assert value not in entry["Detail"], f"{entry['DetailType']} repeats {value!r}"


def test_a_real_order_shipped_publishes_its_status_changes_qa_results_and_shipment(
    ctx: StepContext, accepted: WorkflowState, repo: InMemoryOrderRepository, clock: SettableClock
) -> None:
    # Given a paid order run through every step of the workflow, QA gates included
    def pick(ctx: StepContext, state: WorkflowState) -> object:
        order = repo.get(state.order_id)
        assert order is not None
        skus = repo.inventory.skus(CLIENT, [line.sku for line in order.lines])
        scans = tuple(
            {"sku": ln.sku, "barcode": skus[ln.sku].barcode, "quantity": ln.quantity}
            for ln in order.lines
        )
        return record_pick(
            ctx, PickResult(**state.model_dump(), scans=scans, event_id="pick-1", actor="ana")
        )

    def pack(ctx: StepContext, state: WorkflowState) -> object:
        data = {"weight_grams": 3400, "length_mm": 620, "width_mm": 310, "height_mm": 240}
        return record_pack(
            ctx, PackResult(**state.model_dump(), pack=data, event_id="pack-1", actor="bench-2")
        )

    steps = [
        validate_address, reserve_inventory, assign_picker, pre_pick_qa,
        lambda c, s: await_pick(c, AwaitRequest(**s.model_dump(), task_token="t-pick")),
        pick, post_pick_qa,
        lambda c, s: await_pack(c, AwaitRequest(**s.model_dump(), task_token="t-pack")),
        pack, pack_qa, create_label, shipping_qa, mark_shipped, notify_shipped,
    ]  # fmt: skip
    for step in steps:
        clock.advance(timedelta(minutes=1))
        step(ctx, accepted)
    # When every audit event of its trail goes through the stream to the publisher
    entries = _published(repo, accepted.order_id)
    # Then the bus gets each status of the path, the four gates' results and the shipment
    details = [json.loads(e["Detail"]) for e in entries]
    statuses = [d["to_status"] for d in details if "to_status" in d]
    assert statuses == [
        "ACCEPTED", "ADDRESS_VALIDATED", "RESERVED", "PICKER_ASSIGNED", "AWAITING_PICK",
        "PICKED", "AWAITING_PACK", "PACKED", "LABELLED", "SHIPPED",
    ]  # fmt: skip
    gates = [(d["gate"], d["passed"]) for d in details if "gate" in d]
    assert gates == [("pre_pick", True), ("post_pick", True), ("packing", True), ("shipping", True)]
    shipped = [
        d for e, d in zip(entries, details, strict=True) if e["DetailType"] == "order-shipped.v1"
    ]
    label = repo.get(accepted.order_id).label  # type: ignore[union-attr]
    assert label is not None
    assert [(d["tracking_number"], d["service"], d["partial"]) for d in shipped] == [
        (label.tracking_number, label.service, False)
    ]
    # And every detail matches its schema, is in audit order, and says nothing of the customer
    assert [d["audit_seq"] for d in details] == sorted(d["audit_seq"] for d in details)
    assert len({d["event_id"] for d in details}) == len(details)
    _assert_valid_and_free_of_pii(entries)


def test_a_real_exception_publishes_opened_claimed_escalated_resolved(
    accepted: WorkflowState,
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    acme: ClientConfig,
    clients: ClientDirectory,
    notifier: NotifierRecorder,
    workflow: RecordingWorkflow,
) -> None:
    # Given an order whose address step failed, its exception claimed by an operator who then
    # missed the deadline, and resolved by the next owner with a corrected address
    token = "t-exception"
    workflow.wait(token)
    exception = open_exception(
        repo=repo, clock=clock, client=acme, notifier=notifier,
        request=OpenExceptionRequest(
            order_id=accepted.order_id, client_id=CLIENT, failed_step="ValidateAddress",
            task_token=token,
            error={"Error": "AddressInvalid", "Cause": "415 SW Alder St: no such number"},
        ),
    )  # fmt: skip
    ana = Operator(subject="ana.ops", roles=frozenset({"operator"}), clients=frozenset({CLIENT}))
    claim_exception(repo=repo, clock=clock, exception_id=exception.exception_id, operator=ana)
    clock.advance(timedelta(days=3))
    sweep_overdue(repo=repo, clients=clients, clock=clock, notifier=notifier)
    carla = Operator(
        subject="carla.cs-lead", roles=frozenset({"operator"}), clients=frozenset({CLIENT})
    )
    corrected = Address(
        name="Jane Doe", line1="451 SW Alder St", city="Portland", region="OR",
        postal_code="97204", country_code="US",
    )  # fmt: skip
    resolve_exception(
        repo=repo, workflow=workflow, clients=clients, clock=clock,
        exception_id=exception.exception_id, operator=carla,
        request=ResolveExceptionRequest(
            action="retry", note="Jane Doe confirmed 451, not 415", address=corrected
        ),
    )  # fmt: skip
    # When the trail goes through the stream to the publisher
    entries = _published(repo, accepted.order_id)
    # Then the exception's life is on the bus, in order, next to the status changes
    assert [e["DetailType"] for e in entries] == [
        "order-status-changed.v1",  # ACCEPTED
        "order-status-changed.v1",  # EXCEPTION
        "exception-opened.v1",
        "exception-claimed.v1",
        "exception-escalated.v1",
        "order-status-changed.v1",  # back to ACCEPTED, to validate again
        "exception-resolved.v1",
    ]
    details = {e["DetailType"]: json.loads(e["Detail"]) for e in entries}
    assert details["exception-claimed.v1"]["claimed_by"] == "ana.ops"
    escalated = details["exception-escalated.v1"]
    assert (escalated["reason"], escalated["previous_claimant"]) == ("overdue", "ana.ops")
    resolved = details["exception-resolved.v1"]
    assert (resolved["resolution"], resolved["resolved_by"]) == ("retry", "carla.cs-lead")
    assert resolved["corrected_fields"] == ["shipping_address"]
    # And nothing the operator or the failed step wrote about the customer is published
    _assert_valid_and_free_of_pii(entries)
    for entry in entries:
        assert "451" not in entry["Detail"] and "confirmed" not in entry["Detail"]
