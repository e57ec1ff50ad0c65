"""Read models for the ops API, scoped to the operator's clients."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ConfigDict, Field

from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import OrderNotFound, UnknownClient
from shipshape.models import (
    Address,
    Allocation,
    AuditEvent,
    Document,
    Label,
    Order,
    OrderLine,
    OrderStatus,
    Override,
    ParcelExpectation,
    PickList,
    QaResult,
)
from shipshape.ports import OrderRepository


class Operator(Model):
    """An authenticated operator, from the API's JWT authorizer claims."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[str] = frozenset()
    clients: frozenset[str] = Field(description='Client ids served, or {"*"} for every client.')

    def may_see(self, client_id: str) -> bool:
        return "*" in self.clients or client_id in self.clients


class OrderView(Model):
    order_id: str
    client_id: str
    platform: str
    store: str
    storefront_order_id: str
    order_number: str | None
    status: OrderStatus
    owner: str
    version: int
    rules_version: str
    received_at: datetime
    status_timestamps: dict[OrderStatus, datetime]
    lines: tuple[OrderLine, ...]
    unfulfilled_lines: tuple[OrderLine, ...]
    shipping_address: Address | None
    standardized_address: Address | None
    warehouse: str | None
    reservation: tuple[Allocation, ...]
    short_lines: tuple[OrderLine, ...]
    stock_consumed: bool
    picker: str | None
    pick_list: PickList | None
    parcel: ParcelExpectation | None
    qa: tuple[QaResult, ...]
    documents: tuple[str, ...]
    label: Label | None
    storefront_fulfillment: str | None = Field(
        description="The storefront's reference for the shipment it was told of, once told."
    )
    voided_labels: tuple[Label, ...]
    rejected_services: tuple[str, ...]
    overrides: tuple[Override, ...]
    open_exception_id: str | None
    awaiting: str | None
    hold_reason: str | None
    audit_events: int

    @classmethod
    def of(cls, order: Order) -> OrderView:
        return cls(
            **order.model_dump(
                include=set(cls.model_fields) - {"audit_events"},
            ),
            audit_events=order.audit_seq,
        )


class AuditTrail(Model):
    order_id: str
    events: list[AuditEvent]


# Scope: what an operator may see. A client or order the operator does not serve is answered
# exactly as one that does not exist (404, the same error and words; see NotAmongYours), so
# no answer tells another client's ids from made-up ones. The refusal carries the client
# asked for; the ops API records it for that client's review only if the client exists.
# Role checks (viewer, lead) come after scope, so a 403 only ever concerns a served client.


def refuse_unless_served(operator: Operator, client_id: str) -> None:
    """Refuse a client the operator does not serve as if it did not exist."""
    if not operator.may_see(client_id):
        raise UnknownClient(f"no client {client_id!r} among yours", client_id=client_id)


def served_client(clients: ClientDirectory, operator: Operator, client_id: str) -> ClientConfig:
    """The client, if it exists and the operator serves it; otherwise ``UnknownClient``, in
    the same words for both."""
    refuse_unless_served(operator, client_id)
    try:
        return clients.get(client_id)
    except UnknownClient:
        raise UnknownClient(f"no client {client_id!r} among yours") from None


def served_order(repo: OrderRepository, order_id: str, operator: Operator) -> Order:
    """The order, if it exists and the operator serves its client; otherwise
    ``OrderNotFound``, in the same words for both."""
    order = repo.get(order_id)
    if order is None or not operator.may_see(order.client_id):
        raise OrderNotFound(
            f"no order {order_id} among your clients",
            client_id=order.client_id if order is not None else None,
        )
    return order


def get_order(repo: OrderRepository, order_id: str, operator: Operator) -> OrderView:
    return OrderView.of(served_order(repo, order_id, operator))


def get_audit_trail(repo: OrderRepository, order_id: str, operator: Operator) -> AuditTrail:
    served_order(repo, order_id, operator)
    return AuditTrail(order_id=order_id, events=repo.audit_trail(order_id))


_DOCUMENT = re.compile(r"^(pick-list|packing-manifest)-([1-9][0-9]{0,2})$")


class DocumentNotFound(OrderNotFound):
    """No such document on the order (names look like pick-list-1, packing-manifest-1)."""


def get_document(repo: OrderRepository, order_id: str, name: str, operator: Operator) -> Document:
    order = served_order(repo, order_id, operator)
    matched = _DOCUMENT.fullmatch(name)
    found = (
        repo.document(order.order_id, matched.group(1), int(matched.group(2)))
        if matched and name in order.documents
        else None
    )
    if found is None:
        known = ", ".join(order.documents) or "none yet"
        raise DocumentNotFound(f"order {order_id} has no document {name!r} (it has: {known})")
    return found
