"""Marking a person away: an operator or lead of the client does it, for a person of that
client's rules or pickers, over a period with a timezone that ends after it starts.

A client the caller does not serve is refused as if it did not exist, before any role is
looked at; a viewer serving the client is refused for their role.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shipshape.authorization import Operator
from shipshape.config import ClientDirectory
from shipshape.errors import Forbidden, UnknownClient
from shipshape.models import AwayPeriod, OrderException
from shipshape.ports import AwayRegistry
from shipshape.services.away import InvalidAwayPeriod, MarkAwayRequest, UnknownOwner, mark_away

ACME = "acme-outdoors"
ACME_OPERATOR = Operator(subject="omar.operator", roles=frozenset({"operator"}),
                         clients=frozenset({ACME}))  # fmt: skip
ACME_VIEWER = Operator(subject="vic.viewer", roles=frozenset({"viewer"}), clients=frozenset({ACME}))
ACME_LEAD = Operator(subject="lena.lead", roles=frozenset({"lead"}), clients=frozenset({ACME}))
LEAD = Operator(subject="olivia.lead", roles=frozenset({"lead"}), clients=frozenset({"*"}))
NORDLICHT_OPERATOR = Operator(subject="nils.operator", roles=frozenset({"operator"}),
                              clients=frozenset({"nordlicht"}))  # fmt: skip
TUESDAY = {"starts_at": "2026-11-24T09:00:00-08:00", "ends_at": "2026-11-24T18:00:00-08:00"}


class AwayBook(AwayRegistry):
    """Away periods in a list, as the registry keeps them: one a client and person."""

    def __init__(self) -> None:
        self.periods: list[AwayPeriod] = []

    def mark_away(self, period: AwayPeriod) -> None:
        self.clear_away(period.client_id, period.person)
        self.periods.append(period)

    def clear_away(self, client_id: str, person: str) -> None:
        self.periods = [p for p in self.periods if (p.client_id, p.person) != (client_id, person)]

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        return [p for p in self.periods if p.client_id == client_id]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        return []


@pytest.fixture
def away() -> AwayBook:
    return AwayBook()


def mark(
    away: AwayBook, clients: ClientDirectory, operator: Operator, person: str = "maya.cs",
    **request: Any,
) -> AwayPeriod:  # fmt: skip
    body = {"client_id": ACME, **TUESDAY, **request}
    return mark_away(
        away=away, clients=clients, operator=operator, person=person,
        request=MarkAwayRequest.model_validate(body),
    )  # fmt: skip


@pytest.mark.parametrize("operator", [ACME_OPERATOR, ACME_LEAD, LEAD])
def test_an_operator_or_lead_of_the_client_marks_a_person_away(
    away: AwayBook, clients: ClientDirectory, operator: Operator
) -> None:
    # When an operator or lead serving Acme marks Maya (client success) away on Tuesday
    period = mark(away, clients, operator, note="dentist")

    # Then Acme's away list holds that period, set by them
    assert period == AwayPeriod(
        client_id=ACME, person="maya.cs", starts_at=datetime(2026, 11, 24, 17, tzinfo=UTC),
        ends_at=datetime(2026, 11, 25, 2, tzinfo=UTC), note="dentist", set_by=operator.subject,
    )  # fmt: skip
    assert away.away_periods(ACME) == [period]


@pytest.mark.parametrize("person", ["pdx-picker-cruz", "carla.cs-lead", "omar.operator"])
def test_a_picker_a_person_of_the_rules_or_a_team_member_may_be_marked_away(
    away: AwayBook, clients: ClientDirectory, person: str
) -> None:
    # When Acme's operator marks away a picker, an escalation person, or a team member
    period = mark(away, clients, ACME_OPERATOR, person)

    # Then it is recorded for that person
    assert away.away_periods(ACME) == [period]
    assert period.person == person


@pytest.mark.parametrize("person", ["client-success", "nobody.here", "nils.operator"])
def test_a_team_or_someone_outside_the_clients_rules_is_not_a_person_to_mark_away(
    away: AwayBook, clients: ClientDirectory, person: str
) -> None:
    # When Acme's operator marks away a team, a made-up name, or another client's operator
    with pytest.raises(UnknownOwner) as refused:
        mark(away, clients, ACME_OPERATOR, person)

    # Then the answer names the person and the client, and nothing is recorded
    assert str(refused.value) == f"{person} is not a person in acme-outdoors's rules or pickers"
    assert away.periods == []


@pytest.mark.parametrize(
    "times",
    [
        {"starts_at": "2026-11-24T09:00:00"},
        {"ends_at": "2026-11-24T18:00:00"},
        {"starts_at": "2026-11-24T09:00:00", "ends_at": "2026-11-24T18:00:00"},
    ],
)
def test_a_period_without_a_timezone_is_refused(
    away: AwayBook, clients: ClientDirectory, times: dict[str, str]
) -> None:
    # When Acme's operator gives a start or an end with no offset (local to whom?)
    with pytest.raises(InvalidAwayPeriod) as refused:
        mark(away, clients, ACME_OPERATOR, **times)

    # Then it is refused, saying so, and nothing is recorded
    assert str(refused.value) == "starts_at and ends_at need a timezone offset"
    assert away.periods == []


@pytest.mark.parametrize("ends_at", ["2026-11-24T09:00:00-08:00", "2026-11-24T08:59:59-08:00"])
def test_a_period_must_end_after_it_starts(
    away: AwayBook, clients: ClientDirectory, ends_at: str
) -> None:
    # When Acme's operator gives an end at or before the start
    with pytest.raises(InvalidAwayPeriod) as refused:
        mark(away, clients, ACME_OPERATOR, ends_at=ends_at)

    # Then it is refused, and nothing is recorded
    assert str(refused.value) == "ends_at must be after starts_at"
    assert away.periods == []


def test_a_period_of_one_second_is_a_period(away: AwayBook, clients: ClientDirectory) -> None:
    # When Acme's operator marks Maya away for one second
    period = mark(away, clients, ACME_OPERATOR, ends_at="2026-11-24T09:00:01-08:00")

    # Then it is recorded
    assert away.away_periods(ACME) == [period]


def test_a_viewer_may_not_mark_a_person_away(away: AwayBook, clients: ClientDirectory) -> None:
    # When Acme's viewer marks Maya away
    with pytest.raises(Forbidden) as refused:
        mark(away, clients, ACME_VIEWER)

    # Then it is a role refusal naming the role, and nothing is recorded
    assert str(refused.value) == "operator vic.viewer may read but not act (role viewer)"
    assert refused.value.client_id is None
    assert away.periods == []


@pytest.mark.parametrize(
    ("operator", "client_id", "recorded_for"),
    [
        (NORDLICHT_OPERATOR, ACME, ACME),
        (NORDLICHT_OPERATOR, "acme-outdoors-eu", "acme-outdoors-eu"),
        (ACME_VIEWER, "nordlicht", "nordlicht"),
        (LEAD, "acme-outdoors-eu", None),
    ],
)
def test_a_client_not_served_reads_as_one_that_does_not_exist(
    away: AwayBook,
    clients: ClientDirectory,
    operator: Operator,
    client_id: str,
    recorded_for: str | None,
) -> None:
    # When someone marks a person away for a client they do not serve (or that does not
    # exist), whatever their role
    with pytest.raises(UnknownClient) as refused:
        mark(away, clients, operator, client_id=client_id)

    # Then no such client is theirs, in the same words; the refusal carries the client asked
    # for (the ops API records it only if that client exists); nothing is recorded here
    assert str(refused.value) == f"no client {client_id!r} among yours"
    assert refused.value.client_id == recorded_for
    assert away.periods == []
