"""Scheduled: start the workflow of any accepted order whose start did not happen."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.config import Settings
from shipshape.observability import logger, metrics
from shipshape.services.starter import start_pending_orders

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring("state_machine_arn")


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = container()
    report = start_pending_orders(
        repo=deps.repo, workflow=deps.workflow, clients=deps.clients, clock=deps.clock
    )
    if report.started:
        metrics.add_metric(name="WorkflowStartsRecovered", unit="Count", value=len(report.started))
    logger.debug("starter done", extra={"examined": report.examined})
    return {
        "examined": report.examined,
        "started": report.started,
        "held": report.already_running,
        "failed": report.failed,
    }
