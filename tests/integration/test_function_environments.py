"""Each function of the embedded stack runs with the variables its own template entry (and the
template's Globals) give it, as on Lambda, not with the union of every function's: a variable
missing from one function's entry fails that function's init, naming the variable, even though
another function's entry sets it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore
from shipshape_local.template import Template
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, deliver

ACME_SHOP = "acme-outdoors.myshopify.com"


def test_each_function_sees_its_own_entry_and_builds_its_own_container(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order run to SHIPPED: the ingest, workflow, warehouse and publisher
    # functions each ran (and built their containers) on the embedded stack
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock, order_id=6_100_001))
    order_id = str(deliver(runtime, delivery).json()["order_id"])
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    runtime.drain()

    # Then each function's container was built from its own variables: the state machine's
    # ARN only where the template gives it (ingest starts executions; the workflow, which
    # the state machine runs, is not given it), the idempotency table only to the warehouse
    # function, the bus only to the publisher
    environments = runtime.stack.environments
    names = runtime.stack.function_names
    built = {
        logical_id: environments.container(names[logical_id], _never_built).settings
        for logical_id in ("IngestFunction", "WorkflowFunction", "WarehouseFunction")
    }
    assert built["IngestFunction"].state_machine_arn == runtime.names["FulfillmentStateMachine"]
    assert built["WorkflowFunction"].state_machine_arn == ""
    assert built["WarehouseFunction"].state_machine_arn == ""
    assert built["WarehouseFunction"].idempotency_table == runtime.names["IdempotencyTable"]
    assert built["IngestFunction"].idempotency_table == ""
    assert built["IngestFunction"].event_bus_name == ""
    # And what each would see in its environment is its entry's and the Globals' variables
    # only (plus the embedded stack's plumbing: the client files and the fake storefronts)
    template = Template()
    workflow = environments.environment(names["WorkflowFunction"])
    given = set(template.global_environment) | set(
        template.functions["WorkflowFunction"].environment
    )
    configured = {n for n in workflow if n.startswith(("SHIPSHAPE_", "POWERTOOLS_"))}
    assert configured == given | {"SHIPSHAPE_STOREFRONT_API_URL"}
    # And outside the invocations the process still sees every function's variables (the
    # runtime's own view, for seeding and inspection)
    assert os.environ["SHIPSHAPE_STATE_MACHINE_ARN"] == runtime.names["FulfillmentStateMachine"]
    assert os.environ["SHIPSHAPE_EVENT_BUS_NAME"] == runtime.names["DomainEventBus"]


def _never_built() -> object:
    raise AssertionError("the function's container should have been built by its invocation")


@pytest.fixture
def without_ingest_arn(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    # The ingest function's entry as deployed by a template that forgot its ARN (the other
    # functions' entries, the starter's and the reconciler's, still set it).
    ingest = Template().resources["IngestFunction"]["Properties"]
    variables = dict(ingest["Environment"]["Variables"])
    del variables["SHIPSHAPE_STATE_MACHINE_ARN"]
    edits = {"IngestFunction": {"Environment": {"Variables": variables}}}
    with EmbeddedRuntime(clock=clock, edits=edits) as rt:
        yield rt


def test_a_variable_missing_from_one_functions_entry_fails_its_init_naming_it(
    without_ingest_arn: EmbeddedRuntime, clock: ManualClock
) -> None:
    runtime = without_ingest_arn
    acme = ShopifyStore(
        "acme-outdoors", ACME_SHOP, runtime.secret("shipshape/acme-outdoors/shopify-webhook")
    )
    # When Shopify sends a paid order to the ingest function
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock, order_id=6_100_002))
    answer = deliver(runtime, delivery)

    # Then API Gateway answers as it does for a function whose init failed, and the failure
    # names the variable the function's entry lacks
    assert answer.status == 500
    assert answer.json() == {"message": "Internal Server Error"}
    assert len(runtime.integration_errors) == 1
    assert "SHIPSHAPE_STATE_MACHINE_ARN is not set" in runtime.integration_errors[0]
    runtime.integration_errors.clear()
    # And the functions whose entries are whole still serve (the operators' API)
    assert runtime.http("GET", "/exceptions?client_id=acme-outdoors", headers=LEAD).status == 200
