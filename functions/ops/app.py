"""The ops API for operators (behind the JWT authorizer): orders and their audit trails."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shipshape import web as dashboard
from shipshape.bootstrap import container
from shipshape.errors import Unauthorized
from shipshape.http import install_error_handlers, json_response
from shipshape.models import AwayPeriod, ExceptionStatus, ExceptionType
from shipshape.observability import logger, metrics
from shipshape.services.away import MarkAwayRequest, mark_away
from shipshape.services.exceptions import (
    ExceptionView,
    ResolveExceptionRequest,
    claim_exception,
    list_exceptions,
    resolve_exception,
)
from shipshape.services.queries import (
    AuditTrail,
    Operator,
    OrderView,
    get_audit_trail,
    get_document,
    get_order,
    operator_from_claims,
)

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)
app.include_router(dashboard.router)


class ExceptionQueue(BaseModel):
    exceptions: list[ExceptionView]


def _operator() -> Operator:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if not claims:
        raise Unauthorized("no operator identity on the request")
    return operator_from_claims(claims)


@app.get("/exceptions")
def handle_list_exceptions(
    client: Annotated[str | None, Query()] = None,
    owner: Annotated[str | None, Query()] = None,
    type: Annotated[ExceptionType | None, Query()] = None,
    status: Annotated[ExceptionStatus | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
) -> ExceptionQueue:
    deps = container()
    return ExceptionQueue(
        exceptions=list_exceptions(
            exceptions=deps.exceptions, clients=deps.clients, clock=deps.clock,
            operator=_operator(), client_id=client, owner=owner, type=type, status=status,
            overdue=overdue,
        )
    )  # fmt: skip


@app.post("/exceptions/<exception_id>/claim")
def handle_claim_exception(exception_id: str) -> ExceptionView:
    deps = container()
    return claim_exception(
        repo=deps.repo, exceptions=deps.exceptions, clock=deps.clock,
        exception_id=exception_id, operator=_operator(),
    )  # fmt: skip


@app.post("/exceptions/<exception_id>/resolve")
def handle_resolve_exception(
    exception_id: str, resolution: Annotated[ResolveExceptionRequest, Body()]
) -> Response[ExceptionView]:
    deps = container()
    resolved = resolve_exception(
        repo=deps.repo, exceptions=deps.exceptions, workflow=deps.workflow, clients=deps.clients,
        clock=deps.clock, exception_id=exception_id, operator=_operator(), request=resolution,
    )  # fmt: skip
    metrics.add_metric(name="ExceptionsResolved", unit="Count", value=1)
    return json_response(202, resolved)


@app.put("/owners/<person>/away")
def handle_mark_owner_away(person: str, period: Annotated[MarkAwayRequest, Body()]) -> AwayPeriod:
    deps = container()
    return mark_away(
        away=deps.away, clients=deps.clients, operator=_operator(), person=person, request=period
    )


@app.get("/orders/<order_id>")
def handle_get_order(order_id: str) -> OrderView:
    return get_order(container().repo, order_id, _operator())


@app.get("/orders/<order_id>/audit")
def handle_get_order_audit(order_id: str) -> AuditTrail:
    return get_audit_trail(container().repo, order_id, _operator())


@app.get("/orders/<order_id>/documents/<name>")
def handle_get_order_document(order_id: str, name: str) -> Response[str]:
    """A pick list or packing manifest as printable HTML, exactly as it was sent."""
    document = get_document(container().repo, order_id, name, _operator())
    return Response(
        status_code=200,
        content_type=f"{document.media_type}; charset=utf-8",
        body=document.content,
        headers={
            # Printable, inert: inline styles only, nothing loaded, nothing run.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
            "X-Document-Sha256": document.sha256,
        },
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    return app.resolve(event, context)
