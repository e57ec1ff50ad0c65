"""The declared workflow: the ASL, the workflow function's dispatch and the exception resume
tables all come from ``shipshape.workflow``, and nothing else names a state."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shipshape import workflow
from shipshape.kinds import ExceptionType, QaGate
from shipshape.models import OrderStatus
from shipshape.services import fulfillment
from tests.unit.handlers.support import load_function

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "fulfillment.asl.json"


def _asl_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shipshape_asl", ROOT / "scripts" / "asl.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _task_steps(definition: dict[str, Any]) -> set[str]:
    """The ``step`` every Task state of a definition passes the workflow function."""
    return {
        state["Parameters"]["Payload"]["step"]
        for state in definition["States"].values()
        if state["Type"] == "Task"
    }


def test_the_committed_asl_is_what_the_declared_workflow_renders() -> None:
    # Given the committed state machine definition
    committed = ASL.read_text(encoding="utf-8")
    # When the declared workflow is rendered
    rendered = _asl_script().render()
    # Then they are the same, byte for byte
    assert committed == rendered


def test_the_workflow_function_runs_every_step_the_state_machine_names_and_no_other() -> None:
    # Given the committed definition and the workflow function
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    handler = load_function("workflow")
    # When the steps its Task states pass are compared with what the function dispatches
    # Then they are the same set
    assert _task_steps(definition) == set(handler.STEPS)


def test_every_state_the_registry_names_is_declared() -> None:
    # Given the registry
    states = {s.state for s in workflow.STEPS}
    branches = {s.then.name for s in workflow.STEPS if s.then}
    # When every state it points at is collected
    named = set()
    for s in workflow.STEPS:
        named |= {s.next, s.retry_at, s.waive_at} - {"", None}  # type: ignore[arg-type]
        if s.then:
            named |= {s.then.when_true, s.then.default}
    # Then each is a declared state or branch, and state names are unique
    assert named <= states | branches
    assert len(states) == len(workflow.STEPS)


def test_the_resume_tables_are_the_registrys() -> None:
    # Given the gates and the waits of the declared workflow
    # When where a retry or a waiver goes on is asked
    # Then a gate's retry starts its stage over, rolled back; a waiver goes on past the gate
    assert workflow.retry_point("PrePickQA") == ("ReserveInventory", OrderStatus.ADDRESS_VALIDATED)
    assert workflow.retry_point("PackQA") == ("AwaitPackData", OrderStatus.PICKED)
    assert workflow.retry_point("MarkShipped") == ("CreateLabel", None)
    assert workflow.retry_point("ValidateAddress") == ("ValidateAddress", None)
    assert workflow.waive_point("ShippingQA") == "MarkShipped"
    assert workflow.waive_point("ValidateAddress") is None
    assert workflow.gate_at("AwaitPackData") is QaGate.PACKING
    assert workflow.timeout_opens("AwaitStock") is ExceptionType.INVENTORY_SHORT
    assert workflow.timeout_opens("AwaitPickScans") is None
    # And every waivable state is a gate
    assert all(s.gate is not None for s in workflow.STEPS if s.waive_at)


def test_a_new_step_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a new step declared after CreateLabel, with its function
    weigh = workflow.Step(
        "WeighParcel", "weigh_parcel", "Weigh the labelled parcel again.",
        fulfillment.shipping_qa, next="ShippingQA",
    )  # fmt: skip
    steps = list(workflow.STEPS)
    at = next(i for i, s in enumerate(steps) if s.state == "CreateLabel")
    steps[at] = dataclasses.replace(steps[at], next="WeighParcel")
    steps.insert(at + 1, weigh)
    script = _asl_script()
    monkeypatch.setattr(script, "STEPS", tuple(steps))

    # When the definition is rendered
    definition = script.definition()

    # Then the step is a Task in the path, with the Retry and Catch every step has, its own
    # exception wait, and a place in the resume choice
    states = definition["States"]
    assert states["CreateLabel"]["Next"] == "WeighParcel"
    assert states["WeighParcel"]["Next"] == "ShippingQA"
    assert states["WeighParcel"]["Parameters"]["Payload"]["step"] == "weigh_parcel"
    assert states["WeighParcel"]["Retry"] == states["CreateLabel"]["Retry"]
    assert states["WeighParcel"]["Catch"][-1]["Next"] == "ExceptionAtWeighParcel"
    assert states["ExceptionAtWeighParcel"]["Next"] == "ResolvedAtWeighParcel"
    assert {"Variable": "$.resolution.resume_at", "StringEquals": "WeighParcel",
            "Next": "WeighParcel"} in states["Resume"]["Choices"]  # fmt: skip
