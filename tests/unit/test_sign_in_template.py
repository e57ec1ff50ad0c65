"""How operators sign in, pinned on the deployed template: the user pool's domain, the app
client's flows, scopes, URLs, token lifetimes and write attributes, and what the dashboard is
told. The embedded runtime's local issuer plays the same part (shipshape_local.issuer), so the
values it relies on are checked against the template here too.

The checks read the template after the SAM transform, what CloudFormation deploys.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from typing import Any

from shipshape_local import issuer
from shipshape_local.template import REPO_ROOT

SERVE_DASHBOARD = "http://localhost:8787/dashboard"  # `shipshape serve`'s default address


@cache
def _transformed() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "static_checks", REPO_ROOT / "scripts" / "static_checks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sam_transformed()  # type: ignore[no-any-return]


def _only(cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = [
        (name, resource["Properties"])
        for name, resource in _transformed()["Resources"].items()
        if resource["Type"] == cfn_type
    ]
    assert len(found) == 1, f"expected one {cfn_type}, found {[n for n, _ in found]}"
    return found[0]


def test_the_app_client_offers_exactly_the_flows_the_dashboard_and_the_cli_use() -> None:
    # Given the operators' app client, as deployed
    _, client = _only("AWS::Cognito::UserPoolClient")

    # Then it is a public client with the authorization code grant (the dashboard, with PKCE)
    # and no other grant, through Cognito's own sign-in only
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    # and the API flows `shipshape login` uses (password, then refresh), SRP for the SDKs'
    # helpers, and none that lets a caller skip the password or run custom challenges
    assert client["ExplicitAuthFlows"] == [
        "ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
    ]  # fmt: skip
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True


def test_operators_may_write_only_their_display_name() -> None:
    # Given the operators' app client
    _, client = _only("AWS::Cognito::UserPoolClient")

    # Then a signed-in operator may change their name and nothing else (not their client
    # scope, not their email), and the ID token carries the scope the authorizer reads
    assert client["WriteAttributes"] == ["name"]
    assert client["ReadAttributes"] == ["email", "email_verified", "name", "custom:clients"]


def test_cognito_sends_operators_back_only_to_the_dashboard() -> None:
    # Given the app client's callback and sign-out URLs
    _, client = _only("AWS::Cognito::UserPoolClient")
    template = _transformed()
    expected = {"Fn::If": ["HasDashboardUrl", {"Ref": "DashboardUrl"}, SERVE_DASHBOARD]}

    # Then each is the dashboard's address once it is known, else the local one Cognito allows
    # over HTTP, and the parameter takes only an HTTPS address of a dashboard
    assert client["CallbackURLs"] == [expected]
    assert client["LogoutURLs"] == [expected]
    pattern = re.compile(template["Parameters"]["DashboardUrl"]["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("https://abc123.execute-api.us-east-1.amazonaws.com/prod/dashboard")
    for wrong in (
        "http://abc123.execute-api.us-east-1.amazonaws.com/prod/dashboard",
        "https://ops.example.com/dashboard?next=x",
        "https://ops.example.com/dashboard#x",
        "https://ops.example.com/",
    ):
        assert not pattern.fullmatch(wrong), wrong
    # and the embedded runtime's issuer accepts the same local address, nothing off the page
    assert issuer._local_redirect(SERVE_DASHBOARD)
    assert not issuer._local_redirect("http://localhost:8787/dashboard/assets/app.js")
    assert not issuer._local_redirect("https://evil.example/dashboard")


def test_id_and_access_tokens_last_an_hour_and_the_session_a_working_day() -> None:
    # Given the app client's token lifetimes
    _, client = _only("AWS::Cognito::UserPoolClient")
    units = client["TokenValidityUnits"]

    # Then the dashboard's hour (refreshed before it ends) is Cognito's, and the local issuer's
    lifetimes = {
        "IdToken": (client["IdTokenValidity"], units["IdToken"]),
        "AccessToken": (client["AccessTokenValidity"], units["AccessToken"]),
        "RefreshToken": (client["RefreshTokenValidity"], units["RefreshToken"]),
    }
    assert lifetimes == {
        "IdToken": (60, "minutes"),
        "AccessToken": (60, "minutes"),
        "RefreshToken": (12, "hours"),
    }
    assert issuer.TOKEN_SECONDS == 60 * 60


def _domain_prefix(domain: Any, account: str, stack_id: str) -> str:
    """The Domain property evaluated as CloudFormation would (Join, Select, Split, Ref)."""

    def value(node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            return [value(n) for n in node]
        ((function, argument),) = node.items()
        if function == "Ref":
            return {"AWS::AccountId": account, "AWS::StackId": stack_id}[argument]
        if function == "Fn::Join":
            return argument[0].join(value(argument[1]))
        if function == "Fn::Split":
            return value(argument[1]).split(argument[0])
        if function == "Fn::Select":
            return value(argument[1])[int(argument[0])]
        raise AssertionError(f"unexpected {function} in the domain prefix")

    return str(value(domain))


def test_each_stack_gets_a_sign_in_domain_of_its_own() -> None:
    # Given the user pool's domain, for two stacks of one account (staging and prod)
    _, domain = _only("AWS::Cognito::UserPoolDomain")
    account = "123456789012"
    arn = "arn:aws:cloudformation:us-east-1:123456789012:stack/{}/{}"
    staging = arn.format("shipshape-staging", "1f2e3d4c-aaaa-4bbb-8ccc-0123456789ab")
    prod = arn.format("Shipshape-Prod", "9a8b7c6d-1111-4222-8333-ba9876543210")

    # When CloudFormation evaluates its prefix
    prefixes = [_domain_prefix(domain["Domain"], account, s) for s in (staging, prod)]

    # Then it is the pool's, differs per stack, and is a prefix Cognito takes: lowercase
    # letters, digits and hyphens, at most 63, no reserved word (a stack name may be upper case)
    assert domain["UserPoolId"] == {"Ref": "OperatorsUserPool"}
    assert prefixes == ["shipshape-123456789012-1f2e3d4c", "shipshape-123456789012-9a8b7c6d"]
    for prefix in prefixes:
        assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix), prefix
        assert not any(word in prefix for word in ("aws", "amazon", "cognito")), prefix


def test_the_dashboard_is_told_the_domain_and_client_the_authorizer_accepts() -> None:
    # Given the ops function's environment and the HTTP API's JWT authorizer
    template = _transformed()
    resources = template["Resources"]
    env = resources["OpsFunction"]["Properties"]["Environment"]["Variables"]
    api = resources["HttpApi"]["Properties"]["Body"]
    schemes = api["components"]["securitySchemes"]
    jwt = schemes["OperatorJwt"]["x-amazon-apigateway-authorizer"]["jwtConfiguration"]

    # Then the page signs in at the pool's domain as the very client whose tokens the
    # authorizer takes, from the pool that issues them
    assert env["SHIPSHAPE_AUTH_DOMAIN"] == {
        "Fn::Sub": "https://${OperatorsUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
    }
    assert env["SHIPSHAPE_AUTH_CLIENT_ID"] == {"Ref": "OperatorsUserPoolClient"}
    assert jwt["audience"] == [{"Ref": "OperatorsUserPoolClient"}]
    assert jwt["issuer"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${OperatorsUserPool}"
    }
