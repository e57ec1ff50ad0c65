"""The embedded runtime's stand-in for the operators' Cognito user pool: a local issuer that
signs JWTs shaped as Cognito's, and the endpoints the dashboard and ``shipshape login`` use.

On AWS the dashboard signs in through the user pool's domain (``/oauth2/authorize`` with PKCE,
``/oauth2/token``, ``/oauth2/revoke``, ``/logout``), the CLI through the Cognito user pools
API (``InitiateAuth``, ``RespondToAuthChallenge``), and API Gateway's JWT authorizer verifies
the ID token the API is called with. Here the same requests reach this module (on the
runtime's own origin), and the gateway verifies the tokens it signs by the same rules
(``verify``), so the page, the CLI and the handlers run the same code path locally as deployed.

The signing key is an RSA key made when the process first needs one (it lives as long as the
process, like the tokens it signs); the development operators are ``[operators.*]`` of
dev-secrets.toml, named by their user name as Cognito names them (``cognito:username``).
``dev_token`` gives each one a signed ID token for tests, the pilot and curl.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import tomllib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pyotp
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK
from jwt.algorithms import RSAAlgorithm

from shipshape_local.stack import REGION

DEV_SECRETS = Path(__file__).with_name("dev-secrets.toml")

# What the template's !Ref values resolve to in the embedded stack.
USER_POOL_ID = f"{REGION}_ShipshapeDev"
CLIENT_ID = "shipshapelocaldashboard01"  # an app client id: lowercase letters and digits
DOMAIN_PREFIX = "shipshape-local"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"

TOKEN_SECONDS = 3600  # Cognito's default ID and access token validity (one hour)
CODE_SECONDS = 300  # an authorization code is good for five minutes, as Cognito's
# Development tokens (``dev_token``) are valid from before any clock the tests, the demo or the
# pilot set to until long after: those clocks run through weeks in seconds. They are signed by
# this process's key, so they mean nothing anywhere else.
DEV_TOKEN_ISSUED = datetime(2020, 1, 1, tzinfo=UTC)
DEV_TOKEN_EXPIRES = datetime(2100, 1, 1, tzinfo=UTC)

# The paths of the user pool's domain and API the runtime serves on its own origin.
PATHS = ("/oauth2/", "/login", "/logout", "/.well-known/", "/cognito-idp")


# --- signing (RS256, with PyJWT) -----------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    kid: str

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.key, algorithm="RS256", headers={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "alg": "RS256", "kid": self.kid, "use": "sig"}]}


_KEY_LOCK = threading.Lock()


@cache
def _process_key() -> SigningKey:
    with _KEY_LOCK:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return SigningKey(key, kid=_b64(secrets.token_bytes(24)))


def signing_key() -> SigningKey:
    """The process's signing key, made on first use."""
    return _process_key()


# --- verifying as API Gateway's JWT authorizer does ----------------------------------------


def verify(
    token: str, *, jwks: Mapping[str, Any], issuer: str, audience: Sequence[str], now: datetime
) -> dict[str, Any] | None:
    """The token's claims if API Gateway's JWT authorizer would accept it, else None.

    As its documented workflow: the signature checked with the JWKS key the header's ``kid``
    names (RSA only); ``iss`` equal to the configured issuer; ``aud``, or ``client_id`` only
    when there is no ``aud``, one of the audience entries; ``exp`` after now, ``nbf`` and
    ``iat`` (when present) before it. ``token_use`` is not checked (API Gateway does not: an
    ID token and an access token both pass where their audience matches).
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html#http-api-jwt-authorizer.evaluation

    PyJWT checks the signature and the issuer. The times are checked here against ``now``
    (the runtime's clock, which tests and the pilot move), and the audience by API Gateway's
    rule, which PyJWT does not have (``client_id`` standing in for a missing ``aud``).
    """
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [k for k in jwks.get("keys", []) if k.get("kid") == kid and k.get("kty") == "RSA"]
        if not keys:
            return None
        claims: dict[str, Any] = jwt.decode(
            token, PyJWK.from_dict(keys[0], algorithm="RS256"), algorithms=["RS256"],
            issuer=issuer, options={"verify_aud": False, "verify_exp": False,
                                    "verify_nbf": False, "verify_iat": False},
        )  # fmt: skip
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        return None
    aud = claims.get("aud") if "aud" in claims else claims.get("client_id")
    audiences = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a in audience for a in audiences):
        return None
    moment = now.timestamp()
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= moment:
        return None
    for earlier in ("nbf", "iat"):
        value = claims.get(earlier)
        if value is not None and (not isinstance(value, int | float) or value > moment):
            return None
    return claims


# --- the development operators -------------------------------------------------------------


@dataclass
class Operator:
    """A development operator: their user name, Cognito attributes and password."""

    username: str
    groups: list[str]
    clients: str
    password: str
    new_password_required: bool = False
    # An operator who turned on MFA (an authenticator app, Cognito's SOFTWARE_TOKEN_MFA): the
    # base32 secret their app holds. Signing in then asks for its current six-digit code.
    totp_secret: str = ""
    sub: str = ""

    def __post_init__(self) -> None:
        # Cognito's sub is a UUID; it is stable per user, and no rule names it.
        self.sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"shipshape-dev:{self.username}"))


def dev_operators(path: Path = DEV_SECRETS) -> dict[str, Operator]:
    """``[operators.*]`` of dev-secrets.toml, by user name."""
    document = tomllib.loads(path.read_text())
    return {
        name: Operator(
            username=name,
            groups=list(spec.get("cognito:groups", [])),
            clients=str(spec.get("custom:clients", "")),
            password=str(spec["password"]),
            new_password_required=bool(spec.get("new_password_required", False)),
            totp_secret=str(spec.get("totp_secret", "")),
        )
        for name, spec in document.get("operators", {}).items()
    }


def id_token_claims(
    operator: Operator, *, issued: datetime, expires: datetime, client_id: str = CLIENT_ID
) -> dict[str, Any]:
    """The claims of an ID token as Cognito writes them for this pool."""
    return {
        "sub": operator.sub,
        "cognito:groups": operator.groups,
        "iss": ISSUER,
        "cognito:username": operator.username,
        "origin_jti": str(uuid.uuid4()),
        "aud": client_id,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "iat": int(issued.timestamp()),
        "jti": str(uuid.uuid4()),
        "custom:clients": operator.clients,
    }


def access_token_claims(
    operator: Operator, *, issued: datetime, expires: datetime, client_id: str = CLIENT_ID
) -> dict[str, Any]:
    """The claims of an access token as Cognito writes them (``client_id``, no ``aud``)."""
    return {
        "sub": operator.sub,
        "cognito:groups": operator.groups,
        "iss": ISSUER,
        "client_id": client_id,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "openid email profile",
        "auth_time": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "iat": int(issued.timestamp()),
        "jti": str(uuid.uuid4()),
        "username": operator.username,
    }


@cache
def dev_token(username: str) -> str:
    """A signed ID token for a development operator (dev-secrets.toml), valid for any time a
    test or the pilot sets the clock to: what `Authorization: Bearer ...` carries locally."""
    operator = dev_operators()[username]
    return signing_key().sign(
        id_token_claims(operator, issued=DEV_TOKEN_ISSUED, expires=DEV_TOKEN_EXPIRES)
    )


def dev_operator_secrets() -> list[str]:
    """What must never appear in an answer or a log line: each development operator's
    password and signed token (their user names are meant to)."""
    operators = dev_operators()
    return [*(o.password for o in operators.values()), *(dev_token(u) for u in operators)]


def dev_bearer(username: str) -> dict[str, str]:
    """The Authorization header of a development operator."""
    return {"Authorization": f"Bearer {dev_token(username)}"}


# --- the user pool's endpoints -------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _json(status: int, document: Any, headers: Mapping[str, str] | None = None) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode()
    return Answer(status, {"content-type": "application/json", **(headers or {})}, body)


def _redirect(location: str) -> Answer:
    return Answer(302, {"location": location, "cache-control": "no-store"}, b"")


@dataclass
class _Code:
    username: str
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float
    state: str = ""
    scope: str = "openid"


# The sign-in page's look (the dashboard's colours), allowed by its hash alone.
_PAGE_STYLE = (
    "body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f1f5f9;color:#0f172a}"
    "main{max-width:22rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:.75rem;"
    "box-shadow:0 1px 3px rgba(15,23,42,.15)}h1{margin:0;font-size:1.5rem}"
    ".hint{margin:.25rem 0 1.5rem;color:#64748b;font-size:.875rem}"
    "label{display:block;margin:.75rem 0 .25rem;font-weight:600}"
    "input{box-sizing:border-box;width:100%;padding:.6rem;border:1px solid #cbd5e1;"
    "border-radius:.4rem;font:inherit}button{margin-top:1.25rem;width:100%;padding:.7rem;"
    "border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;font:inherit;font-weight:600}"
    "[role=alert]{padding:.6rem;border-radius:.4rem;background:#fee2e2;color:#991b1b}"
)
_PAGE_STYLE_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(_PAGE_STYLE.encode()).digest()).decode()
)


@dataclass
class LocalUserPool:
    """The operators' user pool of one embedded runtime: its users (passwords may change),
    authorization codes and refresh tokens; tokens signed by the process's key."""

    clock: Callable[[], datetime]
    users: dict[str, Operator] = field(default_factory=dev_operators)
    client_id: str = CLIENT_ID
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user name
    # challenge session -> (user name, the challenge it answers)
    _sessions: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def jwks(self) -> dict[str, Any]:
        return signing_key().jwks()

    def tokens(self, username: str, *, refresh: bool = True) -> dict[str, Any]:
        """What Cognito's token endpoint answers for a signed-in user."""
        operator = self.users[username]
        issued = self.clock()
        expires = datetime.fromtimestamp(issued.timestamp() + TOKEN_SECONDS, UTC)
        key = signing_key()
        answer: dict[str, Any] = {
            "id_token": key.sign(id_token_claims(
                operator, issued=issued, expires=expires, client_id=self.client_id)),
            "access_token": key.sign(access_token_claims(
                operator, issued=issued, expires=expires, client_id=self.client_id)),
            "expires_in": TOKEN_SECONDS,
            "token_type": "Bearer",
        }  # fmt: skip
        if refresh:
            token = secrets.token_urlsafe(48)
            with self._lock:
                self._refresh[token] = username
            answer["refresh_token"] = token
        return answer

    # -- HTTP --

    def serve(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        raw_path, _, query = path.partition("?")
        params = dict(parse_qsl(query))
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if method == "POST" else {}
        if raw_path == "/.well-known/jwks.json" and method == "GET":
            return _json(200, self.jwks())
        if raw_path == "/oauth2/authorize" and method == "GET":
            return self._authorize(params)
        if raw_path == "/login" and method == "POST":
            return self._login(form)
        if raw_path == "/oauth2/token" and method == "POST":
            return self._token(form)
        if raw_path == "/oauth2/revoke" and method == "POST":
            if form.get("client_id") != self.client_id:
                return _json(400, {"error": "invalid_client"})
            self.revoke(form.get("token", ""))
            return Answer(200, {"cache-control": "no-store"}, b"")
        if raw_path == "/logout" and method == "GET":
            return self._logout(params)
        if raw_path.rstrip("/") == "/cognito-idp" and method == "POST":
            target = {k.lower(): v for k, v in headers.items()}.get("x-amz-target", "")
            return self._api(target, body)
        return _json(404, {"message": "Not Found"})

    def _authorize(self, params: Mapping[str, str]) -> Answer:
        problem = self._authorize_problem(params)
        if problem:
            return _json(400, {"error": "invalid_request", "error_description": problem})
        return self._page(params, "")

    def _authorize_problem(self, params: Mapping[str, str]) -> str:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if not _local_redirect(params.get("redirect_uri", "")):
            return "redirect_uri is not a callback URL of the app client"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with code_challenge_method S256 is required"
        return ""

    def _page(
        self,
        params: Mapping[str, str],
        error: str,
        *,
        new_password_for: str = "",
        code_for: str = "",
        session: str = "",
    ) -> Answer:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k in _AUTHORIZE_PARAMS
        )
        message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        if code_for:
            fields = (
                f'<input type="hidden" name="username" value="{html.escape(code_for)}">'
                f'<input type="hidden" name="session" value="{html.escape(session)}">'
                "<p>Enter the six-digit code your authenticator app shows for Shipshape.</p>"
                '<label for="code">Code</label>'
                '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"'
                ' pattern="[0-9]{6}" maxlength="6" required>'
                '<input type="hidden" name="password" value="">'
                '<button type="submit">Verify and sign in</button>'
            )
        elif new_password_for:
            fields = (
                f'<input type="hidden" name="username" value="{html.escape(new_password_for)}">'
                f'<input type="hidden" name="session" value="{html.escape(session)}">'
                "<p>Your password is temporary. Choose a new one to finish signing in.</p>"
                '<label for="new_password">New password</label>'
                '<input id="new_password" name="new_password" type="password" required>'
                '<input type="hidden" name="password" value="">'
                '<button type="submit">Set password and sign in</button>'
            )
        else:
            fields = (
                '<label for="username">Username</label>'
                '<input id="username" name="username" autocomplete="username" required>'
                '<label for="password">Password</label>'
                '<input id="password" name="password" type="password" required>'
                '<button type="submit">Sign in</button>'
            )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Sign in · Shipshape (local user pool)</title><style>{_PAGE_STYLE}</style>"
            "</head><body><main><h1>Shipshape operators</h1>"
            '<p class="hint">Local user pool of the embedded stack</p>'
            f'<form method="post" action="/login">{hidden}{message}{fields}</form>'
            "</main></body></html>"
        )
        headers = {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "content-security-policy": (
                f"default-src 'none'; form-action 'self'; style-src '{_PAGE_STYLE_HASH}'"
            ),
        }
        return Answer(200 if not error else 400, headers, page.encode())

    def _login(self, form: Mapping[str, str]) -> Answer:
        params = {k: v for k, v in form.items() if k in _AUTHORIZE_PARAMS}
        problem = self._authorize_problem(params)
        if problem:
            return _json(400, {"error": "invalid_request", "error_description": problem})
        username = form.get("username", "")
        operator = self.users.get(username)
        new_password, one_time = form.get("new_password", ""), form.get("code", "")
        if new_password or one_time:
            # The answer to a challenge: only with the session the right password opened.
            session = form.get("session", "")
            challenge = NEW_PASSWORD if new_password else MFA
            with self._lock:
                challenged = self._sessions.get(session) if session else None
            if operator is None or challenged != (username, challenge):
                return self._page(params, "Your sign-in session has ended. Sign in again.")
            if new_password and not _strong(new_password):
                return self._page(
                    params, POLICY_REFUSAL, new_password_for=username, session=session
                )
            if one_time and not _code_matches(operator, one_time):
                return self._page(params, "Incorrect code.", code_for=username, session=session)
            with self._lock:
                self._sessions.pop(session, None)
            if new_password:
                operator.password, operator.new_password_required = new_password, False
                if operator.totp_secret:
                    return self._page(
                        params, "", code_for=username, session=self._challenge(username, MFA)
                    )
        elif operator is None or not secrets.compare_digest(
            operator.password, form.get("password", "")
        ):
            return self._page(params, "Incorrect username or password.")
        elif operator.new_password_required:
            session = self._challenge(username, NEW_PASSWORD)
            return self._page(params, "", new_password_for=username, session=session)
        elif operator.totp_secret:
            return self._page(params, "", code_for=username, session=self._challenge(username, MFA))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                username=username, client_id=params["client_id"],
                redirect_uri=params["redirect_uri"], challenge=params["code_challenge"],
                expires=self.clock().timestamp() + CODE_SECONDS, scope=params.get("scope", ""),
            )  # fmt: skip
        query = {"code": code, **({"state": params["state"]} if params.get("state") else {})}
        return _redirect(f"{params['redirect_uri']}?{urlencode(query)}")

    def _token(self, form: Mapping[str, str]) -> Answer:
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return _json(400, {"error": "invalid_client"})
        if grant == "authorization_code":
            with self._lock:
                found = self._codes.pop(form.get("code", ""), None)  # a code is used once
            verifier = form.get("code_verifier", "")
            challenge = _b64(hashlib.sha256(verifier.encode()).digest())
            if (
                found is None
                or found.expires <= self.clock().timestamp()
                or found.redirect_uri != form.get("redirect_uri")
                or not secrets.compare_digest(found.challenge, challenge)
            ):
                return _json(400, {"error": "invalid_grant"})
            return _json(200, self.tokens(found.username), {"cache-control": "no-store"})
        if grant == "refresh_token":
            with self._lock:
                username = self._refresh.get(form.get("refresh_token", ""))
            if username is None:
                return _json(400, {"error": "invalid_grant"})
            # Cognito answers a refresh without a new refresh token (no rotation configured).
            return _json(200, self.tokens(username, refresh=False), {"cache-control": "no-store"})
        return _json(400, {"error": "unsupported_grant_type"})

    def _logout(self, params: Mapping[str, str]) -> Answer:
        if params.get("client_id") != self.client_id or not _local_redirect(
            params.get("logout_uri", "")
        ):
            return _json(400, {"error": "invalid_request"})
        return _redirect(params["logout_uri"])

    def revoke(self, refresh_token: str) -> None:
        with self._lock:
            self._refresh.pop(refresh_token, None)

    # -- the user pools API (JSON 1.1), as the CLI calls it --

    def _api(self, target: str, body: bytes) -> Answer:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _api_error("SerializationException", "the body is not JSON")
        operation = target.rpartition(".")[2]
        if request.get("ClientId") != self.client_id:
            return _api_error("ResourceNotFoundException", "User pool client does not exist.")
        if operation == "InitiateAuth":
            return self._initiate_auth(request)
        if operation == "RespondToAuthChallenge":
            return self._respond_to_challenge(request)
        return _api_error("InvalidParameterException", f"{operation} is not served locally")

    def _initiate_auth(self, request: Mapping[str, Any]) -> Answer:
        flow = request.get("AuthFlow")
        parameters = request.get("AuthParameters") or {}
        if flow == "REFRESH_TOKEN_AUTH":
            with self._lock:
                username = self._refresh.get(str(parameters.get("REFRESH_TOKEN", "")))
            if username is None:
                return _api_error("NotAuthorizedException", "Invalid Refresh Token")
            return _json(
                200, {"AuthenticationResult": _result(self.tokens(username, refresh=False))}
            )
        if flow != "USER_PASSWORD_AUTH":
            return _api_error("InvalidParameterException", f"Auth flow {flow} is not enabled")
        operator = self.users.get(str(parameters.get("USERNAME", "")))
        if operator is None or not secrets.compare_digest(
            operator.password, str(parameters.get("PASSWORD", ""))
        ):
            return _api_error("NotAuthorizedException", "Incorrect username or password.")
        if operator.new_password_required:
            return self._challenge_answer(operator, NEW_PASSWORD)
        if operator.totp_secret:
            return self._challenge_answer(operator, MFA)
        return _json(200, {"AuthenticationResult": _result(self.tokens(operator.username))})

    def _challenge(self, username: str, challenge: str) -> str:
        """A new challenge session for the user (what Cognito returns as ``Session``)."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = (username, challenge)
        return session

    def _challenge_answer(self, operator: Operator, challenge: str) -> Answer:
        parameters: dict[str, str] = {"USER_ID_FOR_SRP": operator.username}
        if challenge == NEW_PASSWORD:
            parameters |= {"requiredAttributes": "[]",
                           "userAttributes": json.dumps({"name": operator.username})}  # fmt: skip
        return _json(200, {
            "ChallengeName": challenge, "ChallengeParameters": parameters,
            "Session": self._challenge(operator.username, challenge),
        })  # fmt: skip

    def _respond_to_challenge(self, request: Mapping[str, Any]) -> Answer:
        # A session answers one challenge, once: a wrong code means signing in again, as
        # Cognito's CodeMismatchException does for the API.
        with self._lock:
            opened = self._sessions.pop(str(request.get("Session", "")), None)
        responses = request.get("ChallengeResponses") or {}
        challenge = request.get("ChallengeName")
        if opened is None or opened != (responses.get("USERNAME"), challenge):
            return _api_error("NotAuthorizedException", "Invalid session for the user.")
        operator = self.users[opened[0]]
        if challenge == MFA:
            if not _code_matches(operator, str(responses.get("SOFTWARE_TOKEN_MFA_CODE", ""))):
                return _api_error("CodeMismatchException", "Invalid code received for user")
            return _json(200, {"AuthenticationResult": _result(self.tokens(operator.username))})
        new_password = str(responses.get("NEW_PASSWORD", ""))
        if not _strong(new_password):
            return _api_error("InvalidPasswordException", POLICY_REFUSAL)
        operator.password, operator.new_password_required = new_password, False
        if operator.totp_secret:
            return self._challenge_answer(operator, MFA)
        return _json(200, {"AuthenticationResult": _result(self.tokens(operator.username))})


_AUTHORIZE_PARAMS = (
    "response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge",
    "code_challenge_method",
)  # fmt: skip
# The policy's refusal, not a password.
POLICY_REFUSAL = (
    "Password does not conform to policy: at least 12 characters, with upper and lower case "
    "letters, a number and a symbol."
)


NEW_PASSWORD, MFA = "NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA"


def _code_matches(operator: Operator, code: str) -> bool:
    """The authenticator app's current code (or the one before or after: the clocks of a
    phone and a server drift), compared in constant time by pyotp. Wall time, as the app's."""
    return bool(operator.totp_secret) and pyotp.TOTP(operator.totp_secret).verify(
        code, valid_window=1
    )


def _strong(password: str) -> bool:
    """The pool's password policy (template.yaml: 12 characters, every class)."""
    return (
        len(password) >= 12
        and any(c.islower() for c in password)
        and any(c.isupper() for c in password)
        and any(c.isdigit() for c in password)
        and any(not c.isalnum() for c in password)
    )


def _local_redirect(uri: str) -> bool:
    """A callback or sign-out URL of the local app client: the dashboard on a loopback host
    (the template lists the deployed dashboard's URL)."""
    parts = urlsplit(uri)
    return (
        parts.scheme == "http"
        and parts.hostname in {"127.0.0.1", "localhost"}
        and parts.path == "/dashboard"
        and not parts.query
        and not parts.fragment
    )


def _result(tokens: Mapping[str, Any]) -> dict[str, Any]:
    """The token endpoint's answer in the user pools API's shape (AuthenticationResult)."""
    result = {
        "IdToken": tokens["id_token"],
        "AccessToken": tokens["access_token"],
        "ExpiresIn": tokens["expires_in"],
        "TokenType": tokens["token_type"],
    }
    if "refresh_token" in tokens:
        result["RefreshToken"] = tokens["refresh_token"]
    return result


def _api_error(kind: str, message: str) -> Answer:
    return _json(400, {"__type": kind, "message": message})
