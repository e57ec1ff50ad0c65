"""Who can change which clients an operator serves, pinned on the deployed template.

The ops API scopes every operator by the ``custom:clients`` claim of their Cognito ID token.
Cognito lets a signed-in user change their own attributes (``UpdateUserAttributes`` with
their access token) unless the app client's ``WriteAttributes`` leave them out, and an app
client without ``WriteAttributes`` may write every mutable attribute. So the client scope is
safe only when the app client names what operators may write and ``custom:clients`` is not
among it, nobody can sign themselves up with attributes of their choosing, and the ID token
still carries the claim the authorizer reads.

The checks read the template after the SAM transform, what CloudFormation deploys.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from typing import Any

from shipshape.http import operator_from_claims
from shipshape_local.template import REPO_ROOT

SCOPE = "custom:clients"


@cache
def _resources() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "static_checks", REPO_ROOT / "scripts" / "static_checks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sam_transformed()["Resources"]  # type: ignore[no-any-return]


def _of_type(cfn_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in _resources().items()
        if resource["Type"] == cfn_type
    }


def test_no_app_client_lets_an_operator_write_their_own_client_scope() -> None:
    # Given every app client of the operators' user pool, as deployed
    clients = _of_type("AWS::Cognito::UserPoolClient")
    assert clients, "the template has no user pool client"
    for name, props in clients.items():
        # Then each names what its users may write (unset means every mutable attribute)
        write = props.get("WriteAttributes")
        assert write, f"{name} sets no WriteAttributes: operators could write {SCOPE}"
        # and the client scope is not among it
        assert SCOPE not in write, f"{name} lets operators write {SCOPE}"


def test_the_id_token_still_carries_the_client_scope() -> None:
    # Given the app clients' readable attributes (unset means every attribute)
    for name, props in _of_type("AWS::Cognito::UserPoolClient").items():
        read = props.get("ReadAttributes")
        # Then the claim the ops API scopes operators by reaches the ID token
        assert read is None or SCOPE in read, f"{name} cannot read {SCOPE}"


def test_only_administrators_create_operators() -> None:
    # Given the operators' user pool
    for name, props in _of_type("AWS::Cognito::UserPool").items():
        # Then nobody signs up on their own (sign-up could set custom:clients)
        assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True, name
        # and the attribute the scope lives in is declared, under the name the claim carries
        attributes = {a["Name"] for a in props.get("Schema", [])}
        assert SCOPE.removeprefix("custom:") in attributes, name


def test_the_scope_is_read_from_the_claim_the_template_declares() -> None:
    # Given ID token claims as Cognito writes them for this pool's custom attribute
    claims = {"sub": "3f1c", "cognito:groups": ["operator"], SCOPE: "acme-outdoors,nordlicht"}
    # When the ops API turns them into an operator
    operator = operator_from_claims(claims)
    # Then the operator serves exactly those clients, and no others
    assert operator.clients == frozenset({"acme-outdoors", "nordlicht"})
    assert not operator.may_see("kite-and-kin")
