"""POST /webhooks/{platform}/{client_id}: storefront order webhooks."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from shipshape.base import Model
from shipshape.bootstrap import container
from shipshape.config import Settings
from shipshape.errors import UnsupportedPlatform
from shipshape.http import PathId, api_resolver, json_response, raw_body
from shipshape.models import OrderStatus, Platform
from shipshape.observability import logger, metrics
from shipshape.services.catalog import CatalogChange, ChangeKind, ingest_catalog_webhook
from shipshape.services.ingest import IngestOutcome, ingest_webhook
from shipshape.storefronts import WooCommercePing, adapter_for
from shipshape.storefronts.api import within
from shipshape.storefronts.base import WebhookDelivery

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring("state_machine_arn")

app = api_resolver()
# Outcomes answered 202 (something was, or will be, recorded); the others 200.
ACCEPTED = (IngestOutcome.CREATED, IngestOutcome.UPDATED, IngestOutcome.DEFERRED)


class WebhookAcceptedResponse(Model):
    order_id: str
    outcome: IngestOutcome = Field(
        description="created and updated: recorded (202); duplicate and stale: nothing new "
        "(200); deferred (202): accepted, but the storefront did not answer the read of the "
        "order the webhook names in time, so reconciliation reads and records it shortly"
    )
    status: OrderStatus | None = Field(
        description="The order's status; null when deferred before it was ever recorded"
    )
    detail: str


class CatalogWebhookResponse(Model):
    """A product webhook (Shopify ``products/*``, WooCommerce ``product.*``): what it changed
    in the SKU master, SKU by SKU."""

    outcome: str = "catalog_applied"
    product_id: str
    deleted: bool
    changes: list[CatalogChange]


class WebhookPingResponse(Model):
    outcome: str = "ping_acknowledged"
    detail: str


@app.exception_handler(WooCommercePing)  # type: ignore[untyped-decorator]
def handle_woocommerce_ping(exc: WooCommercePing) -> Response[WebhookPingResponse]:
    # WooCommerce only activates a webhook whose save-time ping gets exactly 200. The ping is
    # unsigned and carries no order, so nothing is written; answering it opens nothing up.
    return json_response(200, WebhookPingResponse(detail=str(exc)))


@app.post("/webhooks/<platform>/<client_id>")
def handle_receive_webhook(
    platform: PathId, client_id: PathId
) -> Response[WebhookAcceptedResponse | CatalogWebhookResponse]:
    deps = container()
    try:
        known_platform = Platform(platform)
    except ValueError:
        raise UnsupportedPlatform(f"no adapter for platform {platform!r}") from None
    client = deps.clients.get(client_id)
    delivery = WebhookDelivery(
        headers={k.lower(): v for k, v in app.current_event.headers.items()},
        body=raw_body(app.current_event, deps.settings.max_body_bytes),
        received_at=deps.clock.now(),
    )
    if adapter_for(known_platform).is_catalog(delivery):
        applied = ingest_catalog_webhook(
            client=client, platform=known_platform, delivery=delivery, secrets=deps.secrets,
            inventory=deps.inventory, clock=deps.clock,
        )  # fmt: skip
        metrics.add_metric(name="CatalogWebhookApplied", unit="Count", value=1)
        changed = any(
            c.change not in (ChangeKind.UNCHANGED, ChangeKind.STALE) for c in applied.changes
        )
        return json_response(
            202 if changed else 200,
            CatalogWebhookResponse(
                product_id=applied.product_id, deleted=applied.deleted, changes=applied.changes
            ),
        )
    result = ingest_webhook(
        client=client,
        platform=known_platform,
        delivery=delivery,
        repo=deps.repo,
        secrets=deps.secrets,
        workflow=deps.workflow,
        clock=deps.clock,
        storefronts=deps.storefronts,
        deferrals=deps.ledger,
    )
    metrics.add_metric(name=f"Webhook{result.outcome.value.title()}", unit="Count", value=1)
    accepted = result.outcome in ACCEPTED
    return json_response(
        202 if accepted else 200,
        WebhookAcceptedResponse(
            order_id=result.order_id,
            outcome=result.outcome,
            status=result.status,
            detail=result.detail,
        ),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    # A storefront read (BigCommerce's webhooks name the order only) fits in this invocation.
    with within(context):
        return app.resolve(event, context)
