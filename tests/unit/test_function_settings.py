"""Each function checks the settings it needs when Lambda starts it: a stack deployed without one
fails the function's init, naming the variable, instead of answering requests with errors."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from types import ModuleType

import pytest

from shipshape.config import Settings
from shipshape.errors import ConfigurationError
from shipshape_local.template import FunctionSpec, Template

TEMPLATE = Template()
FUNCTIONS = TEMPLATE.functions
_loads = itertools.count()


def _environment(spec: FunctionSpec) -> dict[str, str]:
    """The function's environment as Lambda gives it: the template's globals and its own
    variables, each resolved to a value (a resource's name or ARN in a deployed stack)."""
    names = {**TEMPLATE.global_environment, **spec.environment}
    return {name: f"{name.lower()}-value" for name in names} | {
        "SHIPSHAPE_CLIENT_CONFIG_DIR": "config/clients",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _cold_start(
    spec: FunctionSpec, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> ModuleType:
    """Import the function's module afresh under exactly ``env`` (Lambda's init phase)."""
    for name in [n for n in os.environ if n.startswith("SHIPSHAPE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    loader = importlib.util.spec_from_file_location(
        f"shipshape_cold_{spec.logical_id}_{next(_loads)}", spec.module_file
    )
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def _required(spec: FunctionSpec) -> list[str]:
    """The settings the function's module requires at cold start, as its source names them."""
    source = spec.module_file.read_text(encoding="utf-8")
    found = re.search(r"\.requiring\(([^)]*)\)", source)
    return re.findall(r'"([a-z_]+)"', found.group(1)) if found else []


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_starts_with_the_environment_the_template_gives_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function's environment exactly as template.yaml declares it
    spec = FUNCTIONS[name]
    # When Lambda starts it
    module = _cold_start(spec, monkeypatch, _environment(spec))
    # Then its init succeeds, and every setting it requires is one the template sets for it
    assert callable(getattr(module, spec.attribute))
    declared = {**TEMPLATE.global_environment, **spec.environment}
    assert {f"SHIPSHAPE_{s.upper()}" for s in _required(spec)} <= set(declared)


REQUIRING = [(name, s) for name in sorted(FUNCTIONS) for s in _required(FUNCTIONS[name])]


def test_the_functions_that_start_executions_or_publish_say_so() -> None:
    # Given the functions that start workflow executions, keep idempotency records or publish
    # Then each requires what it cannot work without
    assert set(REQUIRING) >= {
        ("IngestFunction", "state_machine_arn"),
        ("OpsFunction", "state_machine_arn"),
        ("StarterFunction", "state_machine_arn"),
        ("ReconcilerFunction", "state_machine_arn"),
        ("WarehouseFunction", "idempotency_table"),
        ("PublisherFunction", "event_bus_name"),
    }


@pytest.mark.parametrize(("name", "setting"), REQUIRING, ids=[f"{n}-{s}" for n, s in REQUIRING])
def test_a_function_missing_a_setting_fails_its_init_naming_it(
    name: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's environment without one setting it requires
    spec = FUNCTIONS[name]
    variable = f"SHIPSHAPE_{setting.upper()}"
    env = {k: v for k, v in _environment(spec).items() if k != variable}
    # When Lambda starts it
    # Then the init fails, naming the variable
    with pytest.raises(ConfigurationError, match=f"^{variable} is not set: this function needs it"):
        _cold_start(spec, monkeypatch, env)


def test_an_empty_setting_is_as_missing_and_an_unknown_one_is_a_bug() -> None:
    # Given settings with an empty state machine ARN
    settings = Settings.from_environment({"SHIPSHAPE_ORDERS_TABLE": "orders",
                                          "SHIPSHAPE_STATE_MACHINE_ARN": ""})  # fmt: skip
    # When a function requires it, or a setting that does not exist
    # Then the first is refused by its variable's name, the second as a programming error
    with pytest.raises(ConfigurationError, match="SHIPSHAPE_STATE_MACHINE_ARN is not set"):
        settings.requiring("state_machine_arn")
    with pytest.raises(ValueError, match="no such setting: state_machine"):
        settings.requiring("state_machine")
    assert settings.requiring("orders_table") is settings
