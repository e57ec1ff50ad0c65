"""Webhook ingest through the domain, every port an in-memory fake.

Deliveries are the real-shaped Shopify fixtures under ``tests/events``, signed the way Shopify
signs them (``tests.helpers``), for the Acme Outdoors client as configured in the repository.
"""

from __future__ import annotations

import functools
import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from shipshape.config import ClientConfig, FulfilOn, StoreConfig
from shipshape.errors import PaymentMismatch, SignatureInvalid
from shipshape.models import (
    Order,
    OrderId,
    OrderStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from shipshape.ports import SecretStore
from shipshape.services.fulfillment import (
    AwaitRequest,
    StepContext,
    WorkflowState,
    assign_picker,
    await_pick,
    reserve_inventory,
    validate_address,
)
from shipshape.services.ingest import IngestOutcome, IngestResult, ingest_webhook
from shipshape.storefronts.base import WebhookDelivery
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
STOREFRONT_ORDER_ID = "5934127349876"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
PREVIOUS_SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook-previous"
SECRET = b"dev-shpss-acme-outdoors-current"
PREVIOUS_SECRET = b"dev-shpss-acme-outdoors-previous"
# orders_paid.json says updated_at 10:42:07-05:00; Shipshape hears of it 2.5 s later.
PAID_AT = datetime(2026, 11, 20, 15, 42, 7, tzinfo=UTC)
NOW = PAID_AT + timedelta(seconds=2.5)

PENDING = "shopify/orders_create_pending.json"
PAID = "shopify/orders_paid.json"
UPDATED = "shopify/orders_updated.json"
CANCELLED = "shopify/orders_cancelled.json"
TOPICS = {
    PENDING: "orders/create",
    PAID: "orders/paid",
    UPDATED: "orders/updated",
    CANCELLED: "orders/cancelled",
}

Ingest = Callable[..., IngestResult]


def shopify_delivery(
    fixture: str, *, secret: bytes | None = SECRET, shop: str = SHOP
) -> WebhookDelivery:
    """The fixture as Shopify delivers it; ``secret=None`` sends it unsigned."""
    body = load_event(fixture)
    headers = {"X-Shopify-Topic": TOPICS[fixture], "X-Shopify-Shop-Domain": shop}
    if secret is not None:
        headers["X-Shopify-Hmac-Sha256"] = sign_shopify(body, secret)
    return webhook_delivery(headers, body, NOW)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


def hear_later(clock: SettableClock, fixture: str) -> None:
    """Move Shipshape's clock to 2.5 s after ``fixture`` was stamped: Shopify sends a later
    event once it has happened, and a stamp from Shipshape's future is refused."""
    stamp = datetime.fromisoformat(json.loads(load_event(fixture))["updated_at"])
    clock.advance(stamp + timedelta(seconds=2.5) - clock.now())


@pytest.fixture
def secrets() -> FixedSecrets:
    return FixedSecrets({SECRET_NAME: SECRET, PREVIOUS_SECRET_NAME: PREVIOUS_SECRET})


@pytest.fixture
def ingest(
    acme: ClientConfig,
    repo: InMemoryOrderRepository,
    secrets: FixedSecrets,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> Ingest:
    def _ingest(
        delivery: WebhookDelivery,
        *,
        client: ClientConfig = acme,
        secret_store: SecretStore = secrets,
        order_repo: InMemoryOrderRepository = repo,
    ) -> IngestResult:
        return ingest_webhook(
            client=client,
            platform=Platform.SHOPIFY,
            delivery=delivery,
            repo=order_repo,
            secrets=secret_store,
            workflow=workflow,
            clock=clock,
        )

    return _ingest


def stored(repo: InMemoryOrderRepository, order_id: str) -> Order:
    order = repo.get(order_id)
    assert order is not None, f"order {order_id} was not stored"
    return order


# --- recording versions ------------------------------------------------------------------


def test_paid_order_is_created_accepted_and_its_workflow_started(
    ingest: Ingest, repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given a paid Shopify order Shipshape has never seen
    delivery = shopify_delivery(PAID)

    # When it is ingested
    result = ingest(delivery)

    # Then it is recorded as accepted, owned by ops, and waiting for its workflow to start
    order_id = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, STOREFRONT_ORDER_ID)
    assert (result.order_id, result.outcome, result.status) == (
        order_id,
        IngestOutcome.CREATED,
        OrderStatus.ACCEPTED,
    )
    order = stored(repo, order_id)
    assert order.status is OrderStatus.ACCEPTED
    assert order.owner == "ops"
    assert order.pending_start is True
    assert order.execution_name == order_id
    assert order.status_timestamps[OrderStatus.ACCEPTED] == NOW
    # And one execution named after the order was started with the ids only
    assert list(workflow.executions) == [order_id]
    assert workflow.executions[order_id].payload == {
        "order_id": order_id,
        "client_id": "acme-outdoors",
    }
    # And the first audit event says what arrived and how late
    (event,) = repo.audit_trail(order_id)
    assert event.action == "order_received"
    assert event.seq == 1
    assert (event.from_status, event.to_status) == (None, OrderStatus.ACCEPTED)
    assert event.actor.kind == "storefront"
    assert event.detail["sync_lag_seconds"] == 2.5
    assert event.detail["payment"] == "paid"


def test_pending_order_is_received_then_accepted_when_paid(
    ingest: Ingest, repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given an order created with its payment still pending
    first = ingest(shopify_delivery(PENDING))
    assert (first.outcome, first.status) == (IngestOutcome.CREATED, OrderStatus.RECEIVED)
    assert stored(repo, first.order_id).pending_start is False
    assert workflow.executions == {}

    # When the orders/paid delivery for it arrives
    result = ingest(shopify_delivery(PAID))

    # Then the same order is updated to accepted and its workflow started
    assert result.order_id == first.order_id
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.ACCEPTED)
    order = stored(repo, result.order_id)
    assert (order.status, order.owner, order.pending_start) == (OrderStatus.ACCEPTED, "ops", True)
    assert list(workflow.executions) == [result.order_id]
    # And the audit trail records the request for fulfilment and what changed
    received, requested = repo.audit_trail(result.order_id)
    assert received.action == "order_received"
    assert requested.action == "fulfilment_requested"
    assert (requested.from_status, requested.to_status) == (
        OrderStatus.RECEIVED,
        OrderStatus.ACCEPTED,
    )
    # (the payment, and the moment Shopify says it took it)
    assert requested.detail["changed"] == ["payment", "storefront_paid_at"]
    assert requested.detail["previous_version"] == received.detail["version"]


def test_newer_version_of_an_accepted_order_records_the_changed_fields(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an accepted order
    paid = ingest(shopify_delivery(PAID))

    # When the merchant edits the shipping address (orders/updated)
    hear_later(clock, UPDATED)
    result = ingest(shopify_delivery(UPDATED))

    # Then the record carries the new address, still accepted, with one more audit event
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.ACCEPTED)
    order = stored(repo, paid.order_id)
    assert order.shipping_address is not None
    assert order.shipping_address.line2 == "Apt 3B"
    event = repo.audit_trail(paid.order_id)[-1]
    assert event.action == "storefront_updated"
    assert event.detail["changed"] == ["shipping_address"]
    # And still exactly one execution exists for the order
    assert list(workflow.executions) == [paid.order_id]


def test_same_delivery_again_is_a_duplicate_and_writes_nothing(
    ingest: Ingest, repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given a paid order already ingested
    first = ingest(shopify_delivery(PAID))
    before = stored(repo, first.order_id)

    # When Shopify delivers the same webhook again
    again = ingest(shopify_delivery(PAID))

    # Then the answer names the same order, and neither the record nor the trail changed
    assert (again.order_id, again.outcome, again.status) == (
        first.order_id,
        IngestOutcome.DUPLICATE,
        OrderStatus.ACCEPTED,
    )
    assert stored(repo, first.order_id) == before
    assert len(repo.audit_trail(first.order_id)) == 1
    # And no second start was requested
    assert workflow.starts == [first.order_id]


def test_older_version_after_a_newer_one_is_stale(
    ingest: Ingest, repo: InMemoryOrderRepository, clock: SettableClock
) -> None:
    # Given the orders/updated version is recorded first (webhooks arrive out of order)
    hear_later(clock, UPDATED)
    newer = ingest(shopify_delivery(UPDATED))
    recorded_version = stored(repo, newer.order_id).version

    # When the older orders/paid version arrives
    result = ingest(shopify_delivery(PAID))

    # Then it is reported stale and the stored version is unchanged
    assert (result.order_id, result.outcome) == (newer.order_id, IngestOutcome.STALE)
    assert "older than the recorded version" in result.detail
    order = stored(repo, newer.order_id)
    assert order.version == recorded_version
    assert order.shipping_address is not None
    assert order.shipping_address.line2 == "Apt 3B"
    assert len(repo.audit_trail(newer.order_id)) == 1


def test_delivery_that_loses_the_create_race_is_a_duplicate(
    ingest: Ingest, workflow: RecordingWorkflow
) -> None:
    # Given a repository where another delivery creates the order between our read and write
    class OtherDeliveryWinsTheRace(InMemoryOrderRepository):
        def __init__(self) -> None:
            super().__init__()
            self.raced = False

        def get(self, order_id: str) -> Order | None:
            found = super().get(order_id)
            if found is None and not self.raced:
                self.raced = True
                ingest(shopify_delivery(PAID), order_repo=self)
            return found

    repo = OtherDeliveryWinsTheRace()

    # When the delivery is ingested
    result = ingest(shopify_delivery(PAID), order_repo=repo)

    # Then it reports the order the winner created, which holds one event and one execution
    assert result.outcome is IngestOutcome.DUPLICATE
    assert repo.order_ids() == [result.order_id]
    assert [e.action for e in repo.audit_trail(result.order_id)] == ["order_received"]
    assert workflow.starts == [result.order_id]


# --- cancellations -----------------------------------------------------------------------


def test_cancellation_of_a_received_order_cancels_it(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an order received but not paid
    received = ingest(shopify_delivery(PENDING))

    # When the storefront cancels it
    hear_later(clock, CANCELLED)
    result = ingest(shopify_delivery(CANCELLED))

    # Then it is cancelled, owned by client success, and no workflow was ever started
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.CANCELLED)
    order = stored(repo, received.order_id)
    assert (order.status, order.owner, order.pending_start) == (
        OrderStatus.CANCELLED,
        "client-success",
        False,
    )
    event = repo.audit_trail(received.order_id)[-1]
    assert event.action == "order_cancelled"
    assert (event.from_status, event.to_status) == (OrderStatus.RECEIVED, OrderStatus.CANCELLED)
    assert workflow.executions == {}


def test_cancellation_fails_the_task_token_the_workflow_waits_on(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
    acme: ClientConfig,
) -> None:
    # Given an order whose workflow waits for pick scans on a task token
    paid = ingest(shopify_delivery(PAID))
    ctx = StepContext(
        repo, clock, acme, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip
    state = WorkflowState(order_id=paid.order_id, client_id="acme-outdoors")
    for step in (validate_address, reserve_inventory, assign_picker):
        step(ctx, state)
    await_pick(ctx, AwaitRequest(**state.model_dump(), task_token="token-pick-1"))
    workflow.wait("token-pick-1")

    # When the storefront cancels the order
    hear_later(clock, CANCELLED)
    result = ingest(shopify_delivery(CANCELLED))

    # Then the order is cancelled and the wait is failed with the error the ASL catches
    assert result.status is OrderStatus.CANCELLED
    assert stored(repo, paid.order_id).status is OrderStatus.CANCELLED
    outcome = workflow.outcomes["token-pick-1"]
    assert (outcome.succeeded, outcome.error) == (False, "OrderCancelled")


# --- fulfilling on authorization -----------------------------------------------------------


def _authorized_delivery() -> WebhookDelivery:
    """orders/create of the paid fixture's order, its payment authorized, not captured."""
    body = json.loads(load_event(PAID))
    body["financial_status"] = "authorized"
    raw = json.dumps(body).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": sign_shopify(raw, SECRET),
    }
    return webhook_delivery(headers, raw, NOW)


def _fulfilling_on_authorization(client: ClientConfig) -> ClientConfig:
    fulfilment = client.fulfilment.model_copy(update={"fulfil_on": FulfilOn.AUTHORIZED})
    return client.model_copy(update={"fulfilment": fulfilment})


def test_an_authorized_order_waits_for_payment_unless_the_client_fulfils_on_authorization(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    acme: ClientConfig,
) -> None:
    # Given an order whose payment is authorized, not captured
    delivery = _authorized_delivery()

    # When it is ingested for Acme (fulfils on payment), and for the same client set to
    # fulfil on authorization (into a store of its own)
    waiting = ingest(delivery)
    other_repo = InMemoryOrderRepository()
    started = ingest(delivery, client=_fulfilling_on_authorization(acme), order_repo=other_repo)

    # Then Acme's waits, received, with client success; the other is accepted and started
    assert (waiting.status, stored(repo, waiting.order_id).payment) == (
        OrderStatus.RECEIVED,
        PaymentState.AUTHORIZED,
    )
    assert stored(repo, waiting.order_id).owner == "client-success"
    assert started.status is OrderStatus.ACCEPTED
    assert list(workflow.executions) == [started.order_id]


def test_the_workflow_goes_on_with_an_authorized_payment_only_for_a_client_that_allows_it(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    acme: ClientConfig,
) -> None:
    # Given an authorized order accepted for a client that fulfils on authorization
    client = _fulfilling_on_authorization(acme)
    accepted = ingest(_authorized_delivery(), client=client)
    state = WorkflowState(order_id=accepted.order_id, client_id="acme-outdoors")

    def context(config: ClientConfig) -> StepContext:
        return StepContext(
            repo, clock, config, CarrierStub(), NotifierRecorder(), repo.inventory,
            RecordingWarehouseChannel(),
        )  # fmt: skip

    # When its first step runs under that client's rules, and under Acme's (paid only)
    validate_address(context(client), state)
    with pytest.raises(PaymentMismatch) as refused:
        reserve_inventory(context(acme), state)

    # Then the first went on; under Acme's rules the order would not ship unpaid
    assert stored(repo, accepted.order_id).status is OrderStatus.ADDRESS_VALIDATED
    assert str(refused.value) == "the storefront shows payment authorized, not paid"


# --- failures after the write ------------------------------------------------------------


def test_failed_start_still_records_the_order_for_the_starter(
    ingest: Ingest, repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given Step Functions refuses the next start
    workflow.fail_next_starts(1)

    # When a paid order is ingested
    result = ingest(shopify_delivery(PAID))

    # Then the webhook is still acknowledged as created, and the order waits in the index
    assert (result.outcome, result.status) == (IngestOutcome.CREATED, OrderStatus.ACCEPTED)
    assert stored(repo, result.order_id).pending_start is True
    assert repo.pending_starts(NOW + timedelta(minutes=5), limit=10) == [result.order_id]
    assert workflow.executions == {}


# --- signatures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivery", "message"),
    [
        pytest.param(
            shopify_delivery(PAID, secret=None),
            "missing X-Shopify-Hmac-Sha256 header",
            id="unsigned",
        ),
        pytest.param(
            shopify_delivery(PAID, secret=b"not-the-shop-secret"),
            "does not match the body",
            id="wrong-secret",
        ),
        pytest.param(
            shopify_delivery(PAID, shop="evil-outfitters.myshopify.com"),
            "'evil-outfitters.myshopify.com' is not configured for client acme-outdoors",
            id="unknown-store",
        ),
    ],
)
def test_delivery_not_signed_by_the_store_is_refused_before_anything_is_written(
    ingest: Ingest,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    delivery: WebhookDelivery,
    message: str,
) -> None:
    # Given a delivery the store's secret did not sign (see the case id)

    # When it is ingested
    with pytest.raises(SignatureInvalid, match=message):
        ingest(delivery)

    # Then nothing is recorded and nothing started
    assert repo.order_ids() == []
    assert workflow.executions == {}


def test_delivery_is_refused_when_no_secret_is_available(
    ingest: Ingest, repo: InMemoryOrderRepository
) -> None:
    # Given the store's secret is missing from the secret store
    empty = FixedSecrets({})

    # When a correctly signed delivery is ingested
    with pytest.raises(SignatureInvalid, match="no webhook secret is available"):
        ingest(shopify_delivery(PAID), secret_store=empty)

    # Then it fails closed and nothing is recorded
    assert repo.order_ids() == []


def _rotating(acme: ClientConfig, until: datetime) -> ClientConfig:
    """Acme's store in the middle of a secret rotation whose window ends ``until``."""
    return acme.model_copy(
        update={
            "stores": (
                StoreConfig(
                    platform=Platform.SHOPIFY,
                    store=SHOP,
                    webhook_secret_name=SECRET_NAME,
                    previous_webhook_secret_name=PREVIOUS_SECRET_NAME,
                    previous_secret_expires_at=until,
                ),
            )
        }
    )


def test_previous_secret_is_accepted_during_a_rotation(
    ingest: Ingest, acme: ClientConfig, repo: InMemoryOrderRepository
) -> None:
    # Given the store's secret is being rotated (window open for another day) and Shopify
    # still signs with the old one
    rotating = _rotating(acme, NOW + timedelta(days=1))
    delivery = shopify_delivery(PAID, secret=PREVIOUS_SECRET)

    # When the delivery is ingested
    result = ingest(delivery, client=rotating)

    # Then it is accepted and recorded
    assert result.outcome is IngestOutcome.CREATED
    assert repo.order_ids() == [result.order_id]


def test_both_secrets_work_in_the_window_and_only_the_new_one_after_it(
    ingest: Ingest, acme: ClientConfig, repo: InMemoryOrderRepository
) -> None:
    # Given a rotation window that closed a second before the delivery arrives
    closed = _rotating(acme, NOW - timedelta(seconds=1))

    # When deliveries signed with the old and with the new secret arrive
    with pytest.raises(SignatureInvalid, match="does not match the body"):
        ingest(shopify_delivery(PAID, secret=PREVIOUS_SECRET), client=closed)
    nothing_written = repo.order_ids() == []
    result = ingest(shopify_delivery(PAID, secret=SECRET), client=closed)

    # Then the old secret is refused (nothing written) and the new one accepted
    assert nothing_written
    assert result.outcome is IngestOutcome.CREATED


def test_a_rotation_without_an_end_is_refused_in_the_client_file() -> None:
    # Given a store naming a previous secret but no end to the rotation window
    # When it is loaded
    # Then it is refused, saying what is missing
    with pytest.raises(ValueError, match="needs previous_secret_expires_at"):
        StoreConfig(
            platform=Platform.SHOPIFY, store=SHOP, webhook_secret_name=SECRET_NAME,
            previous_webhook_secret_name=PREVIOUS_SECRET_NAME,
        )  # fmt: skip


def test_previous_secret_is_refused_once_the_rotation_is_over(ingest: Ingest) -> None:
    # Given the client file no longer names a previous secret (the repository's acme file)
    delivery = shopify_delivery(PAID, secret=PREVIOUS_SECRET)

    # When a delivery signed with the old secret is ingested
    # Then it is refused
    with pytest.raises(SignatureInvalid, match="does not match the body"):
        ingest(delivery)


# --- concurrency -------------------------------------------------------------------------


def deliver_concurrently(copies: int, ingest: Ingest) -> tuple[list[IngestResult], list[Exception]]:
    """Ingest ``copies`` of the paid delivery from as many threads, released by one barrier."""
    barrier = threading.Barrier(copies, timeout=10)
    results: list[IngestResult] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def deliver() -> None:
        delivery = shopify_delivery(PAID)
        barrier.wait()
        try:
            result = ingest(delivery=delivery)
        except Exception as exc:  # noqa: BLE001 - the test asserts there are none
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(copies)]
    # Switch threads as often as the interpreter can, or each would finish before the next read.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(switch_interval)
    return results, errors


def test_concurrent_duplicate_deliveries_record_and_start_one_order(
    acme: ClientConfig, secrets: FixedSecrets, clock: SettableClock
) -> None:
    # Given eight copies of one delivery, released at once, in twenty fresh rounds (a race that
    # a single round can miss by luck is caught across them)
    for _ in range(20):
        repo, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        ingest = functools.partial(
            ingest_webhook,
            client=acme,
            platform=Platform.SHOPIFY,
            repo=repo,
            secrets=secrets,
            workflow=workflow,
            clock=clock,
        )

        # When they are ingested concurrently
        results, errors = deliver_concurrently(8, ingest)

        # Then every thread got the same order; one created it, with one event and one start
        assert errors == []
        assert len(results) == 8
        (order_id,) = {r.order_id for r in results}
        assert sorted(r.outcome for r in results) == sorted(
            [IngestOutcome.CREATED] + [IngestOutcome.DUPLICATE] * 7
        )
        assert repo.order_ids() == [order_id]
        assert [e.action for e in repo.audit_trail(order_id)] == ["order_received"]
        assert list(workflow.executions) == [order_id]
        assert workflow.starts == [order_id]


# --- the order id ------------------------------------------------------------------------


def test_canonical_order_id_is_a_deterministic_execution_name() -> None:
    # Given the business key of one order
    key = ("acme-outdoors", Platform.SHOPIFY, SHOP, STOREFRONT_ORDER_ID)

    # When its id is computed twice, once with the shop domain in another case
    first = canonical_order_id(*key)
    second = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP.upper(), "5934127349876")

    # Then both are the same valid Step Functions execution name
    assert first == second
    assert TypeAdapter(OrderId).validate_python(first) == first
    assert len(first) < 80


@pytest.mark.parametrize(
    "other_key",
    [
        pytest.param(("nordlicht", Platform.SHOPIFY, SHOP, "5934127349876"), id="client"),
        pytest.param(
            ("acme-outdoors", Platform.SHOPIFY, "acme-outlet.myshopify.com", "5934127349876"),
            id="store",
        ),
        pytest.param(("acme-outdoors", Platform.GENERIC, SHOP, "5934127349876"), id="platform"),
        pytest.param(("acme-outdoors", Platform.SHOPIFY, SHOP, "5934127349877"), id="order"),
    ],
)
def test_canonical_order_id_differs_for_any_other_business_key(
    other_key: tuple[str, Platform, str, str],
) -> None:
    # Given an order's business key and one that differs in one part (see the case id)
    key = ("acme-outdoors", Platform.SHOPIFY, SHOP, STOREFRONT_ORDER_ID)

    # When both ids are computed
    ids = canonical_order_id(*key), canonical_order_id(*other_key)

    # Then they differ
    assert ids[0] != ids[1]


def test_edited_payload_with_a_stale_signature_is_refused(
    ingest: Ingest, repo: InMemoryOrderRepository
) -> None:
    # Given a signed delivery whose body was changed in transit (a bigger quantity)
    signed = shopify_delivery(PAID)
    payload = json.loads(signed.body)
    payload["line_items"][0]["quantity"] = 50
    tampered = webhook_delivery(dict(signed.headers), json.dumps(payload).encode(), NOW)

    # When it is ingested
    # Then the signature no longer matches and nothing is recorded
    with pytest.raises(SignatureInvalid, match="does not match the body"):
        ingest(tampered)
    assert repo.order_ids() == []
