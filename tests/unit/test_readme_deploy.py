"""The README's deploy checklist, command by command, against what each command reaches.

A newcomer types these commands into an empty AWS account, so each one is checked offline
against the thing it names: an `aws` command's operation and options against the AWS API's own
model (botocore's service models, with the AWS CLI's documented renames); every stack output,
parameter, group and alarm name against the template; `make` targets against the Makefile;
`shipshape` commands against its own argument parser; files and tests named against the
repository. The steps that run offline run in the tests the README names beside them
(onboarding, signing in, the layer, two stacks).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import botocore.session
import pytest

from shipshape_local.cli import build_parser
from shipshape_local.template import REPO_ROOT, Template

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[
    README.index("## Deploying to AWS") : README.index("### Shopify through Amazon EventBridge")
]
TEMPLATE = Template()
OUTPUTS = set(TEMPLATE.doc["Outputs"])
PARAMETERS = TEMPLATE.doc["Parameters"]
STACK = "shipshape-prod"  # the stack name the checklist uses throughout

# The AWS CLI's global options, and the options it renames from the API's member names
# (awscli/customizations/argrename.py: 'sns.subscribe.endpoint': 'notification-endpoint').
GLOBAL_OPTIONS = {"--query", "--output", "--region", "--profile", "--no-cli-pager"}
RENAMED = {("sns", "subscribe", "--notification-endpoint"): "Endpoint"}


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", SECTION, flags=re.S)


def _substitutions(line: str) -> tuple[str, list[str]]:
    """The line with each ``$(...)`` replaced by a word, and the commands inside them."""
    inner: list[str] = []
    out, i = [], 0
    while i < len(line):
        if line.startswith("$(", i):
            depth, j = 1, i + 2
            while depth:
                depth += {"(": 1, ")": -1}.get(line[j], 0)
                j += 1
            inner.append(line[i + 2 : j - 1])
            out.append("SUBSTITUTED")
            i = j
        else:
            out.append(line[i])
            i += 1
    return "".join(out), inner


def commands() -> list[list[str]]:
    """Every command in the section's shell blocks, as its words (loops and pipes split)."""
    found: list[list[str]] = []
    pending = [line for block in _blocks() for line in block.splitlines() if line.strip()]
    while pending:
        # A placeholder ("<ApiUrl output>") is one word, as the value typed in its place is.
        placeheld = re.sub(r"<[^<>]+>", lambda m: m[0].replace(" ", "_"), pending.pop(0))
        line, inner = _substitutions(placeheld)
        pending.extend(inner)
        for part in re.split(r";|&&|\|", line):
            words = shlex.split(part)
            if words[:1] == ["for"]:  # `for x in ...` names no command
                continue
            while words[:1] in (["do"], ["done"]):
                words = words[1:]
            if words:
                found.append(words)
    return found


def _of(program: str) -> list[list[str]]:
    return [words for words in commands() if Path(words[0]).name == program]


def _pascal(option: str) -> str:
    return "".join(part.capitalize() for part in option.removeprefix("--").split("-"))


def test_the_checklist_has_the_commands_a_newcomer_needs() -> None:
    # Given the section's commands, then it builds, deploys, creates a lead, signs in,
    # onboards a client, subscribes owners and fires the alarms, in that order
    names = [" ".join(w[:3]) for w in commands()]
    wanted = [
        "make build", ".venv-sam/bin/sam deploy --guided",
        "aws cognito-idp admin-create-user", "aws cognito-idp admin-add-user-to-group",
        ".venv/bin/shipshape login --region", ".venv/bin/shipshape onboard --client",
        "aws sns subscribe", "aws cloudwatch set-alarm-state",
    ]  # fmt: skip
    positions = [next(i for i, n in enumerate(names) if n.startswith(w)) for w in wanted]
    assert positions == sorted(positions), names


@pytest.mark.parametrize("words", _of("aws"), ids=lambda w: " ".join(w[:3]))
def test_each_aws_command_is_an_operation_with_options_its_api_has(words: list[str]) -> None:
    # Given an `aws <service> <operation> --option value ...` command of the checklist
    service, operation = words[1], words[2]
    model = botocore.session.get_session().get_service_model(service)
    name = _pascal(operation)

    # Then the API has the operation, and each option is one of its input members
    assert name in model.operation_names, f"{service} has no {name}"
    members = set(model.operation_model(name).input_shape.members)
    options = [w.split("=", 1)[0] for w in words[3:] if w.startswith("--")]
    for option in options:
        if option in GLOBAL_OPTIONS:
            continue
        member = RENAMED.get((service, operation, option), _pascal(option))
        assert member in members, f"aws {service} {operation} has no {option}"
    required = set(model.operation_model(name).input_shape.required_members)
    given = {RENAMED.get((service, operation, o), _pascal(o)) for o in options}
    assert required <= given, f"aws {service} {operation} needs {required - given}"


def test_every_output_and_placeholder_the_checklist_reads_is_an_output_of_the_stack() -> None:
    # Given the outputs the section reads: by --query and as <X output> placeholders
    queried = set(re.findall(r"OutputKey=='(\w+)'", SECTION))
    placeholders = set(re.findall(r"<(\w+) output>", SECTION))
    named = set(re.findall(r"`(\w+)` output", SECTION)) | set(re.findall(r"the `(\w+)`", SECTION))

    # Then each is one the template declares
    assert queried and placeholders
    assert queried | placeholders <= OUTPUTS
    assert {n for n in named if n.endswith(("Arn", "Url", "Name", "Id"))} <= OUTPUTS


def test_the_guided_deploys_answers_cover_every_parameter_with_a_value_it_allows() -> None:
    # Given the answers table: "| Parameter X | `value` ..."
    answers = dict(re.findall(r"^\| Parameter (\w+) \| (?:`([^`]*)`|empty)", SECTION, re.M))

    # Then every template parameter is answered, and each answer is allowed and is the default
    # unless the checklist says it changes later (DashboardUrl, in step 5)
    assert set(answers) == set(PARAMETERS)
    for name, value in answers.items():
        spec = PARAMETERS[name]
        allowed = [str(v) for v in spec.get("AllowedValues", [])]
        assert not allowed or value in allowed, name
        assert value == str(spec.get("Default", "")), name
    # and the overrides of later deploys name parameters the template has
    for words in _of("sam"):
        for word in (
            words[words.index("--parameter-overrides") + 1 :]
            if ("--parameter-overrides" in words)
            else []
        ):
            assert word.split("=", 1)[0] in PARAMETERS, word


def test_groups_attributes_and_secrets_the_checklist_names_exist_as_the_stack_makes_them() -> None:
    # Given the user pool's groups and schema, and the secrets prefix the functions may read
    made = TEMPLATE.of_type("AWS::Cognito::UserPoolGroup").values()
    groups = {r["Properties"]["GroupName"] for r in made}
    (pool,) = TEMPLATE.of_type("AWS::Cognito::UserPool").values()
    custom = {f"custom:{a['Name']}" for a in pool["Properties"]["Schema"]}
    aws = _of("aws")

    # Then each --group-name is a group, each custom attribute is in the schema, each secret
    # read lies under the default SecretsPrefix, and the groups the prose names exist
    for words in aws:
        if "--group-name" in words:
            assert words[words.index("--group-name") + 1] in groups
        if "--secret-id" in words:
            assert words[words.index("--secret-id") + 1].startswith(
                PARAMETERS["SecretsPrefix"]["Default"]
            )
    assert set(re.findall(r"Name=(custom:\w+)", SECTION)) <= custom
    assert {"viewer", "operator", "lead"} == groups


def test_the_alarm_loop_finds_every_alarm_of_the_stack_by_its_name_prefix() -> None:
    # Given the loop's --alarm-name-prefix and the stack name used throughout
    (describe,) = [w for w in _of("aws") if w[1:3] == ["cloudwatch", "describe-alarms"]]
    prefix = describe[describe.index("--alarm-name-prefix") + 1]
    stacks = {w[w.index("--stack-name") + 1] for w in _of("aws") if "--stack-name" in w}
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm")

    # Then it is the stack's name and a dash, and every alarm is either left to CloudFormation
    # to name (it names a resource "<stack>-<logical id>-<suffix>") or named from the stack
    assert stacks == {STACK} and prefix == f"{STACK}-"
    assert alarms
    for logical, alarm in alarms.items():
        name = alarm["Properties"].get("AlarmName")
        assert name is None or str(name).startswith("${AWS::StackName}-"), logical


def test_each_make_target_and_shipshape_command_exists_as_written() -> None:
    # Given the Makefile's targets and shipshape's parser
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO_ROOT / "Makefile").read_text(), re.M))
    parser = build_parser()
    shipshape = _of("shipshape")

    # Then each make target is one, and each shipshape command parses (argparse exits on an
    # unknown command or option, or a missing required one)
    assert {w[1] for w in _of("make")} <= targets
    assert {w[1] for w in shipshape} == {"login", "token", "onboard"}
    for words in shipshape:
        parser.parse_args(words[1:])


def test_the_files_and_tests_the_checklist_points_to_exist() -> None:
    # Given every repository path the section names in backquotes
    paths = set(re.findall(r"`((?:tests|layers|docs|config)/[\w./-]+?)`", SECTION))
    paths |= set(re.findall(r"\]\(((?:docs)/[\w./-]+)\)", SECTION))

    # Then each exists (an example client file the operator writes is the exception)
    examples = {"config/clients/ridge-supply.toml"}
    assert len(paths) >= 8
    missing = [p for p in sorted(paths - examples) if not (REPO_ROOT / p).exists()]
    assert missing == []
    for words in _of("pytest"):
        assert all((REPO_ROOT / w).exists() for w in words[1:] if w.startswith("tests"))
