"""Who may change a client's operating rules: an operator or lead of the client proposes, a
lead other than the author approves, a lead activates or rejects; a viewer only reads.

A client the caller does not serve is refused as if it did not exist, before any role is
looked at, so no 403 tells another client's id from a made-up one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipshape.authorization import Operator
from shipshape.config import ClientDirectory
from shipshape.errors import ConcurrentUpdate, Forbidden, UnknownClient
from shipshape.models import RuleChange, RuleChangeStatus
from shipshape.ports import RuleStore
from shipshape.services.governance import (
    ProposeRuleChangeRequest,
    ReviewRequest,
    RuleChangeView,
    activate_rule_change,
    approve_rule_change,
    propose_rule_change,
    reject_rule_change,
)
from tests.fakes import SettableClock
from tests.helpers import CLIENTS_DIR

ACME = "acme-outdoors"
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)

ACME_OPERATOR = Operator(subject="omar.operator", roles=frozenset({"operator"}),
                         clients=frozenset({ACME}))  # fmt: skip
ACME_VIEWER = Operator(subject="vic.viewer", roles=frozenset({"viewer"}), clients=frozenset({ACME}))
ACME_LEAD = Operator(subject="lena.lead", roles=frozenset({"lead"}), clients=frozenset({ACME}))
LEAD = Operator(subject="olivia.lead", roles=frozenset({"lead"}), clients=frozenset({"*"}))
NORDLICHT_OPERATOR = Operator(subject="nils.operator", roles=frozenset({"operator"}),
                              clients=frozenset({"nordlicht"}))  # fmt: skip
NORDLICHT_LEAD = Operator(subject="nora.lead", roles=frozenset({"operator", "lead"}),
                          clients=frozenset({"nordlicht"}))  # fmt: skip
LONGER_ADDRESS_SLA = ProposeRuleChangeRequest.model_validate(
    {
        "summary": "longer address SLA",
        "base_version": 1,
        "changes": {"rules": {"exceptions": {"address_invalid": {"sla_hours": 3}}}},
    }
)


class RuleShelf(RuleStore):
    """Rule versions in a dict, with the store's conditions: a new version must be new, a
    replaced one unchanged since it was read."""

    def __init__(self) -> None:
        self._changes: dict[tuple[str, int], RuleChange] = {}

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        return [c for (cid, _), c in sorted(self._changes.items()) if cid == client_id]

    def active_rules(self, client_id: str) -> RuleChange | None:
        active = [c for c in self.rule_changes(client_id) if c.status is RuleChangeStatus.ACTIVE]
        return active[-1] if active else None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        key = (change.client_id, change.version)
        if self._changes.get(key) != expected:
            raise ConcurrentUpdate(f"rule version {change.version} changed")
        self._changes[key] = change

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        if previous is not None:
            if self._changes.get((previous.client_id, previous.version)) != previous:
                raise ConcurrentUpdate(f"rule version {previous.version} changed")
            superseded = previous.model_copy(update={"status": RuleChangeStatus.SUPERSEDED})
            self._changes[(previous.client_id, previous.version)] = superseded
        self.save_rule_change(change, expected=approved)


@pytest.fixture
def store() -> RuleShelf:
    return RuleShelf()


@pytest.fixture
def directory(store: RuleShelf) -> ClientDirectory:
    return ClientDirectory(CLIENTS_DIR, rules=store)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


def propose(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock, operator: Operator,
    client_id: str = ACME,
) -> RuleChangeView:  # fmt: skip
    return propose_rule_change(store, directory, clock, client_id, operator, LONGER_ADDRESS_SLA)


@pytest.mark.parametrize("author", [ACME_OPERATOR, ACME_LEAD, LEAD])
def test_an_operator_or_lead_of_the_client_proposes_a_rule_change(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock, author: Operator
) -> None:
    # When an operator or a lead serving Acme proposes a longer address SLA
    change = propose(store, directory, clock, author)

    # Then it is Acme's version 2, proposed by them
    assert (change.version, change.status, change.proposed_by) == (
        2, RuleChangeStatus.PROPOSED, author.subject,
    )  # fmt: skip
    assert [c.version for c in store.rule_changes(ACME)] == [2]


def test_a_viewer_may_not_propose_a_rule_change(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock
) -> None:
    # When Acme's viewer proposes a change to Acme's rules
    with pytest.raises(Forbidden) as refused:
        propose(store, directory, clock, ACME_VIEWER)

    # Then it is a role refusal naming the role, and nothing is stored
    assert str(refused.value) == "operator vic.viewer may read but not act (role viewer)"
    assert refused.value.client_id is None
    assert store.rule_changes(ACME) == []


def test_a_different_lead_approves_activates_and_the_rules_are_in_force(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock
) -> None:
    # Given Acme's operator proposed a longer address SLA
    propose(store, directory, clock, ACME_OPERATOR)

    # When Acme's lead approves it and the lead of every client activates it
    approved = approve_rule_change(store, clock, ACME, 2, ACME_LEAD)
    active = activate_rule_change(store, directory, clock, ACME, 2, LEAD)

    # Then each step names its lead, and Acme works under version 2
    assert (approved.status, approved.approved_by) == (RuleChangeStatus.APPROVED, "lena.lead")
    assert (active.status, active.activated_by) == (RuleChangeStatus.ACTIVE, "olivia.lead")
    assert directory.get(ACME).rules_version == "2"


def test_a_lead_may_not_approve_their_own_proposal(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock
) -> None:
    # Given Acme's lead proposed a change
    propose(store, directory, clock, ACME_LEAD)

    # When they approve it themselves
    with pytest.raises(Forbidden) as refused:
        approve_rule_change(store, clock, ACME, 2, ACME_LEAD)

    # Then a different lead must, and the change is still only proposed
    assert str(refused.value) == (
        "rule version 2 was proposed by lena.lead; a different lead must approve it"
    )
    assert [c.status for c in store.rule_changes(ACME)] == [RuleChangeStatus.PROPOSED]


@pytest.mark.parametrize("reviewer", [ACME_OPERATOR, ACME_VIEWER])
def test_only_a_lead_approves_activates_or_rejects(
    store: RuleShelf,
    directory: ClientDirectory,
    clock: SettableClock,
    reviewer: Operator,
) -> None:
    # Given a change proposed by Acme's lead, and an Acme operator or viewer (no lead)
    propose(store, directory, clock, ACME_LEAD)
    attempts = [
        lambda: approve_rule_change(store, clock, ACME, 2, reviewer),
        lambda: activate_rule_change(store, directory, clock, ACME, 2, reviewer),
        lambda: reject_rule_change(store, clock, ACME, 2, reviewer, ReviewRequest(note="no")),
    ]

    # When they approve, activate and reject it
    # Then each is a role refusal naming the lead role, and the change is untouched
    for attempt in attempts:
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert str(refused.value) == f"operator {reviewer.subject} needs the lead role for this"
        assert refused.value.client_id is None
    assert [c.status for c in store.rule_changes(ACME)] == [RuleChangeStatus.PROPOSED]


def test_a_lead_rejects_a_proposed_change(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock
) -> None:
    # Given a change Acme's operator proposed
    propose(store, directory, clock, ACME_OPERATOR)

    # When Acme's lead rejects it
    rejected = reject_rule_change(store, clock, ACME, 2, ACME_LEAD, ReviewRequest(note="too long"))

    # Then it is rejected by them, with their reason
    assert (rejected.status, rejected.rejected_by) == (RuleChangeStatus.REJECTED, "lena.lead")


@pytest.mark.parametrize("caller", [NORDLICHT_OPERATOR, NORDLICHT_LEAD])
def test_another_clients_rules_read_as_a_client_that_does_not_exist(
    store: RuleShelf, directory: ClientDirectory, clock: SettableClock, caller: Operator
) -> None:
    # Given a change proposed for Acme, and Nordlicht's operator or lead
    propose(store, directory, clock, ACME_OPERATOR)
    attempts = [
        lambda client_id: propose(store, directory, clock, caller, client_id),
        lambda client_id: approve_rule_change(store, clock, client_id, 2, caller),
        lambda client_id: activate_rule_change(store, directory, clock, client_id, 2, caller),
        lambda client_id: reject_rule_change(store, clock, client_id, 2, caller, ReviewRequest()),
    ]

    # When they propose, approve, activate and reject for Acme and for a made-up client
    # Then each is "no such client" (never a 403, whatever their role), naming Acme for its
    # review, and Acme's change is untouched
    for attempt in attempts:
        for client_id in (ACME, "acme-outdoors-eu"):
            with pytest.raises(UnknownClient) as refused:
                attempt(client_id)
            assert str(refused.value) == f"no client {client_id!r} among yours"
            assert refused.value.client_id == client_id
    assert [c.status for c in store.rule_changes(ACME)] == [RuleChangeStatus.PROPOSED]
