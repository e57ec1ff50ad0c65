"""What the handler tests share besides fixtures: the fakes a handler's container holds, a
Lambda context, each function's module loaded from ``functions/<name>/app.py``, and the
environment template.yaml gives the functions."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from tests.fakes import (
    CarrierStub,
    InMemoryAccessLog,
    InMemoryAuditIndex,
    InMemoryAwayRegistry,
    InMemoryOrderRepository,
    InMemoryRuleStore,
    InMemoryStorefronts,
    InMemorySyncLedger,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import CLIENTS_DIR

ROOT = CLIENTS_DIR.parents[1]
# Monday 2026-11-23, 09:00:05 in Portland: five seconds after the sample webhook was sent.
MONDAY = datetime(2026, 11, 23, 17, 0, 5, tzinfo=UTC)
# The development secrets the sample events in events/ are signed and authorized with.
DEV_SECRETS = {
    name: value.encode()
    for name, value in tomllib.loads(
        (ROOT / "local" / "shipshape_local" / "dev-secrets.toml").read_text()
    )["secrets"].items()
}
# The functions' environment (template.yaml's Globals and each function's own), with the
# resources' names as a deployed stack would resolve them.
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    # bootstrap.override still builds the real container before replacing its parts, and
    # boto3 looks for credentials when a client is made: from here, never from the network.
    "AWS_ACCESS_KEY_ID": "handler-tests",
    "AWS_SECRET_ACCESS_KEY": "handler-tests",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "shipshape",
    "POWERTOOLS_METRICS_NAMESPACE": "Shipshape",
    "SHIPSHAPE_ORDERS_TABLE": "shipshape-OrdersTable",
    "SHIPSHAPE_CLIENT_CONFIG_DIR": str(CLIENTS_DIR),
    "SHIPSHAPE_STATE_MACHINE_ARN": (
        "arn:aws:states:us-east-1:123456789012:stateMachine:shipshape-fulfillment"
    ),
    "SHIPSHAPE_IDEMPOTENCY_TABLE": "shipshape-IdempotencyTable",
    "SHIPSHAPE_EVENT_BUS_NAME": "shipshape-domain-events",
}

# invoke(function, event): the function's lambda_handler called with a Lambda context.
Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Fakes:
    """The fakes behind a handler's container, to seed before and read after a call."""

    repo: InMemoryOrderRepository  # orders, exceptions, stock (exceptions= and inventory=)
    workflow: RecordingWorkflow
    clock: SettableClock
    notifier: NotifierRecorder
    away: InMemoryAwayRegistry
    audit: InMemoryAuditIndex
    rules: InMemoryRuleStore
    access_log: InMemoryAccessLog
    ledger: InMemorySyncLedger
    storefronts: InMemoryStorefronts
    carrier: CarrierStub
    warehouse: RecordingWarehouseChannel


@dataclass(frozen=True)
class LambdaContext:
    """The Lambda context object, as the runtime hands it to a handler."""

    function: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "c0ffee00-0000-4000-8000-000000000001"

    @property
    def function_name(self) -> str:
        return f"shipshape-{self.function}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_function(name: str) -> ModuleType:
    """``functions/<name>/app.py``, loaded once under its own module name (every function's
    module is called ``app``)."""
    module_name = f"shipshape_handler_{name}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            module_name, ROOT / "functions" / name / "app.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module
