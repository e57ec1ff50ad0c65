"""Read template.yaml so the embedded runtime builds exactly what the stack deploys:
tables from their key schemas, functions and their HTTP routes, the state machine's ASL and
its substitutions."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# A function's Timeout when neither it nor the Globals set one (SAM's and Lambda's default).
DEFAULT_TIMEOUT = 3


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub...) into their
    long form ({"Ref": ...}, {"Fn::GetAtt": [...]}) instead of failing on them."""


def _cfn_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as in the template: /orders/{order_id}
    function: str  # logical id
    authorizer: str | None

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    tracing: str = "PassThrough"  # X-Ray: Active starts traces, PassThrough only continues
    timeout: int = DEFAULT_TIMEOUT  # seconds: the function's Timeout (or the Globals')

    @property
    def module_file(self) -> Path:
        return self.code_uri / f"{self.handler.rsplit('.', 1)[0]}.py"

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


class Template:
    """``Template()`` is the template as written: every resource, conditional or not (what
    the static checks read). ``Template(parameters={...})`` is the stack deployed with those
    parameter values (the others at their defaults): only the resources whose ``Condition``
    holds (what the embedded runtime builds).

    ``edits`` sets resource properties differently from the file, as deploying an edited copy
    of it would (``{"IngestFunction": {"Timeout": 3}}``): a test that needs a function with
    less time than the template gives it says so, and the runtime reads and enforces the
    edited value exactly as it would the written one. Only properties of resources that exist
    can be edited."""

    def __init__(
        self,
        path: Path = REPO_ROOT / "template.yaml",
        *,
        parameters: Mapping[str, str] | None = None,
        edits: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.path = path
        self.root = path.parent
        self.doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506
        for logical_id, properties in (edits or {}).items():
            if logical_id not in self.doc["Resources"]:
                raise KeyError(f"template.yaml has no resource {logical_id}")
            self.doc["Resources"][logical_id].setdefault("Properties", {}).update(
                copy.deepcopy(dict(properties))
            )
        self.parameters = dict(parameters) if parameters is not None else None
        unknown = set(self.parameters or {}) - set(self.doc.get("Parameters", {}))
        if unknown:
            raise KeyError(f"template.yaml has no parameter {', '.join(sorted(unknown))}")
        written: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.resources: dict[str, dict[str, Any]] = (
            written
            if self.parameters is None
            else {
                k: v
                for k, v in written.items()
                if "Condition" not in v or self.condition_holds(v["Condition"])
            }
        )

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def parameter_default(self, name: str) -> Any:
        return self.doc.get("Parameters", {}).get(name, {}).get("Default")

    def parameter(self, name: str) -> Any:
        """The parameter's value in this stack: as given, or its default."""
        if self.parameters is not None and name in self.parameters:
            return self.parameters[name]
        return self.parameter_default(name)

    def condition_holds(self, name: str) -> bool:
        """Evaluate one of the template's Conditions with this stack's parameter values."""
        return bool(self._evaluate(self.doc.get("Conditions", {})[name]))

    def _evaluate(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                if argument not in self.doc.get("Parameters", {}):
                    raise ValueError(f"a condition refers to {argument}, not a parameter")
                return str(self.parameter(argument))
            if function == "Condition":
                return self.condition_holds(argument)
            values = [self._evaluate(a) for a in argument]
            if function == "Fn::Equals":
                return values[0] == values[1]
            if function == "Fn::Not":
                return not values[0]
            if function == "Fn::And":
                return all(values)
            if function == "Fn::Or":
                return any(values)
            raise ValueError(f"a condition uses {function}, which this reader cannot evaluate")
        return node

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.of_type("AWS::DynamoDB::Table").items()}

    @property
    def global_environment(self) -> dict[str, Any]:
        return dict(
            self.doc.get("Globals", {})
            .get("Function", {})
            .get("Environment", {})
            .get("Variables", {})
        )

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        specs = {}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=self.root / props["CodeUri"],
                handler=props["Handler"],
                environment=dict(props.get("Environment", {}).get("Variables", {})),
                tracing=str(
                    props.get("Tracing")
                    or self.doc.get("Globals", {}).get("Function", {}).get("Tracing")
                    or "PassThrough"
                ),
                timeout=int(
                    props.get("Timeout")
                    or self.doc.get("Globals", {}).get("Function", {}).get("Timeout")
                    or DEFAULT_TIMEOUT
                ),
            )
        return specs

    @property
    def routes(self) -> list[Route]:
        routes = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            for event in res["Properties"].get("Events", {}).values():
                if event["Type"] != "HttpApi":
                    continue
                props = event["Properties"]
                routes.append(
                    Route(
                        method=props["Method"].upper(),
                        path=props["Path"],
                        function=logical_id,
                        # "NONE" opts a route out of the API's authorizer (static pages).
                        authorizer=(
                            None
                            if props.get("Auth", {}).get("Authorizer") in (None, "NONE")
                            else props["Auth"]["Authorizer"]
                        ),
                    )
                )
        return routes

    @property
    def state_machines(self) -> dict[str, dict[str, Any]]:
        return {
            k: v["Properties"] for k, v in self.of_type("AWS::Serverless::StateMachine").items()
        }
