"""The starter: every accepted order reaches its workflow, even if the start that
followed the write failed. It reads only the sparse pending-start index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from shipshape.audit import AuditAction
from shipshape.config import ClientDirectory
from shipshape.models import Actor, OrderStatus
from shipshape.observability import logger
from shipshape.ports import Clock, ExecutionExists, OrderRepository, WorkflowEngine
from shipshape.services.records import record, workflow_input

STARTER = Actor(kind="system", id="starter")


@dataclass
class StartReport:
    examined: int = 0
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def start_pending_orders(
    *,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    grace: timedelta = timedelta(minutes=1),
    limit: int = 100,
) -> StartReport:
    """Start the workflow of every order accepted more than ``grace`` ago that has not
    acknowledged a start. Starting is idempotent (the execution is named after the order)."""
    report = StartReport()
    for order_id in repo.pending_starts(clock.now() - grace, limit):
        report.examined += 1
        order = repo.get(order_id)
        if order is None or not order.pending_start or not order.execution_name:
            continue
        try:
            workflow.start(order.execution_name, workflow_input(order))
            report.started.append(order_id)
        except ExecutionExists:
            # The execution ran and closed without acknowledging: hold the order for a human
            # rather than retry forever or silently forget it.
            record(
                repo,
                clock,
                clients.get(order.client_id),
                order,
                action=AuditAction.ORDER_HELD,
                actor=STARTER,
                to_status=OrderStatus.ON_HOLD,
                changes={"pending_start": False, "hold_reason": "WorkflowClosedEarly"},
                detail={"error": "WorkflowClosedEarly", "execution": order.execution_name},
            )
            report.already_running.append(order_id)
        except Exception:  # noqa: BLE001 - one bad order must not stop the others
            logger.exception("starter could not start a workflow", extra={"order_id": order_id})
            report.failed.append(order_id)
    if report.examined:
        logger.info(
            "starter pass",
            extra={
                "examined": report.examined,
                "started": len(report.started),
                "failed": len(report.failed),
            },
        )
    return report
