"""Least privilege in template.yaml, checked offline.

Every function's policy grants exactly the (action, resource) pairs listed in ``EXPECTED``
below, which follow the code: the handler, the services it calls and the adapters
``shipshape.bootstrap`` wires (``adapters/dynamodb/``, ``stepfunctions.py``, ``secrets.py``,
``sns.py``). Granting a function something new is a deliberate change to this file, reviewed
with the code that needs it. No statement written in the template uses a wildcard action or a
wildcard resource unless ``JUSTIFIED_WILDCARDS`` names it with its reason and the template
says why in a YAML comment right above it. The tables are encrypted and recoverable, and every
checkov suppression carries its reason.

The template is read with the loader the embedded runtime uses (CloudFormation short tags in
their long form); the roles SAM generates come from the same transform ``make static`` runs.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest

from shipshape_local.template import REPO_ROOT, Template

Grants = dict[str, set[str]]  # action -> resources (logical ids, or ARN patterns)

ORDERS = "OrdersTable"
MACHINE = "FulfillmentStateMachine"
TOPIC = "OwnerNotificationsTopic"
KEY = "OwnerNotificationsKey"
SECRETS = "secretsmanager:secret:${SecretsPrefix}*"


def _index(name: str) -> str:
    return f"{ORDERS}/index/{name}"


# DynamoDB's TransactWriteItems has no IAM action of its own: each Put, Update and Delete in a
# transaction needs PutItem, UpdateItem and DeleteItem. Side writes of an order change: a
# StockChange is an Update, a removed BackorderMark a Delete, a Document or a new mark a Put.
EXPECTED: dict[str, Grants] = {
    "IngestFunction": {
        # repo.get / get_exception, and the client's active rules (ClientDirectory)
        "dynamodb:GetItem": {ORDERS},
        # repo.create / apply / write_exception (transactions); an order read left to
        # reconciliation (ledger.defer_fetch)
        "dynamodb:PutItem": {ORDERS},
        # a cancellation releases reserved stock and removes backorder marks; a product
        # webhook writes the storefront's entry of a SKU (put_catalog, remember_product)
        "dynamodb:UpdateItem": {ORDERS},
        "dynamodb:DeleteItem": {ORDERS},
        # a product webhook reads the SKUs it changes (inventory.skus)
        "dynamodb:BatchGetItem": {ORDERS},
        "states:StartExecution": {MACHINE},
        # a cancellation fails the step the order waits in
        "states:SendTaskFailure": {MACHINE},
        # the clients' webhook secrets (Powertools get_secret)
        "secretsmanager:GetSecretValue": {SECRETS},
    },
    "WarehouseFunction": {
        # repo.get, active rules, and the SKU master (inventory.skus: BatchGetItem)
        "dynamodb:GetItem": {ORDERS, "IdempotencyTable"},
        "dynamodb:BatchGetItem": {ORDERS},
        # stock_of and backorders_of read a partition
        "dynamodb:Query": {ORDERS},
        # put_sku, a stock receipt's record; and Powertools idempotency records
        "dynamodb:PutItem": {ORDERS, "IdempotencyTable"},
        # receive_stock; and Powertools idempotency records
        "dynamodb:UpdateItem": {ORDERS, "IdempotencyTable"},
        # Powertools idempotency: a failed event's record is deleted so a resend runs again
        "dynamodb:DeleteItem": {"IdempotencyTable"},
        # pick scans, pack data and stock arrivals resume the waiting step; never a failure
        "states:SendTaskSuccess": {MACHINE},
        "secretsmanager:GetSecretValue": {SECRETS},
    },
    "OpsFunction": {
        # orders, exceptions, documents, active rules
        "dynamodb:GetItem": {ORDERS},
        # metrics read the orders behind a period's audit events (audit.orders)
        "dynamodb:BatchGetItem": {ORDERS},
        # audit trails, away lists, rule versions; the exception queue (gsi3) and the audit
        # trail by client and day (gsi6: metrics, checklist)
        "dynamodb:Query": {ORDERS, _index("gsi3"), _index("gsi6")},
        # claims, resolutions, overrides, away periods, rule changes, refused-access records
        "dynamodb:PutItem": {ORDERS},
        # a retry or cancellation releases stock and removes backorder marks
        "dynamodb:UpdateItem": {ORDERS},
        "dynamodb:DeleteItem": {ORDERS},
        # a resolution resumes the waiting step; a cancelling override fails it
        "states:SendTaskSuccess": {MACHINE},
        "states:SendTaskFailure": {MACHINE},
    },
    "WorkflowFunction": {
        "dynamodb:GetItem": {ORDERS},
        # the SKU master for reservations and packing (inventory.skus)
        "dynamodb:BatchGetItem": {ORDERS},
        # order changes, exceptions, pick lists and manifests; backorder marks
        "dynamodb:PutItem": {ORDERS},
        # stock reserved, released and consumed (conditional ADD)
        "dynamodb:UpdateItem": {ORDERS},
        # backorder marks removed once stock is in
        "dynamodb:DeleteItem": {ORDERS},
        # stock lots, away lists; a picker's open picks (gsi5)
        "dynamodb:Query": {ORDERS, _index("gsi5")},
        # a backorder wait that finds its stock already in wakes itself
        "states:SendTaskSuccess": {MACHINE},
        # an opened exception notifies its owner on the encrypted topic
        "sns:Publish": {TOPIC},
        "kms:GenerateDataKey": {KEY},
        "kms:Decrypt": {KEY},
    },
    "StarterFunction": {
        "dynamodb:GetItem": {ORDERS},
        # an execution that closed early holds the order (repo.apply)
        "dynamodb:PutItem": {ORDERS},
        # only the sparse pending-start index
        "dynamodb:Query": {_index("gsi1")},
        "states:StartExecution": {MACHINE},
    },
    "SweeperFunction": {
        "dynamodb:GetItem": {ORDERS},
        # escalations and reassignments (write_exception)
        "dynamodb:PutItem": {ORDERS},
        # away lists; overdue exceptions (gsi2) and an away owner's open ones (gsi4)
        "dynamodb:Query": {ORDERS, _index("gsi2"), _index("gsi4")},
        "sns:Publish": {TOPIC},
        "kms:GenerateDataKey": {KEY},
        "kms:Decrypt": {KEY},
    },
    "PublisherFunction": {
        # the stack's bus only; the stream is read by Lambda's poller (SAM's managed policy)
        "events:PutEvents": {"DomainEventBus"},
        # the mapping's on-failure destination is sent to with the function's role
        "sqs:SendMessage": {"PublisherFailuresQueue"},
    },
    "WriteBackFunction": {
        # repo.get, and the storefront's reference recorded with its audit event (repo.apply)
        "dynamodb:GetItem": {ORDERS},
        "dynamodb:PutItem": {ORDERS},
        # the stores' API credentials
        "secretsmanager:GetSecretValue": {SECRETS},
    },
    "ShopifyEventsFunction": {
        # the same reads and writes as webhook ingest (ingest_version), and active rules
        "dynamodb:GetItem": {ORDERS},
        "dynamodb:PutItem": {ORDERS},
        "dynamodb:UpdateItem": {ORDERS},
        "dynamodb:DeleteItem": {ORDERS},
        "states:StartExecution": {MACHINE},
        "states:SendTaskFailure": {MACHINE},
        # no secrets: the partner event source is the proof of the sender, not an HMAC
    },
    "ReconcilerFunction": {
        # checkpoints, and the same writes as webhook ingest (ingest_version)
        "dynamodb:GetItem": {ORDERS},
        # the order reads webhook ingest deferred to it (ledger.deferred_fetches)
        "dynamodb:Query": {ORDERS},
        "dynamodb:PutItem": {ORDERS},
        "dynamodb:UpdateItem": {ORDERS},
        "dynamodb:DeleteItem": {ORDERS},
        "states:StartExecution": {MACHINE},
        "states:SendTaskFailure": {MACHINE},
        "secretsmanager:GetSecretValue": {SECRETS},
    },
}

# (resource, Sid) -> why a wildcard action or resource is the right grant there. Each also has
# a YAML comment right above it in template.yaml.
JUSTIFIED_WILDCARDS: dict[tuple[str, str], str] = {
    (KEY, "AccountAdministersAndDelegatesThroughIam"): (
        "AWS's default key statement: the account administers the key and delegates its use to "
        "IAM policies; in a key policy, Resource * is the key itself"
    ),
    (KEY, "CloudWatchAlarmsPublish"): (
        "CloudWatch alarms publish to the encrypted topic (GenerateDataKey* as AWS documents it); "
        "Resource * is the key itself"
    ),
    (MACHINE, "LogDelivery"): (
        "CloudWatch Logs' log-delivery actions support no resource-level permissions"
    ),
    ("IngestFunction", "WebhookSecrets"): (
        "secrets under the Shipshape prefix; Secrets Manager appends a random suffix to each ARN"
    ),
    ("WarehouseFunction", "WarehouseTokens"): (
        "tokens under the Shipshape prefix; Secrets Manager appends a random suffix to each ARN"
    ),
    ("WriteBackFunction", "StorefrontCredentials"): (
        "credentials under the Shipshape prefix; Secrets Manager appends a random suffix"
    ),
    ("ReconcilerFunction", "StorefrontCredentials"): (
        "credentials under the Shipshape prefix; Secrets Manager appends a random suffix"
    ),
}

# What SAM attaches to every function role on its own (see the comment on Globals).
SAM_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
# What SAM adds for a function's event source, for Lambda's poller (the function's code never
# calls these APIs): stream reads for a DynamoDB source, receive/delete for an SQS source.
SAM_EVENT_SOURCE_POLICIES = {
    "PublisherFunction": {"arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole"},
    "WriteBackFunction": {"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"},
    "ShopifyEventsFunction": {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"
    },
}

_ARN = re.compile(
    r"^arn:\$\{AWS::Partition\}:(?P<service>[a-z0-9-]+):\$\{AWS::Region\}:"
    r"\$\{AWS::AccountId\}:(?P<rest>.+)$"
)


@cache
def _template() -> Template:
    return Template()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource(template: Template, value: Any) -> str:
    """A statement's resource as a logical id (``OrdersTable``, ``OrdersTable/index/gsi2``) or,
    for ARNs built with !Sub, ``service:rest`` (``secretsmanager:secret:${SecretsPrefix}*``)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(value["Ref"])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", f"GetAtt {logical_id}.{attribute} is not an ARN"
        return str(logical_id)
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", value["Fn::Sub"])
        arn = _ARN.match(text)
        if arn is None:
            return text
        # A state machine named in its ARN (a reference would be circular) is that machine.
        for logical_id, props in template.state_machines.items():
            name = props.get("Name", {})
            if arn["service"] == "states" and arn["rest"] == f"stateMachine:{name.get('Fn::Sub')}":
                return logical_id
        return f"{arn['service']}:{arn['rest']}"
    raise AssertionError(f"a resource the policy test cannot read: {value!r}")


def _statements(template: Template, logical_id: str) -> Iterator[dict[str, Any]]:
    """The statements a resource writes: its Policies (SAM policy templates expanded), or
    its key policy."""
    props = template.resources[logical_id]["Properties"]
    if "KeyPolicy" in props:
        yield from props["KeyPolicy"]["Statement"]
        return
    for policy in props.get("Policies", []):
        assert isinstance(policy, dict), f"{logical_id}: managed policy {policy!r}; write it out"
        if "Statement" in policy:
            yield from policy["Statement"]
        elif "SNSPublishMessagePolicy" in policy:
            topic = policy["SNSPublishMessagePolicy"]["TopicName"]
            assert topic.get("Fn::GetAtt", [None, None])[1] == "TopicName", topic
            yield {
                "Sid": "SNSPublishMessagePolicy",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": {"Ref": topic["Fn::GetAtt"][0]},
            }
        else:
            raise AssertionError(
                f"{logical_id}: SAM policy template {sorted(policy)} is unknown to this test; "
                "expand it in _statements so its grants are checked"
            )


def granted(template: Template, function: str) -> Grants:
    grants: Grants = {}
    for statement in _statements(template, function):
        assert statement["Effect"] == "Allow", f"{function}: {statement}"
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                grants.setdefault(action, set()).add(_resource(template, resource))
    return grants


def _has_comment_above(text: str, logical_id: str, sid: str) -> bool:
    """Whether the statement ``sid`` of ``logical_id`` has a YAML comment right above it (above
    its ``- Statement:`` line when it opens the policy)."""
    lines = text.splitlines()
    start = lines.index(f"  {logical_id}:")
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^  [A-Za-z0-9]+:", lines[i])),
        len(lines),
    )
    for i in range(start, end):
        if lines[i].strip() == f"- Sid: {sid}":
            above = i - 1
            while lines[above].strip() == "- Statement:":
                above -= 1
            return lines[above].strip().startswith("#")
    return False


def wildcard_violations(template: Template) -> list[str]:
    """Statements written in the template with a wildcard action or resource that are not in
    ``JUSTIFIED_WILDCARDS`` or have no comment above them; and statements without a Sid."""
    text = template.path.read_text()
    owners = [
        *template.of_type("AWS::Serverless::Function"),
        *template.of_type("AWS::Serverless::StateMachine"),
        *template.of_type("AWS::KMS::Key"),
    ]
    problems = []
    for logical_id in owners:
        for statement in _statements(template, logical_id):
            sid = statement.get("Sid")
            if not sid:
                problems.append(f"{logical_id}: a statement without a Sid: {statement}")
                continue
            actions = [str(a) for a in _as_list(statement["Action"])]
            resources = [_resource(template, r) for r in _as_list(statement["Resource"])]
            if not any("*" in item for item in actions + resources):
                continue
            if (logical_id, sid) not in JUSTIFIED_WILDCARDS:
                problems.append(f"{logical_id}.{sid}: wildcard in {actions} on {resources}")
            elif not _has_comment_above(text, logical_id, sid):
                problems.append(f"{logical_id}.{sid}: no comment above it says why")
    return problems


def encryption_and_recovery_problems(template: Template) -> list[str]:
    problems = []
    for name, props in template.tables.items():
        if props.get("SSESpecification", {}).get("SSEEnabled") is not True:
            problems.append(f"{name}: SSESpecification.SSEEnabled is not true")
        pitr = props.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{name}: PointInTimeRecoveryEnabled is not true")
    return problems


def unexplained_suppressions(template: Template) -> list[str]:
    problems = []
    for name, resource in template.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            reason = str(skip.get("comment", "")).strip()
            if not re.fullmatch(r"CKV2?_AWS_\d+", str(skip.get("id", ""))) or len(reason) < 80:
                problems.append(f"{name}: checkov skip {skip} needs an id and a concrete reason")
    return problems


def _load_static_checks() -> Any:
    spec = importlib.util.spec_from_file_location(
        "shipshape_static_checks", REPO_ROOT / "scripts" / "static_checks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------


def test_every_function_is_in_the_expected_map() -> None:
    # Given the functions the template deploys
    functions = set(_template().of_type("AWS::Serverless::Function"))

    # Then each has its reviewed list of grants, and the list names no function that is gone
    assert functions == set(EXPECTED)


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_function_is_granted_nothing_beyond_what_its_code_uses(function: str) -> None:
    # Given the function's policies as written in the template
    grants = granted(_template(), function)

    # When they are compared with what its code calls
    extra = {
        action: sorted(resources - EXPECTED[function].get(action, set()))
        for action, resources in grants.items()
        if resources - EXPECTED[function].get(action, set())
    }

    # Then nothing is granted beyond it
    assert extra == {}, f"{function} is granted more than its code uses"


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_function_is_granted_everything_its_code_uses(function: str) -> None:
    # Given the function's policies as written in the template
    grants = granted(_template(), function)

    # When what its code calls is looked up in them
    missing = {
        action: sorted(resources - grants.get(action, set()))
        for action, resources in EXPECTED[function].items()
        if resources - grants.get(action, set())
    }

    # Then nothing it needs is missing (a deployed call would be denied)
    assert missing == {}, f"{function} lacks permissions its code uses"


def test_no_wildcard_without_a_reason_in_place() -> None:
    # Given every statement written in the template (functions, state machine, key policy)
    # Then each wildcard action or resource is a justified one, with its comment above it
    assert wildcard_violations(_template()) == []


def test_justified_wildcards_are_all_still_there() -> None:
    # Given the allow-list of wildcards
    template = _template()
    present = {
        (owner, statement.get("Sid"))
        for owner in template.resources
        if template.resources[owner]["Type"]
        in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::KMS::Key")
        for statement in _statements(template, owner)
    }

    # Then it names only statements that exist, so it cannot silently widen later
    assert set(JUSTIFIED_WILDCARDS) <= present


def test_tables_are_encrypted_and_point_in_time_recoverable() -> None:
    # Given the tables the template deploys
    template = _template()
    assert {"OrdersTable", "IdempotencyTable"} <= set(template.tables)

    # Then every one has server-side encryption and point-in-time recovery on
    assert encryption_and_recovery_problems(template) == []


def test_every_checkov_suppression_gives_its_reason() -> None:
    # Given the checkov skips in the resources' Metadata
    # Then each names a check and says, specifically, why it does not apply
    assert unexplained_suppressions(_template()) == []


def test_generated_roles_hold_only_these_policies_and_sams_two() -> None:
    # Given the template after the SAM transform (what CloudFormation deploys)
    transformed = _load_static_checks().sam_transformed()["Resources"]

    # When each function's generated role is read
    for function in EXPECTED:
        role = transformed[f"{function}Role"]["Properties"]
        managed = set(role.get("ManagedPolicyArns", []))
        inline = [
            statement
            for policy in role.get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
        ]

        # Then the only managed policies are the two SAM always attaches (and the poller's)
        expected = SAM_MANAGED_POLICIES | SAM_EVENT_SOURCE_POLICIES.get(function, set())
        assert managed == expected, function
        # And no inline statement grants "*" (SAM expanded nothing into a wildcard)
        for statement in inline:
            actions = _as_list(statement["Action"])
            resources = _as_list(statement["Resource"])
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
            assert "*" not in resources or (function, statement.get("Sid")) in (
                JUSTIFIED_WILDCARDS
            ), statement


def test_alarms_reach_the_encrypted_owners_topic_as_aws_documents_it() -> None:
    # Given the owners' key and topic policies (every alarm publishes to that topic)
    template = _template()
    key = {s["Sid"]: s for s in _statements(template, KEY)}["CloudWatchAlarmsPublish"]
    policies = template.of_type("AWS::SNS::TopicPolicy")
    topic_statements = [
        statement
        for policy in policies.values()
        if policy["Properties"]["Topics"] == [{"Ref": TOPIC}]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]

    # Then the key grants CloudWatch the documented two actions with no condition (CloudWatch's
    # KMS calls carry no aws:SourceAccount: a condition would drop every notification) ...
    assert key["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert "Condition" not in key
    # ... and the topic lets CloudWatch publish for this account's alarms only
    assert topic_statements == [
        {
            "Sid": "CloudWatchAlarmsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": TOPIC},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    assert alarms and all(
        a["Properties"]["AlarmActions"] == [{"Ref": TOPIC}] for a in alarms.values()
    )
