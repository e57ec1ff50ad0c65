"""Orders that touch more stock lots than one DynamoDB transaction holds (100 items: the order,
its audit event, perhaps an exception, and one item per lot), through the real workflow on the
embedded stack. They are reserved, used and given back group by group, each group written
with the order and an audit event, so they ship like any other order and the stock balances.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import Line, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import (
    ACME_OPERATOR,
    LEAD,
    audit_actions,
    deliver,
    deliver_at_once,
    lots,
    new_sku,
    open_exception_of,
    post,
    queue,
    receive,
    resolve,
    units,
    view,
    wait_status,
)

ACME = "acme-outdoors"
# One transaction holds 100 items. With the order, its audit event and an exception that may
# be written with them, 97 lots is the most one transaction can carry; 99 lots would make
# 101 items even without an exception.
JUST_UNDER = 97
JUST_OVER = 99
# A lot-tracked SKU with a lot too close to its expiry for Acme (90 days) and a fresh one.
MEAL = "MEAL-FD-RICE"


def stock_skus(warehouse: WarehouseSimulator, count: int, quantity: int) -> list[str]:
    """``count`` small SKUs, one lot each, ``quantity`` units of each on the shelf."""
    skus = [f"BEAD-{n:03d}" for n in range(count)]
    for sku in skus:
        new_sku(
            warehouse, ACME, sku, quantity=quantity, unit_weight_grams=20, length_mm=30,
            width_mm=20, height_mm=10,
        )  # fmt: skip
    return skus


def lines_of(skus: list[str]) -> list[Line]:
    return [Line(sku, f"Bead {sku[-3:]}", 1, "1.50") for sku in skus]


def shelf(skus: list[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """(available, reserved) of every lot of the SKUs, by (SKU, lot)."""
    return {
        (lot.sku, lot.lot): (lot.available, lot.reserved) for sku in skus for lot in lots(ACME, sku)
    }


def events_of(runtime: EmbeddedRuntime, order_id: str) -> list[dict[str, Any]]:
    answer = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD)
    assert answer.status == 200, answer.body
    return list(answer.json()["events"])


def released_lots(events: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """Every (SKU, lot, units) the trail says went back to stock, once per mention."""
    return [
        (line["sku"], line["lot"], line["quantity"])
        for e in events
        for line in e["detail"].get("stock_released", [])
    ]


def stopped_at_pre_pick(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock,
    warehouse: WarehouseSimulator, n: int,
) -> tuple[str, dict[str, Any], list[str]]:  # fmt: skip
    """A paid order for one unit of each of 99 SKUs, its 99 lots reserved, stopped by the
    pre-pick gate because the meal's first-expiring lot has too little shelf life left."""
    beads = stock_skus(warehouse, JUST_OVER - 1, quantity=1)
    new_sku(warehouse, ACME, MEAL, lot_tracked=True)
    today = clock.now().date()
    receive(warehouse, ACME, MEAL, 1, lot="R-OLD",
            expires_on=(today + timedelta(days=30)).isoformat())  # fmt: skip
    receive(warehouse, ACME, MEAL, 1, lot="R-NEW",
            expires_on=(today + timedelta(days=365)).isoformat())  # fmt: skip
    skus = [*beads, MEAL]
    order_id, _ = place(runtime, acme, clock, n, skus)
    exception = open_exception_of(runtime, order_id)
    assert (exception["type"], exception["gate"]) == ("qa_failed", "pre_pick"), exception
    assert "lot R-OLD expires" in exception["detail"]
    order = view(runtime, order_id)
    assert order["status"] == "EXCEPTION" and len(order["reservation"]) == JUST_OVER
    return order_id, exception, skus


def review(
    runtime: EmbeddedRuntime, order_id: str, override_id: str, verb: str, headers: dict[str, str]
) -> HttpResponse:
    return runtime.http(
        "POST", f"/orders/{order_id}/overrides/{override_id}/{verb}", headers=headers,
        body=json.dumps({"note": "confirmed with the client"}),
    )  # fmt: skip


def place(runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, n: int,
          skus: list[str]) -> tuple[str, dict[str, Any]]:  # fmt: skip
    paid = paid_shopify_order(acme, clock, 5_650_000 + n, lines=lines_of(skus))
    answer = deliver(runtime, acme.deliver("orders/paid", paid))
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"]), paid


def test_orders_just_under_and_just_over_the_transaction_limit_both_ship_and_stock_balances(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given 99 SKUs with two units each, one lot each
    skus = stock_skus(warehouse, JUST_OVER, quantity=2)

    # When a paid order for one unit of 97 of them, and one for one unit of all 99, are
    # worked by the warehouse
    under, _ = place(runtime, acme, clock, 1, skus[:JUST_UNDER])
    over, _ = place(runtime, acme, clock, 2, skus)
    final = warehouse.run([under, over], timeout=120)

    # Then both ship with every line, and no exception or automation failure was opened
    assert final == {under: "SHIPPED", over: "SHIPPED"}, [view(runtime, o) for o in final]
    assert queue(runtime) == []
    for order_id, count in ((under, JUST_UNDER), (over, JUST_OVER)):
        order = view(runtime, order_id)
        assert len(order["lines"]) == count and len(order["reservation"]) == count
        assert order["stock_consumed"] is True
    # And the order that fits is reserved in one transaction; the larger one in groups, each
    # with its own audit event, and used in groups when it shipped
    under_trail = audit_actions(runtime, under)
    over_trail = audit_actions(runtime, over)
    assert under_trail.count("inventory_reserved") == 1
    assert "inventory_reserved_in_part" not in under_trail
    assert over_trail.count("inventory_reserved_in_part") >= 1
    assert over_trail.count("inventory_reserved") == 1
    assert over_trail.count("stock_consumed_in_part") >= 1
    # And the stock balances: two units of each SKU in both orders shipped, one of the last two
    for sku in skus[:JUST_UNDER]:
        assert units(ACME, sku) == (0, 0), sku
    for sku in skus[JUST_UNDER:]:
        assert units(ACME, sku) == (1, 0), sku


def test_a_large_order_cancelled_after_reservation_gives_every_unit_back_once(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order over the limit, reserved and waiting for its pick
    skus = stock_skus(warehouse, JUST_OVER, quantity=1)
    order_id, paid = place(runtime, acme, clock, 3, skus)
    reserved = wait_status(runtime, order_id, "AWAITING_PICK")
    assert len(reserved["reservation"]) == JUST_OVER
    assert all(units(ACME, sku) == (0, 1) for sku in skus)

    # When the storefront's cancellation is delivered twice at once
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

    # Then the order is cancelled once, holds nothing, and every unit is back exactly once
    assert sorted(a.json()["outcome"] for a in answers) == ["duplicate", "updated"], [
        a.body for a in answers
    ]
    assert warehouse.run([order_id]) == {order_id: "CANCELLED"}
    assert view(runtime, order_id)["reservation"] == []
    assert all(units(ACME, sku) == (1, 0) for sku in skus)
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    actions = [e["action"] for e in trail]
    assert actions.count("order_cancelled") == 1
    assert actions.count("stock_released_in_part") >= 1
    released = [
        line["quantity"]
        for e in trail
        if e["action"] in ("stock_released_in_part", "order_cancelled")
        for line in e["detail"].get("stock_released", [])
    ]
    assert sum(released) == JUST_OVER
    assert queue(runtime) == []


def test_a_large_order_racing_small_ones_for_the_last_units_never_splits_a_unit_or_loses_one(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given 99 SKUs with one unit each
    skus = stock_skus(warehouse, JUST_OVER, quantity=1)
    contested = skus[-20:]  # in the large order's last group of lots

    # When an order for all 99 and twenty orders for one contested unit each arrive at once
    deliveries = [acme.deliver("orders/paid", paid_shopify_order(
        acme, clock, 5_660_000, lines=lines_of(skus)))] + [
        acme.deliver("orders/paid", paid_shopify_order(
            acme, clock, 5_660_001 + n, lines=lines_of([sku])))
        for n, sku in enumerate(contested)
    ]  # fmt: skip
    answers = deliver_at_once(runtime, deliveries)
    assert [a.status for a in answers] == [202] * len(deliveries)
    order_ids = [str(a.json()["order_id"]) for a in answers]
    assert runtime.wait_for(
        lambda: all(
            view(runtime, o)["status"] in ("AWAITING_PICK", "BACKORDERED") for o in order_ids
        ),
        timeout=120,
        interval=0.5,
    ), [view(runtime, o)["status"] for o in order_ids]

    # Then no exception or automation failure was opened, and every unit is in exactly one
    # place: on the shelf, or held by exactly one order whose record says so
    assert queue(runtime) == []
    views = [view(runtime, o) for o in order_ids]
    held: dict[str, int] = {}
    for order in views:
        for allocation in order["reservation"]:
            held[allocation["sku"]] = held.get(allocation["sku"], 0) + allocation["quantity"]
    for sku in skus:
        available, reserved = units(ACME, sku)
        assert (available, reserved) in ((0, 1), (1, 0)), sku
        assert held.get(sku, 0) == reserved, sku
    # And an order that got less than it wanted waits for stock (Acme's backorder policy)
    # with what it got held, and what it lacks recorded
    for order in views:
        wanted = {line["sku"] for line in order["lines"]}
        got = {a["sku"] for a in order["reservation"]}
        short = {line["sku"] for line in order["short_lines"]}
        assert got | short == wanted and not got & short, order["order_id"]
        assert (order["status"] == "BACKORDERED") == bool(short), order["order_id"]


def test_a_large_order_cancelled_by_two_operators_at_its_exception_gives_every_unit_back_once(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order for 99 lots, reserved and stopped by the pre-pick gate
    order_id, exception, skus = stopped_at_pre_pick(runtime, acme, clock, warehouse, 4)
    before = shelf(skus)
    assert sum(reserved for _, reserved in before.values()) == JUST_OVER

    # When Acme's operator resolves it with cancel and a lead approves the cancellation
    asked = resolve(
        runtime, exception["exception_id"],
        {"action": "cancel", "note": "customer cancelled by phone"}, ACME_OPERATOR,
    )  # fmt: skip
    assert asked.status == 202, asked.body
    held = shelf(skus)
    approved = review(runtime, order_id, asked.json()["awaiting_approval"], "approve", LEAD)

    # Then the approval is answered, the order is cancelled holding nothing, its workflow ends
    # and the exception is closed as a cancel
    assert held == before
    assert approved.status == 200, approved.body
    assert approved.json()["status"] == "CANCELLED"
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    order = view(runtime, order_id)
    assert (order["status"], order["reservation"]) == ("CANCELLED", [])
    assert queue(runtime, "?status=OPEN") == []
    # And every unit is back on its own lot exactly once: each lot as it stood before, plus
    # the one unit it held, now available
    after = shelf(skus)
    assert after == {
        key: (available + reserved, 0) for key, (available, reserved) in before.items()
    }
    # And the trail gives back, group by group, what the final change could not carry, then
    # records that change naming both operators and the exception it closed
    events = events_of(runtime, order_id)
    cancelled_at = next(i for i, e in enumerate(events) if e["action"] == "override_applied")
    assert cancelled_at == len(events) - 1
    parts = [e for e in events if e["action"] == "stock_released_in_part"]
    assert parts and all(
        events.index(p) < cancelled_at and p["actor"]["id"] == "olivia.lead" for p in parts
    )
    final = events[cancelled_at]
    assert final["to_status"] == "CANCELLED"
    assert final["detail"]["closed_exception"] == exception["exception_id"]
    assert (final["detail"]["requested_by"], final["detail"]["approved_by"]) == (
        "omar.operator", "olivia.lead",
    )  # fmt: skip
    released = released_lots([*parts, final])
    assert sorted(released) == sorted(
        (sku, lot, 1) for (sku, lot), (_, reserved) in before.items() if reserved
    )


def test_a_retry_of_the_pre_pick_gate_on_a_large_order_releases_in_groups_and_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order for 99 lots, reserved and stopped by the pre-pick gate on the
    # meal's short-dated lot
    order_id, exception, skus = stopped_at_pre_pick(runtime, acme, clock, warehouse, 5)

    # When ops retry it
    retried = resolve(runtime, exception["exception_id"], {"action": "retry", "note": "swap lot"})

    # Then the reservation is rolled back in groups, made again without the refused lot, and
    # the order ships
    assert retried.status == 202, retried.body
    assert warehouse.run([order_id], timeout=60) == {order_id: "SHIPPED"}
    order = view(runtime, order_id)
    assert [a["lot"] for a in order["reservation"] if a["sku"] == MEAL] == ["R-NEW"]
    assert order["stock_consumed"] is True
    events = events_of(runtime, order_id)
    actions = [e["action"] for e in events]
    resolved_at = actions.index("exception_resolved")
    parts = [i for i, a in enumerate(actions) if a == "stock_released_in_part"]
    assert parts and all(i < resolved_at for i in parts), actions
    assert events[resolved_at]["detail"]["rolled_back_to"] == "ADDRESS_VALIDATED"
    assert actions.count("inventory_reserved") == 2
    # (the resolution's own transaction gives back the rest; its event does not list them)
    released = released_lots([events[i] for i in parts])
    held = {(sku, "-", 1) for sku in skus if sku != MEAL} | {(MEAL, "R-OLD", 1)}
    assert len(set(released)) == len(released) and set(released) < held
    # And the stock balances: every bead used, the short-dated meal back on the shelf, the
    # fresh one used; nothing left reserved
    assert shelf(skus) == {
        **{(sku, "-"): (0, 0) for sku in skus if sku != MEAL},
        (MEAL, "R-OLD"): (1, 0),
        (MEAL, "R-NEW"): (0, 0),
    }
    assert queue(runtime, "?status=OPEN") == []


def test_a_retry_of_the_post_pick_gate_on_a_large_order_keeps_its_reservation(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order for 99 lots, reserved and waiting for its pick
    skus = stock_skus(warehouse, JUST_OVER, quantity=1)
    order_id, _ = place(runtime, acme, clock, 6, skus)
    waiting = wait_status(runtime, order_id, "AWAITING_PICK")

    # When the picker scans one bead with another bead's barcode, and ops retry the pick
    pick = warehouse.pick_event(waiting)
    pick["scans"][0]["barcode"] = pick["scans"][1]["barcode"]
    assert post(warehouse, ACME, pick)[0] == 202
    exception = open_exception_of(runtime, order_id)
    assert exception["gate"] == "post_pick", exception
    held = view(runtime, order_id)["reservation"]
    retried = resolve(runtime, exception["exception_id"], {"action": "retry", "note": "re-pick"})

    # Then the new pick is asked for with every unit still held for the order (the units are
    # in the picker's hands, not back on the shelf), and it ships using every one of them
    assert retried.status == 202, retried.body
    again = wait_status(runtime, order_id, "AWAITING_PICK")
    assert again["reservation"] == held
    assert all(units(ACME, sku) == (0, 1) for sku in skus)
    assert warehouse.run([order_id], timeout=60) == {order_id: "SHIPPED"}
    assert "stock_released_in_part" not in audit_actions(runtime, order_id)
    assert all(units(ACME, sku) == (0, 0) for sku in skus)
