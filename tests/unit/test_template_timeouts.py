"""Time budgets in template.yaml, checked offline against the storefront transport's numbers
(``shipshape.storefronts.api``): a slow storefront makes a retry, never a function cut off
at its timeout, a timed-out batch or a 5xx to a webhook's sender.

- one storefront call, every attempt at its full timeouts plus the backoff between them and
  the invocation's margin, fits in each function that calls a storefront;
- a write-back batch whose every call times out still ends in time (a look and a write a
  record), each record reported failed;
- each SQS source queue hides a message for at least six times its function's timeout
  (docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html);
- the webhook function answers within API Gateway's 29 s integration limit, and the
  reconciler ends before its schedule starts the next pass;
- every handler that reaches a storefront makes its calls inside ``within(context)``.

The template is read with the loader the embedded runtime uses; the function timeouts are
what the embedded runtime counts each invocation's remaining time down from.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from shipshape.storefronts import api
from shipshape_local.template import Template

WRITTEN = Template()
FUNCTIONS = WRITTEN.functions
# API Gateway's longest wait for an integration's answer (REST APIs 29 s; HTTP APIs 30 s):
# the stricter one, so the webhook answer never arrives after the caller stopped waiting.
INTEGRATION_LIMIT_SECONDS = 29
# A write-back of one record: the look, then the write (storefront_http._look_then_write).
WRITE_BACK_CALLS_PER_RECORD = 2
SCHEDULE_RATE = re.compile(r"rate\((\d+) minutes?\)")


def _worst_call_seconds() -> float:
    """One call as the transport makes it when every attempt runs to its timeouts: the
    attempts, and urllib3's backoff before each retry (none before the first)."""
    attempts = api.RETRIES + 1
    per_attempt = api.CONNECT_TIMEOUT_SECONDS + api.READ_TIMEOUT_SECONDS
    backoff = sum(
        0 if retry <= 1 else api.BACKOFF_FACTOR * 2 ** (retry - 1) for retry in range(1, attempts)
    )
    return attempts * per_attempt + backoff


def _storefront_callers() -> set[str]:
    """The functions whose handler hands the storefront client to a service."""
    return {
        logical_id
        for logical_id, spec in FUNCTIONS.items()
        if "storefronts=deps.storefronts" in spec.module_file.read_text()
    }


def _sqs_sources() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, queue, event properties) for every SQS event source."""
    found = []
    for logical_id, resource in WRITTEN.of_type("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                found.append((logical_id, event["Properties"]["Queue"]["Fn::GetAtt"][0],
                              event["Properties"]))  # fmt: skip
    return found


def test_the_functions_that_call_storefronts_are_the_ones_budgeted() -> None:
    # Given the handlers
    callers = _storefront_callers()
    # Then webhook ingest, write-back and reconciliation reach storefronts, and the Shopify
    # EventBridge function hands the client on (its events carry the whole order)
    assert callers == {
        "IngestFunction", "WriteBackFunction", "ReconcilerFunction", "ShopifyEventsFunction",
    }  # fmt: skip
    # And each that can make a call makes it inside the invocation's remaining time
    for logical_id in callers - {"ShopifyEventsFunction"}:
        source = FUNCTIONS[logical_id].module_file.read_text()
        assert "with within(context):" in source, logical_id


@pytest.mark.parametrize(
    "logical_id", ["IngestFunction", "WriteBackFunction", "ReconcilerFunction"]
)
def test_one_storefront_call_at_its_worst_fits_in_each_caller(logical_id: str) -> None:
    # Given the transport's timeouts, retries and backoff, and the function's Timeout
    timeout = FUNCTIONS[logical_id].timeout
    # Then a call whose every attempt times out still leaves the invocation its margin
    assert _worst_call_seconds() + api.MARGIN_SECONDS <= timeout, (
        f"{logical_id}: {_worst_call_seconds()} s + {api.MARGIN_SECONDS} s > {timeout} s"
    )
    # And a call is started only with time for at least a short answer
    assert timeout > api.MIN_CALL_SECONDS + api.MARGIN_SECONDS


def test_the_webhook_answer_comes_within_api_gateways_limit() -> None:
    # Given the function behind the webhook route
    ingest = FUNCTIONS["IngestFunction"]
    routes = {route.function for route in WRITTEN.routes if route.path.startswith("/webhooks/")}
    # Then it is the ingest function, and its Timeout is within the integration limit
    assert routes == {"IngestFunction"}
    assert ingest.timeout <= INTEGRATION_LIMIT_SECONDS


def test_a_write_back_batch_whose_every_call_times_out_still_ends_in_time() -> None:
    # Given the write-back's queue source and its Timeout
    ((function, _queue, source),) = [s for s in _sqs_sources() if s[0] == "WriteBackFunction"]
    timeout = FUNCTIONS[function].timeout
    # Then every record of a full batch can make its look and its write at their worst,
    # each reported failed (partial batch responses), within the Timeout
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    worst = int(source["BatchSize"]) * WRITE_BACK_CALLS_PER_RECORD * _worst_call_seconds()
    assert worst + api.MARGIN_SECONDS <= timeout, f"{worst} s + margin > {timeout} s"


def test_each_sqs_source_queue_hides_a_message_for_six_function_timeouts() -> None:
    # Given every function fed by an SQS queue
    sources = _sqs_sources()
    assert {function for function, _, _ in sources} >= {
        "WriteBackFunction",
        "ShopifyEventsFunction",
    }
    for function, queue, source in sources:
        visibility = int(WRITTEN.resources[queue]["Properties"]["VisibilityTimeout"])
        # Then the queue's visibility timeout is at least six times the function's Timeout
        assert visibility >= 6 * FUNCTIONS[function].timeout, (function, queue, visibility)
        # And failed records come back alone, not with the whole batch
        assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"], function


def test_a_reconciliation_pass_ends_before_the_next_one_starts() -> None:
    # Given the reconciler's schedule and Timeout
    reconciler = WRITTEN.resources["ReconcilerFunction"]["Properties"]
    (schedule,) = [e for e in reconciler["Events"].values() if e["Type"] == "ScheduleV2"]
    rate = SCHEDULE_RATE.fullmatch(schedule["Properties"]["ScheduleExpression"])
    assert rate is not None
    # Then a pass has ended (or been stopped) before the schedule starts the next
    assert FUNCTIONS["ReconcilerFunction"].timeout < int(rate[1]) * 60


def test_the_embedded_runtime_reads_the_timeouts_from_the_template() -> None:
    # Given the template's Globals and the functions that set their own Timeout
    globals_timeout = int(WRITTEN.doc["Globals"]["Function"]["Timeout"])
    # Then each function's spec carries its own Timeout, or the Globals' one
    for logical_id, resource in WRITTEN.of_type("AWS::Serverless::Function").items():
        written = resource["Properties"].get("Timeout", globals_timeout)
        assert FUNCTIONS[logical_id].timeout == int(written), logical_id
    # And an edited stack (a test's shorter timeout) is read the same way
    edited = Template(parameters={}, edits={"IngestFunction": {"Timeout": 4}})
    assert edited.functions["IngestFunction"].timeout == 4
    assert Template().functions["IngestFunction"].timeout == globals_timeout
    with pytest.raises(KeyError):
        Template(edits={"NoSuchFunction": {"Timeout": 4}})
