"""Between paid and shipped, done for real: stock reserved in one conditional transaction,
partial-fulfilment policies, address standardization, picker assignment with its pick list,
the four QA gates (pass and fail), and the carrier's rejection rolled back to the warehouse.

Everything runs through the public routes (webhooks, warehouse events, ops API), the real
handlers and the real state machine under moto.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

import shipshape.bootstrap
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import REGION, EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import (
    GenericStore,
    Line,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
)
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import JANE, KITE, LAMP, LONDON, PORTLAND, TENT, acme_order, paid_shopify_order
from tests.integration.stack import (
    LEAD,
    audit_actions,
    deliver,
    deliver_at_once,
    lots,
    new_sku,
    open_exception_of,
    place,
    post,
    queue,
    receive,
    resolve,
    units,
    view,
    wait_status,
    work_until_exception,
)

# --- helpers: speak to Shipshape as the warehouse and the operators do ---------------------


# --- address standardization -----------------------------------------------------------


def test_sloppy_us_address_is_standardized_and_never_becomes_an_exception(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order whose address is typed carelessly
    sloppy = PostalAddress(
        "  500 sw  market street ", "portland ", "oregon", "97204", "US", line2="suite 4"
    )

    # When it goes through fulfilment
    order_id = place(runtime, acme_order(acme, clock, 11, [TENT], address=sloppy))
    final = warehouse.run([order_id])

    # Then it ships to the USPS Publication 28 form of the address, the raw one is kept, and
    # no exception was ever opened
    assert final == {order_id: "SHIPPED"}
    order = view(runtime, order_id)
    standardized = order["standardized_address"]
    assert (standardized["line1"], standardized["line2"]) == ("500 SW MARKET ST", "STE 4")
    assert (standardized["city"], standardized["region"]) == ("PORTLAND", "OR")
    assert order["shipping_address"]["line1"] == "  500 sw  market street "
    assert queue(runtime) == []
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    validated = next(e for e in trail if e["action"] == "address_validated")
    assert validated["detail"]["standard"] == "USPS Publication 28"
    assert validated["detail"]["standardized_fields"] == ["city", "line1", "line2", "region"]


def test_foreign_postal_code_in_the_wrong_format_opens_address_invalid(
    runtime: EmbeddedRuntime, nordlicht: WooCommerceStore, clock: ManualClock
) -> None:
    # Given a German address with a four-digit postal code
    address = PostalAddress("Invalidenstraße 117", "Berlin", "", "1011", "DE")
    payload = nordlicht.order(
        4801, lines=[LAMP], person=JANE, address=address, created_at=clock.now(),
        modified_at=clock.now(), status="processing",
    )  # fmt: skip

    # When it reaches address validation
    order_id = place(runtime, nordlicht.deliver("order.created", payload))
    exception = open_exception_of(runtime, order_id)

    # Then the exception names the field and the country; nothing was reserved
    assert exception["type"] == "address_invalid"
    assert exception["detail"] == "postal code is invalid for DE"
    assert view(runtime, order_id)["reservation"] == []


# --- reservation under concurrency and the partial-fulfilment policies --------------------


def test_fifty_concurrent_orders_for_ten_units_reserve_exactly_ten(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given 10 units of a SKU, and a watcher that reads the stock while orders race for it
    new_sku(warehouse, "acme-outdoors", "STOVE-MINI", quantity=10)
    seen: list[tuple[int, int]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            seen.append(units("acme-outdoors", "STOVE-MINI"))

    watcher = threading.Thread(target=watch)
    watcher.start()

    # When 50 paid orders for one unit each arrive at once
    deliveries = [
        acme_order(acme, clock, 100 + n, [Line("STOVE-MINI", "Mini stove", 1, "39.00")])
        for n in range(50)
    ]
    answers = deliver_at_once(runtime, deliveries)
    order_ids = [a.json()["order_id"] for a in answers]
    try:
        assert runtime.wait_for(
            lambda: all(
                view(runtime, o)["status"] in ("AWAITING_PICK", "BACKORDERED") for o in order_ids
            ),
            timeout=180,
            interval=0.5,
        )
    finally:
        done.set()
        watcher.join()

    # Then exactly 10 units are reserved, stock never went below zero, and the other 40
    # orders follow Acme's policy (backorder): waiting, with nothing reserved
    assert [a.status for a in answers] == [202] * 50
    views = [view(runtime, o) for o in order_ids]
    reserved = [v for v in views if v["status"] == "AWAITING_PICK"]
    waiting = [v for v in views if v["status"] == "BACKORDERED"]
    assert (len(reserved), len(waiting)) == (10, 40)
    assert sum(a["quantity"] for v in reserved for a in v["reservation"]) == 10
    assert all(v["reservation"] == [] and v["short_lines"][0]["quantity"] == 1 for v in waiting)
    assert units("acme-outdoors", "STOVE-MINI") == (0, 10)
    assert seen and all(available >= 0 and reserved_ >= 0 for available, reserved_ in seen)
    assert all(available + reserved_ == 10 for available, reserved_ in seen)

    # And when 5 units arrive, the 5 orders that have waited longest are woken and reserve
    inventory = shipshape.bootstrap.container().inventory
    queue_order = [m.order_id for m in inventory.backorders_of("acme-outdoors", "STOVE-MINI", 50)]
    arrival = receive(warehouse, "acme-outdoors", "STOVE-MINI", 5)
    assert arrival["woken"] == queue_order[:5]
    for order_id in queue_order[:5]:
        wait_status(runtime, order_id, "AWAITING_PICK")
    assert units("acme-outdoors", "STOVE-MINI") == (0, 15)
    assert len(inventory.backorders_of("acme-outdoors", "STOVE-MINI", 50)) == 35


def test_backorder_holds_what_is_in_stock_and_ships_it_all_when_stock_arrives(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Acme (backorder policy) and an order for a tent (in stock) and a lantern (none)
    new_sku(warehouse, "acme-outdoors", "LANTERN-LED")
    lantern = Line("LANTERN-LED", "LED lantern", 2, "29.00")
    tents_before = units("acme-outdoors", TENT.sku)

    # When it is paid
    order_id = place(runtime, acme_order(acme, clock, 21, [TENT, lantern]))
    waiting = wait_status(runtime, order_id, "BACKORDERED")
    assert runtime.wait_for(lambda: view(runtime, order_id)["awaiting"] == "stock")

    # Then the tent is held for it, the lanterns are backordered, and no exception is open
    assert [(a["sku"], a["quantity"]) for a in waiting["reservation"]] == [(TENT.sku, 1)]
    assert [(ln["sku"], ln["quantity"]) for ln in waiting["short_lines"]] == [("LANTERN-LED", 2)]
    assert units("acme-outdoors", TENT.sku) == (tents_before[0] - 1, tents_before[1] + 1)
    assert queue(runtime) == []

    # And when lanterns arrive, the order wakes, reserves them and ships complete
    arrival = receive(warehouse, "acme-outdoors", "LANTERN-LED", 6)
    final = warehouse.run([order_id])
    assert arrival["woken"] == [order_id]
    assert final == {order_id: "SHIPPED"}
    assert units("acme-outdoors", "LANTERN-LED") == (4, 0)  # 2 reserved, then shipped
    assert units("acme-outdoors", TENT.sku) == (tents_before[0] - 1, tents_before[1])
    actions = audit_actions(runtime, order_id)
    assert actions[actions.index("backordered") :][:3] == [
        "backordered",
        "stock_awaited",
        "inventory_reserved",
    ]


def test_hold_all_holds_the_reservation_and_ops_decide(
    runtime: EmbeddedRuntime,
    nordlicht: WooCommerceStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given Nordlicht (hold_all) and an order for a lamp (in stock) and a rug (none)
    new_sku(warehouse, "nordlicht", "RUG-WOOL-S")
    rug = Line("RUG-WOOL-S", "Wool rug, small", 1, "120.00")
    payload = nordlicht.order(
        4802, lines=[LAMP, rug], person=JANE, address=PostalAddress(
            "Invalidenstraße 117", "Berlin", "", "10115", "DE"),
        created_at=clock.now(), modified_at=clock.now(), status="processing",
    )  # fmt: skip

    # When it is paid
    order_id = place(runtime, nordlicht.deliver("order.created", payload))
    exception = open_exception_of(runtime, order_id)

    # Then the lamp is held, an inventory_short exception is open for ops with the shortage,
    # and the order passed through PARTIALLY_RESERVED (a state of its own, audited)
    order = view(runtime, order_id)
    assert (exception["type"], exception["owner"]) == ("inventory_short", "ops")
    assert "short of 1 x RUG-WOOL-S (hold_all)" in exception["detail"]
    assert [(a["sku"], a["quantity"]) for a in order["reservation"]] == [(LAMP.sku, 1)]
    assert "PARTIALLY_RESERVED" in order["status_timestamps"]
    assert audit_actions(runtime, order_id)[-2:] == ["reservation_held", "exception_opened"]

    # And when ops ship the lamp now, the order ends COMPLETED_PARTIAL with the rug recorded
    lines = {ln["sku"]: ln["line_id"] for ln in order["lines"]}
    answer = resolve(
        runtime, exception["exception_id"],
        {"action": "partial", "note": "client approved: ship the lamp",
         "ship_lines": [{"line_id": lines[LAMP.sku], "quantity": 1}]},
    )  # fmt: skip
    assert answer.status == 202, answer.body
    assert warehouse.run([order_id]) == {order_id: "COMPLETED_PARTIAL"}
    order = view(runtime, order_id)
    assert [(ln["sku"], ln["quantity"]) for ln in order["unfulfilled_lines"]] == [("RUG-WOOL-S", 1)]
    assert units("nordlicht", "RUG-WOOL-S") == (0, 0)


def test_ship_partial_ships_what_is_in_stock_and_records_the_rest(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Kite & Kin (ship_partial) and an order for a kite (in stock) and 3 tails (1 left)
    new_sku(warehouse, "kite-and-kin", "TAIL-RIBBON", quantity=1)
    tails = Line("TAIL-RIBBON", "Ribbon tail", 3, "6.00")
    payload = kite.order(
        "KK-31", version=1, lines=[KITE, tails], person=JANE, address=LONDON,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip

    # When it is paid and the warehouse works it
    order_id = place(runtime, kite.deliver("order.upsert", payload, signed_at=clock.now()))
    final = warehouse.run([order_id])

    # Then the kite and one tail ship, two tails are recorded unfulfilled, nothing is left
    # reserved, and no person had to decide anything
    assert final == {order_id: "COMPLETED_PARTIAL"}
    order = view(runtime, order_id)
    assert sorted((ln["sku"], ln["quantity"]) for ln in order["lines"]) == [
        ("KITE-DELTA-RED", 1),
        ("TAIL-RIBBON", 1),
    ]
    assert [(ln["sku"], ln["quantity"]) for ln in order["unfulfilled_lines"]] == [
        ("TAIL-RIBBON", 2)
    ]
    assert units("kite-and-kin", "TAIL-RIBBON") == (0, 0)
    assert queue(runtime) == []
    assert "reserved_partially" in audit_actions(runtime, order_id)


def test_cancel_after_reservation_releases_stock_once_when_delivered_twice(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given 3 units and a paid order holding 2 of them, waiting for its pick
    new_sku(warehouse, "acme-outdoors", "PAD-SLEEP", quantity=3)
    pads = Line("PAD-SLEEP", "Sleeping pad", 2, "59.00")
    paid = paid_shopify_order(acme, clock, 5_600_041, lines=[pads])
    order_id = place(runtime, acme.deliver("orders/paid", paid))
    wait_status(runtime, order_id, "AWAITING_PICK")
    assert units("acme-outdoors", "PAD-SLEEP") == (1, 2)

    # When the storefront's cancel webhook is delivered twice, at the same time
    cancelled = {**paid, "cancelled_at": clock.now().isoformat(),
                 "updated_at": (clock.now() + timedelta(seconds=30)).isoformat()}  # fmt: skip
    answers: list[HttpResponse] = []
    both = [
        threading.Thread(
            target=lambda: answers.append(
                deliver(runtime, acme.deliver("orders/cancelled", cancelled))
            )
        )
        for _ in range(2)
    ]
    for thread in both:
        thread.start()
    for thread in both:
        thread.join()

    # Then the stock is back exactly once, and the audit trail says so once
    assert sorted((a.status, a.json()["outcome"]) for a in answers) == [
        (200, "duplicate"),
        (202, "updated"),
    ]
    assert units("acme-outdoors", "PAD-SLEEP") == (3, 0)
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    cancels = [e for e in trail if e["action"] == "order_cancelled"]
    assert len(cancels) == 1
    assert cancels[0]["detail"]["stock_released"][0]["quantity"] == 2
    assert view(runtime, order_id)["reservation"] == []


# --- picker assignment and documents -----------------------------------------------------


def test_picker_is_chosen_by_zone_and_workload_and_an_away_picker_is_skipped(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given Acme's pickers: ana (zones A, B), ben (A, B, C), cruz (C); a tent is in bin A-01-1
    # and mugs in B-04-2
    mug = Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")

    # When three orders for both arrive, with ana marked away before the third
    first = place(runtime, acme_order(acme, clock, 51, [mug, TENT]))
    wait_status(runtime, first, "AWAITING_PICK")
    second = place(runtime, acme_order(acme, clock, 52, [TENT, mug]))
    wait_status(runtime, second, "AWAITING_PICK")
    away = runtime.http(
        "PUT", "/owners/pdx-picker-ana/away", headers=LEAD,
        body=json.dumps({"client_id": "acme-outdoors", "starts_at": clock.now().isoformat(),
                         "ends_at": (clock.now() + timedelta(days=2)).isoformat(),
                         "note": "training"}),
    )  # fmt: skip
    third = place(runtime, acme_order(acme, clock, 53, [TENT]))
    wait_status(runtime, third, "AWAITING_PICK")

    # Then ana (fewest open picks, first by name) gets the first, ben the second (ana is busy),
    # ben the third (ana is away; cruz does not work zone A); each step is audited
    assert away.status == 200, away.body
    pickers = [view(runtime, o)["picker"] for o in (first, second, third)]
    assert pickers == ["pdx-picker-ana", "pdx-picker-ben", "pdx-picker-ben"]
    trail = runtime.http("GET", f"/orders/{third}/audit", headers=LEAD).json()["events"]
    assigned = next(e for e in trail if e["action"] == "picker_assigned")
    assert assigned["detail"]["skipped_away"] == ["pdx-picker-ana"]
    assert assigned["detail"]["zones"] == ["A"]
    # And the pick list is in bin order, sent to the warehouse and kept with its digest
    pick_list = view(runtime, first)["pick_list"]
    assert [(e["bin"], e["sku"]) for e in pick_list["entries"]] == [
        ("A-01-1", "TENT-2P-GRN"),
        ("B-04-2", "MUG-ENAMEL-12"),
    ]
    sent = [d for d in runtime.warehouse_channel.sent if d.order_id == first]
    assert [d.kind for d in sent] == ["pick-list"]
    assert "A-01-1" in sent[0].content and "<table>" in sent[0].content
    printable = runtime.http("GET", f"/orders/{first}/documents/pick-list-1", headers=LEAD)
    missing = runtime.http("GET", f"/orders/{first}/documents/pick-list-9", headers=LEAD)
    assert (printable.status, printable.body.decode()) == (200, sent[0].content)
    assert printable.headers["content-type"].startswith("text/html")
    assert (missing.status, missing.json()["error"]) == (404, "DocumentNotFound")
    assert "it has: pick-list-1" in missing.json()["message"]
    first_trail = runtime.http("GET", f"/orders/{first}/audit", headers=LEAD).json()["events"]
    assert next(e for e in first_trail if e["action"] == "picker_assigned")["detail"]["sha256"] == (
        sent[0].sha256
    )


# --- the QA gates ---------------------------------------------------------------------------


def test_every_gate_records_a_pass_with_its_owner_on_a_clean_order(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a clean order
    order_id = place(runtime, acme_order(acme, clock, 61, [TENT]))

    # When it ships
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}

    # Then each gate has one discrete passing result with the gate's owner
    results = [(r["gate"], r["passed"], r["owner"]) for r in view(runtime, order_id)["qa"]]
    assert results == [
        ("pre_pick", True, "ops"),
        ("post_pick", True, "qa"),
        ("packing", True, "warehouse"),
        ("shipping", True, "logistics"),
    ]
    kinds = [d.kind for d in runtime.warehouse_channel.sent if d.order_id == order_id]
    assert kinds == ["pick-list", "packing-manifest"]


def test_pre_pick_gate_fails_an_inactive_sku_and_passes_once_it_is_activated(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a SKU in stock but inactive in the SKU master
    new_sku(warehouse, "acme-outdoors", "CHAIR-FOLD", quantity=4, active=False)
    chair = Line("CHAIR-FOLD", "Folding chair", 1, "45.00")

    # When an order for it reaches the pre-pick gate
    order_id = place(runtime, acme_order(acme, clock, 71, [chair]))
    exception = open_exception_of(runtime, order_id)

    # Then qa_failed opens for the gate's owner with its remediation; the result is stored
    assert (exception["type"], exception["gate"], exception["owner"]) == (
        "qa_failed",
        "pre_pick",
        "ops",
    )
    assert "CHAIR-FOLD is inactive in the SKU master" in exception["detail"]
    assert exception["remediation"][0].startswith("Correct the SKU master")
    [result] = view(runtime, order_id)["qa"]
    assert (result["gate"], result["passed"]) == ("pre_pick", False)

    # And when the SKU is activated and ops retry, the reservation is made again and it ships
    new_sku(warehouse, "acme-outdoors", "CHAIR-FOLD", active=True)
    answer = resolve(runtime, exception["exception_id"], {"action": "retry", "note": "activated"})
    assert answer.status == 202, answer.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    assert units("acme-outdoors", "CHAIR-FOLD") == (3, 0)
    actions = audit_actions(runtime, order_id)
    assert actions.count("inventory_reserved") == 2
    assert [r["passed"] for r in view(runtime, order_id)["qa"]][:2] == [False, True]


def test_pre_pick_gate_refuses_a_short_dated_lot_and_the_retry_takes_a_fresher_one(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a lot-tracked SKU with a lot expiring in 30 days and one in a year (Acme wants 90)
    new_sku(warehouse, "acme-outdoors", "MEAL-FD-PASTA", lot_tracked=True)
    today = clock.now().date()
    receive(warehouse, "acme-outdoors", "MEAL-FD-PASTA", 5, lot="P-OLD",
            expires_on=(today + timedelta(days=30)).isoformat())  # fmt: skip
    receive(warehouse, "acme-outdoors", "MEAL-FD-PASTA", 5, lot="P-NEW",
            expires_on=(today + timedelta(days=365)).isoformat())  # fmt: skip
    meal = Line("MEAL-FD-PASTA", "Freeze-dried pasta", 2, "11.00")

    # When an order takes the first-expiring lot and reaches the pre-pick gate
    order_id = place(runtime, acme_order(acme, clock, 72, [meal]))
    exception = open_exception_of(runtime, order_id)

    # Then the gate fails naming the lot and the shelf life
    assert exception["gate"] == "pre_pick"
    assert "lot P-OLD expires" in exception["detail"]
    assert "(30 days left, the client requires 90)" in exception["detail"]

    # And the retry releases it, excludes that lot, reserves the fresh one and ships
    assert (
        resolve(runtime, exception["exception_id"], {"action": "retry", "note": "swap lot"}).status
        == 202
    )
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    order = view(runtime, order_id)
    assert [a["lot"] for a in order["reservation"]] == ["P-NEW"]
    by_lot = {
        lot.lot: (lot.available, lot.reserved) for lot in lots("acme-outdoors", "MEAL-FD-PASTA")
    }
    assert by_lot == {"P-OLD": (5, 0), "P-NEW": (3, 0)}


def test_post_pick_gate_fails_a_wrong_scan_and_a_re_pick_passes(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order for a tent and two mugs, waiting for its pick
    mug = Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")
    order_id = place(runtime, acme_order(acme, clock, 81, [TENT, mug]))
    order = wait_status(runtime, order_id, "AWAITING_PICK")

    # When the picker scans one mug and a lantern instead of the second mug
    scans = {
        "type": "pick_scans", "event_id": "bad-pick-1", "order_id": order_id,
        "picker": order["picker"],
        "scans": [{"sku": "TENT-2P-GRN", "barcode": "004259346641", "quantity": 1},
                  {"sku": "MUG-ENAMEL-12", "barcode": "002461752466", "quantity": 1},
                  {"sku": "MUG-ENAMEL-12", "barcode": "004259346641", "quantity": 1}],
    }  # fmt: skip
    assert post(warehouse, "acme-outdoors", scans)[0] == 202
    exception = open_exception_of(runtime, order_id)

    # Then the post-pick gate fails for Acme's QA team, naming the wrong barcode
    assert (exception["gate"], exception["owner"]) == ("post_pick", "qa")
    assert (
        "barcode 004259346641 scanned as MUG-ENAMEL-12 belongs to another product"
        in (exception["detail"])
    )

    # And a retry asks for a new pick; the correct scans pass and the order ships
    assert (
        resolve(runtime, exception["exception_id"], {"action": "retry", "note": "re-pick"}).status
        == 202
    )
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    passed = [(r["gate"], r["passed"]) for r in view(runtime, order_id)["qa"]]
    assert passed[1:3] == [("post_pick", False), ("post_pick", True)]
    assert audit_actions(runtime, order_id).count("pick_requested") == 2


def test_packing_gate_fails_a_parcel_too_light_and_a_repack_passes(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order for one tent (2100 g), picked and waiting for its pack data
    order_id = place(runtime, acme_order(acme, clock, 91, [TENT]))
    wait_status(runtime, order_id, "AWAITING_PICK")
    warehouse.act(order_id)
    wait_status(runtime, order_id, "AWAITING_PACK")

    # When the scale reads 900 g (a tent is missing from the box)
    light = {
        "type": "pack_data",
        "event_id": "light-1",
        "order_id": order_id,
        "packer": "packer-1",
        "pack": {"weight_grams": 900, "length_mm": 600, "width_mm": 400, "height_mm": 300},
    }
    assert post(warehouse, "acme-outdoors", light)[0] == 202  # fmt: skip
    exception = open_exception_of(runtime, order_id)

    # Then the packing gate fails with the expected range
    assert (exception["gate"], exception["owner"]) == ("packing", "warehouse")
    assert "weighs 900 g; expected 1890-2910 g (items 2100 g)" in exception["detail"]

    # And after a retry, the repacked parcel passes and ships
    assert (
        resolve(runtime, exception["exception_id"], {"action": "retry", "note": "repack"}).status
        == 202
    )
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    assert audit_actions(runtime, order_id).count("pack_requested") == 2


def test_shipping_gate_fails_a_late_delivery_and_a_lead_may_waive_it(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Kite & Kin (ground and postal only, 5 days promised) shipping a kite to Oregon:
    # ground does not cross borders and postal takes 8 days
    payload = kite.order(
        "KK-41", version=1, lines=[KITE], person=JANE, address=PORTLAND,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip

    # When it is labelled
    order_id = place(runtime, kite.deliver("order.upsert", payload, signed_at=clock.now()))
    exception = work_until_exception(runtime, warehouse, order_id)

    # Then the shipping gate fails for logistics, naming service and promise
    assert (exception["gate"], exception["owner"]) == ("shipping", "logistics")
    assert "postal takes 8 days; the client promises 5" in exception["detail"]

    # And an operator may not waive it, a lead may, and the order ships with the waiver kept
    kite_operator = dev_bearer("kai.operator")
    refused = resolve(runtime, exception["exception_id"],
                      {"action": "waive", "note": "looks fine"}, kite_operator)  # fmt: skip
    waived = resolve(
        runtime, exception["exception_id"],
        {"action": "waive", "note": "client approved 8-day delivery by email"},
    )  # fmt: skip
    assert (refused.status, refused.json()["error"]) == (403, "Forbidden")
    assert waived.status == 202, waived.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    [shipping] = [r for r in view(runtime, order_id)["qa"] if r["gate"] == "shipping"]
    assert (shipping["passed"], shipping["waived_by"]) == (False, "olivia.lead")


# --- carrier rejection -------------------------------------------------------------------


def test_carrier_rejection_voids_the_label_re_rates_and_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order to a PO box: ground is cheapest, but ground does not deliver to PO boxes
    box = PostalAddress("PO Box 4417", "Portland", "OR", "97208", "US")
    order_id = place(runtime, acme_order(acme, clock, 95, [TENT], address=box))

    # When it is packed, labelled and tendered
    exception = work_until_exception(runtime, warehouse, order_id)

    # Then carrier_rejected opens for logistics; the label is voided and the order is back at
    # the warehouse (PACKED) with ground excluded
    order = view(runtime, order_id)
    assert (exception["type"], exception["owner"]) == ("carrier_rejected", "logistics")
    assert exception["detail"].startswith("PO_BOX_NOT_SERVICED")
    assert [label["service"] for label in order["voided_labels"]] == ["ground"]
    assert (order["label"], order["rejected_services"]) == (None, ["ground"])

    # And the retry re-rates without ground, buys a postal label and the order ships
    assert (
        resolve(runtime, exception["exception_id"], {"action": "retry", "note": "re-rate"}).status
        == 202
    )
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    order = view(runtime, order_id)
    assert order["label"]["service"] == "postal"
    actions = audit_actions(runtime, order_id)
    rejected_at = actions.index("carrier_rejected")
    assert actions[rejected_at:].count("label_created") == 1
    assert actions.count("label_created") == 2
    assert actions[-2:] == ["shipped", "customer_notified"]


def _table_stock(runtime: EmbeddedRuntime, sku: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=REGION)
    return list(
        client.query(
            TableName=runtime.names["OrdersTable"],
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"STOCK#acme-outdoors#{sku}"}},
        )["Items"]
    )


def test_inventory_events_that_would_make_stock_untrue_are_refused(
    runtime: EmbeddedRuntime, warehouse: WarehouseSimulator
) -> None:
    # Given a lot-tracked SKU
    new_sku(warehouse, "acme-outdoors", "MEAL-FD-CURRY", lot_tracked=True)
    base: dict[str, Any] = {"type": "stock_received", "quantity": 5, "bin": "C-01-1"}
    cases: dict[str, Callable[[], dict[str, Any]]] = {
        "unknown sku": lambda: {**base, "event_id": "x1", "sku": "NOPE", "warehouse": "pdx-1"},
        "other warehouse": lambda: {
            **base, "event_id": "x2", "sku": "MEAL-FD-CURRY", "warehouse": "ber-1",
        },
        "no lot": lambda: {**base, "event_id": "x3", "sku": "MEAL-FD-CURRY", "warehouse": "pdx-1"},
    }  # fmt: skip

    # When the warehouse sends receipts that are wrong in each way
    answers = {name: post(warehouse, "acme-outdoors", make()) for name, make in cases.items()}

    # Then each is refused with 422 naming the problem, and no stock is recorded
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(cases, 422)
    assert "not in the SKU master" in answers["unknown sku"][1]["message"]
    assert "is not one of acme-outdoors's" in answers["other warehouse"][1]["message"]
    assert "lot and expires_on are required" in answers["no lot"][1]["message"]
    assert _table_stock(runtime, "MEAL-FD-CURRY") == []


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_receipt_of_no_units_is_refused(
    runtime: EmbeddedRuntime, warehouse: WarehouseSimulator, quantity: int
) -> None:
    # Given a known SKU
    new_sku(warehouse, "acme-outdoors", "CUP-STEEL")

    # When a receipt says it brought no (or negative) units
    status, body = post(
        warehouse, "acme-outdoors",
        {"type": "stock_received", "event_id": f"q{quantity}", "sku": "CUP-STEEL",
         "warehouse": "pdx-1", "quantity": quantity, "bin": "A-01-1"},
    )  # fmt: skip

    # Then it is a 422 naming the field, and stock is untouched
    assert status == 422
    assert "quantity" in json.dumps(body)
    assert _table_stock(runtime, "CUP-STEEL") == []
