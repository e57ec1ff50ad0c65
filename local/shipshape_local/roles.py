"""Each function's IAM role, enforced: a call its template entry's ``Policies`` do not grant is
refused as AWS refuses it (``AccessDeniedException``, naming the role, the action and the
resource).

moto can check identity policies, but only for the few services whose requests it maps to a
resource (SQS, IAM, STS): for DynamoDB, Step Functions, SNS, Secrets Manager and EventBridge
it evaluates every action against ``*``, which no statement scoped to an ARN matches. Here the
check is made where the call leaves the function (the embedded runtime knows which function is
running, see ``environments``): the operation is mapped to the IAM actions and resource ARNs
AWS authorizes it as (a transaction as each of its items' actions on its table, a query on an
index as the index's ARN, a batch read as ``BatchGetItem`` on each table), and evaluated with
moto's policy evaluator against the function's policies as SAM deploys them: its statements
with their references resolved to the embedded resources, SAM's policy templates expanded by
aws-sam-translator's own processor.

Calls made outside a function (the runtime seeding stock, a test reading the table) and those
the services make on a function's behalf (Lambda reading a queue, a stream, or the on-failure
destination; the state machine invoking the workflow function) are not checked here.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shipshape_local.environments import current_function
from shipshape_local.template import Template

# botocore's service names -> IAM's action prefixes.
PREFIXES = {"stepfunctions": "states"}


class FunctionRoles:
    """The functions' policies, resolved on first use (they name resources that exist only
    once the stack is created)."""

    def __init__(
        self,
        template: Template,
        *,
        resolve: Callable[[Any], Any],
        function_names: Mapping[str, str],
        account: str,
        region: str,
        secret_arn: Callable[[str], str],
        stack_name: str,
    ) -> None:
        self.template = template
        self._resolve = resolve
        self._function_names = function_names
        self._account = account
        self._region = region
        self._secret_arn = secret_arn
        self._stack_name = stack_name
        self._policies: dict[str, Any] = {}
        self._lock = threading.Lock()
        # (function, "action resource") refused, for the report of a run.
        self.refused: list[tuple[str, str, str]] = []

    # --- the policies ---------------------------------------------------------------------

    def statements(self, logical_id: str) -> list[dict[str, Any]]:
        """The function's policy statements as deployed (every reference resolved)."""
        from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

        processor = PolicyTemplatesProcessor(
            PolicyTemplatesProcessor.get_default_policy_templates_json()
        )
        found: list[dict[str, Any]] = []
        policies = self.template.resources[logical_id]["Properties"].get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            if isinstance(policy, str):
                raise ValueError(
                    f"{logical_id}: managed policy {policy} cannot be evaluated locally"
                )
            if "Statement" in policy:
                statements = policy["Statement"]
            else:
                ((name, parameters),) = policy.items()
                statements = processor.convert(name, parameters)["Statement"]
            for statement in statements:
                found.append(self._resolved(statement))
        return found

    def _policy(self, logical_id: str) -> Any:
        from moto.iam.access_control import IAMPolicy

        with self._lock:
            policy = self._policies.get(logical_id)
            if policy is None:
                document = {"Version": "2012-10-17", "Statement": self.statements(logical_id)}
                policy = self._policies[logical_id] = IAMPolicy(json.dumps(document))
            return policy

    def _resolved(self, value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value:
            return self._sub(value["Fn::Sub"])
        if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
            return self._reference(self._intrinsic(value))
        if isinstance(value, dict):
            return {k: self._resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolved(v) for v in value]
        return value

    def _reference(self, value: dict[str, Any]) -> str:
        """A reference resolved to the embedded resource; one the embedded stack does not
        create (the notifications' KMS key: no function's code calls KMS, SNS does) stands
        for an ARN that no call names."""
        try:
            return str(self._resolve(value))
        except KeyError:
            target = value.get("Ref") or value["Fn::GetAtt"][0]
            return f"arn:aws:embedded:{self._region}:{self._account}:not-created/{target}"

    def _intrinsic(self, value: dict[str, Any]) -> dict[str, Any]:
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, str):  # !GetAtt Name.Attr
            return {"Fn::GetAtt": getatt.split(".", 1)}
        return value

    def _sub(self, sub: Any) -> str:
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        pseudo = {
            "AWS::Region": self._region,
            "AWS::AccountId": self._account,
            "AWS::Partition": "aws",
            "AWS::StackName": self._stack_name,
        }

        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name in variables:
                return str(self._resolved(variables[name]))
            if name in pseudo:
                return pseudo[name]
            if "." in name:
                resource, attribute = name.split(".", 1)
                return self._reference({"Fn::GetAtt": [resource, attribute]})
            return self._reference({"Ref": name})

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", one, text)

    # --- the check ------------------------------------------------------------------------

    def authorize(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Refuse the running function's call if its role does not allow it."""
        function_name = current_function()
        if function_name is None:
            return
        logical_id = next((k for k, v in self._function_names.items() if v == function_name), None)
        if logical_id is None:
            return
        from moto.iam.access_control import PermissionResult

        policy = self._policy(logical_id)
        for action, resource in self.requested(service, operation, params):
            if policy.is_action_permitted(action, resource) != PermissionResult.PERMITTED:
                self.refused.append((logical_id, action, resource))
                raise _access_denied(
                    f"arn:aws:sts::{self._account}:assumed-role/"
                    f"{self._stack_name}-{logical_id}-role/{function_name}",
                    action,
                    resource,
                    operation,
                )

    def requested(
        self, service: str, operation: str, params: Mapping[str, Any]
    ) -> Iterator[tuple[str, str]]:
        """The (action, resource) pairs AWS authorizes this call as."""
        prefix = PREFIXES.get(service, service)
        if service == "dynamodb":
            yield from self._dynamodb(operation, params)
        elif service == "stepfunctions":
            yield f"states:{operation}", self._states_resource(operation, params)
        elif service == "sns":
            yield f"sns:{operation}", str(params.get("TopicArn") or params.get("TargetArn", "*"))
        elif service == "secretsmanager":
            secret = str(params.get("SecretId", "*"))
            arn = secret if secret.startswith("arn:") else self._secret_arn(secret)
            yield f"secretsmanager:{operation}", arn
        elif service == "events" and operation == "PutEvents":
            for bus in {str(e.get("EventBusName") or "default") for e in params["Entries"]}:
                yield (
                    "events:PutEvents",
                    (
                        bus
                        if bus.startswith("arn:")
                        else f"arn:aws:events:{self._region}:{self._account}:event-bus/{bus}"
                    ),
                )
        elif service == "sqs" and "QueueUrl" in params:
            name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
            yield f"sqs:{operation}", f"arn:aws:sqs:{self._region}:{self._account}:{name}"
        else:
            yield f"{prefix}:{operation}", "*"

    def _table(self, name: str, index: str | None = None) -> str:
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:dynamodb:{self._region}:{self._account}:table/{name}"
        )
        return f"{arn}/index/{index}" if index else arn

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        if operation == "TransactWriteItems":
            kinds = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                yield f"dynamodb:{kinds[kind]}", self._table(body["TableName"])
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                yield "dynamodb:GetItem", self._table(item["Get"]["TableName"])
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", self._table(table)
        elif "TableName" in params:
            yield (
                f"dynamodb:{operation}",
                self._table(params["TableName"], params.get("IndexName")),
            )
        else:
            yield f"dynamodb:{operation}", "*"

    def _states_resource(self, operation: str, params: Mapping[str, Any]) -> str:
        if "stateMachineArn" in params:
            return str(params["stateMachineArn"])
        if "executionArn" in params:
            return str(params["executionArn"])
        if operation.startswith("SendTask"):
            # A task token is authorized against the state machine whose execution issued it.
            machines = [str(self._resolve({"Ref": k})) for k in self.template.state_machines]
            return machines[0] if len(machines) == 1 else "*"
        return "*"


def _access_denied(principal: str, action: str, resource: str, operation: str) -> Exception:
    from botocore.exceptions import ClientError

    message = (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    response: Any = {
        "Error": {"Code": "AccessDeniedException", "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, operation)
