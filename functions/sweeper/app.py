"""Scheduled: escalate every exception whose owner missed its deadline, and report how many
were overdue per client and exception type (the overdue alarm watches the total)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.observability import logger, metrics
from shipshape.services.away import reassign_from_away
from shipshape.services.escalation import SweepReport, sweep_overdue


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deps = container()
    report = sweep_overdue(
        repo=deps.repo, clients=deps.clients, clock=deps.clock, notifier=deps.notifier,
        away=deps.away,
    )  # fmt: skip
    # The overdue metric first: the alarm must see it whatever happens next.
    _publish(report)
    moved = reassign_from_away(
        repo=deps.repo, away=deps.away, clients=deps.clients,
        clock=deps.clock, notifier=deps.notifier, away_periods=report.away_periods,
    )  # fmt: skip
    return {
        "overdue_seen": report.overdue_seen,
        "overdue": report.overdue,
        "escalated": [e._asdict() for e in report.escalated],
        "skipped": len(report.skipped),
        "reassigned": [list(r) for r in moved.reassigned],
        "failed": report.failed,
        "notify_failed": report.notify_failed,
    }


def _publish(report: SweepReport) -> None:
    # Every pass publishes the total, zero included, so the alarm evaluates a real datapoint
    # every period instead of treating silence as "nothing overdue".
    metrics.add_metric(name="OverdueExceptions", unit=MetricUnit.Count, value=report.overdue)
    # The shared Metrics object flushes one dimension set; per-client, per-type counts need
    # one EMF document each.
    for (client_id, kind), counts in sorted(report.by_kind.items()):
        if not (counts.overdue or counts.escalated):
            continue  # only stale index entries of this kind: nothing happened to report
        for name, value in (
            ("OverdueExceptions", counts.overdue),
            ("ExceptionsEscalated", counts.escalated),
        ):
            with single_metric(
                name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace
            ) as metric:
                metric.add_dimension(name="client_id", value=client_id)
                metric.add_dimension(name="exception_type", value=kind.value)
    if report.failed:
        logger.warning("exceptions left overdue", extra={"exception_ids": report.failed})
