"""POST /warehouse/{client_id}/events: pick scans and pack data from the client's warehouse.

The sender's bearer token is checked before its body is read, and a client id nobody
configured is answered exactly as a wrong token is, so the route tells nobody without a token
which client ids exist or what the body takes.

Warehouse systems resend events; each (client, event_id) is processed once (Powertools
idempotency) and a resend gets the first answer back, marked as a duplicate.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import aws_client, container
from shipshape.config import Settings
from shipshape.errors import Unauthorized, UnknownClient
from shipshape.http import ErrorBody, PathId, api_resolver, json_response
from shipshape.observability import logger, metrics
from shipshape.services.warehouse import (
    WarehouseDelivery,
    WarehouseEvent,
    WarehouseEventAccepted,
    handle_warehouse_event,
)

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring("idempotency_table")

app = api_resolver()


def _mark_duplicate(response: Any, idempotent_data: DataRecord) -> Any:
    """A replayed answer: the same body, flagged, so the sender knows nothing new happened."""
    return response.model_copy(update={"duplicate": True})


# Events are remembered for a week; a resend with the same id but other content is refused.
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="[client_id, event.event_id]",
    payload_validation_jmespath="event",
    expires_after_seconds=7 * 24 * 3600,
    response_hook=_mark_duplicate,
)


@cache
def _accept_once(table_name: str) -> Callable[..., WarehouseEventAccepted]:
    """Built on first use, once per table, on the function's own DynamoDB client (left to
    itself, the persistence layer would open a second boto3 session)."""
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws_client("dynamodb"))

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="delivery",
        persistence_store=store,
        config=IDEMPOTENCY,
        output_serializer=PydanticSerializer(model=WarehouseEventAccepted),
    )
    def accept(delivery: WarehouseDelivery) -> WarehouseEventAccepted:
        deps = container()
        return handle_warehouse_event(
            client=deps.clients.get(delivery.client_id), event=delivery.event, repo=deps.repo,
            workflow=deps.workflow, inventory=deps.inventory,
        )  # fmt: skip

    return accept  # type: ignore[no-any-return]


@app.exception_handler(IdempotencyValidationError)  # type: ignore[untyped-decorator]
def handle_event_id_reused(exc: IdempotencyValidationError) -> Response[ErrorBody]:
    return json_response(
        409,
        ErrorBody(
            error="EventIdReused",
            message="this event_id was already used for a different event; use a new event_id",
        ),
    )


@app.exception_handler(IdempotencyAlreadyInProgressError)  # type: ignore[untyped-decorator]
def handle_event_in_progress(exc: IdempotencyAlreadyInProgressError) -> Response[ErrorBody]:
    return json_response(
        409,
        ErrorBody(error="EventInProgress", message="this event is being processed; retry shortly"),
        headers={"Retry-After": "1"},
    )


REFUSED = "warehouse token is not valid for this client"


def _authenticate(client_id: str) -> None:
    deps = container()
    presented = app.current_event.headers.get("authorization", "")
    scheme, _, token = presented.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token in the Authorization header")
    try:
        client = deps.clients.get(client_id)
    except UnknownClient:
        raise Unauthorized(REFUSED) from None
    try:
        expected = deps.secrets.get(client.warehouse_token_secret_name)
    except KeyError:
        logger.error("warehouse token secret unavailable", extra={"client_id": client_id})
        raise Unauthorized(REFUSED) from None
    if not hmac.compare_digest(token.strip().encode(), expected):
        raise Unauthorized(REFUSED)


def _authenticated(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    _authenticate(app.current_event.path_parameters.get("client_id", ""))
    return next_middleware(app)


@app.post(
    "/warehouse/<client_id>/events",
    # Powertools validates a route's request before the route's own middlewares run. This
    # route runs the same validation, Powertools' own middlewares, after the token check.
    enable_validation=False,
    middlewares=[
        _authenticated,
        OpenAPIRequestValidationMiddleware(),  # type: ignore[no-untyped-call]
        OpenAPIResponseValidationMiddleware(),
    ],
)
def handle_post_warehouse_event(
    client_id: PathId, event: Annotated[WarehouseEvent, Body()]
) -> Response[WarehouseEventAccepted]:
    accept = _accept_once(container().settings.idempotency_table)
    accepted = accept(delivery=WarehouseDelivery(client_id=client_id, event=event))
    if accepted.duplicate:
        return json_response(200, accepted)
    metrics.add_metric(name="WarehouseEventAccepted", unit="Count", value=1)
    return json_response(202, accepted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    IDEMPOTENCY.register_lambda_context(context)
    return app.resolve(event, context)
