"""Scheduled: reconcile each client store with the canonical record (missed webhooks)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.config import Settings
from shipshape.observability import metrics
from shipshape.services.reconcile import reconcile_all
from shipshape.storefronts.api import within

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring("state_machine_arn")


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = container()
    # A store whose reads would run past this invocation's time fails as unavailable and
    # keeps its checkpoint: the next pass reads its window again.
    with within(context):
        reports = reconcile_all(
            clients=deps.clients, repo=deps.repo, ledger=deps.ledger,
            storefronts=deps.storefronts, workflow=deps.workflow, clock=deps.clock,
        )  # fmt: skip
    lag: dict[str, float] = defaultdict(float)
    repaired: dict[str, int] = defaultdict(int)
    for report in reports:
        if report.outcome == "reconciled":
            lag[report.client_id] = max(lag[report.client_id], report.max_lag_seconds)
            repaired[report.client_id] += len(report.repaired)
    failed = sum(1 for r in reports if r.outcome == "failed")
    metrics.add_metric(name="ReconciliationFailures", unit=MetricUnit.Count, value=failed)
    # Per client, every pass (zero included): how far behind the canonical record was.
    for client_id in sorted(lag):
        for name, unit, value in (
            ("SyncLagSeconds", MetricUnit.Seconds, lag[client_id]),
            ("OrdersRepaired", MetricUnit.Count, repaired[client_id]),
        ):
            with single_metric(
                name=name, unit=unit, value=value, namespace=metrics.namespace
            ) as metric:
                metric.add_dimension(name="client_id", value=client_id)
    return {
        "stores": [
            {
                "client_id": r.client_id,
                "platform": r.platform,
                "store": r.store,
                "outcome": r.outcome,
                "pulled": r.pulled,
                "repaired": r.repaired,
                "max_lag_seconds": r.max_lag_seconds,
                "unreadable": r.unreadable,
                "error": r.error,
                "deferred_left": r.deferred_left,
            }
            for r in reports
        ],
        "failed": failed,
    }
