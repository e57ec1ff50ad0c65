"""Warehouse events: pick scans and pack data that resolve the workflow's waits, and the
inventory events (SKU master updates, stock received) that keep stock true and wake orders
waiting for it."""

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from shipshape.base import Model
from shipshape.config import ClientConfig
from shipshape.errors import ClientRequestError, NotAwaitingEvent, OrderNotFound
from shipshape.models import (
    Barcode,
    OrderId,
    PackData,
    PersonName,
    PickScan,
    Quantity,
    Sku,
    SkuMaster,
)
from shipshape.observability import logger
from shipshape.ports import InventoryRepository, OrderRepository, TaskNotWaiting, WorkflowEngine


class InventoryEventInvalid(ClientRequestError):
    """An inventory event that would make stock untrue (unknown SKU or warehouse, no lot)."""

    status = 422


EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class PickScansEvent(Model):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pick_scans"]
    event_id: EventId
    order_id: OrderId
    picker: PersonName
    scans: tuple[PickScan, ...] = Field(min_length=1, max_length=1000)


class PackDataEvent(Model):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pack_data"]
    event_id: EventId
    order_id: OrderId
    packer: PersonName
    pack: PackData


class SkuUpdatedEvent(Model):
    """Create or replace one SKU in the client's SKU master."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["sku_updated"]
    event_id: EventId
    sku: Sku
    title: str = Field(default="", max_length=200)
    active: bool = True
    lot_tracked: bool = False
    barcode: Barcode = Field(min_length=1)
    unit_weight_grams: int = Field(gt=0, le=1_000_000)
    length_mm: int = Field(gt=0, le=10_000)
    width_mm: int = Field(gt=0, le=10_000)
    height_mm: int = Field(gt=0, le=10_000)


class StockReceivedEvent(Model):
    """Units put away in a warehouse bin; backordered orders waiting for them wake up."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["stock_received"]
    event_id: EventId
    sku: Sku
    warehouse: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    quantity: Quantity
    bin: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")
    lot: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^#|]+$")
    expires_on: date | None = None


WarehouseEvent = Annotated[
    PickScansEvent | PackDataEvent | SkuUpdatedEvent | StockReceivedEvent,
    Field(discriminator="type"),
]


class WarehouseDelivery(Model):
    """One warehouse event for one client: the unit that is processed at most once."""

    client_id: str
    event: WarehouseEvent


class WarehouseEventAccepted(Model):
    order_id: str | None = None
    event_id: str
    accepted: Literal[True] = True
    duplicate: bool = Field(
        default=False, description="True when this event_id was accepted before; nothing new."
    )
    woken: list[str] = Field(
        default_factory=list, description="Backordered orders this stock woke, oldest first."
    )


def handle_warehouse_event(
    *,
    client: ClientConfig,
    event: PickScansEvent | PackDataEvent | SkuUpdatedEvent | StockReceivedEvent,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    inventory: InventoryRepository,
) -> WarehouseEventAccepted:
    """Hand the warehouse's data to the waiting workflow step, which records and audits it;
    or apply an inventory event."""
    if isinstance(event, SkuUpdatedEvent):
        inventory.put_sku(
            SkuMaster(client_id=client.client_id, **event.model_dump(exclude={"type", "event_id"}))
        )
        return WarehouseEventAccepted(event_id=event.event_id)
    if isinstance(event, StockReceivedEvent):
        return receive_stock(
            client=client, event=event, repo=repo, workflow=workflow, inventory=inventory
        )
    client_id = client.client_id
    order = repo.get(event.order_id)
    if order is None or order.client_id != client_id:
        # Same answer for another client's order as for none: ids are not for probing.
        raise OrderNotFound(f"client {client_id} has no order {event.order_id}")
    wanted = event.type
    if order.awaiting != wanted or not order.task_token:
        raise NotAwaitingEvent(
            f"order {order.order_id} is {order.status.value} and not waiting for {wanted}"
        )
    output: dict[str, Any]
    if isinstance(event, PickScansEvent):
        output = {
            "scans": [s.model_dump() for s in event.scans],
            "event_id": event.event_id,
            "actor": event.picker,
        }
    else:
        output = {
            "pack": event.pack.model_dump(),
            "event_id": event.event_id,
            "actor": event.packer,
        }
    try:
        workflow.succeed(order.task_token, output)
    except TaskNotWaiting as exc:
        raise NotAwaitingEvent(
            f"order {order.order_id} stopped waiting for {wanted} ({exc})"
        ) from exc
    return WarehouseEventAccepted(order_id=order.order_id, event_id=event.event_id)


def receive_stock(
    *,
    client: ClientConfig,
    event: StockReceivedEvent,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    inventory: InventoryRepository,
) -> WarehouseEventAccepted:
    """Add the units, then wake orders backordered on this SKU, longest-waiting first, as far
    as the stock now available covers them (strictly in order: a later, smaller order never
    jumps the queue). Each woken order reserves for itself in its own transaction."""
    if event.warehouse not in client.fulfilment.warehouses:
        raise InventoryEventInvalid(
            f"warehouse {event.warehouse} is not one of {client.client_id}'s "
            f"({', '.join(client.fulfilment.warehouses)})"
        )
    master = inventory.skus(client.client_id, [event.sku]).get(event.sku)
    if master is None:
        raise InventoryEventInvalid(
            f"{event.sku} is not in the SKU master; send sku_updated for it first"
        )
    if master.lot_tracked and (event.lot is None or event.expires_on is None):
        raise InventoryEventInvalid(f"{event.sku} is lot-tracked: lot and expires_on are required")
    inventory.receive_stock(
        client.client_id, event.sku, event.warehouse, event.lot or "-", event.quantity,
        event.bin, event.expires_on, receipt=event.event_id,
    )  # fmt: skip
    available = sum(
        lot.available
        for lot in inventory.stock_of(client.client_id, event.sku)
        if lot.warehouse == event.warehouse
    )
    woken: list[str] = []
    for mark in inventory.backorders_of(client.client_id, event.sku, limit=100):
        if mark.quantity > available:
            break
        order = repo.get(mark.order_id)
        if order is None or order.awaiting != "stock" or not order.task_token:
            continue  # not waiting yet: its wait re-checks stock after storing its token
        try:
            workflow.succeed(order.task_token, {"woken_by": event.event_id})
        except TaskNotWaiting:
            continue
        available -= mark.quantity
        woken.append(order.order_id)
    if woken:
        logger.info(
            "backordered orders woken", extra={"client_id": client.client_id, "orders": woken}
        )
    return WarehouseEventAccepted(event_id=event.event_id, woken=woken)
