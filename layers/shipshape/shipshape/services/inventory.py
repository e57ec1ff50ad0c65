"""Inventory: reserving stock for an order's lines, releasing it, using it on shipment, and
receiving stock (which wakes backordered orders, longest-waiting first).

A reservation is computed here and written by the caller as ``StockChange`` writes of the
order change that causes it: one DynamoDB transaction holds the order, its audit event and
every lot it touches, each lot conditional on staying at or above zero. Two orders racing for
the last unit cannot both win; the loser reads again and plans again with what is left.

A transaction holds at most ``TRANSACTION_ITEMS``. An order touching more lots than fit
(``MAX_SIDE_WRITES``) is reserved, used and released in groups of lots (``lot_groups``): each
group is its own transaction with the order and an audit event, and the order records what
each group did (``reservation``, ``consumed_lots``), so stock and record never disagree and an
interrupted step resumes from what is recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from shipshape.config import ClientConfig
from shipshape.models import (
    Allocation,
    BackorderMark,
    Order,
    OrderLine,
    OrderStatus,
    StockChange,
    StockLot,
)
from shipshape.ports import InventoryRepository

TRANSACTION_ITEMS = 100  # DynamoDB's limit on the items of one transaction
# What one transaction leaves for stock lots and backorder marks: the order and its audit
# event are always in it, and a change that closes or opens an exception writes that too.
MAX_SIDE_WRITES = TRANSACTION_ITEMS - 3


def lot_key(sku: str, warehouse: str, lot: str) -> str:
    return f"{sku}|{warehouse}|{lot}"


@dataclass(frozen=True)
class ReservationPlan:
    warehouse: str
    reservation: tuple[Allocation, ...]  # everything held after the plan (kept + new)
    added: tuple[Allocation, ...]
    released: tuple[Allocation, ...]
    short: tuple[OrderLine, ...]  # per line, the units still missing

    @property
    def complete(self) -> bool:
        return not self.short

    def group_ahead(self) -> tuple[Allocation, ...]:
        """The first group of new allocations to reserve before the rest (lots the plan also
        releases from stay for the plan's own transaction); empty when nothing is new."""
        releasing = {allocation_lot(a) for a in self.released}
        groups = lot_groups(a for a in self.added if allocation_lot(a) not in releasing)
        return groups[0] if groups else ()

    def stock_changes(self, client_id: str) -> list[StockChange]:
        return merge(
            [_change(client_id, a, -a.quantity, a.quantity) for a in self.added]
            + [_change(client_id, a, a.quantity, -a.quantity) for a in self.released]
        )


def _change(client_id: str, a: Allocation, available: int, reserved: int) -> StockChange:
    return StockChange(
        client_id=client_id, sku=a.sku, warehouse=a.warehouse, lot=a.lot,
        available=available, reserved=reserved,
    )  # fmt: skip


def merge(changes: Iterable[StockChange]) -> list[StockChange]:
    """One change per lot (a transaction may touch an item once); zero changes dropped."""
    totals: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in changes:
        total = totals[(c.client_id, c.sku, c.warehouse, c.lot)]
        total[0] += c.available
        total[1] += c.reserved
    return [
        StockChange(client_id=k[0], sku=k[1], warehouse=k[2], lot=k[3], available=a, reserved=r)
        for k, (a, r) in totals.items()
        if a or r
    ]


def allocation_lot(allocation: Allocation) -> str:
    return lot_key(allocation.sku, allocation.warehouse, allocation.lot)


def lot_groups(
    allocations: Iterable[Allocation], size: int = MAX_SIDE_WRITES
) -> list[tuple[Allocation, ...]]:
    """The allocations in groups touching at most ``size`` lots each, every allocation of a
    lot in one group (a transaction may touch an item once). Lots go in key order, so two
    orders reserving the same lots in groups contend for them in the same order."""
    by_lot: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        by_lot[allocation_lot(allocation)].append(allocation)
    keys = sorted(by_lot)
    return [
        tuple(a for key in keys[start : start + size] for a in by_lot[key])
        for start in range(0, len(keys), size)
    ]


def _eligible(lot: StockLot, order: Order, today: date) -> bool:
    if lot_key(lot.sku, lot.warehouse, lot.lot) in order.excluded_lots:
        return False
    # Expired stock is never sold; shelf-life minimums are the pre-pick gate's to enforce.
    return lot.expires_on is None or lot.expires_on > today


def _fefo(lot: StockLot) -> tuple[date, str]:
    return (lot.expires_on or date.max, lot.lot)


def plan_reservation(
    order: Order,
    client: ClientConfig,
    stock: dict[str, list[StockLot]],
    today: date,
) -> ReservationPlan:
    """What to reserve (first expiry, first out) so every line is covered, what to release
    (lines that shrank), and what stays short; from the lots as read."""
    warehouse = order.warehouse or _choose_warehouse(order, client, stock, today)
    held: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in order.reservation:
        held[allocation.line_id].append(allocation)
    lines = {line.line_id: line for line in order.lines}
    released = [a for line_id, allocs in held.items() if line_id not in lines for a in allocs]
    left = {
        lot_key(lot.sku, lot.warehouse, lot.lot): lot.available
        for lots in stock.values()
        for lot in lots
    }
    kept: list[Allocation] = []
    added: list[Allocation] = []
    short: list[OrderLine] = []
    for line in order.lines:
        have = 0
        for allocation in held.get(line.line_id, []):
            take = min(allocation.quantity, line.quantity - have)
            if take > 0:
                kept.append(allocation.model_copy(update={"quantity": take}))
                have += take
            if take < allocation.quantity:
                released.append(
                    allocation.model_copy(update={"quantity": allocation.quantity - take})
                )
        lots = sorted(
            (
                lot
                for lot in stock.get(line.sku, [])
                if lot.warehouse == warehouse and _eligible(lot, order, today)
            ),
            key=_fefo,
        )
        for lot in lots:
            if have >= line.quantity:
                break
            key = lot_key(lot.sku, lot.warehouse, lot.lot)
            take = min(left.get(key, 0), line.quantity - have)
            if take <= 0:
                continue
            left[key] -= take
            have += take
            added.append(
                Allocation(
                    line_id=line.line_id, sku=line.sku, warehouse=lot.warehouse, lot=lot.lot,
                    expires_on=lot.expires_on, bin=lot.bin, quantity=take,
                )
            )  # fmt: skip
        if have < line.quantity:
            short.append(line.model_copy(update={"quantity": line.quantity - have}))
    return ReservationPlan(
        warehouse=warehouse,
        reservation=tuple(kept + added),
        added=tuple(added),
        released=tuple(released),
        short=tuple(short),
    )


def _choose_warehouse(
    order: Order, client: ClientConfig, stock: dict[str, list[StockLot]], today: date
) -> str:
    """The first warehouse (in the client's preference) that can cover the whole order, else
    the first one: an order ships from one place."""
    for warehouse in client.fulfilment.warehouses:
        need: dict[str, int] = defaultdict(int)
        for line in order.lines:
            need[line.sku] += line.quantity
        covered = all(
            sum(
                lot.available
                for lot in stock.get(sku, [])
                if lot.warehouse == warehouse and _eligible(lot, order, today)
            )
            >= quantity
            for sku, quantity in need.items()
        )
        if covered:
            return warehouse
    return client.fulfilment.warehouses[0]


def read_stock(inventory: InventoryRepository, order: Order) -> dict[str, list[StockLot]]:
    return {sku: inventory.stock_of(order.client_id, sku) for sku in {ln.sku for ln in order.lines}}


def held(order: Order) -> list[Allocation]:
    """What is still reserved for the order: its reservation less the lots already used."""
    if order.stock_consumed:
        return []
    return [a for a in order.reservation if allocation_lot(a) not in order.consumed_lots]


def release_all(order: Order) -> list[StockChange]:
    """Give back everything held for the order (cancel, or a gate that refused the lots)."""
    return release(order, held(order))


def release(order: Order, allocations: Iterable[Allocation]) -> list[StockChange]:
    return merge(_change(order.client_id, a, a.quantity, -a.quantity) for a in allocations)


def reserve(order: Order, allocations: Iterable[Allocation]) -> list[StockChange]:
    return merge(_change(order.client_id, a, -a.quantity, a.quantity) for a in allocations)


def consume(order: Order, allocations: Iterable[Allocation] | None = None) -> list[StockChange]:
    """The reserved units (all still held, or ``allocations``) left the building: they stop
    being stock."""
    chosen = held(order) if allocations is None else allocations
    return merge(_change(order.client_id, a, 0, -a.quantity) for a in chosen)


def backorder_marks(
    order: Order, short: Sequence[OrderLine], since: datetime, *, remove: bool = False
) -> list[BackorderMark]:
    needed: dict[str, int] = defaultdict(int)
    for line in short:
        needed[line.sku] += line.quantity
    return [
        BackorderMark(
            client_id=order.client_id, sku=sku, order_id=order.order_id, since=since,
            quantity=quantity, remove=remove,
        )
        for sku, quantity in sorted(needed.items())
    ]  # fmt: skip


def backordered_since(order: Order) -> datetime | None:
    if order.status is OrderStatus.BACKORDERED or order.short_lines:
        return order.status_timestamps.get(OrderStatus.BACKORDERED)
    return None


def allocations_detail(allocations: Iterable[Allocation]) -> list[dict[str, object]]:
    return [
        {"sku": a.sku, "warehouse": a.warehouse, "lot": a.lot, "bin": a.bin, "quantity": a.quantity}
        for a in allocations
    ]


def lines_detail(lines: Iterable[OrderLine]) -> list[dict[str, object]]:
    return [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in lines]
