"""The orders table's key schema: every partition, sort and index key Shipshape writes.

One table holds every entity (see ``template.yaml``); the stores of this package and the stream
publisher build and read keys only through this module:

- order:        pk=ORDER#<order_id>  sk=ORDER          doc=<Order, compressed> + queryable copies
- audit event:  pk=ORDER#<order_id>  sk=AUDIT#<seq:08d> doc=<AuditEvent JSON>
- exception:    pk=ORDER#<order_id>  sk=EXC#<n:04d>    doc=<OrderException JSON>
- document:     pk=ORDER#<order_id>  sk=DOC#<kind>#<n:03d>  doc=<Document JSON>
- away period:  pk=AWAY#<client_id>   sk=<person>         doc=<AwayPeriod JSON>
- SKU master:   pk=SKU#<client_id>   sk=<sku>             doc=<SkuMaster JSON> (the warehouse's
  facts), catalog_doc=<CatalogEntry JSON> with catalog_source and catalog_version (the storefront's;
  each side updates only its own attributes, the catalog only with a newer version)
- catalog product: pk=PRODUCT#<client_id>  sk=<source>#<store>#<product id>  skus (string set:
  every SKU its variants have carried, so a deleted product's SKUs can be made inactive)
- stock lot:    pk=STOCK#<client_id>#<sku>  sk=<warehouse>#<lot>  available, reserved (numbers,
  changed only with ADD under a condition that keeps them at or above zero)
- backorder:    pk=BACKORDER#<client_id>#<sku>  sk=<since ISO>#<order_id>
- stock receipt: pk=RECEIPT#<client_id>  sk=<warehouse event id>  (written with the units it adds)
- rule version: pk=RULES#<client_id>  sk=V#<version:06d>  doc=<RuleChange JSON>, status;
  the active one is also pointed at by sk=ACTIVE (version)
- access denial: pk=DENIED#<client_id>  sk=<at ISO>#<uuid>  doc=<AccessDenial JSON>
- reconciliation checkpoint: pk=SYNC#<client_id>  sk=<platform>#<store>  checkpoint (ISO)
- deferred order read: pk=DEFERRED#<client_id>  sk=<platform>#<store>#<storefront order id>
  deferred_at (ISO), doc=<DeferredFetch JSON>

Indexes (sparse ones hold only the items that carry their key):
- ``gsi1``: accepted orders whose workflow has not acknowledged its start (the starter's work),
  gsi1pk=PENDING_START, gsi1sk=<accepted-at ISO>#<order_id>
- ``gsi2``: open exceptions, gsi2pk=OPEN_EXCEPTIONS, gsi2sk=<due ISO>#<exception_id>
- ``gsi3``: every exception of a client, gsi3pk=CLIENT#<id>#EXCEPTIONS, gsi3sk=<opened ISO>#<id>
- ``gsi4``: open exceptions by owner, gsi4pk=OWNER#<client>#<owner>
- ``gsi5``: orders assigned to a picker and not yet picked, gsi5pk=PICKS#<client>#<picker>
- ``gsi6``: every audit event by client and UTC day, gsi6pk=AUDIT#<client>#<yyyy-mm-dd>,
  gsi6sk=<at ISO>#<order_id>#<seq:08d>; metrics and the checklist read the trail through it

Values the code needs back (a client id, an order id) are stored as attributes of their own,
never parsed out of a key, except an order id out of ``gsi1`` (the index projects keys only).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

Key = dict[str, dict[str, str]]

PENDING_START = "PENDING_START"
OPEN_EXCEPTIONS = "OPEN_EXCEPTIONS"
AUDIT = "AUDIT#"
ORDER = "ORDER#"


def s(value: str) -> dict[str, str]:
    """A string attribute value."""
    return {"S": value}


def n(value: int) -> dict[str, str]:
    """A number attribute value."""
    return {"N": str(value)}


def utc(moment: datetime) -> str:
    """One fixed format, so index sort keys compare as instants."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_partition(order_id: str) -> str:
    return f"{ORDER}{order_id}"


def order_id_of(partition: str) -> str:
    """The order id of an order's partition key (what ``gsi1`` returns)."""
    return partition.removeprefix(ORDER)


def order_key(order_id: str) -> Key:
    return {"pk": s(order_partition(order_id)), "sk": s("ORDER")}


def audit_key(order_id: str, seq: int) -> Key:
    return {"pk": s(order_partition(order_id)), "sk": s(f"{AUDIT}{seq:08d}")}


def exception_key(exception_id: str) -> Key:
    order_id, _, number = exception_id.partition(".e")
    return {"pk": s(order_partition(order_id)), "sk": s(f"EXC#{int(number):04d}")}


def document_key(order_id: str, kind: str, number: int) -> Key:
    return {"pk": s(order_partition(order_id)), "sk": s(f"DOC#{kind}#{number:03d}")}


def sku_key(client_id: str, sku: str) -> Key:
    return {"pk": s(f"SKU#{client_id}"), "sk": s(sku)}


def product_key(client_id: str, source: str, store: str, product_id: str) -> Key:
    return {"pk": s(f"PRODUCT#{client_id}"), "sk": s(f"{source}#{store}#{product_id}")}


def stock_partition(client_id: str, sku: str) -> str:
    return f"STOCK#{client_id}#{sku}"


def stock_key(client_id: str, sku: str, warehouse: str, lot: str) -> Key:
    return {"pk": s(stock_partition(client_id, sku)), "sk": s(f"{warehouse}#{lot}")}


def backorder_partition(client_id: str, sku: str) -> str:
    return f"BACKORDER#{client_id}#{sku}"


def backorder_key(client_id: str, sku: str, since: datetime, order_id: str) -> Key:
    return {"pk": s(backorder_partition(client_id, sku)), "sk": s(f"{utc(since)}#{order_id}")}


def receipt_key(client_id: str, receipt: str) -> Key:
    return {"pk": s(f"RECEIPT#{client_id}"), "sk": s(receipt)}


def away_partition(client_id: str) -> str:
    return f"AWAY#{client_id}"


def away_key(client_id: str, person: str) -> Key:
    return {"pk": s(away_partition(client_id)), "sk": s(person)}


def rules_partition(client_id: str) -> str:
    return f"RULES#{client_id}"


def rule_version_key(client_id: str, version: int) -> Key:
    return {"pk": s(rules_partition(client_id)), "sk": s(f"V#{version:06d}")}


def active_rules_key(client_id: str) -> Key:
    return {"pk": s(rules_partition(client_id)), "sk": s("ACTIVE")}


def denial_partition(client_id: str) -> str:
    return f"DENIED#{client_id}"


def sync_key(client_id: str, platform: str, store: str) -> Key:
    return {"pk": s(f"SYNC#{client_id}"), "sk": s(f"{platform}#{store}")}


def deferred_partition(client_id: str) -> str:
    return f"DEFERRED#{client_id}"


def deferred_prefix(platform: str, store: str) -> str:
    return f"{platform}#{store}#"


def deferred_key(client_id: str, platform: str, store: str, storefront_order_id: str) -> Key:
    return {
        "pk": s(deferred_partition(client_id)),
        "sk": s(deferred_prefix(platform, store) + storefront_order_id),
    }


def pending_start_index(accepted: datetime, order_id: str) -> dict[str, Any]:
    return {"gsi1pk": s(PENDING_START), "gsi1sk": s(f"{utc(accepted)}#{order_id}")}


def open_exception_index(due: datetime, exception_id: str) -> dict[str, Any]:
    return {"gsi2pk": s(OPEN_EXCEPTIONS), "gsi2sk": s(f"{utc(due)}#{exception_id}")}


def client_exceptions_partition(client_id: str) -> str:
    return f"CLIENT#{client_id}#EXCEPTIONS"


def owner_partition(client_id: str, owner: str) -> str:
    return f"OWNER#{client_id}#{owner}"


def picks_partition(client_id: str, picker: str) -> str:
    return f"PICKS#{client_id}#{picker}"


def audit_day_partition(client_id: str, day: date) -> str:
    return f"{AUDIT}{client_id}#{day.isoformat()}"


def client_of_audit_day(partition: str) -> str | None:
    """The client id in an audit day partition (``AUDIT#<client_id>#<yyyy-mm-dd>``; a client
    id has no '#'), or None if ``partition`` is not one."""
    parts = partition.split("#")
    return parts[1] if len(parts) == 3 and f"{parts[0]}#" == AUDIT and parts[1] else None


def audit_index(client_id: str, at: datetime, order_id: str, seq: int) -> dict[str, Any]:
    stamp = utc(at)
    return {
        "gsi6pk": s(audit_day_partition(client_id, at.astimezone(UTC).date())),
        "gsi6sk": s(f"{stamp}#{order_id}#{seq:08d}"),
    }


def is_audit_sort_key(sort_key: str) -> bool:
    """Whether an item's sort key is an audit event's (what the stream publisher publishes)."""
    return sort_key.startswith(AUDIT)
