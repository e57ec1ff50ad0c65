"""Operators are kept to their clients, and each role to its part, in the ops services.

An order, exception or client the operator does not serve is refused exactly as one that
does not exist: the same error, the same words. The refusal names the client asked for only
when that client's data was really asked for, so the ops API can record it for that client's
access review (and records nothing for a made-up id). Role refusals (a viewer acting) come
after scope, so they only ever concern a client the operator serves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from shipshape.authorization import Operator, served_client, served_clients
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import (
    ExceptionNotFound,
    Forbidden,
    NotAmongYours,
    OrderNotFound,
    UnknownClient,
)
from shipshape.models import (
    Actor,
    Document,
    ExceptionStatus,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    OverrideStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from shipshape.services.exceptions import (
    OpenExceptionRequest,
    ResolveExceptionRequest,
    claim_exception,
    open_exception,
    resolve_exception,
)
from shipshape.services.overrides import (
    OverrideRequest,
    OverrideReview,
    request_override,
    review_override,
)
from shipshape.services.queries import DocumentNotFound, get_audit_trail, get_document, get_order
from tests.builders import received_event
from tests.fakes import InMemoryOrderRepository, NotifierRecorder, RecordingWorkflow, SettableClock

ACME = "acme-outdoors"
NORDLICHT = "nordlicht"
SHOP = "acme-outdoors.myshopify.com"
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday 09:00 in Portland

ACME_OPERATOR = Operator(subject="omar.operator", roles=frozenset({"operator"}),
                         clients=frozenset({ACME}))  # fmt: skip
ACME_VIEWER = Operator(subject="vic.viewer", roles=frozenset({"viewer"}), clients=frozenset({ACME}))
ACME_LEAD = Operator(subject="lena.lead", roles=frozenset({"lead"}), clients=frozenset({ACME}))
NORDLICHT_OPERATOR = Operator(subject="nils.operator", roles=frozenset({"operator"}),
                              clients=frozenset({NORDLICHT}))  # fmt: skip
LEAD = Operator(subject="olivia.lead", roles=frozenset({"lead"}), clients=frozenset({"*"}))
# The id Acme's next Shopify order would get: computed from public facts, it exists nowhere.
MADE_UP_ORDER = canonical_order_id(ACME, Platform.SHOPIFY, SHOP, "5699999")


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


def accepted_order(
    repo: InMemoryOrderRepository, client: ClientConfig, documents: tuple[Document, ...] = ()
) -> Order:
    """An Acme order as ingest writes it, with the documents the workflow produced."""
    order_id = canonical_order_id(client.client_id, Platform.SHOPIFY, SHOP, "5600001")
    received = NOW - timedelta(minutes=5)
    order = Order(
        order_id=order_id, client_id=client.client_id, platform=Platform.SHOPIFY, store=SHOP,
        storefront_order_id="5600001", version=1, storefront_updated_at=received,
        received_at=received, payment=PaymentState.PAID,
        lines=(OrderLine(line_id="1", sku="TENT-2P-GRN", quantity=1),),
        status=OrderStatus.ACCEPTED, owner=client.owner_of(OrderStatus.ACCEPTED),
        status_timestamps={OrderStatus.ACCEPTED: received}, rules_version=client.rules_version,
        audit_seq=1, documents=tuple(d.name for d in documents),
    )  # fmt: skip
    repo.create(order, received_event(order, at=received))
    for document in documents:
        repo.documents[(order_id, document.name)] = document
    return order


def document(order_id: str, kind: str, number: int = 1) -> Document:
    return Document(
        order_id=order_id, kind=kind, number=number, content=f"<h1>{kind} {number}</h1>",
        sha256="0" * 64, created_at=NOW,
    )  # fmt: skip


@pytest.fixture
def order(repo: InMemoryOrderRepository, acme: ClientConfig) -> Order:
    return accepted_order(repo, acme)


@pytest.fixture
def exception(
    repo: InMemoryOrderRepository, acme: ClientConfig, clock: SettableClock, order: Order
) -> OrderException:
    """Acme's order stopped in an address exception, opened as the workflow opens it."""
    return open_exception(
        repo=repo, clock=clock, client=acme, notifier=NotifierRecorder(),
        request=OpenExceptionRequest(
            order_id=order.order_id, client_id=ACME, failed_step="ValidateAddress",
            task_token="token-1", error={"Error": "AddressInvalid", "Cause": "no postal code"},
        ),
    )  # fmt: skip


def not_among_yours(refusal: pytest.ExceptionInfo[NotAmongYours]) -> tuple[str, str, str | None]:
    """What the ops API answers (error name, words) and the client it records the refusal for."""
    return type(refusal.value).__name__, str(refusal.value), refusal.value.client_id


# --- orders, audit trails and documents ---------------------------------------------------


def test_an_operator_reads_an_order_and_its_trail_of_a_client_they_serve(
    repo: InMemoryOrderRepository, order: Order
) -> None:
    # When Acme's viewer reads Acme's order and its audit trail
    view = get_order(repo, order.order_id, ACME_VIEWER)
    trail = get_audit_trail(repo, order.order_id, ACME_VIEWER)

    # Then both are the order's
    assert (view.order_id, view.client_id, view.status) == (order.order_id, ACME, "ACCEPTED")
    assert trail.order_id == order.order_id
    assert [e.action for e in trail.events] == ["order_received"]


@pytest.mark.parametrize("read", [get_order, get_audit_trail])
def test_another_clients_order_reads_as_one_that_does_not_exist(
    repo: InMemoryOrderRepository, order: Order, read: Callable[..., object]
) -> None:
    # Given Nordlicht's operator, Acme's order and an id no order has
    # When they ask for both
    with pytest.raises(OrderNotFound) as real:
        read(repo, order.order_id, NORDLICHT_OPERATOR)
    with pytest.raises(OrderNotFound) as made_up:
        read(repo, MADE_UP_ORDER, NORDLICHT_OPERATOR)

    # Then both are answered in the same words; only the real one names Acme, for its review
    assert not_among_yours(real) == (
        "OrderNotFound", f"no order {order.order_id} among your clients", ACME,
    )  # fmt: skip
    assert not_among_yours(made_up) == (
        "OrderNotFound", f"no order {MADE_UP_ORDER} among your clients", None,
    )  # fmt: skip


def test_a_lead_of_every_client_reads_any_clients_order(
    repo: InMemoryOrderRepository, order: Order
) -> None:
    # When the lead serving every client ("*") reads Acme's order
    view = get_order(repo, order.order_id, LEAD)

    # Then it is there
    assert view.order_id == order.order_id


def test_an_orders_documents_are_read_by_name(
    repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given an Acme order with its pick list and its twelfth packing manifest
    order_id = canonical_order_id(ACME, Platform.SHOPIFY, SHOP, "5600001")
    pick, manifest = document(order_id, "pick-list"), document(order_id, "packing-manifest", 12)
    accepted_order(repo, acme, (pick, manifest))

    # When Acme's viewer asks for each by name
    found = [get_document(repo, order_id, name, ACME_VIEWER) for name in (pick.name, manifest.name)]

    # Then each is that document
    assert found == [pick, manifest]


@pytest.mark.parametrize(
    "name", ["packing-manifest-1", "pick-list-2", "pick-list-0", "pick-list-1000", "label-1", "x"]
)
def test_a_document_the_order_does_not_have_is_not_found_and_the_answer_lists_those_it_has(
    repo: InMemoryOrderRepository, acme: ClientConfig, name: str
) -> None:
    # Given an Acme order with a pick list and a packing manifest (and, stored under the name
    # asked for, a document the order does not list: the order's list decides)
    order_id = canonical_order_id(ACME, Platform.SHOPIFY, SHOP, "5600001")
    accepted_order(repo, acme, (document(order_id, "pick-list"),
                                document(order_id, "packing-manifest", 2)))  # fmt: skip
    repo.documents[(order_id, name)] = document(order_id, "pick-list", 7)

    # When Acme's viewer asks for another name
    with pytest.raises(DocumentNotFound) as refused:
        get_document(repo, order_id, name, ACME_VIEWER)

    # Then it is not found, and the answer names the documents there are
    assert str(refused.value) == (
        f"order {order_id} has no document {name!r} (it has: pick-list-1, packing-manifest-2)"
    )
    assert refused.value.client_id is None  # the operator serves Acme: nothing to record


def test_an_order_without_documents_says_it_has_none_yet(
    repo: InMemoryOrderRepository, order: Order
) -> None:
    # When Acme's viewer asks for a pick list before one was made
    with pytest.raises(DocumentNotFound) as refused:
        get_document(repo, order.order_id, "pick-list-1", ACME_VIEWER)

    # Then the answer says there is none yet
    assert str(refused.value) == (
        f"order {order.order_id} has no document 'pick-list-1' (it has: none yet)"
    )


def test_another_clients_document_reads_as_an_order_that_does_not_exist(
    repo: InMemoryOrderRepository, acme: ClientConfig
) -> None:
    # Given an Acme order with a pick list, and Nordlicht's operator
    order_id = canonical_order_id(ACME, Platform.SHOPIFY, SHOP, "5600001")
    accepted_order(repo, acme, (document(order_id, "pick-list"),))

    # When they ask for its pick list, and for one of an order that does not exist
    with pytest.raises(OrderNotFound) as real:
        get_document(repo, order_id, "pick-list-1", NORDLICHT_OPERATOR)
    with pytest.raises(OrderNotFound) as made_up:
        get_document(repo, MADE_UP_ORDER, "pick-list-1", NORDLICHT_OPERATOR)

    # Then the order is not found either way, not the document
    assert not_among_yours(real) == (
        "OrderNotFound", f"no order {order_id} among your clients", ACME,
    )  # fmt: skip
    assert not_among_yours(made_up)[:2] == (
        "OrderNotFound", f"no order {MADE_UP_ORDER} among your clients",
    )  # fmt: skip


# --- clients --------------------------------------------------------------------------------


def test_a_served_client_is_given(clients: ClientDirectory) -> None:
    # When Acme's viewer, and the lead of every client, ask for Acme
    # Then it is Acme's configuration
    assert served_client(clients, ACME_VIEWER, ACME).client_id == ACME
    assert served_client(clients, LEAD, ACME).client_id == ACME


def test_lists_across_clients_hold_the_clients_served_and_no_other(
    clients: ClientDirectory,
) -> None:
    # When Nordlicht's operator, Acme's viewer and the lead of every client list their clients
    # Then each sees exactly the clients they serve (the lead: all configured)
    assert [c.client_id for c in served_clients(clients, NORDLICHT_OPERATOR)] == ["nordlicht"]
    assert [c.client_id for c in served_clients(clients, ACME_VIEWER)] == [ACME]
    assert sorted(c.client_id for c in served_clients(clients, LEAD)) == sorted(
        c.client_id for c in clients.all()
    )


def test_another_client_reads_as_one_that_does_not_exist(clients: ClientDirectory) -> None:
    # When Nordlicht's operator asks for Acme, and the lead of every client for a made-up id
    with pytest.raises(UnknownClient) as not_theirs:
        served_client(clients, NORDLICHT_OPERATOR, ACME)
    with pytest.raises(UnknownClient) as made_up:
        served_client(clients, LEAD, "acme-outdoors-eu")

    # Then both get the same words; the refusal of Acme names Acme for its review
    assert not_among_yours(not_theirs) == ("UnknownClient", "no client 'acme-outdoors' among yours",
                                           ACME)  # fmt: skip
    assert not_among_yours(made_up) == (
        "UnknownClient", "no client 'acme-outdoors-eu' among yours", None,
    )  # fmt: skip


# --- the exception queue --------------------------------------------------------------------


@pytest.mark.parametrize("operator", [ACME_OPERATOR, ACME_LEAD, LEAD])
def test_an_operator_or_lead_claims_an_exception_of_a_client_they_serve(
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    exception: OrderException,
    operator: Operator,
) -> None:
    # When an operator or a lead serving Acme claims Acme's exception
    view = claim_exception(
        repo=repo, clock=clock, exception_id=exception.exception_id,
        operator=operator,
    )  # fmt: skip

    # Then it is theirs, and the audit trail names them as the one who claimed it
    assert (view.status, view.claimed_by) == (ExceptionStatus.CLAIMED, operator.subject)
    claimed = repo.audit_trail(exception.order_id)[-1]
    assert claimed.action == "exception_claimed"
    assert claimed.actor == Actor(kind="operator", id=operator.subject)


def test_a_viewer_may_not_claim_or_resolve_an_exception(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    exception: OrderException,
) -> None:
    # Given Acme's viewer and Acme's open exception
    trail = repo.audit_trail(exception.order_id)

    # When they try to claim it and to resolve it
    with pytest.raises(Forbidden) as claim:
        claim_exception(
            repo=repo, clock=clock, exception_id=exception.exception_id,
            operator=ACME_VIEWER,
        )  # fmt: skip
    with pytest.raises(Forbidden) as resolve:
        resolve_exception(
            repo=repo, workflow=RecordingWorkflow(), clients=clients,
            clock=clock, exception_id=exception.exception_id, operator=ACME_VIEWER,
            request=ResolveExceptionRequest(action="quarantine", note="hold it"),
        )  # fmt: skip

    # Then both are role refusals (403) naming the role, and nothing was written
    for refusal in (claim, resolve):
        assert str(refusal.value) == "operator vic.viewer may read but not act (role viewer)"
        assert refusal.value.client_id is None  # a role refusal, answered 403
    assert repo.audit_trail(exception.order_id) == trail
    assert repo.get_exception(exception.exception_id) == exception


def test_another_clients_exception_reads_as_one_that_does_not_exist(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    exception: OrderException,
) -> None:
    # Given Nordlicht's operator, Acme's exception, and an id of the same shape naming none
    made_up_id = exception.exception_id[:-1] + "9"

    def claim(exception_id: str) -> pytest.ExceptionInfo[ExceptionNotFound]:
        with pytest.raises(ExceptionNotFound) as refused:
            claim_exception(
                repo=repo, clock=clock, exception_id=exception_id,
                operator=NORDLICHT_OPERATOR,
            )  # fmt: skip
        return refused

    def resolve(exception_id: str) -> pytest.ExceptionInfo[ExceptionNotFound]:
        with pytest.raises(ExceptionNotFound) as refused:
            resolve_exception(
                repo=repo, workflow=RecordingWorkflow(), clients=clients,
                clock=clock, exception_id=exception_id, operator=NORDLICHT_OPERATOR,
                request=ResolveExceptionRequest(action="quarantine", note="hold it"),
            )  # fmt: skip
        return refused

    # When they claim and resolve both
    # Then each is answered in the same words; only Acme's names Acme, for its review
    for act in (claim, resolve):
        assert not_among_yours(act(exception.exception_id)) == (
            "ExceptionNotFound", f"no exception {exception.exception_id} among your clients",
            ACME,
        )  # fmt: skip
        assert not_among_yours(act(made_up_id)) == (
            "ExceptionNotFound", f"no exception {made_up_id} among your clients", None,
        )  # fmt: skip
    assert repo.get_exception(exception.exception_id) == exception


@pytest.mark.parametrize(
    "exception_id",
    ["not-an-exception", "ORD_AAAAAAAAAAAAAAAAAAAA.E1", "ord_x.e1", "ord_" + "a" * 20],
)
def test_an_id_that_cannot_name_an_exception_is_refused_without_a_read(
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    exception: OrderException,
    exception_id: str,
) -> None:
    # Given Acme's operator and an id no exception can have
    reads = repo.exception_reads

    # When they claim it
    with pytest.raises(ExceptionNotFound) as refused:
        claim_exception(
            repo=repo, clock=clock, exception_id=exception_id,
            operator=ACME_OPERATOR,
        )  # fmt: skip

    # Then it is not found, without a read of the table
    assert not_among_yours(refused) == (
        "ExceptionNotFound", f"no exception {exception_id} among your clients", None,
    )  # fmt: skip
    assert repo.exception_reads == reads


# --- overrides ------------------------------------------------------------------------------


def override(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    order_id: str,
    operator: Operator,
    field: str = "owner",
    value: object = "ops",
) -> object:
    return request_override(
        repo=repo, workflow=RecordingWorkflow(), clients=clients, clock=clock,
        order_id=order_id, operator=operator,
        request=OverrideRequest.model_validate({"field": field, "value": value,
                                                "reason": "picker called in sick"}),
    )  # fmt: skip


@pytest.mark.parametrize("operator", [ACME_OPERATOR, ACME_LEAD, LEAD])
def test_an_operator_or_lead_changes_the_owner_of_a_served_order(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    order: Order,
    operator: Operator,
) -> None:
    # When an operator or a lead serving Acme gives Acme's order to the ops team
    override(repo, clients, clock, order.order_id, operator)

    # Then the order is the ops team's, and the trail names who changed it
    changed = repo.get(order.order_id)
    assert changed is not None and changed.owner == "ops"
    assert changed.overrides[0].requested_by == operator.subject
    applied = repo.audit_trail(order.order_id)[-1]
    assert applied.action == "override_applied"
    assert applied.actor == Actor(kind="operator", id=operator.subject)


def test_a_second_operator_reviews_a_cancellation_and_the_trail_names_them(
    repo: InMemoryOrderRepository, clients: ClientDirectory, clock: SettableClock, order: Order
) -> None:
    # Given Acme's operator asked to cancel Acme's order
    override(repo, clients, clock, order.order_id, ACME_OPERATOR, "status", "CANCELLED")
    asked = repo.get(order.order_id)
    assert asked is not None
    override_id = asked.overrides[0].override_id

    # When Acme's lead rejects it
    view = review_override(
        repo=repo, workflow=RecordingWorkflow(), clients=clients, clock=clock,
        order_id=order.order_id, override_id=override_id, operator=ACME_LEAD, approve=False,
        review=OverrideReview(note="the customer still wants it"),
    )  # fmt: skip

    # Then the cancellation is rejected by the lead, as the trail records
    assert view.overrides[0].status is OverrideStatus.REJECTED
    assert view.overrides[0].reviewed_by == "lena.lead"
    events = repo.audit_trail(order.order_id)
    assert [(e.action, e.actor) for e in events[-2:]] == [
        ("override_requested", Actor(kind="operator", id="omar.operator")),
        ("override_rejected", Actor(kind="operator", id="lena.lead")),
    ]


def test_a_viewer_may_not_change_or_review_an_override(
    repo: InMemoryOrderRepository, clients: ClientDirectory, clock: SettableClock, order: Order
) -> None:
    # Given Acme's viewer and Acme's order
    trail = repo.audit_trail(order.order_id)

    # When they try to change its owner, and to approve an override on it
    with pytest.raises(Forbidden) as change:
        override(repo, clients, clock, order.order_id, ACME_VIEWER)
    with pytest.raises(Forbidden) as review:
        review_override(
            repo=repo, workflow=RecordingWorkflow(), clients=clients,
            clock=clock, order_id=order.order_id, override_id="o1", operator=ACME_VIEWER,
            approve=True, review=OverrideReview(note="ok"),
        )  # fmt: skip

    # Then both are role refusals naming the role, and the order is unchanged
    for refusal in (change, review):
        assert str(refusal.value) == "operator vic.viewer may read but not act (role viewer)"
        assert refusal.value.client_id is None
    assert repo.audit_trail(order.order_id) == trail


@pytest.mark.parametrize("operator", [NORDLICHT_OPERATOR, ACME_VIEWER])
def test_an_override_on_an_order_not_served_reads_as_no_order(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    order: Order,
    operator: Operator,
) -> None:
    # Given an operator who may not see the order asked for: Nordlicht's (Acme's order) or
    # Acme's viewer (an order that does not exist)
    order_id = order.order_id if operator is NORDLICHT_OPERATOR else MADE_UP_ORDER

    # When they ask to change its owner
    with pytest.raises(OrderNotFound) as refused:
        override(repo, clients, clock, order_id, operator)

    # Then the order is not found (scope comes before role: no 403 tells it exists)
    assert not_among_yours(refused)[:2] == (
        "OrderNotFound", f"no order {order_id} among your clients",
    )  # fmt: skip
    assert [e.action for e in repo.audit_trail(order.order_id)] == ["order_received"]


NORDLICHT_VIEWER = Operator(subject="nina.viewer", roles=frozenset({"viewer"}),
                            clients=frozenset({NORDLICHT}))  # fmt: skip


@pytest.mark.parametrize(
    ("operator", "action"), [(NORDLICHT_VIEWER, None), (NORDLICHT_OPERATOR, "waive")]
)
def test_a_role_refusal_never_concerns_another_clients_exception(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    exception: OrderException,
    operator: Operator,
    action: str | None,
) -> None:
    # Given Acme's exception and a Nordlicht viewer (to claim it) or operator (to waive it)
    # When they try
    with pytest.raises(NotAmongYours) as refused:
        if action is None:
            claim_exception(
                repo=repo, clock=clock, exception_id=exception.exception_id,
                operator=operator,
            )  # fmt: skip
        else:
            resolve_exception(
                repo=repo, workflow=RecordingWorkflow(), clients=clients,
                clock=clock, exception_id=exception.exception_id, operator=operator,
                request=ResolveExceptionRequest(action="waive", note="the client accepts it"),
            )  # fmt: skip

    # Then it is not found (scope first), naming Acme for its access review, never a 403
    assert not_among_yours(refused) == (
        "ExceptionNotFound", f"no exception {exception.exception_id} among your clients", ACME,
    )  # fmt: skip


def test_an_operator_who_is_not_a_lead_may_not_waive_and_the_refusal_says_why(
    repo: InMemoryOrderRepository,
    clients: ClientDirectory,
    clock: SettableClock,
    exception: OrderException,
) -> None:
    # Given Acme's open exception and Acme's operator, who acts but is no lead
    before = repo.audit_trail(exception.order_id)
    workflow = RecordingWorkflow()

    # When the operator asks to waive it
    with pytest.raises(Forbidden) as refused:
        resolve_exception(
            repo=repo, workflow=workflow, clients=clients, clock=clock,
            exception_id=exception.exception_id, operator=ACME_OPERATOR,
            request=ResolveExceptionRequest(action="waive", note="the client accepts it"),
        )  # fmt: skip

    # Then the refusal names the operator and the role a waiver needs, and nothing changed
    assert str(refused.value) == "operator omar.operator may not waive a QA gate (needs role lead)"
    assert repo.audit_trail(exception.order_id) == before
    assert workflow.outcomes == {}
    stored = repo.get_exception(exception.exception_id)
    assert stored is not None and stored.is_open
