"""The fulfillment steps, invoked by the state machine's Task states.

One function serves the steps because they share one table and one set of permissions; each
step is its own domain function, chosen by the ``step`` field the state passes.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from shipshape.bootstrap import container
from shipshape.observability import logger, metrics
from shipshape.services import fulfillment as steps

STEPS: dict[str, tuple[type[BaseModel], Any]] = {
    "validate_address": (steps.WorkflowState, steps.validate_address),
    "reserve_inventory": (steps.WorkflowState, steps.reserve_inventory),
    "assign_picker": (steps.WorkflowState, steps.assign_picker),
    "await_pick": (steps.AwaitRequest, steps.await_pick),
    "record_pick": (steps.PickResult, steps.record_pick),
    "await_pack": (steps.AwaitRequest, steps.await_pack),
    "record_pack": (steps.PackResult, steps.record_pack),
    "create_label": (steps.WorkflowState, steps.create_label),
    "mark_shipped": (steps.WorkflowState, steps.mark_shipped),
    "notify_shipped": (steps.WorkflowState, steps.notify_shipped),
    "hold": (steps.HoldRequest, steps.hold),
}


class StepInvocation(BaseModel):
    model_config = ConfigDict(extra="allow")

    step: Literal[
        "validate_address",
        "reserve_inventory",
        "assign_picker",
        "await_pick",
        "record_pick",
        "await_pack",
        "record_pack",
        "create_label",
        "mark_shipped",
        "notify_shipped",
        "hold",
    ]
    order_id: str
    client_id: str
    execution: str | None = None


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = parse(event=event, model=StepInvocation)
    logger.append_keys(
        order_id=invocation.order_id, client_id=invocation.client_id, step=invocation.step
    )
    deps = container()
    ctx = steps.StepContext(
        repo=deps.repo,
        clock=deps.clock,
        client=deps.clients.get(invocation.client_id),
        carrier=deps.carrier,
        notifier=deps.notifier,
        execution_name=invocation.execution,
    )
    model, step = STEPS[invocation.step]
    result = step(ctx, parse(event=event, model=model))
    return result.model_dump(mode="json") if result is not None else {}
