"""Generate statemachine/fulfillment.asl.json: the fulfilment workflow's definition.

Every step gets the same Retry, the same Catch and its own exception wait; writing ~60 states
by hand would let them drift. Edit this file, run ``python scripts/asl.py`` and commit both;
``make test`` fails when the JSON is not what this file generates.

    python scripts/asl.py          # write the definition
    python scripts/asl.py --check  # exit 1 if the file differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parent.parent / "statemachine" / "fulfillment.asl.json"
FUNCTION = "${WorkflowFunctionArn}"
TRANSIENT = [
    "TransientDependencyError",
    "ConcurrentUpdate",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    # The function ran out of time (or its process died) after it may have done its work:
    # every step is idempotent (it checks the order's stage first), so running it again is safe.
    "Sandbox.Timedout",
]
RETRY = [
    {
        "ErrorEquals": TRANSIENT,
        "IntervalSeconds": 1,
        "BackoffRate": 2.0,
        "MaxAttempts": 4,
        "MaxDelaySeconds": 20,
        "JitterStrategy": "FULL",
    }
]
DAY = 24 * 3600

# (state, step, comment, kind, extra payload, next; "" ends the execution).
# kind: "task" | "wait:<ResultPath>:<s>".
STEPS: list[tuple[str, str, str, str, dict[str, str], str]] = [
    ("ValidateAddress", "validate_address",
     "Standardize the shipping address; only one still invalid after that is an exception.",
     "task", {}, "ReserveInventory"),
    ("ReserveInventory", "reserve_inventory",
     "Reserve stock for every line in one conditional transaction, or apply the client's "
     "partial-fulfilment policy.", "task", {}, "AfterReservation"),
    ("AwaitStock", "await_stock",
     "Backordered: wait until received stock wakes the order (POST /warehouse/{client_id}/events).",
     f"wait:$.stock:{14 * DAY}", {}, "ReserveInventory"),
    ("AssignPicker", "assign_picker",
     "Assign a picker by zone and workload (away pickers skipped); send the pick list.",
     "task", {}, "PrePickQA"),
    ("PrePickQA", "pre_pick_qa", "QA gate: SKUs exist and are active; lots and shelf life.",
     "task", {}, "AwaitPickScans"),
    ("AwaitPickScans", "await_pick",
     "Wait for the warehouse's pick scans (POST /warehouse/{client_id}/events).",
     f"wait:$.pick:{2 * DAY}", {}, "RecordPick"),
    ("RecordPick", "record_pick", "Record the scans the warehouse sent.", "task",
     {"scans.$": "$.pick.scans", "event_id.$": "$.pick.event_id", "actor.$": "$.pick.actor"},
     "PostPickQA"),
    ("PostPickQA", "post_pick_qa",
     "QA gate: every unit scanned against the pick list (wrong, missing or extra units fail).",
     "task", {}, "AwaitPackData"),
    ("AwaitPackData", "await_pack",
     "Send the packing manifest; wait for the parcel's weight and dimensions.",
     f"wait:$.packed:{2 * DAY}", {}, "RecordPack"),
    ("RecordPack", "record_pack", "Record the pack data the warehouse sent.", "task",
     {"pack.$": "$.packed.pack", "event_id.$": "$.packed.event_id",
      "actor.$": "$.packed.actor"}, "PackQA"),
    ("PackQA", "pack_qa",
     "QA gate: weight and dimensions within the client's tolerance of what the SKUs add up to.",
     "task", {}, "CreateLabel"),
    ("CreateLabel", "create_label",
     "Rate the parcel and buy the cheapest label that meets the promise (voiding a refused one).",
     "task", {}, "ShippingQA"),
    ("ShippingQA", "shipping_qa",
     "QA gate: the label fits the address and service; transit meets the promise.",
     "task", {}, "MarkShipped"),
    ("MarkShipped", "mark_shipped",
     "Tender to the carrier and record the shipment; a rejection voids the label and rolls "
     "back to the warehouse.", "task", {}, "NotifyShipped"),
    ("NotifyShipped", "notify_shipped",
     "Tell the customer the order is on its way. The execution ends here, the order shipped "
     "(whole or partial): a Succeed state after it would be one more billed transition.",
     "task", {}, ""),
]  # fmt: skip


def _payload(step: str, extra: dict[str, str], token: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "step": step,
        "order_id.$": "$.order_id",
        "client_id.$": "$.client_id",
        "execution.$": "$$.Execution.Name",
        **extra,
    }
    if token:
        payload["task_token.$"] = "$$.Task.Token"
    return payload


def _task(
    comment: str,
    payload: dict[str, Any],
    next_state: str,
    *,
    wait: tuple[str, int] | None = None,
    catch: list[dict[str, Any]],
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if wait else ""),
        "Parameters": {"FunctionName": FUNCTION, "Payload": payload},
    }
    if wait:
        state["ResultPath"], state["TimeoutSeconds"] = wait
    else:
        state["OutputPath"], state["TimeoutSeconds"] = "$.Payload", 60
    state["Retry"] = RETRY
    state["Catch"] = catch
    if next_state:
        state["Next"] = next_state
    else:
        state["End"] = True
    return state


def _catch(on_failure: str, cancellable: bool = True) -> list[dict[str, Any]]:
    catches = []
    if cancellable:
        catches.append(
            {"ErrorEquals": ["OrderCancelled"], "ResultPath": "$.error", "Next": "Cancelled"}
        )
    catches.append({"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": on_failure})
    return catches


def definition() -> dict[str, Any]:
    states: dict[str, Any] = {}
    for name, step, comment, kind, extra, next_state in STEPS:
        wait = None
        if kind.startswith("wait:"):
            _, path, seconds = kind.split(":")
            wait = (path, int(seconds))
        states[name] = _task(
            comment, _payload(step, extra, token=wait is not None), next_state, wait=wait,
            catch=_catch(f"ExceptionAt{name}"),
        )  # fmt: skip
        if name == "ReserveInventory":
            states["AfterReservation"] = {
                "Type": "Choice",
                "Comment": "The backorder policy waits for stock; everything else goes on.",
                "Choices": [
                    {"Variable": "$.backordered", "BooleanEquals": True, "Next": "AwaitStock"}
                ],
                "Default": "AssignPicker",
            }
    for name, *_ in STEPS:
        states[f"ExceptionAt{name}"] = _task(
            f"{name} failed: open an owned exception with a business-hours deadline and wait "
            "for its resolution.",
            {
                "step": "open_exception",
                "order_id.$": "$.order_id",
                "client_id.$": "$.client_id",
                "failed_step": name,
                "error.$": "$.error",
                "task_token.$": "$$.Task.Token",
            },
            f"ResolvedAt{name}",
            wait=("$.resolution", 7 * DAY),
            catch=_catch("Hold"),
        )
        states[f"ResolvedAt{name}"] = {
            "Type": "Choice",
            "Comment": "Cancel and quarantine are handled here; every other resolution names "
            "the state to resume at.",
            "Choices": [
                {
                    "Variable": "$.resolution.action",
                    "StringEquals": "cancel",
                    "Next": "CancelOrder",
                },
                {
                    "Variable": "$.resolution.action",
                    "StringEquals": "quarantine",
                    "Next": f"QuarantineAt{name}",
                },
                {"Variable": "$.resolution.resume_at", "IsPresent": True, "Next": "Resume"},
            ],
            "Default": "Hold",
        }
        states[f"QuarantineAt{name}"] = {
            "Type": "Pass",
            "Comment": "An operator quarantined the order: reopen it as an automation failure.",
            "Result": {"Error": "Quarantined", "Cause": "quarantined by an operator"},
            "ResultPath": "$.error",
            "Next": f"ExceptionAt{name}",
        }
    states["Resume"] = {
        "Type": "Choice",
        "Comment": "Resume where the resolution says (a retry may start a stage over).",
        "Choices": [
            {"Variable": "$.resolution.resume_at", "StringEquals": name, "Next": name}
            for name, *_ in STEPS
        ],
        "Default": "Hold",
    }
    states["CancelOrder"] = _task(
        "An operator's resolution cancelled the order; reserved stock goes back.",
        _payload(
            "cancel_order",
            {"actor.$": "$.resolution.actor", "exception_id.$": "$.resolution.exception_id"},
            token=False,
        ),
        "Cancelled",
        catch=_catch("Hold", cancellable=False),
    )
    states["Cancelled"] = {"Type": "Succeed", "Comment": "The order was cancelled."}
    states["Hold"] = _task(
        "Last resort when exception handling itself fails: park the order, owned and audited.",
        {
            "step": "hold",
            "order_id.$": "$.order_id",
            "client_id.$": "$.client_id",
            "error.$": "$.error",
        },
        "Held",
        catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.hold_error", "Next": "HoldFailed"}],
    )
    states["Held"] = {"Type": "Succeed", "Comment": "The order is on hold, owned and audited."}
    states["HoldFailed"] = {
        "Type": "Fail",
        "Error": "HoldFailed",
        "Cause": "The order could not be put on hold; see the execution history.",
    }
    return {
        "Comment": "Shipshape fulfillment: one Standard execution per order, named after the "
        "canonical order id. Every failure opens an owned exception whose resolution decides "
        "the next state.",
        "StartAt": "ValidateAddress",
        "States": states,
    }


def render() -> str:
    return json.dumps(definition(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if TARGET.read_text() != text:
            print(f"{TARGET.name} is not what scripts/asl.py generates; run it and commit")
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET} ({len(definition()['States'])} states)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
