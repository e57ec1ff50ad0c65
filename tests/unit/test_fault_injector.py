"""The fault injector's decisions: at the set rates, from the seed and the call's identity
only (not thread timing), so a run under faults can be run again."""

from __future__ import annotations

from typing import Any

import pytest

from shipshape_local.faults import FaultInjector, FaultRates, SimulatedCrash, event_identity


def _decisions(injector: FaultInjector, invocations: int = 200) -> list[Any]:
    seen = []
    for n in range(invocations):
        outer = injector.enter("shipshape-IngestFunction", {"order": n, "requestContext": {}})
        try:
            for operation in ("GetItem", "TransactWriteItems", "GetItem"):
                seen.append(injector.before_request("dynamodb", operation, b"{}"))
        finally:
            injector.leave(outer)
    return seen


def test_the_same_seed_makes_the_same_decisions() -> None:
    # Given two injectors with the same profile and seed, and one with another seed
    rates = FaultRates(dynamodb_throttle=0.1, dynamodb_error=0.05)

    # When they see the same calls
    first = _decisions(FaultInjector(rates, seed=1))
    second = _decisions(FaultInjector(rates, seed=1))
    other = _decisions(FaultInjector(rates, seed=2))

    # Then the same seed decided the same, another seed differently
    assert first == second
    assert first != other


def test_faults_come_at_about_the_set_rate_with_the_answers_aws_gives() -> None:
    # Given a 10 % throttling and 5 % server-error profile
    injector = FaultInjector(FaultRates(dynamodb_throttle=0.1, dynamodb_error=0.05), seed=4)

    # When 600 DynamoDB requests are made inside invocations
    decisions = _decisions(injector)

    # Then about that many failed, each with DynamoDB's own status and error code
    throttled = decisions.count((400, "ProvisionedThroughputExceededException"))
    failed = decisions.count((500, "InternalServerError"))
    assert 35 <= throttled <= 90, throttled
    assert 10 <= failed <= 55, failed
    assert injector.injected == {"dynamodb_throttle": throttled, "dynamodb_error": failed}


def test_calls_outside_an_invocation_are_never_faulted() -> None:
    # Given every DynamoDB request fails
    injector = FaultInjector(FaultRates(dynamodb_throttle=1.0), seed=0)

    # When something that is not a function (the simulation, a test) reads the table
    answer = injector.before_request("dynamodb", "GetItem", b"{}")

    # Then it is answered normally
    assert answer is None


def test_an_outage_fails_every_attempt_of_the_call_in_that_invocation() -> None:
    # Given StartExecution is down for the invocations it hits
    injector = FaultInjector(FaultRates(start_execution_outage=1.0), seed=0)
    outer = injector.enter("shipshape-IngestFunction", {"n": 1})

    # When botocore tries the call four times
    attempts = [injector.before_request("sfn", "StartExecution", b"{}") for _ in range(4)]
    injector.leave(outer)

    # Then each attempt failed, and it counts as one outage
    assert attempts == [(500, "InternalFailure")] * 4
    assert injector.injected == {"start_execution_outage": 1}


def test_a_crash_comes_only_after_an_applied_write() -> None:
    # Given every write is followed by a crash
    injector = FaultInjector(FaultRates(crash_after_write=1.0), seed=0)
    outer = injector.enter("shipshape-WarehouseFunction", {"n": 1})

    # When a read, a refused write and an applied write come back
    injector.after_request("dynamodb", "GetItem", 200)
    injector.after_request("dynamodb", "PutItem", 400)

    # Then only the applied write kills the function
    with pytest.raises(SimulatedCrash, match="died after PutItem"):
        injector.after_request("dynamodb", "PutItem", 200)
    injector.leave(outer)


def test_identity_leaves_out_request_ids_and_task_tokens() -> None:
    # Given the same event as two requests would carry it
    one = {"step": "await_pick", "task_token": "a", "requestContext": {"requestId": "1"}}
    two = {"step": "await_pick", "task_token": "b", "requestContext": {"requestId": "2"}}

    # Then they are the same event, and another step is not
    assert event_identity(one) == event_identity(two)
    assert event_identity(one) != event_identity({**one, "step": "await_pack"})
