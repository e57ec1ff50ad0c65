"""The ops API for operators (behind the JWT authorizer): orders and their audit trails."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape.bootstrap import container
from shipshape.errors import Unauthorized
from shipshape.http import install_error_handlers
from shipshape.observability import logger, metrics
from shipshape.services.queries import (
    AuditTrail,
    Operator,
    OrderView,
    get_audit_trail,
    get_order,
    operator_from_claims,
)

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


def _operator() -> Operator:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if not claims:
        raise Unauthorized("no operator identity on the request")
    return operator_from_claims(claims)


@app.get("/orders/<order_id>")
def handle_get_order(order_id: str) -> OrderView:
    return get_order(container().repo, order_id, _operator())


@app.get("/orders/<order_id>/audit")
def handle_get_order_audit(order_id: str) -> AuditTrail:
    return get_audit_trail(container().repo, order_id, _operator())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    return app.resolve(event, context)
