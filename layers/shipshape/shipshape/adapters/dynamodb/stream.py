"""The orders table's stream, as the publisher reads it: each INSERT of an audit item is the
audit event it carries (the outbox of ``shipshape.events``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipshape.adapters.dynamodb.keys import client_of_audit_day, is_audit_sort_key
from shipshape.events import DomainEvent, domain_events
from shipshape.models import AuditEvent


class MalformedAuditRecord(ValueError):
    """A stream record of an audit item lacks what every audit item has (corruption)."""


def audit_event_of(record: Mapping[str, Any]) -> tuple[AuditEvent, str] | None:
    """The audit event of one stream record as Lambda delivers it (DynamoDB JSON, NEW_IMAGE),
    with its client id; None for anything but the INSERT of an audit item."""
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    if not is_audit_sort_key(str((image.get("sk") or {}).get("S", ""))):
        return None
    # Imported here: boto3 is in the runtime, but the event source mapping never needs it.
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    try:
        day = deserializer.deserialize(image["gsi6pk"])
        doc = deserializer.deserialize(image["doc"])
    except (KeyError, TypeError) as exc:
        raise MalformedAuditRecord(f"audit item without gsi6pk or doc: {exc}") from exc
    client_id = client_of_audit_day(str(day))
    if client_id is None or not isinstance(doc, str):
        raise MalformedAuditRecord(f"audit item with gsi6pk {day!r}")
    return AuditEvent.model_validate_json(doc), client_id


def from_stream_record(record: Mapping[str, Any]) -> list[DomainEvent]:
    """The domain events of one stream record: none for anything but an audit item's INSERT."""
    found = audit_event_of(record)
    return domain_events(*found) if found is not None else []
