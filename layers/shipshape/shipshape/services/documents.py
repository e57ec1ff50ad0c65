"""Warehouse documents: the picker's pick list (ordered by bin) and the packing manifest.

Rendered as printable HTML with Jinja2 (autoescaped: storefront text never becomes markup),
kept in the order's partition for the audit trail and handed to the warehouse channel.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shipshape.models import Document, Order, ParcelExpectation, PickList, SkuMaster

if TYPE_CHECKING:
    from jinja2 import Environment

# Standard cartons (mm), smallest first; the manifest suggests the first that fits.
STANDARD_BOXES: tuple[tuple[int, int, int], ...] = (
    (200, 150, 100),
    (300, 200, 150),
    (400, 300, 150),
    (400, 300, 250),
    (1050, 200, 150),  # long items: kites, rods, poles
    (600, 400, 300),
    (800, 600, 400),
    (1200, 800, 600),
)


@cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("shipshape", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )


def _document(order: Order, kind: str, content: str, at: datetime) -> Document:
    number = sum(1 for name in order.documents if name.startswith(f"{kind}-")) + 1
    return Document(
        order_id=order.order_id,
        kind=kind,
        number=number,
        content=content,
        sha256=hashlib.sha256(content.encode()).hexdigest(),
        created_at=at,
    )


def _common(order: Order, client_name: str, at: datetime) -> dict[str, Any]:
    return {"order": order, "client_name": client_name, "generated_at": at.isoformat()}


def pick_list_document(
    order: Order, pick_list: PickList, client_name: str, at: datetime
) -> Document:
    html = (
        _environment()
        .get_template("pick_list.html")
        .render(
            **_common(order, client_name, at),
            pick_list=pick_list,
            units=sum(e.quantity for e in pick_list.entries),
        )
    )
    return _document(order, "pick-list", html, at)


def manifest_document(
    order: Order,
    parcel: ParcelExpectation,
    skus: dict[str, SkuMaster],
    client_name: str,
    at: datetime,
) -> Document:
    rows = [
        {
            "sku": line.sku,
            "title": line.title or (skus[line.sku].title if line.sku in skus else ""),
            "quantity": line.quantity,
            "unit_weight": (skus[line.sku].unit_weight_grams or "?") if line.sku in skus else "?",
        }
        for line in order.lines
    ]
    html = (
        _environment()
        .get_template("packing_manifest.html")
        .render(
            **_common(order, client_name, at),
            address=order.standardized_address or order.shipping_address,
            rows=rows,
            parcel=parcel,
            box=parcel.suggested_box_mm,
            not_shipped=order.unfulfilled_lines,
        )
    )
    return _document(order, "packing-manifest", html, at)
