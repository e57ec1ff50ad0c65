"""Step Functions adapter for the workflow port."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.errors import TransientDependencyError
from shipshape.ports import ExecutionExists, TaskNotWaiting, WorkflowEngine

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
else:
    SFNClient = Any

_NOT_WAITING = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsWorkflow(WorkflowEngine):
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        try:
            started = self._client.start_execution(
                stateMachineArn=self._arn,
                name=execution_name,
                input=json.dumps(payload, sort_keys=True),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ExecutionExists(execution_name) from exc
            raise TransientDependencyError(
                f"StartExecution failed: {exc.response['Error']['Code']}"
            ) from exc
        return started["executionArn"]

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._callback(
            lambda: self._client.send_task_success(taskToken=task_token, output=json.dumps(output))
        )

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._callback(
            lambda: self._client.send_task_failure(taskToken=task_token, error=error, cause=cause)
        )

    @staticmethod
    def _callback(call: Any) -> None:
        try:
            call()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in _NOT_WAITING:
                raise TaskNotWaiting(code) from exc
            raise TransientDependencyError(f"task callback failed: {code}") from exc
