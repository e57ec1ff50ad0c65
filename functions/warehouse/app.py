"""POST /warehouse/{client_id}/events: pick scans and pack data from the client's warehouse."""

from __future__ import annotations

import hmac
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.errors import Unauthorized
from shipshape.http import install_error_handlers, json_response
from shipshape.observability import logger, metrics
from shipshape.services.warehouse import (
    WarehouseEvent,
    WarehouseEventAccepted,
    handle_warehouse_event,
)

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


def _authenticate(client_id: str) -> None:
    deps = container()
    client = deps.clients.get(client_id)
    presented = app.current_event.headers.get("authorization", "")
    scheme, _, token = presented.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token in the Authorization header")
    try:
        expected = deps.secrets.get(client.warehouse_token_secret_name)
    except KeyError:
        logger.error("warehouse token secret unavailable", extra={"client_id": client_id})
        raise Unauthorized("warehouse token is not valid for this client") from None
    if not hmac.compare_digest(token.strip().encode(), expected):
        raise Unauthorized("warehouse token is not valid for this client")


@app.post("/warehouse/<client_id>/events")
def handle_post_warehouse_event(
    client_id: str, event: Annotated[WarehouseEvent, Body()]
) -> Response[WarehouseEventAccepted]:
    _authenticate(client_id)
    deps = container()
    accepted = handle_warehouse_event(
        client_id=client_id, event=event, repo=deps.repo, workflow=deps.workflow
    )
    metrics.add_metric(name="WarehouseEventAccepted", unit="Count", value=1)
    return json_response(202, accepted)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    return app.resolve(event, context)
