"""Who an operator is, read from the claims Cognito signs: roles from ``cognito:groups`` and
the clients served from ``custom:clients``.

The claims reach the ops API either as Cognito writes them (groups as a JSON list) or as API
Gateway's JWT authorizer hands them on, which flattens a list claim to a ``"[a b]"`` string.
Both must give the same operator: a parse that drops a role locks a lead out, and one that
invents a client opens another client's orders.
"""

from __future__ import annotations

from typing import Any

import pytest

from shipshape.authorization import Operator
from shipshape.http import operator_from_claims

ACME = "acme-outdoors"
NORDLICHT = "nordlicht"


def test_roles_and_clients_are_read_from_cognito_claims_as_cognito_writes_them() -> None:
    # Given the claims of an Acme and Nordlicht operator who is also a lead
    claims = {
        "cognito:username": "omar.operator",
        "cognito:groups": ["operator", "lead"],
        "custom:clients": "acme-outdoors,nordlicht",
    }

    # When the ops API reads them
    operator = operator_from_claims(claims)

    # Then the operator is that person, with both roles, serving both clients
    assert operator == Operator(
        subject="omar.operator",
        roles=frozenset({"operator", "lead"}),
        clients=frozenset({ACME, NORDLICHT}),
    )


@pytest.mark.parametrize(
    "flattened",
    ["[operator lead]", "[operator, lead]", "[operator,lead]", "operator lead"],
)
def test_groups_flattened_by_api_gateway_give_the_same_roles(flattened: str) -> None:
    # Given the groups claim as API Gateway's JWT authorizer passes a list on: one string
    claims = {
        "cognito:username": "omar.operator",
        "cognito:groups": flattened,
        "custom:clients": ACME,
    }

    # When the ops API reads it
    operator = operator_from_claims(claims)

    # Then the roles are the two groups, with no bracket or comma left on a name
    assert operator.roles == frozenset({"operator", "lead"})


def test_only_the_brackets_api_gateway_adds_are_taken_off_the_group_names() -> None:
    # Given flattened groups whose first and last names begin and end with other letters
    claims = {"cognito:username": "omar.operator", "cognito:groups": "[Xdock-team lead ops-X]"}

    # When the ops API reads them
    operator = operator_from_claims(claims)

    # Then each group keeps its whole name
    assert operator.roles == frozenset({"Xdock-team", "lead", "ops-X"})


def test_a_single_flattened_group_is_one_role() -> None:
    # Given a lead whose one group API Gateway flattened to "[lead]"
    operator = operator_from_claims({"cognito:username": "olivia.lead", "cognito:groups": "[lead]"})

    # Then the role is "lead", exactly: a lead's part is allowed by that name
    assert operator.roles == frozenset({"lead"})


@pytest.mark.parametrize(
    "written",
    ["acme-outdoors,nordlicht", "acme-outdoors nordlicht", "acme-outdoors, nordlicht",
     " acme-outdoors  nordlicht "],
)  # fmt: skip
def test_clients_separated_by_commas_or_spaces_are_each_served(written: str) -> None:
    # Given the clients claim written with commas, spaces or both
    operator = operator_from_claims(
        {"cognito:username": "omar.operator", "custom:clients": written}
    )

    # Then each named client is served, and nothing else
    assert operator.clients == frozenset({ACME, NORDLICHT})
    assert operator.may_see(ACME) and operator.may_see(NORDLICHT)
    assert not operator.may_see("kite-and-kin")


def test_a_star_serves_every_client() -> None:
    # Given a lead whose clients claim is "*"
    operator = operator_from_claims({"cognito:username": "olivia.lead", "custom:clients": "*"})

    # Then every client is theirs, including one configured after the token was issued
    assert all(operator.may_see(c) for c in (ACME, NORDLICHT, "kite-and-kin", "new-client"))


def test_one_client_serves_only_that_client() -> None:
    # Given Acme's operator
    operator = operator_from_claims({"cognito:username": "omar.operator", "custom:clients": ACME})

    # Then Acme is theirs and no other client is, not even one whose id contains Acme's
    assert operator.may_see(ACME)
    assert not operator.may_see(NORDLICHT)
    assert not operator.may_see("acme-outdoors-eu")
    assert not operator.may_see("*")


@pytest.mark.parametrize(
    "claims",
    [
        {"cognito:username": "someone"},
        {"cognito:username": "someone", "cognito:groups": []},
        {"cognito:username": "someone", "cognito:groups": None},
        {"cognito:username": "someone", "cognito:groups": "[]"},
        {"cognito:username": "someone", "cognito:groups": ""},
    ],
)
def test_a_token_without_groups_has_no_role(claims: dict[str, Any]) -> None:
    # When the ops API reads a token that names no group
    operator = operator_from_claims(claims)

    # Then the operator has no role at all (not even viewer's read-only one to act with)
    assert operator.roles == frozenset()


@pytest.mark.parametrize(
    "claims",
    [{"cognito:username": "someone"}, {"cognito:username": "someone", "custom:clients": ""}],
)
def test_a_token_without_clients_serves_none(claims: dict[str, Any]) -> None:
    # When the ops API reads a token whose clients claim is missing or empty
    operator = operator_from_claims({**claims, "cognito:groups": ["lead"]})

    # Then the operator serves no client, whatever their role
    assert operator.clients == frozenset()
    assert not any(operator.may_see(c) for c in (ACME, NORDLICHT, "", "XXXX"))


# A Cognito sub is a UUID no client rule names; the stable user name is what rules and audit
# trails use (cognito:username in an ID token, username in an access token).
SUB = "7f3c1a2e-9b4d-4e61-8a0f-2d5c6b7e8f90"


@pytest.mark.parametrize(
    ("claims", "subject"),
    [
        ({"sub": SUB, "cognito:username": "omar.operator"}, "omar.operator"),
        ({"sub": SUB, "username": "omar.operator"}, "omar.operator"),
        ({"sub": SUB, "cognito:username": "omar.operator", "username": "x"}, "omar.operator"),
        ({"cognito:username": "", "username": "omar.operator"}, "omar.operator"),
        ({"sub": SUB}, "unknown"),
        ({}, "unknown"),
        ({"sub": SUB, "cognito:username": "", "username": ""}, "unknown"),
    ],
)
def test_the_operator_is_named_by_their_user_name_never_by_sub(
    claims: dict[str, Any], subject: str
) -> None:
    # When the ops API reads who signed the token (an ID token or an access token)
    operator = operator_from_claims(claims)

    # Then the audit trail will name them by their stable user name, never by the UUID
    assert operator.subject == subject
