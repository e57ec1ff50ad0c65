"""Generate statemachine/fulfillment.asl.json from the declared workflow.

The states, their order, inputs, waits and branches are declared once, in
``shipshape.workflow``; this file renders them as Amazon States Language. Every step gets the
same Retry, the same Catch and its own exception wait; writing ~60 states by hand would let
them drift. Edit the registry (or this file), run ``python scripts/asl.py`` and commit both;
``make test`` fails when the JSON is not what this file generates.

    python scripts/asl.py          # write the definition
    python scripts/asl.py --check  # exit 1 if the file differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shipshape.workflow import STEPS

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
    wait: tuple[str, dict[str, int | str]] | None = None,
    catch: list[dict[str, Any]],
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Comment": comment,
        "Resource": "arn:aws:states:::lambda:invoke" + (".waitForTaskToken" if wait else ""),
        "Parameters": {"FunctionName": FUNCTION, "Payload": payload},
    }
    if wait:
        # TimeoutSeconds, or TimeoutSecondsPath for a wait whose input says how long
        state["ResultPath"] = wait[0]
        state.update(wait[1])
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
    for step in STEPS:
        wait = (step.wait.result_path, step.wait.timeout()) if step.wait else None
        next_state = step.then.name if step.then else step.next
        states[step.state] = _task(
            step.comment, _payload(step.step, dict(step.payload), token=wait is not None),
            next_state, wait=wait, catch=_catch(f"ExceptionAt{step.state}"),
        )  # fmt: skip
        if step.then:
            states[step.then.name] = {
                "Type": "Choice",
                "Comment": "The backorder policy waits for stock; everything else goes on.",
                "Choices": [
                    {"Variable": step.then.variable, "BooleanEquals": True,
                     "Next": step.then.when_true}
                ],
                "Default": step.then.default,
            }  # fmt: skip
    for name in (step.state for step in STEPS):
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
            wait=("$.resolution", {"TimeoutSeconds": 7 * DAY}),
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
            {"Variable": "$.resolution.resume_at", "StringEquals": s.state, "Next": s.state}
            for s in STEPS
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
        "StartAt": STEPS[0].state,
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
