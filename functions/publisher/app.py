"""DynamoDB stream of the orders table -> domain events on the stack's EventBridge bus.

Every audit event is written in the same transaction as the change it records, so the stream of
audit items is an outbox: publishing from it needs no second write that could fail on its own.
The event source mapping delivers only INSERTs of audit items (its filter), in order per order;
a record whose events the bus did not take is reported back, and Lambda retries the batch from
that record on (at-least-once: consumers deduplicate on ``event_id``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.adapters.dynamodb.stream import from_stream_record
from shipshape.adapters.eventbridge import put_batches, put_entries
from shipshape.bootstrap import aws_client
from shipshape.config import Settings
from shipshape.observability import logger, metrics

# What this function needs from its environment, checked at cold start. Only the settings:
# building the whole container (repositories, adapters, client directory) would cost this
# function cold-start time for nothing it uses.
SETTINGS = Settings.from_environment().requiring("event_bus_name")


@event_source(data_class=DynamoDBStreamEvent)
@metrics.log_metrics
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    bus = SETTINGS.event_bus_name
    records = list(event.raw_event.get("Records", []))
    entries: list[dict[str, Any]] = []
    origin: list[int] = []  # the stream record each entry came from, to report a failure
    for index, record in enumerate(records):
        for entry in put_entries(from_stream_record(record), bus):
            entries.append(entry)
            origin.append(index)
    first_failed: int | None = None
    published = 0
    position = 0
    # At most 10 entries and 256 KB per request, in stream order.
    for batch in put_batches(entries):
        answer = aws_client("events").put_events(Entries=batch)
        for result in answer["Entries"]:
            index = origin[position]
            position += 1
            if "ErrorCode" in result:
                first_failed = index if first_failed is None else min(first_failed, index)
                logger.warning(
                    "the bus refused an event",
                    extra={"error_code": result["ErrorCode"], "record": index},
                )
            else:
                published += 1
    if published:
        metrics.add_metric(name="DomainEventsPublished", unit="Count", value=published)
    if first_failed is None:
        return {"batchItemFailures": []}
    # Lambda resumes the shard from the lowest reported sequence number: this record and every
    # later one are delivered again (events already published go again; ids stay the same).
    sequence = records[first_failed]["dynamodb"]["SequenceNumber"]
    return {"batchItemFailures": [{"itemIdentifier": sequence}]}
