"""Order-shipped events (EventBridge rule -> SQS) -> the storefront learns what shipped.

A message whose storefront is unavailable is reported as failed and comes back after the
queue's visibility timeout, with backoff from the storefront client inside each attempt; after
the queue's maximum receives it moves to the dead-letter queue, where an alarm watches it.
Storefront calls are held to the invocation's remaining time (``within``): a slow storefront
leaves the batch's last records unavailable, reported and retried, never a timed-out batch.
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
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.errors import PayloadInvalid
from shipshape.observability import logger, metrics
from shipshape.services.writeback import write_back
from shipshape.storefronts.api import within

processor = BatchProcessor(event_type=EventType.SQS)


def confirm(record: SQSRecord) -> str:
    try:
        order_id = str(json.loads(record.body)["detail"]["order_id"])
    except (ValueError, KeyError, TypeError):
        # Not an order event: after the maximum receives it rests in the dead-letter queue,
        # where a person can read it (its alarm fires).
        logger.error("message is not an order event", extra={"message_id": record.message_id})
        raise PayloadInvalid("message is not an order event") from None
    deps = container()
    outcome = write_back(
        order_id=order_id, repo=deps.repo, clients=deps.clients, storefronts=deps.storefronts,
        clock=deps.clock,
    )  # fmt: skip
    metrics.add_metric(
        name=f"StorefrontWriteBack{outcome.outcome.title().replace('_', '')}",
        unit="Count",
        value=1,
    )
    logger.info("write-back", extra={"order_id": order_id, "outcome": outcome.outcome})
    return outcome.outcome


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Every storefront call of the batch fits in this invocation: once its time is short, the
    # records left fail as unavailable (reported, so only they come back), not the batch.
    with within(context):
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=confirm, processor=processor, context=context
        )
