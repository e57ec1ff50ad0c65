"""Who may change what: the role half of every authorization decision, in one place.

The client half comes first, in each service (``served_client``, ``served_order`` and the
exception scope): an operator who does not serve the client learns nothing, not even that
the order exists. Then a change needs an acting role; some need a lead. A viewer reads.
"""

from __future__ import annotations

from shipshape.errors import Forbidden
from shipshape.models import Actor
from shipshape.services.queries import Operator

# The roles that may change orders, exceptions, rules and away periods (a viewer only reads).
ACTING_ROLES = frozenset({"operator", "lead"})


def require_acting(operator: Operator) -> Actor:
    """The operator as the actor of a change; a viewer is refused (403)."""
    if not operator.roles & ACTING_ROLES:
        raise Forbidden(f"operator {operator.subject} may read but not act (role viewer)")
    return Actor(kind="operator", id=operator.subject)


def require_lead(operator: Operator, needed_for: str | None = None) -> Actor:
    """The operator as the actor of a change only a lead may make (403 for anyone else),
    ``needed_for`` naming the change in the refusal."""
    if "lead" not in operator.roles:
        if needed_for is None:
            raise Forbidden(f"operator {operator.subject} needs the lead role for this")
        raise Forbidden(f"operator {operator.subject} may not {needed_for} (needs role lead)")
    return require_acting(operator)
