"""Who may see and change what: every authorization decision, in one place.

``require(operator, client_id, action)`` decides in two halves, always in this order:

1. **Scope.** An operator who does not serve the client learns nothing, not even that the
   client, order or exception exists: the refusal is the same 404 as for a made-up id
   (``NotAmongYours``), so no answer tells another client's ids from invented ones.
2. **Role.** Then a change needs an acting role (operator or lead); some changes need a
   lead. A viewer reads. A role refusal (403) therefore only ever concerns a served client.

The loaders (``served_client``, ``served_order``, ``served_exception``) look the thing up and
call ``require`` with its client, so a service asks for what it needs and the action it
means to take in one call.
"""

from enum import StrEnum

from pydantic import ConfigDict, Field

from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import (
    ExceptionNotFound,
    Forbidden,
    NotAmongYours,
    OrderNotFound,
    UnknownClient,
)
from shipshape.kinds import EXCEPTION_ID
from shipshape.models import Actor, Order, OrderException
from shipshape.ports import OrderRepository


class Operator(Model):
    """An authenticated operator, as the HTTP edge read them from the authorizer's claims."""

    model_config = ConfigDict(frozen=True)

    subject: str
    roles: frozenset[str] = frozenset()
    clients: frozenset[str] = Field(description='Client ids served, or {"*"} for every client.')

    def may_see(self, client_id: str) -> bool:
        return "*" in self.clients or client_id in self.clients

    @property
    def actor(self) -> Actor:
        return Actor(kind="operator", id=self.subject)


class Action(StrEnum):
    """What the operator means to do with a served client's data."""

    READ = "read"
    ACT = "act"  # change orders, exceptions, overrides, away periods; propose rules
    GOVERN = "govern rules"  # approve, activate or reject a rule change
    WAIVE_GATE = "waive a QA gate"


# The roles an action needs (any one of them); reading needs none beyond the scope.
ACTING_ROLES = frozenset({"operator", "lead"})
LEAD = frozenset({"lead"})
NEEDED_ROLES: dict[Action, frozenset[str]] = {
    Action.READ: frozenset(),
    Action.ACT: ACTING_ROLES,
    Action.GOVERN: LEAD,
    Action.WAIVE_GATE: LEAD,
}
# How a lead-only refusal names the change; GOVERN keeps its general wording.
_NEEDED_FOR = {Action.WAIVE_GATE: "waive a QA gate"}


def require(
    operator: Operator,
    client_id: str,
    action: Action,
    *,
    unseen: NotAmongYours | None = None,
) -> Actor:
    """The operator as the actor of ``action`` on ``client_id``'s data, or a refusal: scope
    first (``unseen``, by default ``UnknownClient`` for the client), then role."""
    if not operator.may_see(client_id):
        raise unseen or UnknownClient(f"no client {client_id!r} among yours", client_id=client_id)
    needed = NEEDED_ROLES[action]
    if needed and not operator.roles & needed:
        if needed is ACTING_ROLES:
            raise Forbidden(f"operator {operator.subject} may read but not act (role viewer)")
        needed_for = _NEEDED_FOR.get(action)
        if needed_for is None:
            raise Forbidden(f"operator {operator.subject} needs the lead role for this")
        raise Forbidden(f"operator {operator.subject} may not {needed_for} (needs role lead)")
    return operator.actor


def served_clients(clients: ClientDirectory, operator: Operator) -> list[ClientConfig]:
    """Every configured client the operator serves, for lists across clients."""
    return [config for config in clients.all() if operator.may_see(config.client_id)]


def served_client(
    clients: ClientDirectory, operator: Operator, client_id: str, action: Action = Action.READ
) -> ClientConfig:
    """The client, if it exists, the operator serves it and may take ``action``; otherwise
    ``UnknownClient`` in the same words whether it exists or not (or ``Forbidden``)."""
    require(operator, client_id, action)
    try:
        return clients.get(client_id)
    except UnknownClient:
        raise UnknownClient(f"no client {client_id!r} among yours") from None


def served_order(
    repo: OrderRepository, order_id: str, operator: Operator, action: Action = Action.READ
) -> Order:
    """The order, if it exists, the operator serves its client and may take ``action``;
    otherwise ``OrderNotFound`` in the same words for both (or ``Forbidden``)."""
    found = repo.get(order_id)
    return _served(
        operator, found, action, OrderNotFound, f"no order {order_id} among your clients"
    )


def served_exception(
    repo: OrderRepository, exception_id: str, operator: Operator, action: Action = Action.READ
) -> OrderException:
    """The exception, if it exists, the operator serves its client and may take ``action``;
    otherwise ``ExceptionNotFound`` in the same words for both (or ``Forbidden``)."""
    well_formed = EXCEPTION_ID.fullmatch(exception_id) is not None
    found = repo.get_exception(exception_id) if well_formed else None
    message = f"no exception {exception_id} among your clients"
    return _served(operator, found, action, ExceptionNotFound, message)


def _served[T: (Order, OrderException)](
    operator: Operator,
    found: T | None,
    action: Action,
    refusal: type[NotAmongYours],
    message: str,
) -> T:
    """``found``, if it exists and ``require`` lets the operator take ``action`` on it; a
    missing one is refused in the same words as another client's."""
    unseen = refusal(message, client_id=found.client_id if found is not None else None)
    if found is None:
        raise unseen
    require(operator, found.client_id, action, unseen=unseen)
    return found
