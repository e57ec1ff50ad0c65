"""Warehouse events: pick scans and pack data that resolve the workflow's waits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shipshape.errors import NotAwaitingEvent, OrderNotFound
from shipshape.models import OrderId, PackData, PickScan
from shipshape.ports import OrderRepository, TaskNotWaiting, WorkflowEngine

EventId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class PickScansEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pick_scans"]
    event_id: EventId
    order_id: OrderId
    picker: str = Field(min_length=1, max_length=64)
    scans: tuple[PickScan, ...] = Field(min_length=1, max_length=1000)


class PackDataEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["pack_data"]
    event_id: EventId
    order_id: OrderId
    packer: str = Field(min_length=1, max_length=64)
    pack: PackData


WarehouseEvent = Annotated[PickScansEvent | PackDataEvent, Field(discriminator="type")]


class WarehouseDelivery(BaseModel):
    """One warehouse event for one client: the unit that is processed at most once."""

    client_id: str
    event: WarehouseEvent


class WarehouseEventAccepted(BaseModel):
    order_id: str
    event_id: str
    accepted: Literal[True] = True
    duplicate: bool = Field(
        default=False, description="True when this event_id was accepted before; nothing new."
    )


def handle_warehouse_event(
    *,
    client_id: str,
    event: PickScansEvent | PackDataEvent,
    repo: OrderRepository,
    workflow: WorkflowEngine,
) -> WarehouseEventAccepted:
    """Hand the warehouse's data to the waiting workflow step, which records and audits it."""
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
