"""The fulfillment steps, invoked by the state machine's Task states.

One function serves the steps because they share one table and one set of permissions; each
step is its own domain function, chosen by the ``step`` field the state passes. Which steps
there are, and the input each takes, is declared in ``shipshape.workflow``.
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
from shipshape.workflow import DISPATCH, Run


def _open_exception(deps: Container, ctx: steps.StepContext, event: dict[str, Any]) -> None:
    opened = open_exception(
        repo=deps.repo,
        clock=deps.clock,
        client=ctx.client,
        notifier=deps.notifier,
        request=parse(event=event, model=OpenExceptionRequest),
        away=deps.away,
    )
    metrics.add_dimension(name="exception_type", value=opened.type.value)
    metrics.add_metric(name="ExceptionsOpened", unit="Count", value=1)


Handler = Callable[[Container, steps.StepContext, dict[str, Any]], Any]


def _step(model: type[BaseModel], run: Run) -> Handler:
    def call(deps: Container, ctx: steps.StepContext, event: dict[str, Any]) -> Any:
        return run(ctx, parse(event=event, model=model))

    return call


# Every step the state machine's Task states name, from the declared workflow.
STEPS: dict[str, Handler] = {
    **{name: _step(model, run) for name, (model, run) in DISPATCH.items()},
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
        away=deps.away,
        workflow=deps.workflow,
    )
    result = STEPS[invocation.step](deps, ctx, event)
    return result.model_dump(mode="json") if isinstance(result, BaseModel) else {}
