"""The HTTP edge shared by the API functions: error bodies, the one place that maps domain
errors to status codes, and the limits every request is held to before a handler sees it."""

import base64
import json
import math
import sys
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shipshape.authorization import Operator
from shipshape.base import Model
from shipshape.errors import ClientRequestError, PayloadInvalid, TransientDependencyError
from shipshape.observability import logger


class ErrorBody(Model):
    error: str
    message: str


class PayloadTooLarge(ClientRequestError):
    status = 413


class RequestInvalid(ClientRequestError):
    """The body cannot be read as JSON this API takes (the name the resolver's validation
    refusals carry too)."""

    status = 422


# --- limits on what a request may carry ---------------------------------------------------

# Every id in a path or query (client, order, exception, person, document) is at most this
# long; the longest real one is a client id or owner name of 63 characters. A longer value is
# refused before it becomes a DynamoDB key (partition keys hold 2,048 bytes, sort keys 1,024,
# and a longer one is a server error) or is quoted back in a refusal.
ID_MAX_LENGTH = 64
PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX_LENGTH)]
QueryId = Annotated[str | None, Query(min_length=1, max_length=ID_MAX_LENGTH)]

# JSON bodies, as every route reads them (``read_json``).
JSON_BODY_LIMIT = 256 * 1024  # bytes: as the webhooks' default, room for 1,000 pick scans
JSON_MAX_DEPTH = 32  # levels of arrays and objects; no body here needs 10
JSON_MAX_DIGITS = 38  # in an integer: what DynamoDB keeps exactly, past any field's bounds
PROBLEMS_SHOWN = 10  # invalid fields named in one refusal


def api_resolver(*, max_body_bytes: int = JSON_BODY_LIMIT) -> APIGatewayHttpResolver:
    """The resolver of an API function: requests validated against each route's models,
    JSON bodies read by ``read_json`` (so every route gets its limits), refusals answered with
    the error body."""
    app = APIGatewayHttpResolver(
        enable_validation=True,
        json_body_deserializer=partial(read_json, limit=max_body_bytes),
    )
    install_error_handlers(app)
    return app


def read_json(text: str, limit: int) -> Any:
    """The body as JSON, within the edge's limits. Python's own parser, left to itself, fails
    on an integer of over 4,300 digits (ValueError) and on nesting past the interpreter's
    recursion limit (RecursionError), which the resolver would answer 500: both are refused
    here as the sender's mistake, and so is what no model here takes (NaN, infinities)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise PayloadTooLarge(f"body is {size} bytes; the limit is {limit}")
    try:
        document = json.loads(
            text, parse_int=_integer, parse_float=_finite, parse_constant=_not_a_number
        )
    except RecursionError:
        raise RequestInvalid(_TOO_DEEP) from None
    if _nested_deeper_than(document, JSON_MAX_DEPTH):
        raise RequestInvalid(_TOO_DEEP)
    return document


_TOO_DEEP = f"body: nested more than {JSON_MAX_DEPTH} levels deep; the limit is {JSON_MAX_DEPTH}"


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > JSON_MAX_DIGITS:
        raise RequestInvalid(f"body: a number has {digits} digits; the limit is {JSON_MAX_DIGITS}")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise RequestInvalid(f"body: a number is out of range; the limit is {sys.float_info.max:g}")
    return value


def _not_a_number(name: str) -> Any:
    raise RequestInvalid(f"body: {name} is not a JSON number")


def _nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (level by level, without
    recursion: a document that parsed can still be too deep to walk recursively)."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return bool(level)


def json_response[M: BaseModel](
    status: int, body: M, headers: dict[str, str] | None = None
) -> Response[M]:
    """A JSON response whose body the resolver validates and serializes against its model."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=headers,
    )


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(ClientRequestError)  # type: ignore[untyped-decorator]
    def _client_error(exc: ClientRequestError) -> Response[ErrorBody]:
        logger.info("request refused", extra={"error": type(exc).__name__, "status": exc.status})
        return json_response(exc.status, ErrorBody(error=type(exc).__name__, message=str(exc)))

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def _invalid_request(exc: RequestValidationError) -> Response[ErrorBody]:
        # The same body shape as every other refusal, naming each field and what it needs
        # (the first few: a body of thousands of bad values gets a short answer, not a long one).
        errors = exc.errors()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'request'}: "
            f"{err.get('msg') or err.get('type')}"
            for err in errors[:PROBLEMS_SHOWN]
        )
        if len(errors) > PROBLEMS_SHOWN:
            problems += f" (and {len(errors) - PROBLEMS_SHOWN} more)"
        return json_response(422, ErrorBody(error="RequestInvalid", message=problems))

    @app.exception_handler(ValueError)  # type: ignore[untyped-decorator]
    def _unreadable_body(exc: ValueError) -> Response[ErrorBody]:
        # Powertools reads the body before validating it and lets two of the sender's mistakes
        # through as ValueError: bytes that are not UTF-8, and multipart data it cannot split.
        # Any other ValueError is a bug, and stays one (500).
        problem = _unreadable(app.current_event)
        if problem is None:
            raise exc
        return json_response(422, ErrorBody(error="RequestInvalid", message=f"body: {problem}"))

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def _unsupported_media_type(exc: RequestUnsupportedContentType) -> Response[ErrorBody]:
        media_type = app.current_event.headers.get("content-type", "")
        return json_response(
            415,
            ErrorBody(
                error="UnsupportedMediaType",
                message=f"body: {media_type!r} is not accepted; send application/json",
            ),
        )

    @app.exception_handler(TransientDependencyError)  # type: ignore[untyped-decorator]
    def _unavailable(exc: TransientDependencyError) -> Response[ErrorBody]:
        logger.warning("dependency unavailable", extra={"error": str(exc)})
        return json_response(
            503,
            ErrorBody(error="ServiceUnavailable", message="try again shortly; nothing was lost"),
            headers={"Retry-After": "5"},
        )


def _unreadable(event: APIGatewayProxyEventV2) -> str | None:
    """What makes the body unreadable as the request's data, or None if nothing does."""
    if event.is_base64_encoded:
        try:
            base64.b64decode(event.body or "").decode("utf-8")
        except ValueError:  # bad base64, or bytes that are not UTF-8
            return "not UTF-8 encoded JSON"
    media_type = event.headers.get("content-type", "").strip().lower()
    if media_type.startswith("multipart/form-data"):
        return "multipart/form-data that cannot be read (no or bad boundary); send JSON"
    return None


def raw_body(event: APIGatewayProxyEventV2, limit: int) -> bytes:
    """The body exactly as the sender signed it (API Gateway may base64 it)."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error for bad base64, plain ValueError for non-ASCII text
            raise PayloadInvalid("body is marked base64 but is not valid base64") from None
    else:
        data = body.encode("utf-8")
    if len(data) > limit:
        raise PayloadTooLarge(f"body is {len(data)} bytes; the limit is {limit}")
    return data


# --- caching of answers ------------------------------------------------------------------------

# What an API answers is a view of orders, their customers and exceptions, or a refusal naming
# them: no browser cache, shared proxy or back button may keep a copy.
NO_STORE = "no-store"


@lambda_handler_decorator
def no_store_by_default(
    handler: Callable[[dict[str, Any], LambdaContext], dict[str, Any]],
    event: dict[str, Any],
    context: LambdaContext,
) -> dict[str, Any]:
    """Every answer of the decorated API handler is ``Cache-Control: no-store`` unless its
    route chose a caching policy of its own (the dashboard's page and assets do).

    At the handler rather than as a resolver middleware (``app.use``): Powertools runs the
    exception handlers outside its middleware stack and validates the request before it, so
    a middleware never sees the refusals (403, 404, 422), which name orders and clients too.
    """
    response = handler(event, context)
    headers = response.setdefault("headers", {})
    if not any(name.lower() == "cache-control" for name in headers):
        headers["Cache-Control"] = NO_STORE
    return response


# --- who is asking: the operator of a request ---------------------------------------------


def operator_from_claims(claims: dict[str, Any]) -> Operator:
    """The operator a request's JWT claims name (API Gateway's JWT authorizer verified them):
    their stable user name, the Cognito groups as roles and ``custom:clients`` as the clients
    served.

    The user name is ``cognito:username`` in an ID token and ``username`` in an access token:
    the name an administrator created the operator under, which client rules (owners, teams,
    escalation chains) and audit trails use. Never ``sub``: on Cognito it is a UUID that no
    rule names."""
    groups = claims.get("cognito:groups") or []
    if isinstance(groups, str):  # API Gateway flattens list claims to "[a b]" strings
        groups = groups.strip("[]").replace(",", " ").split()
    clients = str(claims.get("custom:clients", "")).replace(",", " ").split()
    return Operator(
        subject=str(claims.get("cognito:username") or claims.get("username") or "unknown"),
        roles=frozenset(groups),
        clients=frozenset(clients),
    )
