"""AWS behaviour enforced: a task-token wait times out on the runtime's clock, not on the wall.

On AWS a ``.waitForTaskToken`` task whose token is not sent back within its ``TimeoutSeconds``
(or ``TimeoutSecondsPath``) fails with ``States.Timeout`` (a TaskTimedOut event), and a
SendTaskSuccess, SendTaskFailure or SendTaskHeartbeat for its token is refused with
``TaskTimedOut`` from then on. moto's interpreter waits for the token in real seconds, so
under the embedded runtime's manual clock a wait of days never ends: the emulator would be
kinder than AWS. This patch puts every task-token wait of every execution (stock, pick,
pack, an exception's resolution: whatever state declares one) on the runtime's clock:

- the moment a task's token is made (the task is scheduled) is read from the clock;
- when the wait starts, the task's deadline is that moment plus the timeout the state
  resolved (moto has already read ``TimeoutSeconds`` or ``TimeoutSecondsPath``);
- ``TaskDeadlines.enforce()`` times out every wait whose deadline the clock has reached,
  exactly as AWS does: the waiting task ends with ``CallbackOutcomeTimedOut`` (moto records
  TaskTimedOut with ``States.Timeout``, which the state's Retry and Catch see), and its token
  is marked timed out, so a late Send* call gets ``TaskTimedOut`` (moto 5.2.5's own path
  for that answer fails building the error).

The runtime calls ``enforce()`` whenever its clock is set or advanced. While the clock runs in
real time between those moments, moto's own real-time timeout ends a wait at the same instant
(the clock and the wall move together then), so every deadline is kept either way.

Written for moto 5.2.5: ``CallbackPoolManager.add`` makes a task's token (in
``StateTaskServiceCallback._eval_body``, before the task's Lambda runs) and
``StateTaskServiceCallback._eval_wait_for_task_token`` is where every token wait blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shipshape_local.patches.guard import Patcher

WRITTEN_FOR = "==5.2.5"
# What AWS answers a Send* call for a token whose task timed out.
TIMED_OUT = "Task Timed Out: 'Provided task does not exist anymore'"


@dataclass
class _Waiting:
    endpoint: Any  # moto's CallbackEndpoint
    deadline: datetime


class TaskDeadlines:
    """The task-token waits of the running executions, each with its deadline on the runtime's
    clock (the moment its token was made plus its timeout), and the one place that times them
    out when the clock passes it.

    A Send* call for a token and its timeout never interleave (the patch makes those calls
    under ``lock``): a token is either sent back in time or timed out, never both."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.lock = threading.RLock()
        self._scheduled: dict[str, datetime] = {}
        self._waiting: dict[str, _Waiting] = {}
        self.timed_out: list[str] = []  # the tokens timed out so far, oldest first
        self._refused: set[str] = set()  # the same, to refuse their Send* calls

    def scheduled(self, token: str) -> None:
        """A task's token was made: its timeout counts from now."""
        with self.lock:
            self._scheduled[token] = self._now()

    def waiting(self, token: str, endpoint: Any, timeout_seconds: int) -> None:
        """The task now waits for its token, for ``timeout_seconds`` from when it was made."""
        with self.lock:
            since = self._scheduled.pop(token, None) or self._now()
            deadline = since + timedelta(seconds=timeout_seconds)
            self._waiting[token] = _Waiting(endpoint, deadline)
        self.enforce()  # a clock moved on while the task's Lambda ran

    def done(self, token: str) -> None:
        with self.lock:
            self._waiting.pop(token, None)
            self._scheduled.pop(token, None)

    def deadlines(self) -> dict[str, datetime]:
        """The waiting tokens and their deadlines."""
        with self.lock:
            return {token: w.deadline for token, w in self._waiting.items()}

    def enforce(self) -> int:
        """Time out every waiting task whose deadline the clock has reached, as AWS does: the
        task fails with States.Timeout and its token is refused with TaskTimedOut from then on.
        A token already sent back (its outcome is in) is left to finish. How many timed out."""
        from moto.stepfunctions.parser.asl.eval.callback.callback import (
            CallbackConsumerTimeout,
            CallbackOutcomeTimedOut,
        )

        with self.lock:
            now = self._now()
            due = [
                (token, w.endpoint)
                for token, w in self._waiting.items()
                if w.deadline <= now and w.endpoint.get_outcome() is None
            ]
            for token, endpoint in due:
                del self._waiting[token]
                endpoint.report(CallbackConsumerTimeout())
                endpoint.notify(CallbackOutcomeTimedOut(callback_id=token))
                self.timed_out.append(token)
                self._refused.add(token)
            return len(due)

    def has_timed_out(self, token: str) -> bool:
        with self.lock:
            return token in self._refused


def install(patcher: Patcher, *, deadlines: TaskDeadlines) -> None:
    from moto.stepfunctions.parser.api import TaskTimedOut
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback_task,
    )
    from moto.stepfunctions.parser.asl.eval.callback import callback
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    make_token = callback.CallbackPoolManager.add
    wait_for_token = callback_task.StateTaskServiceCallback._eval_wait_for_task_token

    def add(self: Any, callback_id: str) -> Any:
        endpoint = make_token(self, callback_id)
        deadlines.scheduled(callback_id)
        return endpoint

    def eval_wait_for_task_token(
        self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        token = callback_endpoint.callback_id
        deadlines.waiting(token, callback_endpoint, timeout_seconds)
        try:
            return wait_for_token(
                self, env=env, timeout_seconds=timeout_seconds,
                callback_endpoint=callback_endpoint, heartbeat_endpoint=heartbeat_endpoint,
            )  # fmt: skip
        finally:
            deadlines.done(token)

    for name in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        send = getattr(StepFunctionsParserBackend, name)

        def serialized(
            backend: Any, task_token: str, *args: Any, __send: Any = send, **kwargs: Any
        ) -> Any:
            with deadlines.lock:
                if deadlines.has_timed_out(task_token):
                    # AWS's answer (moto's own TaskTimedOut path cannot build its error).
                    raise TaskTimedOut(TIMED_OUT, TaskTimedOut.code, TaskTimedOut.status_code)
                return __send(backend, task_token, *args, **kwargs)

        patcher.replace(StepFunctionsParserBackend, name, serialized)
    patcher.replace(callback.CallbackPoolManager, "add", add)
    patcher.replace(
        callback_task.StateTaskServiceCallback,
        "_eval_wait_for_task_token",
        eval_wait_for_task_token,
    )
