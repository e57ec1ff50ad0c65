"""Run the real Lambda handlers in-process under moto.

moto runs Lambda code in Docker, which this project does not require. Every invoke path in
moto (Step Functions tasks, ``lambda.invoke``, event source targets) goes through one private
method, ``LambdaFunction._invoke_lambda(self, event) -> (payload_json, errored, logs)``. This
module replaces it with a call into the handler loaded from ``functions/<name>/app.py``.
Because the seam is private, moto is pinned exactly and ``check_seam`` fails loudly if a new
moto changes it (a test calls it).
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shipshape_local import limits
from shipshape_local.faults import FaultInjector, SimulatedCrash
from shipshape_local.template import DEFAULT_TIMEOUT, FunctionSpec

if TYPE_CHECKING:
    from shipshape_local.metering import Meter

Handler = Callable[[Any, Any], Any]

EXPECTED_MOTO = "5.2.5"


def check_seam() -> None:
    """Fail loudly if the pinned moto no longer has the seam this runtime patches."""
    import moto
    from moto.awslambda.models import LambdaFunction

    if moto.__version__ != EXPECTED_MOTO:
        raise RuntimeError(
            f"moto {moto.__version__} is installed; the in-process Lambda seam was verified on "
            f"{EXPECTED_MOTO}. Re-verify lambdas.py before changing the pin."
        )
    seam = getattr(LambdaFunction, "_invoke_lambda", None)
    if seam is None or list(inspect.signature(seam).parameters) != ["self", "event"]:
        raise RuntimeError("moto's LambdaFunction._invoke_lambda(self, event) seam changed")


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read.

    ``timeout_ms`` is the function's Timeout (template.yaml) and ``started`` the invocation's
    start (``time.monotonic``): the remaining time falls with wall time from there, as
    Lambda's does, to 0 at the timeout."""

    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_ms: int = DEFAULT_TIMEOUT * 1000
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed_ms = (time.monotonic() - self.started) * 1000
        return max(0, int(self.timeout_ms - elapsed_ms))


class FunctionTimedOut(Exception):
    """The invocation ended without an answer (Lambda's ``Sandbox.Timedout``): it was cut off
    at its timeout or its process died. Whatever it wrote before stays written."""

    error_type = "Sandbox.Timedout"


class PayloadTooLarge(Exception):
    """An invocation's request or response over Lambda's payload limit (6 MB synchronous):
    a request is refused before the function runs; a response is an error in its place."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def check_request_size(event: Any) -> None:
    size = len(json.dumps(event, separators=(",", ":")).encode())
    if size > limits.LAMBDA_SYNC_BYTES:
        raise PayloadTooLarge(
            "RequestTooLargeException",
            f"Request must be smaller than {limits.LAMBDA_SYNC_BYTES} bytes for the "
            "InvokeFunction operation",
        )


def check_response_size(result: Any) -> None:
    size = len(json.dumps(result, separators=(",", ":"), default=str).encode())
    # Lambda's own figure: 6 MB and 100 bytes.
    if size > limits.LAMBDA_SYNC_BYTES + 100:
        raise PayloadTooLarge(
            "Function.ResponseSizeTooLarge",
            f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
            f"({limits.LAMBDA_SYNC_BYTES + 100} bytes).",
        )


class _ThreadRoutedStdout(io.TextIOBase):
    """stdout that sends what a running handler prints (structured logs, EMF metrics) to a
    capture, per thread, and everything else to the terminal."""

    def __init__(self, terminal: Any) -> None:
        self.terminal = terminal
        self.local = threading.local()
        self.lines: list[tuple[str, str]] = []  # (function, line)
        self.lock = threading.Lock()
        self.on_line: Callable[[str], None] | None = None  # each captured line (the meter)

    def write(self, text: str) -> int:
        function = getattr(self.local, "function", None)
        if function is None:
            return int(self.terminal.write(text))
        with self.lock:
            kept = [line for line in text.splitlines() if line.strip()]
            self.lines.extend((function, line) for line in kept)
        if self.on_line is not None:
            for line in kept:
                self.on_line(line)
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()

    def isatty(self) -> bool:
        return bool(self.terminal.isatty())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def load_handler(spec: FunctionSpec, *, fresh: bool = False) -> Handler:
    """Load ``functions/<name>/app.py`` under a unique module name (every function's module is
    called ``app``); ``fresh``: run its init again even if this process loaded it before."""
    module_name = f"shipshape_fn_{spec.logical_id}"
    module = None if fresh else sys.modules.get(module_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(module_name, spec.module_file)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {spec.module_file}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    handler = getattr(module, spec.attribute)
    return handler  # type: ignore[no-any-return]


def on_first_call(spec: FunctionSpec) -> Handler:
    """The function's handler, its module loaded on the first invocation: Lambda runs a
    function's init at its first (cold) start, with the function's environment in place, and
    an init that fails (a setting missing) fails that invocation. Each embedded stack is a
    new deployment: its functions' first invocations run their init again, under their own
    environment, whatever an earlier stack in this process loaded."""
    loaded: list[Handler] = []
    lock = threading.Lock()

    def handler(event: Any, context: Any) -> Any:
        if not loaded:
            with lock:
                if not loaded:
                    loaded.append(load_handler(spec, fresh=True))
        return loaded[0](event, context)

    return handler


class InProcessLambdas:
    """The registry of in-process handlers and the patch of moto's invoke seam."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.modules: dict[str, ModuleType] = {}
        self.invocations: dict[str, int] = {}
        self.faults: list[Callable[[str, Any], None]] = []
        # Infrastructure faults (see faults.py), when the runtime runs with a fault profile.
        self.injector: FaultInjector | None = None
        # Each function's Timeout in seconds (template.yaml): what its context counts down
        # from, and past which its invocation is reported timed out.
        self.timeouts: dict[str, int] = {}
        self.stdout = _ThreadRoutedStdout(sys.stdout)
        # Counts invocations and their durations per order, when the runtime meters.
        self.meter: Meter | None = None
        self._original: Any = None
        # Lambda gives each execution environment one invocation at a time. Here every
        # function shares one interpreter, and with it Powertools' module-level state (the
        # metric set, the logger's keys, the resolver's request context): so one invocation
        # at a time in all. The GIL allowed no more parallelism than that anyway.
        self._environment = threading.RLock()

    def register(
        self, function_name: str, handler: Handler, timeout: int = DEFAULT_TIMEOUT
    ) -> None:
        self.handlers[function_name] = handler
        self.timeouts[function_name] = timeout

    def invoke(self, function_name: str, event: Any) -> Any:
        """Call a handler as Lambda would: a fresh context, output captured, errors raised."""
        meter = self.meter
        if meter is None:
            return self._invoke(function_name, event)
        subject = meter.subject_for(function_name, event)
        scheduled = isinstance(event, dict) and event.get("source") == "aws.scheduler"
        with meter.serving(subject):
            timing: list[float] = []
            try:
                return self._invoke(function_name, event, timing)
            finally:
                # Billed from the handler's start to its end (a fault before it: 1 ms).
                meter.invoked(subject, function_name, timing[-1] if timing else 0.0,
                              traced=scheduled)  # fmt: skip

    def _invoke(self, function_name: str, event: Any, timing: list[float] | None = None) -> Any:
        handler = self.handlers[function_name]
        check_request_size(event)  # refused by Lambda before any function runs
        self.invocations[function_name] = self.invocations.get(function_name, 0) + 1
        for fault in self.faults:
            fault(function_name, event)
        if sys.stdout is not self.stdout:  # a test runner swapped it between phases
            self.stdout.terminal, sys.stdout = sys.stdout, self.stdout
        previous = getattr(self.stdout.local, "function", None)
        self.stdout.local.function = function_name
        injector = self.injector
        outer = injector.enter(function_name, event) if injector else None
        try:
            with self._environment:
                timeout = self.timeouts.get(function_name, DEFAULT_TIMEOUT)
                context = LambdaContext(function_name=function_name, timeout_ms=timeout * 1000)
                started = time.perf_counter()
                try:
                    result = handler(event, context)
                except SimulatedCrash as crash:
                    # Lambda discards a dead environment: drop what it had buffered.
                    from shipshape.observability import metrics

                    metrics.clear_metrics()
                    raise FunctionTimedOut(str(crash)) from None
                finally:
                    if timing is not None:
                        timing.append(time.perf_counter() - started)
                if context.get_remaining_time_in_millis() <= 0:
                    # Lambda would have stopped it at its timeout and its answer would never
                    # have come. A thread cannot be stopped here, so it ran to its end (what it
                    # wrote after the timeout would not have been written on AWS); its answer
                    # is refused all the same: never kinder than Lambda.
                    raise FunctionTimedOut(
                        f"{function_name} ran past its {timeout} s timeout (template.yaml)"
                    )
                check_response_size(result)
                return result
        finally:
            if injector:
                injector.leave(outer)
            self.stdout.local.function = previous

    @contextmanager
    def idle(self) -> Iterator[None]:
        """No invocation runs inside (the one running, if any, ends first)."""
        with self._environment:
            yield

    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        check_seam()
        registry = self

        def _invoke_in_process(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
            try:
                result = registry.invoke(fn.function_name, payload)
            except Exception as exc:  # noqa: BLE001 - this *is* Lambda's error boundary
                kind = (
                    exc.error_type
                    if isinstance(exc, FunctionTimedOut | PayloadTooLarge)
                    else type(exc).__name__
                )
                error = {"errorType": kind, "errorMessage": str(exc)}
                return json.dumps(error), True, ""
            injector = registry.injector
            if injector is not None and injector.lambda_times_out(fn.function_name, payload):
                # It ran (its writes landed), but its answer never reached the state machine.
                error = {
                    "errorType": FunctionTimedOut.error_type,
                    "errorMessage": "Task timed out (injected fault)",
                }
                return json.dumps(error), True, ""
            return json.dumps(result), False, ""

        self._original = LambdaFunction._invoke_lambda
        LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[assignment,method-assign]
        sys.stdout = self.stdout

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None
        if sys.stdout is self.stdout:
            sys.stdout = self.stdout.terminal

    def captured(self, function_name: str | None = None) -> list[str]:
        with self.stdout.lock:
            return [line for fn, line in self.stdout.lines if function_name in (None, fn)]
