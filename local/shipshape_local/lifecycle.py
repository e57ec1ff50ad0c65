"""The embedded runtime's lifetime: the whole stack on moto, in one process, with no AWS account.

``with EmbeddedRuntime() as rt:`` starts moto, installs the patches of its internals
(``patches.installed()``) and the in-process Lambda seam, builds the stack ``template.yaml``
declares (``stack``), wires the handlers' environment and clock, and seeds the inventory;
``rt.http()`` then plays API Gateway in front of the real handlers (``gateway``). On exit
everything is stopped and removed again: moto's internals are as they were before.
"""

from __future__ import annotations

import os
import threading
import time
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shipshape_local import alarms, issuer, patches
from shipshape_local.contention import AS_ON_AWS, Contention, ContentionRates
from shipshape_local.delivery import Delivery
from shipshape_local.environments import RUNTIME_VARIABLES
from shipshape_local.fakestore import FakeStorefronts, dev_credentials
from shipshape_local.faults import FaultInjector, FaultRates
from shipshape_local.gateway import HttpApi, HttpResponse
from shipshape_local.lambdas import InProcessLambdas
from shipshape_local.metering import METER, ExecutionCount
from shipshape_local.roles import FunctionRoles
from shipshape_local.schedules import ScheduleRunner, read_schedules
from shipshape_local.stack import ACCOUNT, REGION, STACK_NAME, Stack
from shipshape_local.template import REPO_ROOT, Route, Template

DEV_SECRETS = Path(__file__).with_name("dev-secrets.toml")
SEED = Path(__file__).with_name("seed.toml")

# One lock for the emulated services' state, shared by every runtime of the process.
BACKEND_LOCK = threading.RLock()


class RecordingWarehouseChannel:
    """The warehouse channel of the embedded runtime: keeps what was sent, for the simulator
    and for tests (the documents are also in the table, as on AWS)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self._lock = threading.Lock()

    def send(self, order: Any, document: Any) -> None:
        with self._lock:
            self.sent.append(document)


class ManualClock:
    """The injectable clock of the embedded runtime: real time unless a test or the pilot
    sets or advances it. Whoever listens (``on_change``: the runtime, to time out task-token
    waits whose deadline passed) hears of every set and advance, after it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed = start
        self._offset = timedelta()
        self._listeners: list[Callable[[], object]] = []

    def now(self) -> datetime:
        with self._lock:
            base = self._fixed if self._fixed is not None else datetime.now(UTC)
            return base + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta
        self._changed()

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._fixed, self._offset = moment, timedelta()
        self._changed()

    def on_change(self, listener: Callable[[], object]) -> Callable[[], None]:
        """Call ``listener`` after every set and advance; what is returned stops that."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def _changed(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


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


def _secret_arn(name: str) -> str:
    """The ARN of the secret called ``name`` (AWS appends six random characters to a secret's
    name), or the one it would have, for a secret that does not exist."""
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[ACCOUNT][REGION].secrets.get(name)
    if secret is not None:
        return str(secret.arn)
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"


def _contending_subject() -> str | None:
    """The order the running invocation works for (its steps, or a request about it): orders
    contend with each other. A schedule's run, a queue's batch or a request about no order in
    particular is not counted as running at the same time as what it leads to (the starter's
    write and the execution it starts, one after the other on AWS too)."""
    subject = METER.current()
    return subject if subject is not None and subject.startswith("order:") else None


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
        contention: ContentionRates = AS_ON_AWS,
        parameters: Mapping[str, str] | None = None,
        edits: Mapping[str, Mapping[str, Any]] | None = None,
        strict: bool = True,
    ) -> None:
        # The stack as deployed with these template parameters (the others at their defaults)
        # and these resource properties edited (see Template).
        self.template = Template(parameters=dict(parameters or {}), edits=edits)
        # No kinder than AWS: each function's role checked on every call, AWS's limits held,
        # transactions colliding (see docs/EMULATOR.md). False is for measuring what that
        # costs (`make bench`), never for a test.
        self.strict = strict
        self.clock = clock or ManualClock()
        self.config_dir = config_dir
        self.retry_time_factor = retry_time_factor
        self.overrides = dict(overrides or {})
        self.seed = seed
        self.warehouse_channel = RecordingWarehouseChannel()
        self.lambdas = InProcessLambdas()
        self.writes = Writes()  # what has been written, to wait on
        # Every task-token wait of the running executions, timed out on this runtime's clock
        # (see patches/task_timeouts).
        self.task_deadlines = patches.TaskDeadlines(self.clock.now)
        self.dev = tomllib.loads(DEV_SECRETS.read_text())
        self.delivery = Delivery(invoke=self.lambdas.invoke)
        self.stack = Stack(
            self.template,
            lambdas=self.lambdas,
            delivery=self.delivery,
            secrets=self.dev["secrets"],
            lock=BACKEND_LOCK,
        )
        # Each function's role, checked on every call it makes (see roles).
        self.roles = FunctionRoles(
            self.template,
            resolve=self.stack.resolve,
            function_names=self.stack.function_names,
            account=ACCOUNT,
            region=REGION,
            secret_arn=_secret_arn,
            stack_name=STACK_NAME,
        )
        self.names = self.stack.names  # logical id -> physical name or ARN
        self.attributes = self.stack.attributes  # (logical id, attribute) -> value
        # The storefronts' APIs (write-back, reconciliation, BigCommerce orders) are the fake
        # storefront server's: nothing the embedded runtime runs reaches a real storefront.
        self.storefronts: FakeStorefronts | None = None
        self.env: dict[str, str] = {}
        self.integration_errors: list[str] = []  # tracebacks of handler crashes (500s)
        # The operators' user pool: the local issuer, its users and its endpoints (issuer).
        # Sign-in (the user pool's tokens, their expiry at the gateway) runs on the stack's
        # clock, or on the wall's once `serve --clock-speed` makes stack time run fast: an ID
        # token then lasts its hour of the operator's time, not six seconds of it.
        self._sessions_on_wall_clock = False
        self.user_pool = issuer.LocalUserPool(clock=self.session_now)
        self.gateway = HttpApi(
            self.template,
            lambdas=self.lambdas,
            function_names=self.stack.function_names,
            jwks=self.user_pool.jwks,
            names={
                "AWS::Region": REGION,
                "OperatorsUserPool": issuer.USER_POOL_ID,
                "OperatorsUserPoolClient": issuer.CLIENT_ID,
            },
            clock=self.clock.now,
            meter=METER,
            integration_errors=self.integration_errors,
            session_clock=self.session_now,
        )
        self.injector = FaultInjector(faults, fault_seed) if faults and faults.any() else None
        # Transactions of invocations working for different orders at once collide, as on
        # AWS (see contention; ContentionRates(rate=0) switches it off).
        self.contention = Contention(
            contention, fault_seed, subject=_contending_subject,
            clock=lambda: self.clock.now().timestamp(),
        )  # fmt: skip
        self._contended: Contention | None = None
        # What the stack asks of AWS, per order, as AWS bills it (see metering).
        self.meter = METER
        self._mock: Any = None
        self._running: ExitStack | None = None
        self._calls = Calls()
        self._calls_before: Counter[str] = Counter()
        # The injector the patched emulator consults on every call (None: no faults).
        self._armed: FaultInjector | None = None
        # The template's alarms, evaluated on the functions' EMF metrics (see alarms).
        self.alarms: alarms.AlarmEvaluator | None = None
        # The template's schedules (starter, sweeper, reconciler): read and checked here, run
        # on this runtime's clock once started (`shipshape serve` starts them; see schedules).
        self.schedules = ScheduleRunner(
            read_schedules(self.template.resources, self.stack.resolve),
            invoke=self.run_function,
            now=self.clock.now,
            advance=self.clock.advance,
        )

    def session_now(self) -> datetime:
        return datetime.now(UTC) if self._sessions_on_wall_clock else self.clock.now()

    def sessions_on_wall_clock(self) -> None:
        """Sign-in keeps real time from now on, whatever the stack's clock does."""
        self._sessions_on_wall_clock = True

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start moto, patch it, build the stack and wire the handlers; if any of it fails,
        what was started is stopped again before the error goes on."""
        from moto import mock_aws

        running = self._running = ExitStack()
        try:
            _fake_aws_environment()
            self._mock = mock_aws(
                # Not lambda.use_docker=False: that makes moto echo the event instead of
                # calling _invoke_lambda, the seam the in-process handlers are installed on.
                config={"stepfunctions": {"execute_state_machine": True}}
            )
            self._mock.start()
            running.callback(self._stop_mock)
            # Powertools warns when a function publishes no business metric in an invocation;
            # on Lambda that lands in the function's log, here it would flood the terminal.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            running.enter_context(
                patches.installed(
                    lock=BACKEND_LOCK,
                    writes=self.writes,
                    calls=self._calls,
                    meter=METER,
                    faults=lambda: self._armed,
                    retry_time_factor=self.retry_time_factor,
                    deadlines=self.task_deadlines,
                    clock=lambda: self.alarms.stamp() if self.alarms else self.clock.now(),
                    authorize=lambda: self.roles.authorize if self.strict else None,
                    account=ACCOUNT,
                    contention=lambda: self._contended,
                    limits=lambda: self.strict,
                )
            )
            # Task-token waits time out on this runtime's clock, as they do on AWS's.
            running.callback(self.clock.on_change(self.task_deadlines.enforce))
            self.lambdas.install()
            self.stack.environments.install()
            running.callback(self.stack.environments.uninstall)
            METER.reset()
            METER.clock = self.clock.now
            self.lambdas.meter = METER
            self.lambdas.stdout.on_line = METER.logged
            self._calls_before = self._calls.snapshot()
            # The user pool is the local issuer's (issuer): its ids stand for Cognito's.
            self.stack.names.update({
                "OperatorsUserPool": issuer.USER_POOL_ID,
                "OperatorsUserPoolClient": issuer.CLIENT_ID,
                "OperatorsUserPoolDomain": issuer.DOMAIN_PREFIX,
            })  # fmt: skip
            self.stack.create()
            self._attach_alarms(running)
            # Started schedules run whenever the clock moves (a test advancing it, or serve's
            # ticker), after the alarms have seen the change.
            running.callback(self.clock.on_change(self.schedules.run_due))
            self.storefronts = _fake_storefronts()
            self.storefronts.reset(
                dev_credentials(self.config_dir, DEV_SECRETS), clock=self.clock.now
            )
            self._configure_processes()
            if self.seed is not None:
                self._seed_inventory(self.seed)
            # Faults start once the stack is built: set-up is not what they test.
            self.lambdas.injector = self.injector
            self._armed = self.injector
            self._contended = self.contention if self.strict else None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        import shipshape.bootstrap

        running, self._running = self._running, None
        try:
            self.schedules.stop()
            self.delivery.stop()
            if self._mock is not None and "FulfillmentStateMachine" in self.names:
                self.settle()
            if self.storefronts is not None:
                self.storefronts.reset({})  # the server stays up for the next runtime
                self.storefronts = None
            self._armed = None
            self._contended = None
            self.lambdas.injector = None
            self.lambdas.meter = None
            self.lambdas.stdout.on_line = None
            self.lambdas.uninstall()
            shipshape.bootstrap.reset()
        finally:
            if running is not None:
                running.close()  # the patches come off, then moto stops

    def _attach_alarms(self, running: ExitStack) -> None:
        """Evaluate the template's alarms on what the functions print, whenever the clock
        moves (as CloudWatch does once a period)."""
        evaluator = self.alarms = alarms.attach(
            self.template, self.names, self.attributes,
            clock=self.clock.now, account=ACCOUNT, region=REGION, lock=BACKEND_LOCK,
        )  # fmt: skip
        metered = self.lambdas.stdout.on_line

        def on_line(line: str) -> None:
            if metered is not None:
                metered(line)
            evaluator.record(line)

        self.lambdas.stdout.on_line = on_line
        running.callback(self.clock.on_change(evaluator.evaluate))

    def _stop_mock(self) -> None:
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def _configure_processes(self) -> None:
        """Give the in-process handlers their environment and the runtime's clock."""
        import shipshape.bootstrap
        from shipshape.observability import logger

        env = self.stack.environment()
        env["SHIPSHAPE_CLIENT_CONFIG_DIR"] = str(self.config_dir)
        assert self.storefronts is not None
        env["SHIPSHAPE_STOREFRONT_API_URL"] = self.storefronts.url
        # The user pool's domain is served on the runtime's own origin (``http``): the page
        # signs in where it was served from.
        env["SHIPSHAPE_AUTH_DOMAIN"] = ""
        self.env = env
        os.environ.update(env)
        # Each function runs with its own entry's variables and these (see environments).
        self.stack.environments.runtime = {k: env[k] for k in RUNTIME_VARIABLES if k in env}
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

    # --- API Gateway in front of the handlers (see gateway) -------------------------------

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
        payload-2.0 event and call the route's handler. The user pool's domain and API
        (``issuer.PATHS``: sign-in, tokens, sign-out, keys) are served on the same origin."""
        if path.startswith(issuer.PATHS):
            data = body.encode() if isinstance(body, str) else (body or b"")
            answer = self.user_pool.serve(method.upper(), path, headers or {}, data)
            return HttpResponse(answer.status, answer.headers, answer.body)
        return self.gateway.http(method, path, headers=headers, body=body, base64_body=base64_body)

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
        return self.gateway.api_event(
            route, params, raw_path, query, headers, data,
            base64_body=base64_body, request_id=request_id, authorizer=authorizer,
        )  # fmt: skip

    def event_for(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        """The event API Gateway would give the function of an unauthenticated route (a
        webhook), to call its handler directly (bench/ingest.py)."""
        return self.gateway.event_for(method, path, headers, body)

    # --- the stack's resources (see stack) ------------------------------------------------

    def notifications(self, logical_id: str = "OwnerNotificationsTopic") -> list[dict[str, Any]]:
        """What was published to a topic of the stack (read from the emulator), oldest first."""
        return self.stack.notifications(logical_id)

    def published_events(self) -> list[dict[str, Any]]:
        """Every domain event published on the stack's bus so far, as EventBridge delivered it
        to a subscriber's queue (envelope and detail), oldest first."""
        return self.stack.published_events()

    def queue_messages(self, logical_id: str) -> list[dict[str, Any]]:
        """The bodies waiting in one of the stack's queues (read without consuming them)."""
        return self.stack.queue_messages(logical_id)

    def peek_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """An item as the table holds it now (DynamoDB JSON), read straight from the emulator:
        what a watcher (the pilot) uses to see an order move without adding API calls."""
        return self.stack.peek_item(table, key)

    def time_out_crashed_invocations(self) -> int:
        """What the passage of time does for an invocation that died mid-flight: once its
        function's timeout is over, Lambda has stopped it, and the in-progress record it left
        in the idempotency table (Powertools: ``in_progress_expiration`` = its start plus the
        time its context said it had) has expired, so the next call with its key runs. Tests
        and the pilot call this instead of sleeping through a real timeout (10 s and more).

        It rewrites each in-progress record's expiry to just before now, straight in the
        emulator, and is honest only when no invocation is running: it waits for the one
        running to end (invocations run one at a time here), and a record still in progress
        after that belongs to an invocation that will never finish. How many it expired."""
        if "IdempotencyTable" not in self.names:
            return 0
        with self.lambdas.idle():
            return self.stack.expire_in_progress(
                "IdempotencyTable", "status", "in_progress_expiration", int(time.time() * 1000)
            )

    def execution_exists(self, name: str) -> bool:
        """Whether the fulfilment state machine has an execution of this name (read from the
        emulator, no API call)."""
        return self.stack.execution_exists(name)

    def executions(self) -> list[dict[str, Any]]:
        return self.stack.executions()

    def execution_counts(self) -> list[ExecutionCount]:
        """Each execution of the fulfilment workflow: states entered, transitions as Standard
        workflows bill them, and the log events its log level sends (from its history, no API
        call)."""
        return self.stack.execution_counts()

    def drain(self) -> int:
        """Deliver every pending stream record and queued message (as Lambda's pollers would)
        until nothing is left; how many were delivered."""
        return self.delivery.drain()

    # --- conveniences for the demo, the pilot and tests -----------------------------------

    def secret(self, name: str) -> str:
        return str(self.dev["secrets"][name])

    def set_faults(self, rates: FaultRates | None, seed: int = 0) -> None:
        """Change the fault profile of the running stack (None: no faults from now on)."""
        self.injector = FaultInjector(rates, seed) if rates and rates.any() else None
        self.lambdas.injector = self.injector
        self._armed = self.injector

    def injected_faults(self) -> dict[str, int]:
        """The infrastructure faults injected so far, by kind."""
        return dict(sorted(self.injector.injected.items())) if self.injector else {}

    def aws_calls(self) -> dict[str, int]:
        """The AWS API calls made since this runtime started, by ``service.Operation``."""
        return dict(sorted((self._calls.snapshot() - self._calls_before).items()))

    def run_function(self, logical_id: str, event: Any) -> Any:
        """Invoke a function as its event source (e.g. the schedule) would."""
        return self.lambdas.invoke(self.stack.function_names[logical_id], event)

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
