"""Owner matrix and escalation rules: no exception type without an owner, deadlines in the
client's business hours."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shipshape.config import ClientConfig, load_client_file
from shipshape.rules import ClientRules, ExceptionType, due_at
from tests.helpers import CLIENTS_DIR


def acme_rules() -> dict[str, Any]:
    return dict(tomllib.loads((CLIENTS_DIR / "acme-outdoors.toml").read_text())["rules"])


def test_every_demo_client_has_an_owner_and_escalation_for_every_exception_type() -> None:
    # Given the three demo clients' rules
    from shipshape.config import ClientDirectory

    clients = ClientDirectory(CLIENTS_DIR).all()

    # When each exception type is looked up
    # Then every type has an owner and at least one escalation level, for every client
    for client in clients:
        for kind in ExceptionType:
            rule = client.rules.rule_for(kind)
            assert rule.owner and rule.escalation and rule.remediation
        # and every client's business calendar (holiday region included) is valid
        assert client.calendar.is_working_day(datetime(2026, 11, 24, tzinfo=UTC).date())


def test_rules_missing_an_exception_type_are_refused_naming_it() -> None:
    # Given Acme's rules without an owner for carrier rejections
    data = acme_rules()
    data["exceptions"] = {k: v for k, v in data["exceptions"].items() if k != "carrier_rejected"}

    # When they are validated
    with pytest.raises(ValidationError) as refused:
        ClientRules.model_validate(data)

    # Then the message names the gap
    assert "no owner for exception type(s) carrier_rejected" in str(refused.value)


def test_an_owner_nobody_knows_is_refused_naming_it() -> None:
    # Given an escalation to someone who is in no team and not among the people
    data = acme_rules()
    data["exceptions"]["qa_failed"]["escalation"] = [{"owner": "ghost.manager", "sla_hours": 2}]

    # When they are validated
    with pytest.raises(ValidationError) as refused:
        ClientRules.model_validate(data)

    # Then the message names the rule and the unknown owner
    assert "exceptions.qa_failed names unknown owner(s) ghost.manager" in str(refused.value)


def test_an_empty_escalation_chain_or_team_is_refused() -> None:
    # Given rules with no escalation for one type, and rules with an empty team
    no_chain = acme_rules()
    no_chain["exceptions"]["address_invalid"]["escalation"] = []
    empty_team = acme_rules()
    empty_team["teams"]["logistics"] = []

    # When they are validated / Then each is refused naming what is wrong
    with pytest.raises(ValidationError, match=re.escape("exceptions.address_invalid.escalation")):
        ClientRules.model_validate(no_chain)
    with pytest.raises(ValidationError, match=re.escape("team(s) logistics have no members")):
        ClientRules.model_validate(empty_team)


def test_deadline_skips_thanksgiving_in_the_clients_timezone(acme: ClientConfig) -> None:
    # Given an address exception opened Wednesday 15:30 in Portland (2 business hours; work
    # ends at 17:00; Thursday 2026-11-26 is Thanksgiving)
    opened = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    rule = acme.rules.rule_for(ExceptionType.ADDRESS_INVALID)

    # When its owner and deadline are computed
    owner, due = due_at(acme.calendar, rule, opened)

    # Then client success owns it, due Friday 08:30 PST (16:30 UTC)
    assert owner == "client-success"
    assert due == datetime(2026, 11, 27, 16, 30, tzinfo=UTC)


def test_escalation_levels_walk_the_chain_and_the_last_level_holds(acme: ClientConfig) -> None:
    # Given QA failures, whose chain is qa -> ops -> olivia.lead
    rule = acme.rules.rule_for(ExceptionType.QA_FAILED)

    # When each level is asked for
    owners = [rule.level(n)[0] for n in range(5)]

    # Then the chain is walked in order and stays at its last level
    assert owners == ["qa", "ops", "olivia.lead", "olivia.lead", "olivia.lead"]


def test_members_of_a_team_and_of_a_person(acme: ClientConfig) -> None:
    # Given the owner names used in Acme's rules
    # When their members are asked for
    # Then a team gives its members and a person gives themself
    assert acme.rules.members_of("client-success") == ("maya.cs", "li.cs")
    assert acme.rules.members_of("olivia.lead") == ("olivia.lead",)


def test_an_unknown_holiday_region_is_refused_when_the_calendar_is_built(
    tmp_path: Path,
) -> None:
    # Given a client file whose working hours name a subdivision Germany does not have
    text = (
        (CLIENTS_DIR / "nordlicht.toml")
        .read_text()
        .replace('holiday_subdivision = "BE"', 'holiday_subdivision = "XX"')
    )
    (tmp_path / "nordlicht.toml").write_text(text)
    client = load_client_file(tmp_path / "nordlicht.toml")

    # When its calendar is built
    with pytest.raises(ValidationError) as refused:
        _ = client.calendar

    # Then the subdivision is named
    assert "holiday_subdivision" in str(refused.value)
