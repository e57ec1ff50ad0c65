"""The embedded runtime: the whole stack on moto, in one process, with no AWS account.

It builds what ``template.yaml`` declares: the DynamoDB tables from their key schemas, the
functions (run in-process through ``lambdas``), the Standard state machine from its ASL file
with ``DefinitionSubstitutions`` resolved, and the secrets of the demo clients. ``http()``
then plays API Gateway (HTTP API, payload format 2.0) in front of the real handlers.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import threading
import time
import tomllib
import traceback
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from shipshape_local import faults, metering
from shipshape_local.delivery import Delivery, QueueMapping, StreamMapping
from shipshape_local.fakestore import FakeStorefronts, dev_credentials
from shipshape_local.faults import FaultInjector, FaultRates
from shipshape_local.lambdas import FunctionTimedOut, InProcessLambdas, load_handler
from shipshape_local.metering import METER, ExecutionCount
from shipshape_local.template import REPO_ROOT, Route, Template

REGION = "us-east-1"
ACCOUNT = "123456789012"
DEV_SECRETS = Path(__file__).with_name("dev-secrets.toml")
SEED = Path(__file__).with_name("seed.toml")


class RecordingWarehouseChannel:
    """The warehouse channel of the embedded runtime: keeps what was sent, for the simulator
    and for tests (the documents are also in the table, as on AWS)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._lock = threading.Lock()

    def send(self, order: Any, document: Any) -> None:
        with self._lock:
            self.sent.append(document)


API_BODY_LIMIT = 10 * 1024 * 1024  # HTTP API's own payload limit


class ManualClock:
    """The injectable clock of the embedded runtime: real time unless a test or the pilot
    sets or advances it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed = start
        self._offset = timedelta()

    def now(self) -> datetime:
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            return base + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._fixed, self._offset = moment, timedelta()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _fake_aws_environment() -> None:
    # moto needs credentials and a region to exist; these are not real keys.
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        os.environ[key] = value


class Writes:
    """How many DynamoDB writes the embedded stack has applied, for a watcher (the pilot, a
    test) to wait on rather than poll: whatever it watches for is written somewhere."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.count = 0

    def applied(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_past(self, seen: int, timeout: float) -> int:
        """Block until there has been a write after the ``seen``-th (or ``timeout`` passed)."""
        with self._changed:
            self._changed.wait_for(lambda: self.count > seen, timeout)
            return self.count


WRITES = Writes()
_WRITE_CALLS = frozenset(
    {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
)


# One lock for the emulated services' state, shared by every runtime of the process.
_BACKEND_LOCK = threading.RLock()


def _serialize_backend(lock: threading.RLock) -> None:
    """DynamoDB and Step Functions apply each request atomically; moto's in-memory backends
    do not guard against threads. One lock per API call restores that semantics (conditional
    writes and transactions that really are atomic) without changing what moto computes."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    targets: list[tuple[type, tuple[str, ...]]] = [
        (
            DynamoDBBackend,
            (
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
            ),
        ),
        (StepFunctionsParserBackend, ("start_execution",)),
    ]
    for cls, names in targets:
        for name in names:
            original = getattr(cls, name)
            if getattr(original, "_shipshape_serialized", False):
                continue

            def serialized(
                *args: Any, __original: Any = original, __writes: bool = name in _WRITE_CALLS,
                **kwargs: Any,
            ) -> Any:  # fmt: skip
                with lock:
                    result = __original(*args, **kwargs)
                if __writes:
                    WRITES.applied()
                return result

            serialized._shipshape_serialized = True  # type: ignore[attr-defined]
            setattr(cls, name, serialized)


def _transactions_without_table_copies() -> None:
    """moto backs up every table a transaction touches with a deep copy of the whole table,
    so each transaction costs time in proportion to the table: a pilot of hundreds of orders
    (thousands of audit items) slows to a crawl. The same rollback is kept by backing up only
    the items the transaction names, and putting those back if it fails. Requests are already
    serialized (see ``_serialize_backend``), so nothing else changes the items meanwhile."""
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(models.DynamoDBBackend.transact_write_items, "_shipshape_itemwise", False):
        return

    class _TablesStay:
        """The ``copy`` module, except that a table is not copied (its items are, below)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, models.Table):  # type: ignore[attr-defined]
                return value
            return copy.deepcopy(value, memo)

    models.copy = _TablesStay()  # type: ignore[attr-defined, assignment]
    original = models.DynamoDBBackend.transact_write_items

    def itemwise(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, DynamoType, DynamoType | None, Any]] = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item")
            if table is None or not key or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = (
                DynamoType(key[table.range_key_attr])
                if table.range_key_attr and table.range_key_attr in key
                else None
            )
            found = table.items.get(hash_key, {})
            item = found.get(range_key) if table.has_range_key else found or None
            saved.append((table, hash_key, range_key, copy.deepcopy(item) if item else None))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                if table.has_range_key:
                    bucket = table.items[hash_key]
                    if item is None:
                        bucket.pop(range_key, None)
                    else:
                        bucket[range_key] = item
                elif item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            raise

    itemwise._shipshape_itemwise = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = itemwise  # type: ignore[method-assign]


def _queries_read_their_partition() -> None:
    """moto answers every Query by sorting every item of the table (`Table.all_items`) and then
    testing each against the key condition, so one query costs O(n log n) in the table's size
    and a pilot's cost grows with the square of its orders. DynamoDB reads one partition. Hand
    the query only the items whose partition key matches; moto still sorts, pages, filters and
    projects them itself, so the answer is the same."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_shipshape_partition", False):
        return
    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)
    narrowed = threading.local()

    def same(value: Any, expected: Any) -> bool:
        if value is None:
            return False
        if expected.type == "N":
            return bool(value == expected)
        return bool(value.type == expected.type and value.value == expected.value)

    def candidates(table: Any, call: inspect.BoundArguments) -> list[Any]:
        arguments = call.arguments
        if not arguments.get("index_name"):
            found = table.items.get(arguments["hash_key"])
            if found is None:
                return []
            return list(found.values()) if table.range_key_attr else [found]
        conditions = arguments.get("hash_key_conditions") or []
        if not conditions:
            return original_all_items(table)
        rows = (
            row
            for bucket in table.items.values()
            for row in (bucket.values() if table.range_key_attr else (bucket,))
        )
        return [
            row
            for row in rows
            if all(same(row.attrs.get(name), value) for name, value in conditions)
        ]

    def all_items(self: Any) -> list[Any]:
        rows = getattr(narrowed, "rows", None)
        return rows if rows is not None else original_all_items(self)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs)
        narrowed.rows = candidates(self, call)
        try:
            # The items it reads are charged to whoever asked (see metering).
            return metering.metered_query(METER, original_query, call)
        finally:
            narrowed.rows = None

    query._shipshape_partition = True  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def _reuse_task_clients() -> None:
    """moto's Step Functions interpreter builds a new boto3 client for every Lambda task it
    runs (tens of milliseconds each, most of a step's cost here). Lambda's own service keeps
    its connections; one client per region and service does the same for the emulator."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    if getattr(lambda_eval_utils.boto_client_for, "_shipshape_reused", False):  # type: ignore[attr-defined]
        return
    build = boto_client.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def reused(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = build(region, service, state_credentials)
            return clients[(region, service)]

    reused._shipshape_reused = True  # type: ignore[attr-defined]
    lambda_eval_utils.boto_client_for = reused  # type: ignore[attr-defined]


def _parse_each_definition_once() -> None:
    """moto parses the state machine's ASL (an ANTLR grammar in pure Python) and builds its
    evaluation components again for every execution it starts, about half of an order's cost
    here. A definition's components never change while it runs: each execution keeps its own
    state (retry counts included) in its own environment, keyed by component. Build them once
    per definition, and parse each JSONPath once rather than at every step."""
    from functools import lru_cache

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.utils import json_path

    parser = asl_parser.AmazonStateLanguageParser
    if getattr(parser.parse, "_shipshape_once", False):
        return
    parse = lru_cache(maxsize=64)(parser.parse)
    parse._shipshape_once = True  # type: ignore[attr-defined]
    parser.parse = staticmethod(parse)  # type: ignore[method-assign]
    for module in (json_path, result_path):
        module.parse = lru_cache(maxsize=4096)(module.parse)  # type: ignore[attr-defined]


def _unsigned_while_mocked() -> None:
    """While moto answers every request in-process, SigV4 signing is work nobody checks (a
    tenth of each call's cost here): skip it then, and only then. moto reads the region from
    the endpoint's host name and the account from its default."""
    from botocore.signers import RequestSigner
    from moto.core.models import botocore_stubber

    if getattr(RequestSigner.sign, "_shipshape_unsigned", False):
        return
    original = RequestSigner.sign

    def sign(self: Any, *args: Any, **kwargs: Any) -> Any:
        if botocore_stubber.enabled:
            return None
        return original(self, *args, **kwargs)

    sign._shipshape_unsigned = True  # type: ignore[attr-defined]
    RequestSigner.sign = sign  # type: ignore[method-assign]


class Calls:
    """AWS API calls made while the emulator answers them, by ``service.Operation``: what a
    run asked of AWS (the pilot reports it; costs are computed from it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def made(self, service: str, operation: str) -> None:
        with self._lock:
            self.counts[f"{service}.{operation}"] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


CALLS = Calls()


def _count_calls() -> None:
    from botocore.client import BaseClient
    from moto.core.models import botocore_stubber

    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, untyped in stubs
    if getattr(original, "_shipshape_counted", False):
        return

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        if botocore_stubber.enabled:
            service = self.meta.service_model.service_name
            CALLS.made(service, operation_name)
            subject = METER.current()
            if subject is not None:
                METER.called(subject, f"{service}.{operation_name}")
        return original(self, operation_name, api_params)

    counted._shipshape_counted = True  # type: ignore[attr-defined]
    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010


# The fault injector of the running runtime (None: no faults), read on every emulated call.
_INJECTOR: list[FaultInjector | None] = [None]


def _speed_up_retries(factor: float) -> None:
    """ASL Retry intervals and botocore's retry backoff sleep in real time under moto; scale
    them like the simulated clock scales everything else (the retry policies are unchanged)."""
    from botocore import endpoint
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    class _ScaledTime:
        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(seconds * factor)

    retrier_decl.time = _ScaledTime()  # type: ignore[attr-defined,assignment]
    endpoint.time = _ScaledTime()  # type: ignore[attr-defined]


class EmbeddedRuntime:
    """Start with ``with EmbeddedRuntime() as rt:``; everything stops and resets on exit."""

    def __init__(
        self,
        *,
        clock: ManualClock | None = None,
        config_dir: Path = REPO_ROOT / "config" / "clients",
        retry_time_factor: float = 0.01,
        overrides: Mapping[str, Any] | None = None,
        seed: Path | None = SEED,
        faults: FaultRates | None = None,
        fault_seed: int = 0,
        storefront_read_timeout: float = 2.0,
    ) -> None:
        self.template = Template()
        self.clock = clock or ManualClock()
        self.config_dir = config_dir
        self.retry_time_factor = retry_time_factor
        self.overrides = dict(overrides or {})
        self.seed = seed
        self.warehouse_channel = RecordingWarehouseChannel()
        self.lambdas = InProcessLambdas()
        self.writes = WRITES  # what has been written, to wait on
        self.dev = tomllib.loads(DEV_SECRETS.read_text())
        self.names: dict[str, str] = {}  # logical id -> physical name or ARN
        self.attributes: dict[tuple[str, str], str] = {}  # (logical id, attribute) -> value
        self.delivery = Delivery(invoke=self.lambdas.invoke)
        # The storefronts' APIs (write-back, reconciliation, BigCommerce orders) are the fake
        # storefront server's: nothing the embedded runtime runs reaches a real storefront.
        self.storefronts: FakeStorefronts | None = None
        self.storefront_read_timeout = storefront_read_timeout
        self._published: list[dict[str, Any]] = []
        self.env: dict[str, str] = {}
        self._mock: Any = None
        self._calls_before: Counter[str] = Counter()
        self._routes: list[Route] = self.template.routes
        # Which routes start an X-Ray trace (their function traced Active), for metering.
        functions = self.template.functions
        self._traced_routes = {
            r.route_key for r in self._routes if functions[r.function].tracing == "Active"
        }
        self._function_names: dict[str, str] = {}
        self.integration_errors: list[str] = []  # tracebacks of handler crashes (500s)
        self.injector = FaultInjector(faults, fault_seed) if faults and faults.any() else None
        # What the stack asks of AWS, per order, as AWS bills it (see metering).
        self.meter = METER
        self._access_log = _access_log_format(self.template)

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        from moto import mock_aws

        _fake_aws_environment()
        self._mock = mock_aws(
            # Not lambda.use_docker=False: that makes moto echo the event instead of calling
            # _invoke_lambda, the seam the in-process handlers are installed on.
            config={"stepfunctions": {"execute_state_machine": True}}
        )
        self._mock.start()
        # Powertools warns when a function publishes no business metric in an invocation; on
        # Lambda that lands in the function's log, here it would flood the terminal.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        _transactions_without_table_copies()
        _queries_read_their_partition()
        _reuse_task_clients()
        _parse_each_definition_once()
        _unsigned_while_mocked()
        _count_calls()
        _serialize_backend(_BACKEND_LOCK)
        _speed_up_retries(self.retry_time_factor)
        faults.install(lambda: _INJECTOR[0])
        self.lambdas.install()
        METER.reset()
        METER.clock = self.clock.now
        metering.install(METER, _BACKEND_LOCK)
        self.lambdas.meter = METER
        self.lambdas.stdout.on_line = METER.logged
        # Idempotency records of a crashed invocation expire after the time it had left.
        self.lambdas.remaining_ms = max(1, int(30_000 * self.retry_time_factor))
        self._calls_before = CALLS.snapshot()
        self._create_tables()
        self._create_topics()
        self._create_secrets()
        self._create_functions()
        self._create_state_machines()
        self._create_queues()
        self._create_event_buses()
        self._create_event_sources()
        self.storefronts = _fake_storefronts()
        self.storefronts.reset(dev_credentials(self.config_dir, DEV_SECRETS), clock=self.clock.now)
        self._configure_processes()
        if self.seed is not None:
            self._seed_inventory(self.seed)
        # Faults start once the stack is built: set-up is not what they test.
        self.lambdas.injector = self.injector
        _INJECTOR[0] = self.injector

    def stop(self) -> None:
        import shipshape.bootstrap

        self.delivery.stop()
        if self._mock is not None:
            self.settle()
        if self.storefronts is not None:
            self.storefronts.reset({})  # the server stays up for the next runtime
            self.storefronts = None
        _INJECTOR[0] = None
        self.lambdas.injector = None
        self.lambdas.meter = None
        self.lambdas.stdout.on_line = None
        self.lambdas.uninstall()
        shipshape.bootstrap.reset()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    # --- resources from the template ------------------------------------------------------

    def _create_tables(self) -> None:
        import boto3

        client = boto3.client("dynamodb", region_name=REGION)
        wanted = (
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "BillingMode",
            "LocalSecondaryIndexes",
            "StreamSpecification",
        )
        for logical_id, props in self.template.tables.items():
            name = f"shipshape-{logical_id}"
            kwargs = {k: v for k, v in props.items() if k in wanted}
            if "StreamSpecification" in kwargs:  # CloudFormation implies StreamEnabled
                kwargs["StreamSpecification"] = {
                    "StreamEnabled": True,
                    **kwargs["StreamSpecification"],
                }
            created = client.create_table(TableName=name, **kwargs)["TableDescription"]
            self.names[logical_id] = name
            self.attributes[(logical_id, "Arn")] = created["TableArn"]
            if "LatestStreamArn" in created:
                self.attributes[(logical_id, "StreamArn")] = created["LatestStreamArn"]

    def _create_topics(self) -> None:
        import boto3

        sns = boto3.client("sns", region_name=REGION)
        for logical_id in self.template.of_type("AWS::SNS::Topic"):
            self.names[logical_id] = sns.create_topic(Name=f"shipshape-{logical_id}")["TopicArn"]

    def notifications(self, logical_id: str = "OwnerNotificationsTopic") -> list[dict[str, Any]]:
        """What was published to a topic of the stack (read from the emulator), oldest first."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.names[logical_id]]
        return [
            {"subject": subject, "message": json.loads(message), "attributes": attributes}
            for _id, message, subject, attributes, _group in topic.sent_notifications
        ]

    def _create_secrets(self) -> None:
        import boto3

        client = boto3.client("secretsmanager", region_name=REGION)
        for name, value in self.dev["secrets"].items():
            client.create_secret(Name=name, SecretString=value)

    def _create_functions(self) -> None:
        import io
        import zipfile

        import boto3

        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="shipshape-embedded",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        # moto stores a code package but never runs it: the handlers run in-process.
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as zf:
            zf.writestr("app.py", "# runs in-process in the embedded runtime\n")
        lam = boto3.client("lambda", region_name=REGION)
        for logical_id, spec in self.template.functions.items():
            name = f"shipshape-{logical_id}"
            created = lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": package.getvalue()},
            )
            self.names[logical_id] = created["FunctionArn"]
            self._function_names[logical_id] = name
            self.lambdas.register(name, load_handler(spec))

    def _resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions the template uses in environments and
        substitutions to the embedded resources' names and ARNs."""
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in self.names:
                return self.names[ref]
            default = self.template.parameter_default(ref)
            if default is None:
                raise KeyError(f"cannot resolve Ref {ref}")
            return str(default)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if (logical_id, attribute) in self.attributes:
                return self.attributes[(logical_id, attribute)]
            if attribute == "Arn" and logical_id in self.names:
                return self.names[logical_id]
            raise KeyError(f"cannot resolve GetAtt {logical_id}.{attribute}")
        return value

    def _create_state_machines(self) -> None:
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        for logical_id, props in self.template.state_machines.items():
            definition = (self.template.root / props["DefinitionUri"]).read_text()
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", self._resolve(value))
            if "${" in definition:
                raise ValueError(f"{props['DefinitionUri']} has unresolved substitutions")
            created = sfn.create_state_machine(
                name=f"shipshape-{logical_id}",
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/shipshape-embedded",
                type=props.get("Type", "STANDARD"),
            )
            self.names[logical_id] = created["stateMachineArn"]

    def _create_queues(self) -> None:
        """The stack's SQS queues, dead-letter queues before the queues that redrive to them."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        queues = self.template.of_type("AWS::SQS::Queue")
        pending = dict(queues)
        while pending:
            for logical_id, resource in list(pending.items()):
                props = dict(resource.get("Properties", {}))
                redrive = props.get("RedrivePolicy")
                target = redrive and redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                if target and (target, "Arn") not in self.attributes:
                    continue
                attributes = {
                    k: str(v)
                    for k, v in props.items()
                    if k in ("VisibilityTimeout", "MessageRetentionPeriod")
                }
                if redrive:
                    attributes["RedrivePolicy"] = json.dumps(
                        {
                            "deadLetterTargetArn": self._resolve(redrive["deadLetterTargetArn"]),
                            "maxReceiveCount": int(redrive["maxReceiveCount"]),
                        }
                    )
                name = f"shipshape-{logical_id}"
                url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                self.names[logical_id] = url
                self.attributes[(logical_id, "QueueName")] = name
                self.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
                del pending[logical_id]

    def _create_event_buses(self) -> None:
        """The event buses and rules (with their SQS targets), and one more rule of the
        runtime's own that keeps every event published, for ``published_events``."""
        import boto3

        events = boto3.client("events", region_name=REGION)
        for logical_id, resource in self.template.of_type("AWS::Events::EventBus").items():
            name = str(self._resolve_sub(resource["Properties"]["Name"]))
            arn = events.create_event_bus(Name=name)["EventBusArn"]
            self.names[logical_id] = name
            self.attributes[(logical_id, "Arn")] = arn
            self.attributes[(logical_id, "Name")] = name
        for logical_id, resource in self.template.of_type("AWS::Events::Rule").items():
            props = resource["Properties"]
            bus = self._resolve(props["EventBusName"])
            name = f"shipshape-{logical_id}"
            arn = events.put_rule(
                Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"])
            )["RuleArn"]
            self.names[logical_id] = name
            self.attributes[(logical_id, "Arn")] = arn
            events.put_targets(
                Rule=name,
                EventBusName=bus,
                Targets=[{"Id": t["Id"], "Arn": self._resolve(t["Arn"])} for t in props["Targets"]],
            )
        self._published_queue = ""
        buses = [self.names[b] for b in self.template.of_type("AWS::Events::EventBus")]
        if buses:
            sqs = boto3.client("sqs", region_name=REGION)
            name = "shipshape-embedded-published"
            self._published_queue = sqs.create_queue(QueueName=name)["QueueUrl"]
            for bus in buses:
                events.put_rule(
                    Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["shipshape"]})
                )
                events.put_targets(
                    Rule=name,
                    EventBusName=bus,
                    Targets=[{"Id": "kept", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"}],
                )

    def _resolve_sub(self, value: Any) -> Any:
        """``!Sub`` with ``${Parameter}`` references only (what resource names here use)."""
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = str(value["Fn::Sub"])
            for name in self.template.doc.get("Parameters", {}):
                text = text.replace("${" + name + "}", str(self.template.parameter_default(name)))
            return text
        return value

    def _create_event_sources(self) -> None:
        """The functions' stream and queue event sources, delivered by ``self.delivery``."""
        from moto.events.models import EventPattern

        for logical_id, resource in self.template.of_type("AWS::Serverless::Function").items():
            function = self._function_names[logical_id]
            for event in resource["Properties"].get("Events", {}).values():
                props = event.get("Properties", {})
                if event["Type"] == "DynamoDB":
                    filters = props.get("FilterCriteria", {}).get("Filters", [])
                    destination = props.get("DestinationConfig", {}).get("OnFailure", {})
                    target = destination.get("Destination")
                    self.delivery.streams.append(
                        StreamMapping(
                            function=function,
                            stream_arn=self._resolve(props["Stream"]),
                            batch_size=int(props.get("BatchSize", 100)),
                            filters=[EventPattern.load(f["Pattern"]) for f in filters],
                            max_retries=int(props.get("MaximumRetryAttempts", 3)),
                            on_failure_queue=(
                                self.names[target["Fn::GetAtt"][0]] if target else None
                            ),
                        )
                    )
                elif event["Type"] == "SQS":
                    queue = props["Queue"]["Fn::GetAtt"][0]
                    self.delivery.queues.append(
                        QueueMapping(
                            function=function,
                            queue_url=self.names[queue],
                            queue_arn=self._resolve(props["Queue"]),
                            batch_size=int(props.get("BatchSize", 10)),
                        )
                    )

    def drain(self) -> int:
        """Deliver every pending stream record and queued message (as Lambda's pollers would)
        until nothing is left; how many were delivered."""
        return self.delivery.drain()

    def published_events(self) -> list[dict[str, Any]]:
        """Every domain event published on the stack's bus so far, as EventBridge delivered it
        to a subscriber's queue (envelope and detail), oldest first."""
        import boto3

        if not self._published_queue:
            return []
        sqs = boto3.client("sqs", region_name=REGION)
        while True:
            got = sqs.receive_message(QueueUrl=self._published_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not got:
                break
            for message in got:
                self._published.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self._published_queue, ReceiptHandle=message["ReceiptHandle"]
                )
        return list(self._published)

    def queue_messages(self, logical_id: str) -> list[dict[str, Any]]:
        """The bodies waiting in one of the stack's queues (read without consuming them)."""
        from moto.sqs.models import sqs_backends

        name = self.attributes[(logical_id, "QueueName")]
        queue = sqs_backends[ACCOUNT][REGION].queues[name]
        return [json.loads(m.body) for m in queue._messages]

    def _configure_processes(self) -> None:
        """Give the in-process handlers their environment and the runtime's clock."""
        import shipshape.bootstrap
        from shipshape.observability import logger

        env: dict[str, Any] = dict(self.template.global_environment)
        for spec in self.template.functions.values():
            env.update(spec.environment)
        env = {k: str(self._resolve(v)) for k, v in env.items()}
        env["SHIPSHAPE_CLIENT_CONFIG_DIR"] = str(self.config_dir)
        assert self.storefronts is not None
        env["SHIPSHAPE_STOREFRONT_API_URL"] = self.storefronts.url
        env["SHIPSHAPE_STOREFRONT_READ_TIMEOUT_SECONDS"] = str(self.storefront_read_timeout)
        self.env = env
        os.environ.update(env)
        # The logger was created before stdout was routed; point it at the capture.
        for handler in logger.handlers:
            if hasattr(handler, "setStream"):
                handler.setStream(self.lambdas.stdout)
        shipshape.bootstrap.reset()
        shipshape.bootstrap.override(
            clock=self.clock, **{"warehouse": self.warehouse_channel, **self.overrides}
        )

    def _seed_inventory(self, path: Path) -> None:
        """The starting SKU master and stock (what the warehouse had before Shipshape)."""
        from datetime import date

        import shipshape.bootstrap
        from shipshape.models import NO_LOT, SkuMaster

        inventory = shipshape.bootstrap.container().inventory
        for entry in tomllib.loads(path.read_text())["sku"]:
            stock = entry.pop("stock", [])
            master = SkuMaster.model_validate(entry)
            inventory.put_sku(master)
            for lot in stock:
                expires = lot.get("expires_on")
                inventory.receive_stock(
                    master.client_id, master.sku, lot["warehouse"], lot.get("lot", NO_LOT),
                    int(lot["quantity"]), lot["bin"],
                    date.fromisoformat(str(expires)) if expires else None,
                )  # fmt: skip

    # --- API Gateway (HTTP API) in front of the handlers ------------------------------------

    def http(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        base64_body: bool = False,
    ) -> HttpResponse:
        """Serve one request as API Gateway would: match a route, authorize it, build the
        payload-2.0 event and call the route's handler."""
        subject = METER.hint or metering.SHARED
        started = time.perf_counter()
        with METER.serving(subject):
            response, route_key, request_id = self._serve(
                method, path, headers=headers, body=body, base64_body=base64_body
            )
        METER.api_request(subject, route_key, self._access_log_bytes(
            request_id, route_key, response, time.perf_counter() - started),
            traced=route_key in self._traced_routes)  # fmt: skip
        return response

    def _access_log_bytes(
        self, request_id: str, route_key: str, response: HttpResponse, seconds: float
    ) -> int:
        """The size of the access log line the stage writes for a request (its format is in
        the template)."""
        values = {
            "requestId": request_id, "identity.sourceIp": "127.0.0.1", "routeKey": route_key,
            "status": str(response.status), "responseLatency": str(round(seconds * 1000)),
            "integrationErrorMessage": "-",
        }  # fmt: skip
        line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: values.get(m[1], "-"), self._access_log)
        return len(line.encode())

    def _serve(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None,
        body: bytes | str | None,
        base64_body: bool,
    ) -> tuple[HttpResponse, str, str]:
        request_id = str(uuid.uuid4())
        raw_path, _, query = path.partition("?")
        data = body.encode() if isinstance(body, str) else (body or b"")
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        if len(data) > API_BODY_LIMIT:
            return _gateway_error(413, "Request Entity Too Large"), "-", request_id
        route, params = self._match(method.upper(), raw_path)
        if route is None:
            return _gateway_error(404, "Not Found"), "-", request_id
        authorizer: dict[str, Any] | None = None
        if route.authorizer:
            claims = self._claims(lowered.get("authorization", ""))
            if claims is None:
                return _gateway_error(401, "Unauthorized"), route.route_key, request_id
            authorizer = {"jwt": {"claims": claims, "scopes": None}}
        event = self.api_event(
            route, params, raw_path, query, lowered, data,
            base64_body=base64_body, request_id=request_id, authorizer=authorizer,
        )  # fmt: skip
        try:
            result = self.lambdas.invoke(self._function_names[route.function], event)
        except FunctionTimedOut:
            # API Gateway's answer when the function runs out of time or dies.
            return _gateway_error(503, "Service Unavailable"), route.route_key, request_id
        except Exception:  # noqa: BLE001 - API Gateway answers 500 when the integration fails
            self.integration_errors.append(traceback.format_exc())
            return _gateway_error(500, "Internal Server Error"), route.route_key, request_id
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        answer = HttpResponse(
            status=int(result.get("statusCode", 200)),
            headers={k.lower(): str(v) for k, v in (result.get("headers") or {}).items()},
            body=raw,
        )
        return answer, route.route_key, request_id

    def api_event(
        self,
        route: Route,
        params: dict[str, str],
        raw_path: str,
        query: str,
        headers: dict[str, str],
        data: bytes,
        *,
        base64_body: bool = False,
        request_id: str = "",
        authorizer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The payload-2.0 event API Gateway's HTTP API gives the route's function (headers
        already lower-cased)."""
        text: str | None
        try:
            text = None if base64_body else data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "queryStringParameters": dict(parse_qsl(query)) or None,
            "pathParameters": params,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "embedded",
                "domainName": "127.0.0.1",
                "http": {
                    "method": route.method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id or str(uuid.uuid4()),
                "routeKey": route.route_key,
                "stage": "$default",
                "time": self.clock.now().strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(self.clock.now().timestamp() * 1000),
                **({"authorizer": authorizer} if authorizer else {}),
            },
            "body": text if text is not None else base64.b64encode(data).decode(),
            "isBase64Encoded": text is None,
        }

    def event_for(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        """The event API Gateway would give the function of an unauthenticated route (a
        webhook), to call its handler directly (bench/ingest.py)."""
        raw_path, _, query = path.partition("?")
        route, params = self._match(method.upper(), raw_path)
        if route is None or route.authorizer:
            raise ValueError(f"no open route for {method} {path}")
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.api_event(route, params, raw_path, query, lowered, body)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        # An HTTP API route is a method and a path, and "if no routes match a request, API
        # Gateway returns {"message":"Not Found"} to the client"; a path served for another
        # method (HEAD or OPTIONS on a GET route, TRACE anywhere) is a 404 too, never a 405.
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html#http-api-develop-routes.evaluation
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None, {}

    def _claims(self, authorization: str) -> dict[str, Any] | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        claims = self.dev.get("operators", {}).get(token.strip())
        return dict(claims) if claims else None

    # --- conveniences for the demo, the pilot and tests -----------------------------------

    def secret(self, name: str) -> str:
        return str(self.dev["secrets"][name])

    def peek_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """An item as the table holds it now (DynamoDB JSON), read straight from the emulator:
        what a watcher (the pilot) uses to see an order move without adding API calls."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        with _BACKEND_LOCK:
            found = (
                dynamodb_backends[ACCOUNT][REGION]
                .get_table(self.names[table])
                .get_item(DynamoType(key["pk"]), DynamoType(key["sk"]) if "sk" in key else None)
            )
            return found.to_json()["Attributes"] if found is not None else None

    def set_faults(self, rates: FaultRates | None, seed: int = 0) -> None:
        """Change the fault profile of the running stack (None: no faults from now on)."""
        self.injector = FaultInjector(rates, seed) if rates and rates.any() else None
        self.lambdas.injector = self.injector
        _INJECTOR[0] = self.injector

    def injected_faults(self) -> dict[str, int]:
        """The infrastructure faults injected so far, by kind."""
        return dict(sorted(self.injector.injected.items())) if self.injector else {}

    def execution_exists(self, name: str) -> bool:
        """Whether the fulfilment state machine has an execution of this name (read from the
        emulator, no API call)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        arn = self.names["FulfillmentStateMachine"]
        execution_arn = arn.replace(":stateMachine:", ":execution:") + f":{name}"
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        with _BACKEND_LOCK:
            try:
                backend.describe_execution(execution_arn)
            except Exception:  # noqa: BLE001 - moto raises its own "does not exist"
                return False
            return True

    def aws_calls(self) -> dict[str, int]:
        """The AWS API calls made since this runtime started, by ``service.Operation``."""
        return dict(sorted((CALLS.snapshot() - self._calls_before).items()))

    def execution_counts(self) -> list[ExecutionCount]:
        """Each execution of the fulfilment workflow: states entered, transitions as Standard
        workflows bill them, and the log events its log level sends (from its history, no API
        call)."""
        props = self.template.state_machines["FulfillmentStateMachine"]
        level = str(props.get("Logging", {}).get("Level", "OFF"))
        with _BACKEND_LOCK:
            return metering.execution_counts(
                self.names["FulfillmentStateMachine"], level, ACCOUNT, REGION
            )

    def run_function(self, logical_id: str, event: Any) -> Any:
        """Invoke a function as its event source (e.g. the schedule) would."""
        return self.lambdas.invoke(self._function_names[logical_id], event)

    def executions(self) -> list[dict[str, Any]]:
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = self.names["FulfillmentStateMachine"]
        found: list[dict[str, Any]] = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            found.extend(dict(e) for e in page["executions"])
        return found

    def settle(self, timeout: float = 3.0) -> bool:
        """Wait until every execution is finished or waiting for the warehouse, so stopping
        does not cut a step in half (which would log a spurious failure)."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)

        def quiet() -> bool:
            for execution in self.executions():
                if execution["status"] != "RUNNING":
                    continue
                # moto ignores reverseOrder/maxResults: read the whole (short) history.
                events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
                if not events or events[-1]["type"] != "TaskSubmitted":
                    return False
            return True

        return self.wait_for(quiet, timeout=timeout, interval=0.05)

    def wait_for(
        self, condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return condition()


_FAKE_STOREFRONTS: list[FakeStorefronts] = []


def _fake_storefronts() -> FakeStorefronts:
    """The process's fake storefront server, started on first use and shared by every runtime
    (each resets it): its thread is a daemon and ends with the process."""
    if not _FAKE_STOREFRONTS:
        _FAKE_STOREFRONTS.append(FakeStorefronts({}).start())
    return _FAKE_STOREFRONTS[0]


def _access_log_format(template: Template) -> str:
    """The HTTP API stage's access log format (one line per request)."""
    api = next(iter(template.of_type("AWS::Serverless::HttpApi").values()), {})
    settings = api.get("Properties", {}).get("AccessLogSettings", {})
    return str(settings.get("Format", "")).replace("\n", "")


def _gateway_error(status: int, message: str) -> HttpResponse:
    """An answer of API Gateway's own, byte for byte as it sends it: {"message":"Not Found"}."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, {"content-type": "application/json"}, body)
