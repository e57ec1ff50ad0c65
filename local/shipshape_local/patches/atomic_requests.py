"""AWS behaviour: every DynamoDB and Step Functions request is applied atomically.

DynamoDB and Step Functions apply each request atomically; moto's in-memory backends do not
guard against threads. One lock per API call restores that semantics (conditional writes and
transactions that really are atomic) without changing what moto computes. Each applied write
is also told to ``writes``, for a watcher (the pilot, a test) to wait on rather than poll.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"

DYNAMODB_CALLS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
)
STEPFUNCTIONS_CALLS = ("start_execution",)
WRITE_CALLS = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
)


class WriteListener(Protocol):
    def applied(self) -> None: ...


def install(patcher: Patcher, *, lock: threading.RLock, writes: WriteListener) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    targets: list[tuple[type, tuple[str, ...]]] = [
        (DynamoDBBackend, DYNAMODB_CALLS),
        (StepFunctionsParserBackend, STEPFUNCTIONS_CALLS),
    ]
    for cls, names in targets:
        for name in names:
            original = getattr(cls, name)

            def serialized(
                *args: Any, __original: Any = original, __writes: bool = name in WRITE_CALLS,
                **kwargs: Any,
            ) -> Any:  # fmt: skip
                with lock:
                    result = __original(*args, **kwargs)
                if __writes:
                    writes.applied()
                return result

            patcher.replace(cls, name, serialized)
