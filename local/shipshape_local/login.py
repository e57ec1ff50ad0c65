"""`shipshape login` and `shipshape token`: an operator signs in from a terminal.

The CLI speaks the Cognito user pools API (``InitiateAuth`` with ``USER_PASSWORD_AUTH``, then
``RespondToAuthChallenge`` when Cognito answers ``NEW_PASSWORD_REQUIRED`` for an operator an
administrator created, or ``SOFTWARE_TOKEN_MFA`` for one who turned on MFA) and keeps the
tokens for later commands; ``token`` prints a valid ID token, renewing it with
``REFRESH_TOKEN_AUTH`` when it is about to end. A password flow rather than a browser redirect
works over SSH and in CI, where no browser can open; the password goes to the user pool only,
over TLS. The same calls reach the embedded runtime's local user pool (``issuer``) at
``URL/cognito-idp``.

The session file (``$XDG_CONFIG_HOME/shipshape/session.json``, else ``~/.config/...``) is
written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RENEW_BEFORE_SECONDS = 300  # a token with less than five minutes left is renewed first


class LoginFailed(Exception):
    """The user pool refused the sign-in (its message says why)."""


class UserPoolUnreachable(ConnectionError):
    """No answer from the user pools API (a wrong --url or region, or no network)."""


@dataclass(frozen=True)
class Session:
    endpoint: str  # the user pools API the tokens came from
    region: str
    client_id: str
    username: str
    id_token: str
    refresh_token: str
    expires_at: float  # by this machine's clock


def session_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shipshape" / "session.json"


def save(session: Session, path: Path | None = None) -> Path:
    target = path or session_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(session), out)
    os.chmod(target, 0o600)  # an older file may have been created with other bits
    return target


def load(path: Path | None = None) -> Session | None:
    target = path or session_path()
    try:
        return Session(**json.loads(target.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def user_pools_api(endpoint: str, region: str) -> Any:
    """A client of the user pools API. InitiateAuth and RespondToAuthChallenge are public
    calls: no AWS credentials, requests unsigned."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 2}),
    )


# The challenges `login` answers: the first sign-in's new password, and the one-time code of
# an operator with an authenticator app (the pool's MFA is optional, TOTP only). Others (such
# as MFA_SETUP, should the pool ever require MFA) are the managed sign-in pages' to answer.
ANSWERED = ("NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA")


def login(
    *,
    endpoint: str,
    region: str,
    client_id: str,
    username: str,
    password: str,
    new_password: Callable[[], str],
    mfa_code: Callable[[], str],
) -> Session:
    """Sign in; ``new_password`` is asked for when the user pool requires one first, and
    ``mfa_code`` (the authenticator app's six digits) when the operator turned on MFA."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    api = user_pools_api(endpoint, region)
    try:
        answer = api.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        while answer.get("ChallengeName") in ANSWERED:
            challenge = answer["ChallengeName"]
            responses = (
                {"NEW_PASSWORD": new_password()}
                if challenge == "NEW_PASSWORD_REQUIRED"
                else {"SOFTWARE_TOKEN_MFA_CODE": mfa_code()}
            )
            try:
                answer = api.respond_to_auth_challenge(
                    ClientId=client_id, ChallengeName=challenge, Session=answer["Session"],
                    ChallengeResponses={"USERNAME": username, **responses},
                )  # fmt: skip
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code == "CodeMismatchException":
                    raise LoginFailed("the code is not the one your app shows now") from None
                if code != "InvalidPasswordException":
                    raise
                raise LoginFailed(exc.response["Error"]["Message"]) from None
    except ClientError as exc:
        raise LoginFailed(exc.response["Error"]["Message"]) from None
    except EndpointConnectionError as exc:
        raise UserPoolUnreachable(str(exc)) from None
    if "AuthenticationResult" not in answer:
        raise LoginFailed(
            f"the user pool asks for {answer.get('ChallengeName')}, which `shipshape login` "
            "cannot answer: sign in once at the dashboard, then try again"
        )
    result = answer["AuthenticationResult"]
    return Session(
        endpoint=endpoint, region=region, client_id=client_id, username=username,
        id_token=result["IdToken"], refresh_token=result["RefreshToken"],
        expires_at=time.time() + int(result["ExpiresIn"]),
    )  # fmt: skip


def current_token(path: Path | None = None) -> str | None:
    """A valid ID token of the saved session, renewed first if it is about to end; None when
    there is no session (or it can no longer be renewed)."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    session = load(path)
    if session is None:
        return None
    if session.expires_at - time.time() > RENEW_BEFORE_SECONDS:
        return session.id_token
    api = user_pools_api(session.endpoint, session.region)
    try:
        answer = api.initiate_auth(
            ClientId=session.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": session.refresh_token},
        )
    except (ClientError, EndpointConnectionError):
        return None
    result = answer["AuthenticationResult"]
    renewed = Session(
        **{**asdict(session), "id_token": result["IdToken"],
           "expires_at": time.time() + int(result["ExpiresIn"])}
    )  # fmt: skip
    save(renewed, path)
    return renewed.id_token
