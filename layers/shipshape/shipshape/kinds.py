"""The kinds the domain and its audit trail both name: the exception types, the QA gates, an
exception's id and how one is resolved. A leaf module, so the audit vocabulary can type its
details with them."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

# What an operator resolving an exception asks for.
Resolution = Literal["retry", "partial", "cancel", "quarantine", "release", "waive"]
# An exception's id: its order's id, then .e<n>.
EXCEPTION_ID = re.compile(r"ord_[a-z2-7]{20}\.e[0-9]{1,4}")
ExceptionId = Annotated[str, StringConstraints(pattern=f"^{EXCEPTION_ID.pattern}$")]


class ExceptionType(StrEnum):
    """The predictable failure modes; each has an owner and an SLA for every client."""

    ADDRESS_INVALID = "address_invalid"
    INVENTORY_SHORT = "inventory_short"
    CARRIER_REJECTED = "carrier_rejected"
    QA_FAILED = "qa_failed"
    PAYMENT_MISMATCH = "payment_mismatch"
    AUTOMATION_FAILURE = "automation_failure"
    # A line to ship that the client's SKU master cannot pick: no SKU, or a SKU it lacks.
    CATALOG_MISMATCH = "catalog_mismatch"


class QaGate(StrEnum):
    PRE_PICK = "pre_pick"
    POST_PICK = "post_pick"
    PACKING = "packing"
    SHIPPING = "shipping"
