"""The fulfilment workflow, declared once.

Each entry is one state of the state machine: the step function the workflow function runs for
it, the input that function takes, the state that follows, the task-token wait it makes (and
how long the state machine waits), and what an exception opened there means: the QA gate it
runs, where a retry starts over and where a waiver goes on. The ASL file
(``scripts/asl.py`` renders it), the workflow function's dispatch and the exception service's
resume tables are all read from here; a test holds the committed ASL to what this renders.

Adding a step: write its function in ``services/fulfillment.py``, add its entry here, run
``python scripts/asl.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from shipshape.kinds import ExceptionType, QaGate
from shipshape.models import OrderStatus
from shipshape.services import fulfillment as f

DAY = 24 * 3600
Run = Callable[[f.StepContext, Any], BaseModel | None]


@dataclass(frozen=True)
class Wait:
    """A task-token wait: the workflow waits until someone sends the token back (the warehouse,
    received stock) or its timeout passes; what comes back lands at ``result_path``.

    The timeout is fixed (``seconds``: the ASL's ``TimeoutSeconds``) or read from the state's
    input (``seconds_path``: ``TimeoutSecondsPath``, which must resolve to a positive whole
    number of seconds, so the step before the wait sets it); exactly one of the two."""

    result_path: str
    seconds: int | None = None
    # The exception a timed-out wait opens, when it is not an automation failure.
    timeout_opens: ExceptionType | None = None
    seconds_path: str | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.seconds_path is None):
            raise ValueError("a wait has either a fixed timeout or a timeout path, not both")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"a wait's timeout must be positive, not {self.seconds}")
        if self.seconds_path is not None and not self.seconds_path.startswith("$."):
            raise ValueError(f"a wait's timeout path is a path of its input: {self.seconds_path}")

    def timeout(self) -> dict[str, int | str]:
        """The timeout field of the wait's ASL state."""
        if self.seconds_path is not None:
            return {"TimeoutSecondsPath": self.seconds_path}
        assert self.seconds is not None
        return {"TimeoutSeconds": self.seconds}


@dataclass(frozen=True)
class Choice:
    """A branch after a step: to ``when_true`` if the step's output sets ``variable``."""

    name: str
    variable: str
    when_true: str
    default: str


@dataclass(frozen=True)
class Step:
    state: str  # the state's name in the ASL, and the exception's ``step``
    step: str  # the workflow function's step, as the state passes it
    comment: str
    run: Run
    input: type[BaseModel] = f.WorkflowState
    next: str = ""  # the state that follows ("" ends the execution)
    wait: Wait | None = None
    payload: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    then: Choice | None = None  # a branch on the step's output, in place of ``next``
    gate: QaGate | None = None  # the gate whose failure here opens qa_failed
    # Where a retry of a failure here starts over, and the status that start needs (None:
    # where the order stood when the exception opened). None: the step itself, as it stood.
    retry_at: str | None = None
    retry_status: OrderStatus | None = None
    waive_at: str | None = None  # where a waived gate lets the workflow go on


def _scans(result: str, *fields: str) -> Mapping[str, str]:
    return MappingProxyType({f"{name}.$": f"$.{result}.{name}" for name in fields})


STEPS: tuple[Step, ...] = (
    Step("ValidateAddress", "validate_address",
         "Standardize the shipping address; only one still invalid after that is an exception.",
         f.validate_address, next="CheckCatalog"),
    Step("CheckCatalog", "check_catalog",
         "Every line to ship has a SKU the client's SKU master knows; otherwise a "
         "catalog_mismatch, before any stock is touched.", f.check_catalog,
         next="ReserveInventory"),
    Step("ReserveInventory", "reserve_inventory",
         "Reserve stock for every line in one conditional transaction, or apply the client's "
         "partial-fulfilment policy.", f.reserve_inventory,
         then=Choice("AfterReservation", "$.backordered", "AwaitStock", "AssignPicker")),
    Step("AwaitStock", "await_stock",
         "Backordered: wait until received stock wakes the order "
         "(POST /warehouse/{client_id}/events), for as long as the client's "
         "backorder_limit_days (set by ReserveInventory).",
         f.await_stock, f.AwaitRequest, next="ReserveInventory",
         wait=Wait("$.stock", seconds_path="$.stock_wait_seconds",
                   timeout_opens=ExceptionType.INVENTORY_SHORT),
         retry_at="ReserveInventory"),
    Step("AssignPicker", "assign_picker",
         "Assign a picker by zone and workload (away pickers skipped); send the pick list.",
         f.assign_picker, next="PrePickQA"),
    Step("PrePickQA", "pre_pick_qa", "QA gate: SKUs exist and are active; lots and shelf life.",
         f.pre_pick_qa, next="AwaitPickScans", gate=QaGate.PRE_PICK,
         retry_at="ReserveInventory", retry_status=OrderStatus.ADDRESS_VALIDATED,
         waive_at="AwaitPickScans"),
    Step("AwaitPickScans", "await_pick",
         "Wait for the warehouse's pick scans (POST /warehouse/{client_id}/events).",
         f.await_pick, f.AwaitRequest, next="RecordPick", wait=Wait("$.pick", 2 * DAY)),
    Step("RecordPick", "record_pick", "Record the scans the warehouse sent.",
         f.record_pick, f.PickResult, next="PostPickQA",
         payload=_scans("pick", "scans", "event_id", "actor")),
    Step("PostPickQA", "post_pick_qa",
         "QA gate: every unit scanned against the pick list (wrong, missing or extra units "
         "fail).", f.post_pick_qa, next="AwaitPackData", gate=QaGate.POST_PICK,
         retry_at="AwaitPickScans", retry_status=OrderStatus.PICKER_ASSIGNED,
         waive_at="AwaitPackData"),
    Step("AwaitPackData", "await_pack",
         "Send the packing manifest; wait for the parcel's weight and dimensions.",
         f.await_pack, f.AwaitRequest, next="RecordPack", wait=Wait("$.packed", 2 * DAY),
         gate=QaGate.PACKING),
    Step("RecordPack", "record_pack", "Record the pack data the warehouse sent.",
         f.record_pack, f.PackResult, next="PackQA",
         payload=_scans("packed", "pack", "event_id", "actor")),
    Step("PackQA", "pack_qa",
         "QA gate: weight and dimensions within the client's tolerance of what the SKUs add "
         "up to.", f.pack_qa, next="CreateLabel", gate=QaGate.PACKING,
         retry_at="AwaitPackData", retry_status=OrderStatus.PICKED, waive_at="CreateLabel"),
    Step("CreateLabel", "create_label",
         "Rate the parcel and buy the cheapest label that meets the promise (voiding a "
         "refused one).", f.create_label, next="ShippingQA"),
    Step("ShippingQA", "shipping_qa",
         "QA gate: the label fits the address and service; transit meets the promise.",
         f.shipping_qa, next="MarkShipped", gate=QaGate.SHIPPING,
         retry_at="CreateLabel", retry_status=OrderStatus.PACKED, waive_at="MarkShipped"),
    Step("MarkShipped", "mark_shipped",
         "Tender to the carrier and record the shipment; a rejection voids the label and "
         "rolls back to the warehouse.", f.mark_shipped, next="NotifyShipped",
         retry_at="CreateLabel"),
    Step("NotifyShipped", "notify_shipped",
         "Tell the customer the order is on its way. The execution ends here, the order "
         "shipped (whole or partial): a Succeed state after it would be one more billed "
         "transition.", f.notify_shipped),
)  # fmt: skip
BY_STATE: Mapping[str, Step] = MappingProxyType({s.state: s for s in STEPS})

# The workflow function's steps outside the fulfilment path: the last resort and an
# operator's cancellation (opening an exception needs more than a step context: see
# functions/workflow).
EDGE_STEPS: Mapping[str, tuple[type[BaseModel], Run]] = MappingProxyType(
    {"hold": (f.HoldRequest, f.hold), "cancel_order": (f.CancelRequest, f.cancel_order)}
)
# Every step the workflow function runs from a step context: its input and its function.
DISPATCH: Mapping[str, tuple[type[BaseModel], Run]] = MappingProxyType(
    {**{s.step: (s.input, s.run) for s in STEPS}, **EDGE_STEPS}
)


def gate_at(state: str) -> QaGate | None:
    """The QA gate whose failure at ``state`` opens a qa_failed exception."""
    step = BY_STATE.get(state)
    return step.gate if step else None


def timeout_opens(state: str) -> ExceptionType | None:
    """The exception a timed-out wait at ``state`` opens, if a specific one."""
    step = BY_STATE.get(state)
    return step.wait.timeout_opens if step and step.wait else None


def retry_point(state: str) -> tuple[str, OrderStatus | None]:
    """Where a retry of a failure at ``state`` starts over, and the status it rolls back to."""
    step = BY_STATE.get(state)
    if step is None or step.retry_at is None:
        return state, None
    return step.retry_at, step.retry_status


def waive_point(state: str) -> str | None:
    """Where a waived gate at ``state`` lets the workflow go on (None: not a waivable gate)."""
    step = BY_STATE.get(state)
    return step.waive_at if step else None
