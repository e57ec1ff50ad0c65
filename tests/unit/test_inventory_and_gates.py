"""The pure parts of inventory and QA: FEFO planning, warehouse choice, the gates' verdicts
and address standardization."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shipshape.config import ClientConfig
from shipshape.models import (
    Address,
    Allocation,
    Order,
    OrderLine,
    OrderStatus,
    PackData,
    PaymentState,
    Platform,
    SkuMaster,
    StockLot,
)
from shipshape.services import gates
from shipshape.services.addresses import standardize
from shipshape.services.inventory import lot_key, plan_reservation

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def _order(*lines: tuple[str, int], **update: object) -> Order:
    order = Order(
        order_id="ord_" + "a" * 20, client_id="acme-outdoors", platform=Platform.SHOPIFY,
        store="acme.example", storefront_order_id="1", version=1,
        storefront_updated_at=NOW, received_at=NOW, payment=PaymentState.PAID,
        lines=tuple(
            OrderLine(line_id=f"l{i}", sku=sku, quantity=qty)
            for i, (sku, qty) in enumerate(lines, 1)
        ),
        status=OrderStatus.ADDRESS_VALIDATED, owner="ops", rules_version="r1", audit_seq=1,
    )  # fmt: skip
    return order.model_copy(update=update)


def _lot(
    sku: str, wh: str, available: int, lot: str = "-", expires: date | None = None
) -> StockLot:
    return StockLot(
        client_id="acme-outdoors", sku=sku, warehouse=wh, lot=lot, expires_on=expires,
        bin=f"A-{lot}", available=available, reserved=0,
    )  # fmt: skip


def _sku(sku: str, **update: object) -> SkuMaster:
    base = SkuMaster(
        client_id="acme-outdoors", sku=sku, barcode=f"BC-{sku}", unit_weight_grams=500,
        length_mm=200, width_mm=100, height_mm=50,
    )  # fmt: skip
    return base.model_copy(update=update)


def test_reservation_takes_first_expiry_first_and_skips_expired_and_excluded_lots(
    acme: ClientConfig,
) -> None:
    wh = acme.fulfilment.warehouses[0]
    stock = {
        "MEAL": [
            _lot("MEAL", wh, 5, "L3", date(2027, 6, 1)),
            _lot("MEAL", wh, 2, "L1", date(2027, 1, 1)),
            _lot("MEAL", wh, 9, "L0", date(2026, 11, 1)),  # expired
            _lot("MEAL", wh, 9, "L2", date(2027, 3, 1)),  # excluded by a failed gate
        ]
    }
    order = _order(("MEAL", 4), excluded_lots=(lot_key("MEAL", wh, "L2"),))
    plan = plan_reservation(order, acme, stock, TODAY)
    assert plan.complete
    assert [(a.lot, a.quantity) for a in plan.added] == [("L1", 2), ("L3", 2)]
    changes = {c.lot: (c.available, c.reserved) for c in plan.stock_changes(acme.client_id)}
    assert changes == {"L1": (-2, 2), "L3": (-2, 2)}


def test_reservation_reports_the_short_units_per_line(acme: ClientConfig) -> None:
    wh = acme.fulfilment.warehouses[0]
    stock = {"TENT": [_lot("TENT", wh, 3)], "LAMP": [_lot("LAMP", wh, 10)]}
    plan = plan_reservation(_order(("TENT", 5), ("LAMP", 1)), acme, stock, TODAY)
    assert not plan.complete
    assert [(line.sku, line.quantity) for line in plan.short] == [("TENT", 2)]
    assert sum(a.quantity for a in plan.reservation) == 4


def test_a_shrunk_line_releases_what_it_no_longer_needs(acme: ClientConfig) -> None:
    wh = acme.fulfilment.warehouses[0]
    held = Allocation(line_id="l1", sku="TENT", warehouse=wh, quantity=5)
    order = _order(("TENT", 2), reservation=(held,), warehouse=wh)
    plan = plan_reservation(order, acme, {"TENT": [_lot("TENT", wh, 0)]}, TODAY)
    assert plan.complete and not plan.added
    assert [a.quantity for a in plan.released] == [3]
    assert [(c.available, c.reserved) for c in plan.stock_changes(acme.client_id)] == [(3, -3)]


def test_the_order_ships_from_the_first_warehouse_that_covers_it_all(
    acme: ClientConfig,
) -> None:
    first, *others = acme.fulfilment.warehouses
    if not others:
        acme = acme.model_copy(
            update={"fulfilment": acme.fulfilment.model_copy(update={"warehouses": [first, "b"]})}
        )
        others = ["b"]
    stock = {"TENT": [_lot("TENT", first, 1), _lot("TENT", others[0], 4)]}
    assert plan_reservation(_order(("TENT", 3)), acme, stock, TODAY).warehouse == others[0]
    assert plan_reservation(_order(("TENT", 9)), acme, stock, TODAY).warehouse == first


def test_pre_pick_names_unknown_inactive_and_short_dated_skus(acme: ClientConfig) -> None:
    wh = acme.fulfilment.warehouses[0]
    soon = Allocation(
        line_id="l3", sku="MEAL", warehouse=wh, lot="L1", expires_on=date(2026, 12, 20),
        quantity=1,
    )  # fmt: skip
    order = _order(("GHOST", 1), ("OLD", 1), ("MEAL", 1), reservation=(soon,))
    skus = {"OLD": _sku("OLD", active=False), "MEAL": _sku("MEAL", lot_tracked=True)}
    verdict = gates.pre_pick(order, skus, acme, TODAY)
    assert not verdict.passed
    assert "GHOST is not in the SKU master" in verdict.failures
    assert "OLD is inactive in the SKU master" in verdict.failures
    assert any("MEAL lot L1 expires 2026-12-20 (24 days left" in f for f in verdict.failures)
    assert verdict.refused_lots == [lot_key("MEAL", wh, "L1")]


def test_packing_gate_passes_within_tolerance_and_names_the_mismatch(
    acme: ClientConfig,
) -> None:
    order = _order(("TENT", 2))
    parcel = gates.parcel_expectation(order, {"TENT": _sku("TENT")}, acme)
    assert parcel.items_weight_grams == 1000
    box = parcel.suggested_box_mm
    ok = PackData(weight_grams=1000, length_mm=box[0], width_mm=box[1], height_mm=box[2])
    assert gates.packing(parcel, ok).passed
    light = ok.model_copy(update={"weight_grams": parcel.min_weight_grams - 1})
    assert (
        gates.packing(parcel, light)
        .failures[0]
        .startswith(f"weighs {parcel.min_weight_grams - 1} g")
    )
    tiny = ok.model_copy(update={"length_mm": 10, "width_mm": 10, "height_mm": 10})
    assert "cannot hold the items" in gates.packing(parcel, tiny).failures[0]


def test_sloppy_us_address_is_standardized_to_publication_28_form() -> None:
    raw = Address(
        line1="  1600 pennsylvania avenue northwest ", city="washington", region="dc",
        postal_code="20500", country_code="US",
    )  # fmt: skip
    address, problems = standardize(raw)
    assert problems == []
    assert address is not None
    assert address.line1 == "1600 PENNSYLVANIA AVE NW"
    assert (address.city, address.region) == ("WASHINGTON", "DC")


def test_foreign_postal_code_is_checked_against_the_country_format() -> None:
    address, problems = standardize(
        Address(line1="Unter den Linden 1", city="Berlin", postal_code="1011", country_code="DE")
    )
    assert address is None
    assert problems == ["postal code is invalid for DE"]
