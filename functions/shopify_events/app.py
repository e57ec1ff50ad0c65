"""Shopify's Amazon EventBridge webhook delivery (partner event bus -> rule -> SQS) -> the same
idempotent ingest as the HTTP webhook.

Each message is one EventBridge event from Shopify's partner event source. The source is the
proof of the sender, so there is no HMAC: the event must come from the configured source and
have been delivered to this account, and the shop domain in its metadata must be a configured
store of exactly one client. Then the Shopify adapter normalizes the payload by its topic and
``ingest_version`` records it: an order delivered both here and over HTTP is one order, and a
redelivery is a duplicate that writes nothing.

EventBridge has no caller to answer, so an event Shipshape refuses (malformed, another source
or account, an unknown shop, an order that does not fit) is logged with its reason and counted
(``ShopifyEventRefused``), and its message is reported failed: after the queue's maximum
receives it rests in the dead-letter queue, whose alarm tells a person, and it can be redriven
once the cause (a shop not configured yet, say) is fixed. A transient failure takes the same
retries and usually succeeds on one. Nothing is written for a refused event.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shipshape.bootstrap import container
from shipshape.config import Settings
from shipshape.errors import ClientRequestError, PayloadInvalid, SignatureInvalid
from shipshape.models import Platform
from shipshape.observability import logger, metrics
from shipshape.services.ingest import ingest_partner_delivery
from shipshape.storefronts.shopify_events import DETAIL_TYPE, ShopifyWebhookEvent, delivery_of

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring(
    "state_machine_arn", "shopify_event_source", "shopify_event_account"
)

processor = BatchProcessor(event_type=EventType.SQS)


def _refused(record: SQSRecord, reason: str, error: Exception, **context: Any) -> Exception:
    """Log and count a refusal; the caller raises what this returns (the message fails)."""
    metrics.add_metric(name="ShopifyEventRefused", unit="Count", value=1)
    logger.error(
        "Shopify EventBridge event refused; nothing was written",
        extra={"message_id": record.message_id, "reason": reason, "error": str(error),
               **context},
    )  # fmt: skip
    return error


def ingest(record: SQSRecord) -> str:
    try:
        event = parse(event=json.loads(record.body), model=ShopifyWebhookEvent)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise _refused(record, "malformed", PayloadInvalid(f"{where}: {first['msg']}")) from None
    except ValueError:
        raise _refused(record, "malformed", PayloadInvalid("the message is not JSON")) from None
    context = {
        "event_id": event.id,
        "source": event.source,
        "topic": event.detail.metadata.topic,
        "shop_domain": event.detail.metadata.shop_domain,
    }
    if (event.source, event.account, event.detail_type) != (
        SETTINGS.shopify_event_source,
        SETTINGS.shopify_event_account,
        DETAIL_TYPE,
    ):
        raise _refused(
            record,
            "foreign_source",
            SignatureInvalid(
                "the event is not a Shopify webhook from the configured partner event source "
                "delivered to this account"
            ),
            **context,
        )
    deps = container()
    owners = deps.clients.owners_of(Platform.SHOPIFY, event.detail.metadata.shop_domain)
    if len(owners) != 1:
        reason = "unknown_shop" if not owners else "shop_of_several_clients"
        problem = (
            "is not a configured Shopify store"
            if not owners
            else f"is configured for {len(owners)} clients"
        )
        raise _refused(
            record,
            reason,
            SignatureInvalid(f"shop {event.detail.metadata.shop_domain!r} {problem}"),
            **context,
        )
    client, store = owners[0]
    try:
        result = ingest_partner_delivery(
            client=client, store=store, delivery=delivery_of(event, deps.clock.now()),
            repo=deps.repo, workflow=deps.workflow, clock=deps.clock,
            storefronts=deps.storefronts, source="eventbridge",
        )  # fmt: skip
    except ClientRequestError as exc:
        raise _refused(record, type(exc).__name__, exc, **context) from None
    metrics.add_metric(name=f"ShopifyEvent{result.outcome.value.title()}", unit="Count", value=1)
    return result.outcome.value


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=ingest, processor=processor, context=context
    )
