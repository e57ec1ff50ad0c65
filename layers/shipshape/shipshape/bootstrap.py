"""Wire the real adapters once per process (lazily: nothing connects at import time).

The embedded runtime and tests replace parts (the clock, a fault-injecting workflow) with
``override``; Lambda functions use what ``container()`` builds from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from shipshape.config import ClientDirectory, Settings
from shipshape.ports import (
    AccessLog,
    AuditIndex,
    AwayRegistry,
    Carrier,
    Clock,
    InventoryRepository,
    Notifier,
    OrderRepository,
    RuleStore,
    SecretStore,
    StorefrontApi,
    SyncLedger,
    SystemClock,
    WarehouseChannel,
    WorkflowEngine,
)


@dataclass(frozen=True)
class Container:
    settings: Settings
    clients: ClientDirectory
    repo: OrderRepository
    away: AwayRegistry
    workflow: WorkflowEngine
    secrets: SecretStore
    clock: Clock
    carrier: Carrier
    notifier: Notifier
    inventory: InventoryRepository
    warehouse: WarehouseChannel
    audit: AuditIndex
    rule_store: RuleStore
    access_log: AccessLog
    ledger: SyncLedger
    storefronts: StorefrontApi


@cache
def aws_client(service: str) -> Any:
    """The process's one client per service, on boto3's default session. Every adapter and
    Powertools utility takes its client from here: a utility left to make its own opens a
    second session and loads botocore's data again (about 40 ms of cold start each)."""
    import boto3
    from botocore.config import Config

    # botocore's standard retry mode: backoff with jitter on throttling and 5xx, bounded.
    return boto3.client(  # type: ignore[call-overload]
        service, config=Config(retries={"mode": "standard", "max_attempts": 4})
    )


class _OnFirstUse:
    """Stands for ``aws_client(service)`` and makes it on first use: a function whose code
    never calls the service (the sweeper never starts an execution, the webhook functions
    never notify) does not pay for its client at cold start."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(aws_client(self._service), name)


class _StorefrontsOnFirstUse:
    """The storefront API client, built on first use: only write-back, reconciliation and
    pointer-only webhooks (BigCommerce) call a storefront, so the others never import it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_storefronts(), name)


@cache
def _storefronts() -> StorefrontApi:
    from shipshape.adapters.storefront_http import HttpStorefrontApi
    from shipshape.storefronts.api import StorefrontHttp

    # The transport's timeouts are its own defaults, the same in every function and on the
    # embedded runtime (see storefronts/api.py); each call is cut to the invocation's time.
    return HttpStorefrontApi(container().secrets, http=StorefrontHttp())


def _build() -> Container:
    from shipshape.adapters import dynamodb
    from shipshape.adapters.sandbox import LogNotifier, LogWarehouseChannel, SandboxCarrier
    from shipshape.adapters.secrets import SecretsManagerStore
    from shipshape.adapters.sns import SnsNotifier
    from shipshape.adapters.stepfunctions import StepFunctionsWorkflow

    settings = Settings.from_environment()
    tables = dynamodb.stores(aws_client("dynamodb"), settings.orders_table)
    return Container(
        settings=settings,
        clients=ClientDirectory(
            settings.client_config_dir,
            rules=tables.rules,
            rules_ttl_seconds=settings.rules_ttl_seconds,
        ),
        repo=tables.orders,  # orders with their exceptions, audit events and documents
        away=tables.away,
        inventory=tables.inventory,
        audit=tables.audit,
        rule_store=tables.rules,
        access_log=tables.access,
        workflow=StepFunctionsWorkflow(
            _OnFirstUse("stepfunctions"),  # type: ignore[arg-type]
            settings.state_machine_arn,
        ),
        secrets=SecretsManagerStore(
            settings.secrets_max_age_seconds, client=lambda: aws_client("secretsmanager")
        ),
        clock=SystemClock(),
        carrier=SandboxCarrier(),
        notifier=(
            SnsNotifier(_OnFirstUse("sns"), settings.notifications_topic_arn)
            if settings.notifications_topic_arn
            else LogNotifier()
        ),
        warehouse=LogWarehouseChannel(),
        ledger=tables.ledger,
        storefronts=_StorefrontsOnFirstUse(),  # type: ignore[arg-type]
    )


_overrides: dict[str, Any] = {}


@cache
def container() -> Container:
    built = _build()
    return replace(built, **_overrides) if _overrides else built


def override(**parts: Any) -> None:
    """Replace adapters (for the embedded runtime and tests) and rebuild on next use."""
    _overrides.update(parts)
    container.cache_clear()
    aws_client.cache_clear()


def reset() -> None:
    _overrides.clear()
    container.cache_clear()
    _storefronts.cache_clear()
    aws_client.cache_clear()
