"""Reconciliation: the canonical record catches up with every storefront on its own.

Webhooks get lost (a storefront gives up after its retries, an endpoint was down, a delivery
was refused). On a schedule, each client store with an API credential is asked for the orders
it changed since the store's checkpoint, and each one goes through the same idempotent ingest
path as a webhook: an order already recorded at that version is a duplicate and writes
nothing; a missing or newer one is recorded, and its audit event carries how far behind the
canonical record was (``sync_lag_seconds``, what the Monday checklist reads).

The window starts ``OVERLAP`` before the checkpoint: a storefront may stamp an order's update
time a little before the change is visible through its API, and a duplicate costs one read.
A store's first pass only sets its checkpoint: what the storefront changed before Shipshape
went live for it (orders the merchant fulfilled another way) is not Shipshape's to fulfil.

Each pass first reads the orders webhook ingest deferred to it (``DeferredFetch``: a webhook
named an order, id only, and the storefront did not answer the read in time), first pass
included: those webhooks were accepted, so their orders are Shipshape's to record. A read the
storefront still does not answer stays deferred for the next pass.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta

from shipshape.config import ClientConfig, ClientDirectory, StoreConfig
from shipshape.errors import (
    ClientRequestError,
    ConcurrentUpdate,
    StorefrontRefused,
    StorefrontUnavailable,
)
from shipshape.models import SyncState
from shipshape.observability import logger
from shipshape.ports import (
    Clock,
    OrderRepository,
    StorefrontApi,
    SyncLedger,
    WorkflowEngine,
)
from shipshape.services.ingest import IngestOutcome, ingest_version
from shipshape.storefronts import adapter_for

OVERLAP = timedelta(minutes=2)


@dataclass
class StoreReport:
    client_id: str
    platform: str
    store: str
    outcome: str  # reconciled, started (first pass: checkpoint set), skipped, failed
    pulled: int = 0
    repaired: list[str] = field(default_factory=list)
    max_lag_seconds: float = 0.0
    unreadable: list[str] = field(default_factory=list)
    error: str | None = None
    deferred_left: int = 0  # deferred order reads the storefront did not answer this pass


def reconcile_all(
    *,
    clients: ClientDirectory,
    repo: OrderRepository,
    ledger: SyncLedger,
    storefronts: StorefrontApi,
    workflow: WorkflowEngine,
    clock: Clock,
) -> list[StoreReport]:
    """One pass over every client's stores. A store that fails is reported and left for the
    next pass; it never stops the others."""
    reports = []
    for client in clients.all():
        for store in client.stores:
            try:
                report = reconcile_store(
                    client=client, store=store, repo=repo, ledger=ledger,
                    storefronts=storefronts, workflow=workflow, clock=clock,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - one store's failure must not stop the rest
                # The checkpoint did not move: the next pass reads the same window again.
                logger.exception(
                    "reconciliation of a store failed",
                    extra={"client_id": client.client_id, "store": store.store},
                )
                report = StoreReport(
                    client.client_id, store.platform.value, store.store, "failed",
                    error=type(exc).__name__,
                )  # fmt: skip
            reports.append(report)
    return reports


def reconcile_store(
    *,
    client: ClientConfig,
    store: StoreConfig,
    repo: OrderRepository,
    ledger: SyncLedger,
    storefronts: StorefrontApi,
    workflow: WorkflowEngine,
    clock: Clock,
) -> StoreReport:
    report = StoreReport(client.client_id, store.platform.value, store.store, "reconciled")
    if not store.api_token_secret_name:
        report.outcome = "skipped"
        report.error = "no API credential configured (api_token_secret_name)"
        return report
    _complete_deferred(client, store, repo, ledger, storefronts, workflow, clock, report)
    previous = ledger.sync_state(client.client_id, store.platform.value, store.store)
    until = clock.now()
    if previous is None:
        first = SyncState(
            client_id=client.client_id, platform=store.platform, store=store.store,
            checkpoint=until, last_run_at=until,
        )  # fmt: skip
        with contextlib.suppress(ConcurrentUpdate):  # another first pass set it
            ledger.save_sync_state(first, None)
        report.outcome = "started"
        return report
    since = previous.checkpoint - OVERLAP
    try:
        resources = storefronts.orders_updated_since(store, since, until)
    except (StorefrontUnavailable, StorefrontRefused) as exc:
        report.outcome, report.error = "failed", str(exc)
        logger.warning(
            "reconciliation could not read the store",
            extra={"client_id": client.client_id, "store": store.store, "error": str(exc)},
        )
        return report
    report.pulled = len(resources)
    for resource in resources:
        _record(client, store, resource, repo, workflow, clock, report)
    state = SyncState(
        client_id=client.client_id,
        platform=store.platform,
        store=store.store,
        checkpoint=until,
        last_run_at=until,
        pulled=report.pulled,
        repaired=len(report.repaired),
        max_lag_seconds=report.max_lag_seconds,
        unreadable=tuple(report.unreadable),
    )
    try:
        ledger.save_sync_state(state, previous)
    except ConcurrentUpdate:
        # Another pass finished first and moved the checkpoint; what this one recorded is
        # recorded all the same (ingest is idempotent).
        logger.info("another pass moved the checkpoint", extra={"store": store.store})
    if report.repaired:
        logger.warning(
            "reconciliation repaired orders the webhooks missed",
            extra={
                "client_id": client.client_id,
                "store": store.store,
                "order_ids": report.repaired,
                "max_lag_seconds": report.max_lag_seconds,
            },
        )
    return report


def _record(
    client: ClientConfig,
    store: StoreConfig,
    resource: bytes,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clock: Clock,
    report: StoreReport,
) -> bool:
    """One order resource through the ingest path; False if it cannot be read (recorded in
    the report for review)."""
    try:
        incoming = adapter_for(store.platform).normalize_resource(resource, store.store)
        # Refuses (writing nothing) what a webhook would be refused for after normalizing
        # too: a version stamped too far ahead of Shipshape's clock.
        result = ingest_version(
            client=client, store=store, incoming=incoming, repo=repo, workflow=workflow,
            clock=clock, source="reconciliation",
        )  # fmt: skip
    except ClientRequestError as exc:
        # The same order a webhook would be refused for: recorded for review, not retried
        # forever (the next pass reads it again only if the storefront changes it).
        report.unreadable.append(str(exc)[:200])
        return False
    if result.outcome in (IngestOutcome.CREATED, IngestOutcome.UPDATED):
        lag = (clock.now() - incoming.storefront_updated_at).total_seconds()
        report.repaired.append(result.order_id)
        report.max_lag_seconds = max(report.max_lag_seconds, round(lag, 3))
    return True


def _complete_deferred(
    client: ClientConfig,
    store: StoreConfig,
    repo: OrderRepository,
    ledger: SyncLedger,
    storefronts: StorefrontApi,
    workflow: WorkflowEngine,
    clock: Clock,
    report: StoreReport,
) -> None:
    """Read and record the orders webhook ingest left to this pass; each is forgotten once
    recorded (or found unreadable, or gone from the store), kept while the store does not
    answer or refuses Shipshape's credential."""
    pending = ledger.deferred_fetches(client.client_id, store.platform.value, store.store)
    for n, deferred in enumerate(pending):
        try:
            resource = storefronts.fetch_order(store, deferred.storefront_order_id)
        except StorefrontUnavailable as exc:
            # Still not answering: the rest wait for the next pass with this one.
            report.deferred_left += len(pending) - n
            logger.warning(
                "a deferred order read is still not answered",
                extra={"client_id": client.client_id, "store": store.store, "error": str(exc)},
            )
            return
        except StorefrontRefused as exc:
            if exc.status != 404:
                report.deferred_left += 1  # the credential or set-up: fixed, then read
                continue
            report.unreadable.append(f"order {deferred.storefront_order_id}: not in the store")
        else:
            _record(client, store, resource, repo, workflow, clock, report)
        ledger.complete_fetch(deferred)
