"""The ops API for operators (behind the JWT authorizer): orders and their audit trails, the
exception queue, metrics, the Monday checklist, rules governance, overrides and the dashboard."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shipshape import web as dashboard
from shipshape.authorization import Operator, served_clients
from shipshape.base import Model
from shipshape.bootstrap import container
from shipshape.config import Settings
from shipshape.errors import Forbidden, NotAmongYours, Unauthorized, UnknownClient
from shipshape.http import (
    ErrorBody,
    PathId,
    QueryId,
    api_resolver,
    json_response,
    no_store_by_default,
    operator_from_claims,
)
from shipshape.models import (
    AccessDenial,
    AwayPeriod,
    ExceptionStatus,
    ExceptionType,
    RuleChangeStatus,
)
from shipshape.observability import logger, metrics
from shipshape.services.away import MarkAwayRequest, mark_away
from shipshape.services.checklist import Checklist, monday_checklist
from shipshape.services.exceptions import (
    ExceptionView,
    ResolveExceptionRequest,
    claim_exception,
    list_exceptions,
    resolve_exception,
)
from shipshape.services.governance import (
    ProposeRuleChangeRequest,
    ReviewRequest,
    RuleChanges,
    RuleChangeView,
    RulesHistory,
    activate_rule_change,
    approve_rule_change,
    pending_rule_changes,
    propose_rule_change,
    reject_rule_change,
    rules_history,
)
from shipshape.services.metrics import MetricsReport, client_metrics
from shipshape.services.overrides import (
    OverrideRequest,
    OverrideReview,
    request_override,
    review_override,
)
from shipshape.services.queries import (
    AuditTrail,
    OrderView,
    get_audit_trail,
    get_document,
    get_order,
)

# What this function needs from its environment, checked at cold start.
SETTINGS = Settings.from_environment().requiring("state_machine_arn")

# Operators send notes, resolutions and rule patches of a few KB. A rule change is stored
# whole in one DynamoDB item (400 KB at most), with the rules it makes and its release notes.
app = api_resolver(max_body_bytes=64 * 1024)
app.include_router(dashboard.router)


# Rule versions are stored under six-digit sort keys (V#000001), so their order holds.
RuleVersion = Annotated[int, Path(ge=1, le=999_999)]


class ExceptionQueue(Model):
    exceptions: list[ExceptionView]


class Me(Model):
    subject: str
    roles: list[str]
    clients: list[str]


def _operator() -> Operator:
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    if not claims:
        raise Unauthorized("no operator identity on the request")
    return operator_from_claims(claims)


@app.exception_handler(NotAmongYours)  # type: ignore[untyped-decorator]
def _not_among_yours(exc: NotAmongYours) -> Response[ErrorBody]:
    """Not among the operator's clients: 404, the same for a client or order that does not
    exist and for another client's, so no answer tells which ids exist. An attempt on a
    client that exists is recorded for that client's review (who, what, when) first."""
    return _not_found(exc)


@app.exception_handler(Forbidden)  # type: ignore[untyped-decorator]
def _forbidden(exc: Forbidden) -> Response[ErrorBody]:
    """The operator's role may not do this on a client they serve: 403, naming the role. A
    Forbidden that names a client refuses scope, and is answered as a client not among the
    operator's (404) would be."""
    if exc.client_id:
        refusal = UnknownClient(f"no client {exc.client_id!r} among yours", client_id=exc.client_id)
        return _not_found(refusal)
    logger.warning(
        "access refused", extra={"operator": _operator().subject, "path": app.current_event.path}
    )
    return json_response(403, ErrorBody(error="Forbidden", message=str(exc)))


def _not_found(exc: NotAmongYours) -> Response[ErrorBody]:
    if exc.client_id:
        _record_refusal(exc.client_id)
    logger.info("request refused", extra={"error": type(exc).__name__, "status": 404})
    return json_response(404, ErrorBody(error=type(exc).__name__, message=str(exc)))


def _record_refusal(client_id: str) -> None:
    """Record an operator's attempt on a client's data for that client's access review, if
    the client exists. An id no client has is answered without a write: a record under any
    name a caller picks, one a request, would grow without bound and fill the review."""
    event = app.current_event
    operator = _operator()
    deps = container()
    try:
        deps.clients.file_config(client_id)
    except UnknownClient:
        return
    logger.warning(
        "access refused",
        extra={"operator": operator.subject, "client_id": client_id, "path": event.path},
    )
    deps.access_log.record_denial(
        AccessDenial(
            at=deps.clock.now(), subject=operator.subject, roles=tuple(sorted(operator.roles)),
            client_id=client_id, method=event.http_method, path=event.path,
            reason=f"operator {operator.subject} does not serve client {client_id}",
        )
    )  # fmt: skip


@app.get("/me")
def handle_get_me() -> Me:
    """Who the caller is, their roles and the clients they serve."""
    operator = _operator()
    clients = [c.client_id for c in served_clients(container().clients, operator)]
    return Me(subject=operator.subject, roles=sorted(operator.roles), clients=clients)


@app.get("/metrics")
def handle_get_metrics(
    client: Annotated[str, Query(min_length=1, max_length=64)],
    days: Annotated[int, Query(ge=1, le=92)] = 30,
) -> Response[MetricsReport]:
    deps = container()
    report = client_metrics(
        repo=deps.repo, audit=deps.audit, clients=deps.clients, clock=deps.clock,
        operator=_operator(), client_id=client, days=days,
    )  # fmt: skip
    return json_response(200, report)


@app.get("/checklist")
def handle_get_checklist(client: Annotated[str, Query(min_length=1, max_length=64)]) -> Checklist:
    deps = container()
    return monday_checklist(
        repo=deps.repo, audit=deps.audit, rule_store=deps.rule_store,
        clients=deps.clients, clock=deps.clock, operator=_operator(), client_id=client,
        inventory=deps.inventory,
    )  # fmt: skip


@app.get("/rules/<client_id>")
def handle_get_rules(client_id: PathId) -> RulesHistory:
    deps = container()
    return rules_history(deps.rule_store, deps.clients, client_id, _operator())


@app.get("/rule-changes")
def handle_list_rule_changes(
    status: Annotated[RuleChangeStatus, Query()] = RuleChangeStatus.PROPOSED,
) -> RuleChanges:
    deps = container()
    return pending_rule_changes(deps.rule_store, deps.clients, _operator(), status)


@app.post("/rules/<client_id>/changes")
def handle_propose_rule_change(
    client_id: PathId, proposal: Annotated[ProposeRuleChangeRequest, Body()]
) -> Response[RuleChangeView]:
    deps = container()
    change = propose_rule_change(
        deps.rule_store, deps.clients, deps.clock, client_id, _operator(), proposal
    )
    return json_response(201, change)


@app.post("/rules/<client_id>/changes/<version>/approve")
def handle_approve_rule_change(client_id: PathId, version: RuleVersion) -> RuleChangeView:
    deps = container()
    return approve_rule_change(deps.rule_store, deps.clock, client_id, version, _operator())


@app.post("/rules/<client_id>/changes/<version>/activate")
def handle_activate_rule_change(client_id: PathId, version: RuleVersion) -> RuleChangeView:
    deps = container()
    return activate_rule_change(
        deps.rule_store, deps.clients, deps.clock, client_id, version, _operator()
    )


@app.post("/rules/<client_id>/changes/<version>/reject")
def handle_reject_rule_change(
    client_id: PathId, version: RuleVersion, review: Annotated[ReviewRequest, Body()]
) -> RuleChangeView:
    deps = container()
    return reject_rule_change(deps.rule_store, deps.clock, client_id, version, _operator(), review)


@app.post("/orders/<order_id>/overrides")
def handle_request_override(
    order_id: PathId, override: Annotated[OverrideRequest, Body()]
) -> Response[OrderView]:
    deps = container()
    order = request_override(
        repo=deps.repo, workflow=deps.workflow, clients=deps.clients,
        clock=deps.clock, order_id=order_id, operator=_operator(), request=override,
    )  # fmt: skip
    return json_response(201, order)


@app.post("/orders/<order_id>/overrides/<override_id>/approve")
def handle_approve_override(
    order_id: PathId, override_id: PathId, review: Annotated[OverrideReview, Body()]
) -> OrderView:
    return _review(order_id, override_id, review, approve=True)


@app.post("/orders/<order_id>/overrides/<override_id>/reject")
def handle_reject_override(
    order_id: PathId, override_id: PathId, review: Annotated[OverrideReview, Body()]
) -> OrderView:
    return _review(order_id, override_id, review, approve=False)


def _review(order_id: str, override_id: str, review: OverrideReview, approve: bool) -> OrderView:
    deps = container()
    return review_override(
        repo=deps.repo, workflow=deps.workflow, clients=deps.clients,
        clock=deps.clock, order_id=order_id, override_id=override_id, operator=_operator(),
        approve=approve, review=review,
    )  # fmt: skip


@app.get("/exceptions")
def handle_list_exceptions(
    client: QueryId = None,
    owner: QueryId = None,
    type: Annotated[ExceptionType | None, Query()] = None,
    status: Annotated[ExceptionStatus | None, Query()] = None,
    overdue: Annotated[bool | None, Query()] = None,
) -> ExceptionQueue:
    deps = container()
    return ExceptionQueue(
        exceptions=list_exceptions(
            repo=deps.repo, clients=deps.clients, clock=deps.clock,
            operator=_operator(), client_id=client, owner=owner, type=type, status=status,
            overdue=overdue,
        )
    )  # fmt: skip


@app.post("/exceptions/<exception_id>/claim")
def handle_claim_exception(exception_id: PathId) -> ExceptionView:
    deps = container()
    return claim_exception(
        repo=deps.repo, clock=deps.clock,
        exception_id=exception_id, operator=_operator(),
    )  # fmt: skip


@app.post("/exceptions/<exception_id>/resolve")
def handle_resolve_exception(
    exception_id: PathId, resolution: Annotated[ResolveExceptionRequest, Body()]
) -> Response[ExceptionView]:
    deps = container()
    resolved = resolve_exception(
        repo=deps.repo, workflow=deps.workflow, clients=deps.clients,
        clock=deps.clock, exception_id=exception_id, operator=_operator(), request=resolution,
        inventory=deps.inventory,
    )  # fmt: skip
    if resolved.awaiting_approval is None:  # a cancel waits for a second operator first
        metrics.add_metric(name="ExceptionsResolved", unit="Count", value=1)
    return json_response(202, resolved)


@app.put("/owners/<person>/away")
def handle_mark_owner_away(
    person: PathId, period: Annotated[MarkAwayRequest, Body()]
) -> AwayPeriod:
    deps = container()
    return mark_away(
        away=deps.away, clients=deps.clients, operator=_operator(), person=person, request=period
    )


@app.get("/orders/<order_id>")
def handle_get_order(order_id: PathId) -> OrderView:
    return get_order(container().repo, order_id, _operator())


@app.get("/orders/<order_id>/audit")
def handle_get_order_audit(order_id: PathId) -> AuditTrail:
    return get_audit_trail(container().repo, order_id, _operator())


@app.get("/orders/<order_id>/documents/<name>")
def handle_get_order_document(order_id: PathId, name: PathId) -> Response[str]:
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
@no_store_by_default
def lambda_handler(event: dict, context: LambdaContext) -> dict:  # type: ignore[type-arg]
    return app.resolve(event, context)
