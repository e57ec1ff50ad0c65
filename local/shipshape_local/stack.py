"""The stack ``template.yaml`` declares, built in the emulator: the DynamoDB tables from their
key schemas, the SNS topics, the secrets of the demo clients, the functions (registered to run
in-process through ``lambdas``), the Standard state machine from its ASL file with
``DefinitionSubstitutions`` resolved, the SQS queues, the event buses and rules, and the
functions' stream and queue event sources (delivered by ``delivery``). Also what a watcher
reads of those resources straight from the emulator, without adding API calls.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Mapping
from typing import Any

from shipshape_local import metering
from shipshape_local.delivery import Delivery, QueueMapping, StreamMapping
from shipshape_local.environments import FunctionEnvironments
from shipshape_local.lambdas import InProcessLambdas, on_first_call
from shipshape_local.metering import ExecutionCount
from shipshape_local.template import Template

REGION = "us-east-1"
ACCOUNT = "123456789012"
# The embedded stack's name (what ``sam deploy --stack-name`` names a deployed one).
STACK_NAME = "shipshape"
PSEUDO_PARAMETERS = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK_NAME,
}


class Stack:
    """The embedded stack's resources: ``names`` maps each logical id to its physical name or
    ARN, ``attributes`` each ``(logical id, attribute)`` to its value, and ``function_names``
    each function's logical id to its name. ``lock`` is the emulator's request lock, held while
    reading its state directly."""

    def __init__(
        self,
        template: Template,
        *,
        lambdas: InProcessLambdas,
        delivery: Delivery,
        secrets: Mapping[str, str],
        lock: threading.RLock,
    ) -> None:
        self.template = template
        self.names: dict[str, str] = {}  # logical id -> physical name or ARN
        self.attributes: dict[tuple[str, str], str] = {}  # (logical id, attribute) -> value
        self.function_names: dict[str, str] = {}  # logical id -> function name
        self._lambdas = lambdas
        self._delivery = delivery
        self._secrets = secrets
        self._lock = lock
        self._published_queue = ""
        # Each function's own environment and container while it runs (see environments).
        self.environments = FunctionEnvironments(self.function_environment, self.declared_variables)
        self._published: list[dict[str, Any]] = []

    def create(self) -> None:
        """Create every resource, each after those it refers to."""
        self._create_tables()
        self._create_topics()
        self._create_secrets()
        self._create_functions()
        self._create_state_machines()
        self._create_queues()
        self._create_event_buses()
        self._create_event_sources()

    def environment(self) -> dict[str, str]:
        """Every function's variables together (the template's globals and each function's
        own), with their references resolved to the embedded resources: what the process sees
        outside the functions' invocations."""
        env: dict[str, Any] = dict(self.template.global_environment)
        for spec in self.template.functions.values():
            env.update(spec.environment)
        return {k: str(self.resolve(v)) for k, v in env.items()}

    def function_environment(self, function_name: str) -> dict[str, str]:
        """One function's variables as Lambda gives them: the template's globals, then its
        own entry's, resolved."""
        logical_id = next(k for k, v in self.function_names.items() if v == function_name)
        env = {
            **self.template.global_environment,
            **self.template.functions[logical_id].environment,
        }
        return {k: str(self.resolve(v)) for k, v in env.items()}

    def declared_variables(self) -> set[str]:
        """Every variable the template gives any function."""
        names = set(self.template.global_environment)
        for spec in self.template.functions.values():
            names |= set(spec.environment)
        return names

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions the template uses in environments and
        substitutions to the embedded resources' names and ARNs."""
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref in self.names:
                return self.names[ref]
            if ref in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[ref]
            given = self.template.parameter(ref)
            if given is None:
                raise KeyError(f"cannot resolve Ref {ref}")
            return str(given)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if (logical_id, attribute) in self.attributes:
                return self.attributes[(logical_id, attribute)]
            if attribute == "Arn" and logical_id in self.names:
                return self.names[logical_id]
            raise KeyError(f"cannot resolve GetAtt {logical_id}.{attribute}")
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            return re.sub(
                r"\$\{([A-Za-z0-9:]+)\}",
                lambda m: PSEUDO_PARAMETERS.get(m[1]) or str(self.resolve({"Ref": m[1]})),
                value["Fn::Sub"],
            )
        return value

    def _resolve_all(self, value: Any) -> Any:
        """``resolve`` throughout a nested value (an event pattern's !Ref values)."""
        if isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
            return self.resolve(value)
        if isinstance(value, dict):
            return {k: self._resolve_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve_all(v) for v in value]
        return value

    def _resolve_sub(self, value: Any) -> Any:
        """``!Sub`` with ``${Parameter}`` and pseudo-parameter references only (what resource
        names here use)."""
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = str(value["Fn::Sub"])
            for name in self.template.doc.get("Parameters", {}):
                text = text.replace("${" + name + "}", str(self.template.parameter(name)))
            for name, given in PSEUDO_PARAMETERS.items():
                text = text.replace("${" + name + "}", given)
            return text
        return value

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
            arn = sns.create_topic(Name=f"shipshape-{logical_id}")["TopicArn"]
            self.names[logical_id] = arn
            self.attributes[(logical_id, "TopicArn")] = arn
            self.attributes[(logical_id, "TopicName")] = arn.rsplit(":", 1)[-1]

    def _create_secrets(self) -> None:
        import boto3

        client = boto3.client("secretsmanager", region_name=REGION)
        for name, value in self._secrets.items():
            client.create_secret(Name=name, SecretString=value)

    def _create_functions(self) -> None:
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
            self.function_names[logical_id] = name
            self._lambdas.register(
                name, self.environments.scoped(name, on_first_call(spec)), spec.timeout
            )

    def _create_state_machines(self) -> None:
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        for logical_id, props in self.template.state_machines.items():
            definition = (self.template.root / props["DefinitionUri"]).read_text()
            for key, value in props.get("DefinitionSubstitutions", {}).items():
                definition = definition.replace("${" + key + "}", self.resolve(value))
            if "${" in definition:
                raise ValueError(f"{props['DefinitionUri']} has unresolved substitutions")
            # The template's name for it where it gives one (a function's policy names it).
            name = self.resolve(props["Name"]) if "Name" in props else f"shipshape-{logical_id}"
            created = sfn.create_state_machine(
                name=name,
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
                            "deadLetterTargetArn": self.resolve(redrive["deadLetterTargetArn"]),
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
            props = resource["Properties"]
            name = str(self.resolve(self._resolve_sub(props["Name"])))
            source = props.get("EventSourceName")
            if source is None:
                arn = events.create_event_bus(Name=name)["EventBusArn"]
            else:
                # A partner event bus: the partner (Shopify) creates the event source for this
                # account first, and the bus is associated with it.
                source = str(self.resolve(source))
                events.create_partner_event_source(Name=source, Account=ACCOUNT)
                arn = events.create_event_bus(Name=name, EventSourceName=source)["EventBusArn"]
            self.names[logical_id] = name
            self.attributes[(logical_id, "Arn")] = arn
            self.attributes[(logical_id, "Name")] = name
        for logical_id, resource in self.template.of_type("AWS::Events::Rule").items():
            props = resource["Properties"]
            bus = self.resolve(props["EventBusName"])
            name = f"shipshape-{logical_id}"
            arn = events.put_rule(
                Name=name,
                EventBusName=bus,
                EventPattern=json.dumps(self._resolve_all(props["EventPattern"])),
            )["RuleArn"]
            self.names[logical_id] = name
            self.attributes[(logical_id, "Arn")] = arn
            events.put_targets(
                Rule=name,
                EventBusName=bus,
                Targets=[{"Id": t["Id"], "Arn": self.resolve(t["Arn"])} for t in props["Targets"]],
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

    def _create_event_sources(self) -> None:
        """The functions' stream and queue event sources, delivered by ``delivery``."""
        from moto.events.models import EventPattern

        for logical_id, resource in self.template.of_type("AWS::Serverless::Function").items():
            function = self.function_names[logical_id]
            for event in resource["Properties"].get("Events", {}).values():
                props = event.get("Properties", {})
                if event["Type"] == "DynamoDB":
                    filters = props.get("FilterCriteria", {}).get("Filters", [])
                    destination = props.get("DestinationConfig", {}).get("OnFailure", {})
                    target = destination.get("Destination")
                    self._delivery.streams.append(
                        StreamMapping(
                            function=function,
                            stream_arn=self.resolve(props["Stream"]),
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
                    self._delivery.queues.append(
                        QueueMapping(
                            function=function,
                            queue_url=self.names[queue],
                            queue_arn=self.resolve(props["Queue"]),
                            batch_size=int(props.get("BatchSize", 10)),
                        )
                    )

    # --- what the resources hold, read from the emulator ----------------------------------

    def notifications(self, logical_id: str = "OwnerNotificationsTopic") -> list[dict[str, Any]]:
        """What was published to a topic of the stack (read from the emulator), oldest first."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.names[logical_id]]
        return [
            {"subject": subject, "message": json.loads(message), "attributes": attributes}
            for _id, message, subject, attributes, _group in topic.sent_notifications
        ]

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

    def peek_item(self, table: str, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """An item as the table holds it now (DynamoDB JSON), read straight from the emulator:
        what a watcher (the pilot) uses to see an order move without adding API calls."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        with self._lock:
            found = (
                dynamodb_backends[ACCOUNT][REGION]
                .get_table(self.names[table])
                .get_item(DynamoType(key["pk"]), DynamoType(key["sk"]) if "sk" in key else None)
            )
            return found.to_json()["Attributes"] if found is not None else None

    def expire_in_progress(self, table: str, status: str, expiry: str, now_ms: int) -> int:
        """Every item of ``table`` whose ``status`` is Powertools idempotency's INPROGRESS
        gets its ``expiry`` (epoch milliseconds) moved to just before ``now_ms``, edited
        straight in the emulator (no API call, no stream record: the table's owner never
        sees it); how many. See ``EmbeddedRuntime.time_out_crashed_invocations``."""
        from moto.dynamodb.models import dynamodb_backends
        from moto.dynamodb.models.dynamo_type import DynamoType

        moved = 0
        with self._lock:
            backend = dynamodb_backends[ACCOUNT][REGION]
            for item in backend.get_table(self.names[table]).all_items():
                current = item.attrs.get(expiry)
                if item.attrs.get(status) != DynamoType({"S": "INPROGRESS"}) or current is None:
                    continue
                if int(current.value) >= now_ms:
                    item.attrs[expiry] = DynamoType({"N": str(now_ms - 1)})
                    moved += 1
        return moved

    def execution_exists(self, name: str) -> bool:
        """Whether the fulfilment state machine has an execution of this name (read from the
        emulator, no API call)."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        arn = self.names["FulfillmentStateMachine"]
        execution_arn = arn.replace(":stateMachine:", ":execution:") + f":{name}"
        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        with self._lock:
            try:
                backend.describe_execution(execution_arn)
            except Exception:  # noqa: BLE001 - moto raises its own "does not exist"
                return False
            return True

    def executions(self) -> list[dict[str, Any]]:
        """Every execution of the fulfilment state machine (ListExecutions, all pages)."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = self.names["FulfillmentStateMachine"]
        found: list[dict[str, Any]] = []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            found.extend(dict(e) for e in page["executions"])
        return found

    def execution_counts(self) -> list[ExecutionCount]:
        """Each execution of the fulfilment workflow: states entered, transitions as Standard
        workflows bill them, and the log events its log level sends (from its history, no API
        call)."""
        props = self.template.state_machines["FulfillmentStateMachine"]
        level = str(props.get("Logging", {}).get("Level", "OFF"))
        with self._lock:
            return metering.execution_counts(
                self.names["FulfillmentStateMachine"], level, ACCOUNT, REGION
            )
