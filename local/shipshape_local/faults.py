"""Infrastructure faults for the embedded runtime: what AWS does on a bad day, at set rates.

The faults are injected where AWS would produce them, so the code that copes with them is the
code that runs on AWS:

- DynamoDB throttling (``ProvisionedThroughputExceededException``) and 5xx
  (``InternalServerError``) are HTTP answers to one request attempt: botocore's retry mode
  (standard, in the functions' clients) retries them; what survives its attempts reaches the
  adapters as ``TransientDependencyError`` (a 503 at the API, the ASL's Retry in a step).
- A Lambda service error (``ServiceException``, 500) answers a Step Functions task's Invoke
  before the function runs: the ASL's Retry on ``Lambda.ServiceException`` runs it again.
- A Lambda timeout: the function runs, its writes land, then the invocation is reported as
  ``Sandbox.Timedout`` (its answer is lost). The ASL's Retry runs the step again; an API
  route answers 503, as API Gateway does, and the sender retries.
- A failing ``StartExecution`` or ``SendTaskSuccess``/``SendTaskFailure``: every attempt of
  that call in one invocation fails (an outage, not a blip), so the handler sees it.
- A crash between two writes: right after a write is applied, the function's process dies
  before its next call (reported as a timeout, like the above).

Decisions are drawn from a hash of the seed, the fault and a stable identity of the call (the
function, its event without volatile fields, how many times that event was invoked, and how
many calls of that operation the invocation made before), not from thread timing: the same
calls under the same seed meet the same faults, so a run that goes wrong can be run again.
What runs on the wall clock (an idempotency record's in-progress expiry, a cached secret's
age) can change which calls a run makes, and with them a few decisions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# Writes whose effect a crash right after them must not undo.
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
)
TASK_CALLBACKS = frozenset({"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"})
# Event fields that differ between runs of the same simulation (request ids, task tokens).
_VOLATILE = ("requestcontext", "token")


@dataclass(frozen=True)
class FaultRates:
    """Probabilities: per request attempt (DynamoDB, Lambda service), per invocation
    (timeouts, StartExecution, task callbacks) or per applied write (crashes)."""

    dynamodb_throttle: float = 0.0
    dynamodb_error: float = 0.0
    lambda_service_error: float = 0.0
    lambda_timeout: float = 0.0
    start_execution_outage: float = 0.0
    task_callback_outage: float = 0.0
    crash_after_write: float = 0.0

    def any(self) -> bool:
        return any(value > 0 for value in asdict(self).values())


class SimulatedCrash(BaseException):
    """The function's process died (killed at its timeout, out of memory). A BaseException, so
    no ``except Exception`` in the code under test can catch it: nothing runs in a dead
    process. The in-process Lambda service reports it as ``Sandbox.Timedout``."""


@dataclass
class _Invocation:
    function: str
    identity: str
    calls: Counter[str] = field(default_factory=Counter)  # per operation: a cached read
    outages: set[str] = field(default_factory=set)  # skipped on one run shifts no other


def event_identity(event: Any) -> str:
    """What makes two invocations the same event, leaving out per-request noise."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v)
                for k, v in value.items()
                if not any(word in str(k).lower() for word in _VOLATILE)
            }
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    if isinstance(event, dict) and "routeKey" in event:
        # An API Gateway request: what was asked of which route (not the headers: the front
        # door's port, the client's user agent).
        event = {k: event.get(k) for k in ("routeKey", "rawPath", "rawQueryString", "body")}
    text = json.dumps(clean(event), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class FaultInjector:
    """Decides, deterministically, which calls fail; counts what it injected."""

    def __init__(self, rates: FaultRates, seed: int = 0) -> None:
        self.rates = rates
        self.seed = seed
        self.injected: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._seen: Counter[tuple[str, str]] = Counter()
        self._local = threading.local()

    # --- the invocation a thread is running -------------------------------------------

    def enter(self, function: str, event: Any) -> _Invocation | None:
        identity = event_identity(event)
        with self._lock:
            self._seen[(function, identity)] += 1
            ordinal = self._seen[(function, identity)]
        previous: _Invocation | None = getattr(self._local, "invocation", None)
        self._local.invocation = _Invocation(function, f"{function}|{identity}|{ordinal}")
        return previous

    def leave(self, previous: _Invocation | None) -> None:
        self._local.invocation = previous

    def current(self) -> _Invocation | None:
        return getattr(self._local, "invocation", None)

    # --- decisions --------------------------------------------------------------------

    def _hit(self, kind: str, rate: float, identity: str) -> bool:
        if rate <= 0:
            return False
        digest = hashlib.sha256(f"{self.seed}|{kind}|{identity}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
            return False
        with self._lock:
            self.injected[kind] += 1
        return True

    def lambda_times_out(self, function: str, event: Any) -> bool:
        """Whether this run of a task's function is reported as timed out (after it ran)."""
        identity = f"{function}|{event_identity(event)}"
        with self._lock:
            self._seen[("timeout", identity)] += 1
            identity += f"|{self._seen[('timeout', identity)]}"
        return self._hit("lambda_timeout", self.rates.lambda_timeout, identity)

    def before_request(self, service: str, operation: str, body: bytes) -> tuple[int, str] | None:
        """An error answer (status, error code) instead of the service's, or None."""
        invocation = self.current()
        if service == "lambda" and operation == "Invoke" and invocation is None:
            # The Lambda service itself, called by a state machine's task.
            try:
                identity = event_identity(json.loads(body))
            except ValueError:
                identity = hashlib.sha256(body).hexdigest()[:16]
            with self._lock:
                self._seen[("Invoke", identity)] += 1
                identity += f"|{self._seen[('Invoke', identity)]}"
            if self._hit("lambda_service_error", self.rates.lambda_service_error, identity):
                return 500, "ServiceException"
            return None
        if invocation is None:
            return None  # the simulation's own reads, the runtime's set-up: not the stack
        invocation.calls[operation] += 1
        identity = f"{invocation.identity}|{operation}|{invocation.calls[operation]}"
        if service == "dynamodb":
            if self._hit("dynamodb_throttle", self.rates.dynamodb_throttle, identity):
                return 400, "ProvisionedThroughputExceededException"
            if self._hit("dynamodb_error", self.rates.dynamodb_error, identity):
                return 500, "InternalServerError"
        if service == "sfn" and operation in ("StartExecution", *TASK_CALLBACKS):
            kind = "start_execution_outage" if operation == "StartExecution" else (
                "task_callback_outage"
            )  # fmt: skip
            if kind in invocation.outages:
                return 500, "InternalFailure"
            rate = getattr(self.rates, kind)
            if self._hit(kind, rate, f"{invocation.identity}|{operation}"):
                invocation.outages.add(kind)
                return 500, "InternalFailure"
        return None

    def after_request(self, service: str, operation: str, status: int) -> None:
        """Raise SimulatedCrash right after an applied write, at the set rate."""
        invocation = self.current()
        if invocation is None or service != "dynamodb" or operation not in WRITE_OPERATIONS:
            return
        if status >= 300:
            return
        identity = f"{invocation.identity}|{operation}|{invocation.calls[operation]}"
        if self._hit("crash_after_write", self.rates.crash_after_write, identity):
            raise SimulatedCrash(f"{invocation.function} died after {operation}")


def error_response(service: str, status: int, code: str) -> tuple[int, dict[str, str], bytes]:
    """An AWS JSON-protocol error answer botocore parses into ClientError(code)."""
    prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
    body: dict[str, str] = {"__type": prefix + code, "message": "injected fault"}
    headers = {
        "x-amzn-ErrorType": code,
        "x-amzn-RequestId": str(uuid.uuid4()),  # every AWS answer names its request
        "Content-Type": "application/x-amz-json-1.0",
    }
    if service == "lambda":
        # Lambda speaks REST-JSON: the code comes from the header; the body names it too.
        body = {"Type": "Service", "Message": "injected fault", "__type": code}
        headers["Content-Type"] = "application/json"
    return status, headers, json.dumps(body).encode()


def install(injector_ref: Any) -> None:
    """Route every request the emulator answers past ``injector_ref()`` (None: no faults)."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    original = BotocoreStubber.__call__
    if getattr(original, "_shipshape_faults", False):
        return

    def call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        injector: FaultInjector | None = injector_ref()
        if injector is None or not self.enabled:
            return original(self, event_name, request, **kwargs)
        # event_name is "before-send.<service-id>.<Operation>"
        _, service, operation = event_name.split(".", 2)
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        fault = injector.before_request(service, operation, body)
        if fault is not None:
            status, headers, payload = error_response(service, *fault)
            answer = HTTPHeaders()
            for name, value in headers.items():
                answer[name] = value
            return AWSResponse(request.url, status, answer, MockRawResponse(payload))
        response = original(self, event_name, request, **kwargs)
        if response is not None:
            injector.after_request(service, operation, response.status_code)
        return response

    call._shipshape_faults = True  # type: ignore[attr-defined]
    BotocoreStubber.__call__ = call  # type: ignore[method-assign]
