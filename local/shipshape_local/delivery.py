"""Event delivery in the embedded runtime: what Lambda's pollers and EventBridge do in AWS.

- A function with a ``DynamoDB`` event reads the table's stream through the DynamoDB Streams
  API, with the mapping's filter, batch size and partial-failure reporting: a reported record
  and every later one are delivered again, up to ``MaximumRetryAttempts``; then the batch's
  range goes to the on-failure destination queue, as Lambda records it.
- A function with an ``SQS`` event receives from its queue, deletes what succeeded, and makes a
  reported failure visible again; the queue's redrive policy moves a message to its dead-letter
  queue after ``maxReceiveCount`` receives (the emulator does that).
- EventBridge rules and their SQS targets are the emulator's own.

Nothing here runs on its own: ``drain()`` delivers until everything is delivered, so a test
decides when delivery happens; ``serve`` runs it on a background thread, as AWS would.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"


@dataclass
class StreamMapping:
    function: str  # the function's physical name
    stream_arn: str
    batch_size: int
    filters: list[Any]  # moto EventPattern objects; a record passes if one matches
    max_retries: int
    on_failure_queue: str | None  # queue URL
    iterator: str | None = None  # where the poller reads next (the shard's only iterator)


@dataclass
class QueueMapping:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int


@dataclass
class Delivery:
    invoke: Callable[[str, Any], Any]
    streams: list[StreamMapping] = field(default_factory=list)
    queues: list[QueueMapping] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)  # handler errors, for tests to read

    # --- one round of each poller -----------------------------------------------------------

    def drain(self, max_rounds: int = 50) -> int:
        """Deliver until a round delivers nothing (or ``max_rounds``); the number delivered."""
        total = 0
        with self._lock:
            for _ in range(max_rounds):
                delivered = sum(self._poll_stream(m) for m in self.streams)
                delivered += sum(self._poll_queue(m) for m in self.queues)
                total += delivered
                if not delivered:
                    break
        return total

    def _poll_stream(self, mapping: StreamMapping) -> int:
        import boto3

        # botocore now addresses DynamoDB Streams at an account-based host the emulator does
        # not route; its regional host is the same API.
        streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        if mapping.iterator is None:
            shards = streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
            mapping.iterator = streams.get_shard_iterator(
                StreamArn=mapping.stream_arn,
                ShardId=shards["Shards"][0]["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
        answer = streams.get_records(ShardIterator=mapping.iterator, Limit=1000)
        mapping.iterator = answer.get("NextShardIterator", mapping.iterator)
        records = answer["Records"]
        if not records:
            return 0
        delivered = 0
        for start in range(0, len(records), mapping.batch_size):
            batch = records[start : start + mapping.batch_size]
            converted = [_lambda_record(r, mapping.stream_arn) for r in batch]
            wanted = [r for r in converted if _passes(r, mapping)]
            if wanted:
                self._deliver_stream_batch(mapping, wanted)
                delivered += len(wanted)
        # Records the filter left out count as consumed: more may be waiting behind them.
        return len(records)

    def _deliver_stream_batch(self, mapping: StreamMapping, records: list[dict[str, Any]]) -> None:
        pending = records
        for _attempt in range(mapping.max_retries + 1):
            try:
                answer = self.invoke(mapping.function, {"Records": pending})
            except Exception as exc:  # noqa: BLE001 - Lambda retries the whole batch
                self.failures.append(f"{mapping.function}: {type(exc).__name__}: {exc}")
                continue
            failed = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
            if not failed:
                return
            # Resume from the lowest reported sequence number, as Lambda does for streams.
            lowest = min(int(s) for s in failed)
            pending = [r for r in pending if int(r["dynamodb"]["SequenceNumber"]) >= lowest]
        if mapping.on_failure_queue:
            import boto3

            boto3.client("sqs", region_name=REGION).send_message(
                QueueUrl=mapping.on_failure_queue,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "DDBStreamBatchInfo": {
                            "streamArn": mapping.stream_arn,
                            "startSequenceNumber": pending[0]["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": pending[-1]["dynamodb"]["SequenceNumber"],
                            "batchSize": len(pending),
                        },
                    }
                ),
            )

    def _poll_queue(self, mapping: QueueMapping) -> int:
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(10, mapping.batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [_sqs_record(m, mapping.queue_arn) for m in messages]}
        try:
            answer = self.invoke(mapping.function, event)
            failed = {f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])}
        except Exception as exc:  # noqa: BLE001 - the whole batch comes back
            self.failures.append(f"{mapping.function}: {type(exc).__name__}: {exc}")
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                # Visible again at once here (AWS waits out the visibility timeout); each
                # receive counts towards the redrive policy's maxReceiveCount.
                sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            else:
                sqs.delete_message(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)

    # --- in the background (serve) ------------------------------------------------------------

    def start(self, interval: float = 0.2) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.drain(max_rounds=5)
                except Exception as exc:  # noqa: BLE001 - keep delivering; say what failed
                    self.failures.append(f"delivery: {type(exc).__name__}: {exc}")

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="shipshape-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _passes(record: dict[str, Any], mapping: StreamMapping) -> bool:
    return not mapping.filters or any(p.matches_event(record) for p in mapping.filters)


def _as_json(value: Any) -> Any:
    """The API's parsed record back to the JSON Lambda sends: binary as base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda hands it to a function (the API's record plus its source)."""
    dynamodb = _as_json(dict(record["dynamodb"]))
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
