"""The fulfillment steps, invoked by the state machine's Task states.

One function serves the steps because they share one table and one set of permissions; each
step is its own domain function, chosen by the ``step`` field the state passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, field_validator

from shipshape.base import Model
from shipshape.bootstrap import Container, container
from shipshape.observability import logger, metrics
from shipshape.services import fulfillment as steps
from shipshape.services.exceptions import OpenExceptionRequest, open_exception


def _open_exception(deps: Container, ctx: steps.StepContext, event: dict[str, Any]) -> None:
    opened = open_exception(
        repo=deps.repo,
        exceptions=deps.exceptions,
        clock=deps.clock,
        client=ctx.client,
        notifier=deps.notifier,
        request=parse(event=event, model=OpenExceptionRequest),
        away=deps.away,
    )
    metrics.add_dimension(name="exception_type", value=opened.type.value)
    metrics.add_metric(name="ExceptionsOpened", unit="Count", value=1)


def _step(model: type[BaseModel], run: Callable[..., Any]) -> Callable[..., Any]:
    def call(deps: Container, ctx: steps.StepContext, event: dict[str, Any]) -> Any:
        return run(ctx, parse(event=event, model=model))

    return call


STEPS: dict[str, Callable[[Container, steps.StepContext, dict[str, Any]], Any]] = {
    "validate_address": _step(steps.WorkflowState, steps.validate_address),
    "reserve_inventory": _step(steps.WorkflowState, steps.reserve_inventory),
    "await_stock": _step(steps.AwaitRequest, steps.await_stock),
    "assign_picker": _step(steps.WorkflowState, steps.assign_picker),
    "pre_pick_qa": _step(steps.WorkflowState, steps.pre_pick_qa),
    "await_pick": _step(steps.AwaitRequest, steps.await_pick),
    "record_pick": _step(steps.PickResult, steps.record_pick),
    "post_pick_qa": _step(steps.WorkflowState, steps.post_pick_qa),
    "await_pack": _step(steps.AwaitRequest, steps.await_pack),
    "record_pack": _step(steps.PackResult, steps.record_pack),
    "pack_qa": _step(steps.WorkflowState, steps.pack_qa),
    "create_label": _step(steps.WorkflowState, steps.create_label),
    "shipping_qa": _step(steps.WorkflowState, steps.shipping_qa),
    "mark_shipped": _step(steps.WorkflowState, steps.mark_shipped),
    "notify_shipped": _step(steps.WorkflowState, steps.notify_shipped),
    "hold": _step(steps.HoldRequest, steps.hold),
    "cancel_order": _step(steps.CancelRequest, steps.cancel_order),
    "open_exception": _open_exception,
}


class StepInvocation(Model):
    model_config = ConfigDict(extra="allow")

    step: str
    order_id: str
    client_id: str
    execution: str | None = None

    @field_validator("step")
    @classmethod
    def _known_step(cls, value: str) -> str:
        if value not in STEPS:
            raise ValueError(f"unknown step {value!r}")
        return value


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
        inventory=deps.inventory,
        warehouse=deps.warehouse,
        execution_name=invocation.execution,
        exceptions=deps.exceptions,
        away=deps.away,
        workflow=deps.workflow,
    )
    result = STEPS[invocation.step](deps, ctx, event)
    return result.model_dump(mode="json") if isinstance(result, BaseModel) else {}
