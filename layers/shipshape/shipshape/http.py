"""The HTTP edge shared by the API functions: error bodies and the one place that maps
domain errors to status codes."""

from __future__ import annotations

import base64

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel

from shipshape.base import Model
from shipshape.errors import ClientRequestError, PayloadInvalid, TransientDependencyError
from shipshape.observability import logger


class ErrorBody(Model):
    error: str
    message: str


class PayloadTooLarge(ClientRequestError):
    status = 413


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
        # The same body shape as every other refusal, naming each field and what it needs.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or 'request'}: "
            f"{err.get('msg') or err.get('type')}"
            for err in exc.errors()
        )
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
