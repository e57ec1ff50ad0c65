"""The embedded runtime's local issuer and its gateway's JWT authorizer: tokens shaped as
Cognito's, verified by API Gateway's documented rules (signature by ``kid`` from the JWKS,
``iss``, ``aud`` or else ``client_id``, ``exp``, ``nbf``, ``iat`` by the runtime's clock), and
the user pool's endpoints the dashboard and the CLI use (the code grant with PKCE, refresh,
revocation, the first sign-in's new password).
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shipshape_local.issuer import (
    CLIENT_ID,
    ISSUER,
    LocalUserPool,
    SigningKey,
    dev_operators,
    dev_token,
    id_token_claims,
    signing_key,
    verify,
)
from shipshape_local.runtime import EmbeddedRuntime, ManualClock

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
DASHBOARD = "http://127.0.0.1:8787/dashboard"
UNAUTHORIZED = (401, {"message": "Unauthorized"})


def _claims(**changes: Any) -> dict[str, Any]:
    claims = id_token_claims(
        dev_operators()["omar.operator"], issued=NOW - timedelta(minutes=5),
        expires=NOW + timedelta(minutes=55),
    )  # fmt: skip
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _verify(token: str, now: datetime = NOW) -> dict[str, Any] | None:
    return verify(token, jwks=signing_key().jwks(), issuer=ISSUER, audience=[CLIENT_ID], now=now)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_token_the_issuer_signed_for_the_audience_passes_with_its_user_name() -> None:
    # Given an ID token of Omar's, as Cognito writes one
    token = signing_key().sign(_claims())

    # When the authorizer verifies it
    claims = _verify(token)

    # Then it passes, naming Omar by user name (the sub is a UUID no rule uses)
    assert claims is not None
    assert claims["cognito:username"] == "omar.operator" and claims["token_use"] == "id"
    assert claims["sub"] != "omar.operator" and len(claims["sub"]) == 36


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"}, "issuer"),
        ({"aud": "another-app-client"}, "audience"),
        ({"aud": None, "client_id": "another-app-client"}, "client_id without aud"),
        ({"aud": "another-app-client", "client_id": CLIENT_ID}, "aud wins over client_id"),
        ({"exp": int(NOW.timestamp())}, "expired at this second"),
        ({"exp": None}, "no expiry"),
        ({"nbf": int((NOW + timedelta(minutes=1)).timestamp())}, "not yet valid"),
        ({"iat": int((NOW + timedelta(minutes=1)).timestamp())}, "issued in the future"),
    ],
)
def test_claims_the_authorizer_refuses(changes: dict[str, Any], why: str) -> None:
    # Given a well-signed token with one claim wrong
    token = signing_key().sign(_claims(**changes))

    # When the authorizer verifies it, then it refuses it
    assert _verify(token) is None, why


def test_an_access_token_passes_by_its_client_id() -> None:
    # Given an access-token shape: client_id, no aud (API Gateway checks client_id then)
    token = signing_key().sign(_claims(aud=None, client_id=CLIENT_ID, token_use="access"))

    # When / Then it passes: API Gateway does not check token_use
    assert _verify(token) is not None


def test_forged_and_malformed_tokens_are_refused() -> None:
    # Given tokens signed by another key (under the issuer's kid and another), unsigned, altered
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    same_kid = SigningKey(other, signing_key().kid).sign(_claims())
    other_kid = SigningKey(other, "someone-elses-key").sign(_claims())
    header = _b64(json.dumps({"alg": "none", "kid": signing_key().kid}).encode())
    unsigned = f"{header}.{_b64(json.dumps(_claims()).encode())}."
    head, _, signature = signing_key().sign(_claims()).split(".")
    lead = _b64(json.dumps(_claims(**{"cognito:groups": ["lead"]})).encode())
    altered = f"{head}.{lead}.{signature}"
    # HMAC under the issuer's kid, keyed with the public modulus anyone can read from the JWKS
    modulus = signing_key().jwks()["keys"][0]["n"].encode()
    hmac_signed = jwt.encode(_claims(), modulus, algorithm="HS256",
                             headers={"kid": signing_key().kid})  # fmt: skip

    # When the authorizer verifies each, then none passes
    forged = (same_kid, other_kid, unsigned, altered, hmac_signed, "dev-token-lead", "a.b.c", "")
    for token in forged:
        assert _verify(token) is None, token


def test_the_gateway_answers_401_for_a_token_expired_by_the_runtimes_clock(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given a token from the user pool (an hour by the runtime's clock) and a development one
    pool_token = runtime.user_pool.tokens("olivia.lead")["id_token"]
    before = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {pool_token}"})
    bare = runtime.http("GET", "/me", headers={"Authorization": pool_token})

    # When the runtime's clock passes the hour
    clock.advance(timedelta(hours=1, seconds=1))
    after = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {pool_token}"})
    dev = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {dev_token('hana.lead')}"})
    opaque = runtime.http("GET", "/me", headers={"Authorization": "Bearer dev-token-lead"})

    # Then the token passed (with or without "Bearer") until then and is API Gateway's 401 now;
    # development tokens outlast any clock a test sets; the old opaque tokens are gone
    assert (before.status, before.json()["subject"]) == (200, "olivia.lead")
    assert bare.status == 200
    assert (after.status, after.json()) == UNAUTHORIZED
    assert (dev.status, dev.json()["subject"]) == (200, "hana.lead")
    assert (opaque.status, opaque.json()) == UNAUTHORIZED


# --- the user pool's endpoints ---------------------------------------------------------


def _pool() -> tuple[LocalUserPool, ManualClock]:
    clock = ManualClock(NOW)
    return LocalUserPool(clock=clock.now), clock


def _authorize(pool: LocalUserPool, verifier: str, **login: str) -> str:
    """Sign in on the pool's page; the code it redirects to the dashboard with."""
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": DASHBOARD,
        "state": "s1", "scope": "openid email profile", "code_challenge": challenge,
        "code_challenge_method": "S256",
    }  # fmt: skip
    page = pool.serve("GET", f"/oauth2/authorize?{urlencode(params)}", {}, b"")
    assert page.status == 200, page.body
    answer = pool.serve("POST", "/login", {}, urlencode({**params, **login}).encode())
    assert answer.status == 302, answer.body
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == DASHBOARD
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def _token(pool: LocalUserPool, **form: str) -> tuple[int, dict[str, Any]]:
    answer = pool.serve(
        "POST", "/oauth2/token", {}, urlencode({"client_id": CLIENT_ID, **form}).encode()
    )
    return answer.status, json.loads(answer.body)


def test_the_code_grant_needs_the_verifier_of_its_challenge_and_is_used_once() -> None:
    # Given a code for Olivia, issued against a PKCE challenge
    pool, _ = _pool()
    password = dev_operators()["olivia.lead"].password
    code = _authorize(pool, "v" * 64, username="olivia.lead", password=password)
    exchange = {"grant_type": "authorization_code", "redirect_uri": DASHBOARD}

    # When it is exchanged with a wrong verifier, then the right one, then again
    wrong = _token(pool, code=code, code_verifier="w" * 64, **exchange)
    code = _authorize(pool, "v" * 64, username="olivia.lead", password=password)
    right = _token(pool, code=code, code_verifier="v" * 64, **exchange)
    again = _token(pool, code=code, code_verifier="v" * 64, **exchange)

    # Then only the right verifier gets tokens, an hour's, and a used code is spent
    assert wrong == (400, {"error": "invalid_grant"})
    assert right[0] == 200 and right[1]["expires_in"] == 3600 and right[1]["token_type"] == "Bearer"
    claims = _verify(right[1]["id_token"], now=NOW)
    assert claims is not None and claims["cognito:username"] == "olivia.lead"
    assert again == (400, {"error": "invalid_grant"})


def test_a_code_expires_after_five_minutes_and_needs_its_redirect_uri() -> None:
    # Given two codes for Olivia
    pool, clock = _pool()
    password = dev_operators()["olivia.lead"].password
    first = _authorize(pool, "v" * 64, username="olivia.lead", password=password)
    second = _authorize(pool, "v" * 64, username="olivia.lead", password=password)

    # When one is exchanged for another address, and the other after five minutes
    elsewhere = _token(pool, grant_type="authorization_code", code=first, code_verifier="v" * 64,
                       redirect_uri="http://127.0.0.1:9999/dashboard")  # fmt: skip
    clock.advance(timedelta(minutes=5))
    late = _token(pool, grant_type="authorization_code", code=second, code_verifier="v" * 64,
                  redirect_uri=DASHBOARD)  # fmt: skip

    # Then both are refused
    assert elsewhere == late == (400, {"error": "invalid_grant"})


def test_the_sign_in_page_refuses_what_the_app_client_does_not_allow() -> None:
    # Given authorize requests without PKCE, with plain PKCE, for another address or client
    pool, _ = _pool()
    good = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": DASHBOARD,
        "code_challenge": "x" * 43, "code_challenge_method": "S256",
    }  # fmt: skip
    wrong = [
        {**good, "code_challenge_method": "plain"},
        {k: v for k, v in good.items() if k != "code_challenge"},
        {**good, "redirect_uri": "https://evil.example/dashboard"},
        {**good, "client_id": "another"},
        {**good, "response_type": "token"},
    ]

    # When each is asked for, then each is refused before any sign-in form is shown
    for params in wrong:
        answer = pool.serve("GET", f"/oauth2/authorize?{urlencode(params)}", {}, b"")
        assert answer.status == 400, params


def test_refresh_gives_new_tokens_until_the_refresh_token_is_revoked() -> None:
    # Given Olivia's tokens from the pool
    pool, clock = _pool()
    tokens = pool.tokens("olivia.lead")

    # When she refreshes half an hour later, then revokes the refresh token and tries again
    clock.advance(timedelta(minutes=30))
    refreshed = _token(pool, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    revoke = urlencode({"client_id": CLIENT_ID, "token": tokens["refresh_token"]}).encode()
    revoked = pool.serve("POST", "/oauth2/revoke", {}, revoke)
    after = _token(pool, grant_type="refresh_token", refresh_token=tokens["refresh_token"])

    # Then the refresh gave a new ID token good for an hour from then (no new refresh token,
    # as Cognito without rotation), and a revoked refresh token renews nothing
    assert refreshed[0] == 200 and "refresh_token" not in refreshed[1]
    claims = _verify(refreshed[1]["id_token"], now=NOW + timedelta(minutes=89))
    assert claims is not None and claims["cognito:username"] == "olivia.lead"
    assert revoked.status == 200
    assert after == (400, {"error": "invalid_grant"})


def test_a_new_operator_gets_no_code_until_they_choose_a_password() -> None:
    # Given Nora, created with a temporary password
    pool, _ = _pool()
    temporary = dev_operators()["nora.new"].password
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": DASHBOARD,
        "code_challenge": _b64(hashlib.sha256(b"v" * 64).digest()),
        "code_challenge_method": "S256",
    }  # fmt: skip

    # When she signs in with it, sets a password without the session it opened, then answers
    # with a weak password, then a good one, and then tries the temporary one again
    def post(**fields: str) -> Any:
        return pool.serve("POST", "/login", {}, urlencode({**params, **fields}).encode())

    first = post(username="nora.new", password=temporary)
    session = re.search(rb'name="session" value="([^"]+)"', first.body)
    assert session is not None
    opened = session[1].decode()
    sessionless = post(username="nora.new", new_password="Mallory-chose-1!")
    weak = post(username="nora.new", new_password="short", session=opened)
    good = post(username="nora.new", new_password="Nora-chose-this-1", session=opened)
    old = post(username="nora.new", password=temporary)

    # Then the temporary password only asks for a new one, the weak one is refused, the good
    # one signs her in, and the temporary one no longer works
    assert first.status == 200 and b"New password" in first.body
    assert sessionless.status == 400 and b"session has ended" in sessionless.body
    assert weak.status == 400 and b"does not conform to policy" in weak.body
    assert good.status == 302 and "code=" in good.headers["location"]
    assert old.status == 400 and b"Incorrect username or password." in old.body


def test_an_operator_with_mfa_gets_no_code_until_the_authenticator_code_matches() -> None:
    # Given Mia, who turned on MFA with an authenticator app
    pool, _ = _pool()
    mia = dev_operators()["mia.operator"]
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": DASHBOARD,
        "code_challenge": _b64(hashlib.sha256(b"m" * 64).digest()),
        "code_challenge_method": "S256",
    }  # fmt: skip

    def post(**fields: str) -> Any:
        return pool.serve("POST", "/login", {}, urlencode({**params, **fields}).encode())

    # When she signs in with her password, then sends a code without the session, a wrong
    # code, and the code her app shows now
    first = post(username="mia.operator", password=mia.password)
    session = re.search(rb'name="session" value="([^"]+)"', first.body)
    assert session is not None
    opened = session[1].decode()
    current = pyotp.TOTP(mia.totp_secret).now()
    wrong = f"{(int(current) + 500_000) % 1_000_000:06d}"
    sessionless = post(username="mia.operator", code=current)
    mismatch = post(username="mia.operator", code=wrong, session=opened)
    matched = post(username="mia.operator", code=current, session=opened)
    # and the session she used is spent
    replayed = post(username="mia.operator", code=current, session=opened)

    # Then the password alone only asks for the code, a code needs the session and must be
    # the app's, and the right one signs her in (once)
    assert first.status == 200 and b"authenticator app" in first.body and b"code=" not in first.body
    assert sessionless.status == 400 and b"session has ended" in sessionless.body
    assert mismatch.status == 400 and b"Incorrect code." in mismatch.body
    assert matched.status == 302 and "code=" in matched.headers["location"]
    assert replayed.status == 400 and b"session has ended" in replayed.body


def test_login_asks_an_operator_with_mfa_for_the_code_of_their_app(
    runtime: EmbeddedRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the embedded stack's front door, and Mia, who turned on MFA
    from shipshape_local.cli import main
    from shipshape_local.frontdoor import FrontDoorServer

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    mia = dev_operators()["mia.operator"]
    current = pyotp.TOTP(mia.totp_secret).now()
    door = FrontDoorServer(runtime).start()
    try:
        # When she logs in with a wrong code, then with the one her app shows
        def login(*lines: str) -> int:
            monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{x}\n" for x in lines)))
            return main(["login", "--url", door.url, "--username", "mia.operator"])

        wrong = login(mia.password, f"{(int(current) + 500_000) % 1_000_000:06d}")
        right = login(mia.password, current)
        saved = json.loads((tmp_path / "shipshape" / "session.json").read_text())
    finally:
        door.stop()

    # Then the wrong code was refused and the right one signed her in as herself
    assert (wrong, right) == (1, 0)
    me = runtime.http("GET", "/me", headers={"Authorization": f"Bearer {saved['id_token']}"})
    assert (me.status, me.json()["subject"]) == (200, "mia.operator")
