"""Two Shipshape stacks (staging and production) in one account and region: every physical
name the template sets must differ between them, or the second stack fails to create.

The template is read after the SAM transform (what CloudFormation deploys: SAM writes the
schedules' and layers' names there) and every name is resolved as CloudFormation would for a
stack called ``shipshape-staging`` and one called ``shipshape-prod``, both with the template's
default parameters (the Stage left at its default is the common mistake). A resource
CloudFormation names itself is named ``<stack>-<logical id>-<random>``, so a name built from
one is unique per stack.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
from typing import Any

from shipshape_local.template import REPO_ROOT

# Names unique per account and region, by resource type and the property holding the name.
# (Names scoped to a parent, such as a user pool's groups or an API's stage, are left out.)
ACCOUNT_NAMES: dict[str, tuple[str, ...]] = {
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::Cognito::UserPool": ("UserPoolName",),
    "AWS::Cognito::UserPoolDomain": ("Domain",),
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::Events::EventBus": ("Name",),
    "AWS::Events::Rule": ("Name",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::KMS::Alias": ("AliasName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Lambda::LayerVersion": ("LayerName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Scheduler::Schedule": ("Name",),
    "AWS::Scheduler::ScheduleGroup": ("Name",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
}
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"


def _transformed() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "shipshape_static_checks", REPO_ROOT / "scripts" / "static_checks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sam_transformed()  # type: ignore[no-any-return]


def _resolve(value: Any, stack: str, template: dict[str, Any], given: dict[str, str]) -> Any:
    """A name as CloudFormation makes it for ``stack``: the ``given`` parameters, the others
    at their defaults, a resource's Ref as CloudFormation's generated name for it."""
    parameters = {
        name: str(spec.get("Default", f"<{name}>"))
        for name, spec in template.get("Parameters", {}).items()
    } | given
    stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, stack)  # CloudFormation's is random per stack
    pseudo = {"AWS::StackName": stack, "AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION,
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
              "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack}/"
                              f"{stack_uuid}"}  # fmt: skip

    def ref(name: str) -> str:
        if name in pseudo:
            return pseudo[name]
        if name in parameters:
            return parameters[name]
        assert name in template["Resources"], name
        return f"{stack}-{name}-GENERATED"

    def resolve(inner: Any) -> Any:
        return _resolve(inner, stack, template, given)

    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(item) for item in value]
    if "Fn::Join" in value:
        separator, items = value["Fn::Join"]
        return str(separator).join(resolve(item) for item in items)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return resolve(items)[int(index)]
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return resolve(text).split(separator)
    if "Ref" in value:
        return ref(value["Ref"])
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        assert isinstance(text, str), value
        return re.sub(r"\$\{([^}.]+)(?:\.[^}]+)?\}", lambda m: ref(m[1]), text)
    raise AssertionError(f"a name this test cannot resolve: {value!r}")


def _names(stack: str, template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    names = {}
    for logical_id, resource in template["Resources"].items():
        for prop in ACCOUNT_NAMES.get(resource["Type"], ()):
            if prop in resource.get("Properties", {}):
                name = _resolve(resource["Properties"][prop], stack, template, given)
                names[f"{resource['Type']} {logical_id}.{prop}"] = name
    return names


def test_staging_and_production_name_nothing_alike() -> None:
    # Given the deployed template, named for two stacks with the default parameters, each
    # with Shopify's EventBridge front door on (one partner event source per stack: a source
    # is associated with one bus, whose name it is)
    template = _transformed()
    source = "aws.partner/shopify.com/7134801/shipshape-"
    staging = _names("shipshape-staging", template, {"ShopifyEventSourceName": source + "staging"})
    production = _names("shipshape-prod", template, {"ShopifyEventSourceName": source + "prod"})

    # Then the template does name account-wide resources (the schedules, the bus, the
    # dashboard, the layers among them) ...
    types = {key.split(" ")[0] for key in staging}
    assert {"AWS::Scheduler::Schedule", "AWS::Events::EventBus", "AWS::CloudWatch::Dashboard",
            "AWS::Lambda::LayerVersion", "AWS::Logs::LogGroup"} <= types  # fmt: skip

    # ... and not one of those names is the same in both stacks, nor twice in one
    same = {key: name for key, name in staging.items() if name in production.values()}
    assert same == {}
    assert len(set(staging.values())) == len(staging)
