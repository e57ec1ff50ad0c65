"""Rules governance: a client's operating rules change by proposal, approval and activation.

Version 1 is the client's configuration file. A change is a JSON merge patch (RFC 7396) over
the governed sections (status owners, pickers, rules, fulfilment). It is validated as a whole
client configuration before it is stored, approved by a lead other than its author, and
activated only if the version it was based on is still the active one. The diff is kept as
release notes, and every order records the version in force when it was received.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, ValidationError

from shipshape.authorization import Action, Operator, require, served_client, served_clients
from shipshape.base import Model
from shipshape.config import GOVERNED_SECTIONS, ClientConfig, ClientDirectory
from shipshape.errors import ClientRequestError, Forbidden, NotFound
from shipshape.models import RuleChange, RuleChangeStatus
from shipshape.ports import Clock, RuleStore
from shipshape.rules import due_at
from shipshape.sla import BusinessTimeOutOfRange


class RulesInvalid(ClientRequestError):
    """The proposed rules would not make a valid client configuration; the message names
    each field."""

    status = 422


class RuleChangeConflict(ClientRequestError):
    """The change cannot move this way (wrong state, or its base is no longer active)."""

    status = 409


class RuleChangeNotFound(NotFound):
    pass


class RulesTooLarge(ClientRequestError):
    """The rules version would not fit in the one record that stores it."""

    status = 413


# The deepest governed value (rules.exceptions.<type>.escalation[n].owner) is 5 levels into a
# patch; merge_patch and release_notes walk a patch recursively, so its depth is bounded.
PATCH_MAX_DEPTH = 8
# A rules version is stored as one DynamoDB item (400 KB at most): its patch, the whole rules
# it makes and their release notes. What it gains later (approval, activation, a rejection
# note of up to 2,000 characters) fits in what is left.
RULE_VERSION_MAX_BYTES = 384 * 1024


def _within_depth(patch: dict[str, Any]) -> dict[str, Any]:
    level: list[Any] = [patch]
    for _ in range(PATCH_MAX_DEPTH):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return patch
    raise ValueError(
        f"nested more than {PATCH_MAX_DEPTH} levels deep; the limit is {PATCH_MAX_DEPTH}"
    )


RulesPatch = Annotated[dict[str, Any], AfterValidator(_within_depth)]


class ProposeRuleChangeRequest(Model):
    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=3, max_length=500, description="Why; the release note.")
    base_version: int = Field(
        ge=1, le=999_999, description="The active version this change is based on."
    )
    changes: RulesPatch = Field(
        min_length=1,
        description="A JSON merge patch over status_owners, pickers, rules and fulfilment "
        f"(null removes a key), at most {PATCH_MAX_DEPTH} levels deep.",
    )


class ReviewRequest(Model):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class RuleChangeView(Model):
    client_id: str
    version: int
    base_version: int
    status: RuleChangeStatus
    summary: str
    release_notes: tuple[str, ...]
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    activated_by: str | None
    activated_at: datetime | None
    rejected_by: str | None
    rejection_reason: str | None

    @classmethod
    def of(cls, change: RuleChange) -> "RuleChangeView":
        return cls(**change.model_dump(include=set(cls.model_fields)))


class RulesHistory(Model):
    client_id: str
    active_version: int
    active: dict[str, Any] = Field(description="The governed sections in force.")
    versions: list[RuleChangeView]


class RuleChanges(Model):
    changes: list[RuleChangeView]


def governed(config: ClientConfig) -> dict[str, Any]:
    """The governed sections of a configuration, as plain JSON."""
    return config.model_dump(mode="json", include=set(GOVERNED_SECTIONS))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def release_notes(before: Any, after: Any, path: str = "") -> list[str]:
    """One line per changed leaf: ``path: old → new`` (added and removed keys included)."""
    if isinstance(before, dict) and isinstance(after, dict):
        notes: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                notes.append(f"{sub}: removed (was {_show(before[key])})")
            elif key not in before:
                notes.append(f"{sub}: added {_show(after[key])}")
            else:
                notes.extend(release_notes(before[key], after[key], sub))
        return notes
    return [] if before == after else [f"{path}: {_show(before)} → {_show(after)}"]


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _validated(base: ClientConfig, document: dict[str, Any], now: datetime) -> ClientConfig:
    data = base.model_dump(mode="json", exclude=set(GOVERNED_SECTIONS))
    try:
        config = ClientConfig.model_validate({**data, **document})
    except ValidationError as exc:
        raise RulesInvalid(_problems(exc)) from None
    # The SLA clocks build the calendar and deadlines only when an exception opens: do it
    # now, so rules the clock cannot run on are refused here, not by every deadline later.
    try:
        calendar = config.calendar
    except ValidationError as exc:
        raise RulesInvalid(_problems(exc, "rules.working_hours.")) from None
    for kind, rule in config.rules.exceptions.items():
        for level in range(len(rule.escalation) + 1):
            try:
                due_at(calendar, rule, now, level)
            except BusinessTimeOutOfRange as exc:
                raise RulesInvalid(
                    f"rules.exceptions.{kind.value}: the working hours leave too little time "
                    f"for its SLAs ({exc})"
                ) from None
    return config


def _problems(exc: ValidationError, prefix: str = "", shown: int = 10) -> str:
    """The first ``shown`` problems, and how many more there are."""
    errors = exc.errors()
    text = "; ".join(
        f"{prefix}{'.'.join(str(p) for p in err['loc']) or 'rules'}: {err['msg']}"
        for err in errors[:shown]
    )
    return text + (f" (and {len(errors) - shown} more)" if len(errors) > shown else "")


def _check_sections(changes: dict[str, Any]) -> None:
    unknown = sorted(set(changes) - set(GOVERNED_SECTIONS))
    if unknown:
        raise RulesInvalid(
            f"{', '.join(unknown)}: not a governed section (governed: "
            f"{', '.join(GOVERNED_SECTIONS)})"
        )


def rules_history(
    store: RuleStore, clients: ClientDirectory, client_id: str, operator: Operator
) -> RulesHistory:
    config = served_client(clients, operator, client_id)
    return RulesHistory(
        client_id=client_id,
        active_version=int(config.rules_version),
        active=governed(config),
        versions=[RuleChangeView.of(c) for c in reversed(store.rule_changes(client_id))],
    )


def pending_rule_changes(
    store: RuleStore, clients: ClientDirectory, operator: Operator, status: RuleChangeStatus
) -> RuleChanges:
    found = [
        RuleChangeView.of(change)
        for config in served_clients(clients, operator)
        for change in store.rule_changes(config.client_id)
        if change.status is status
    ]
    return RuleChanges(changes=sorted(found, key=lambda c: c.proposed_at))


def propose_rule_change(
    store: RuleStore,
    clients: ClientDirectory,
    clock: Clock,
    client_id: str,
    operator: Operator,
    request: ProposeRuleChangeRequest,
) -> RuleChangeView:
    """Validate the change as a whole configuration and store it as the next version."""
    require(operator, client_id, Action.ACT)
    _check_sections(request.changes)
    current = served_client(clients, operator, client_id)
    active = int(current.rules_version)
    if request.base_version != active:
        raise RuleChangeConflict(
            f"base_version {request.base_version} is not the active version ({active}); "
            "propose against the active rules"
        )
    before = governed(current)
    after = governed(_validated(current, merge_patch(before, request.changes), clock.now()))
    notes = release_notes(before, after)
    if not notes:
        raise RulesInvalid("changes: the patch changes nothing in the active rules")
    existing = store.rule_changes(client_id)
    version = max([active, *(c.version for c in existing)]) + 1
    change = RuleChange(
        client_id=client_id, version=version, base_version=active,
        status=RuleChangeStatus.PROPOSED, summary=request.summary, patch=request.changes,
        document=after, release_notes=tuple(notes), proposed_by=operator.subject,
        proposed_at=clock.now(),
    )  # fmt: skip
    size = len(change.model_dump_json().encode())
    if size > RULE_VERSION_MAX_BYTES:
        raise RulesTooLarge(
            f"changes: the rules version would be {size} bytes stored; the limit is "
            f"{RULE_VERSION_MAX_BYTES}"
        )
    store.save_rule_change(change, expected=None)
    return RuleChangeView.of(change)


def _change(store: RuleStore, client_id: str, version: int) -> RuleChange:
    found = next((c for c in store.rule_changes(client_id) if c.version == version), None)
    if found is None:
        raise RuleChangeNotFound(f"client {client_id} has no rule version {version}")
    return found


def approve_rule_change(
    store: RuleStore, clock: Clock, client_id: str, version: int, operator: Operator
) -> RuleChangeView:
    """A lead other than the author approves a proposed change."""
    require(operator, client_id, Action.GOVERN)
    change = _change(store, client_id, version)
    if change.proposed_by == operator.subject:
        raise Forbidden(
            f"rule version {version} was proposed by {operator.subject}; a different lead "
            "must approve it"
        )
    if change.status is not RuleChangeStatus.PROPOSED:
        raise RuleChangeConflict(f"rule version {version} is {change.status.value}, not proposed")
    approved = change.model_copy(
        update={
            "status": RuleChangeStatus.APPROVED,
            "approved_by": operator.subject,
            "approved_at": clock.now(),
        }
    )
    store.save_rule_change(approved, expected=change)
    return RuleChangeView.of(approved)


def activate_rule_change(
    store: RuleStore,
    clients: ClientDirectory,
    clock: Clock,
    client_id: str,
    version: int,
    operator: Operator,
) -> RuleChangeView:
    """Put an approved change in force, if its base is still the active version."""
    require(operator, client_id, Action.GOVERN)
    change = _change(store, client_id, version)
    if change.status is not RuleChangeStatus.APPROVED:
        raise RuleChangeConflict(f"rule version {version} is {change.status.value}, not approved")
    previous = store.active_rules(client_id)
    active = previous.version if previous else int(clients.file_config(client_id).rules_version)
    if change.base_version != active:
        raise RuleChangeConflict(
            f"rule version {version} was based on version {change.base_version}, but version "
            f"{active} is active now; propose it again against the active rules"
        )
    live = change.model_copy(
        update={
            "status": RuleChangeStatus.ACTIVE,
            "activated_by": operator.subject,
            "activated_at": clock.now(),
        }
    )
    store.activate_rule_change(live, approved=change, previous=previous)
    clients.forget(client_id)
    return RuleChangeView.of(live)


def reject_rule_change(
    store: RuleStore,
    clock: Clock,
    client_id: str,
    version: int,
    operator: Operator,
    request: ReviewRequest,
) -> RuleChangeView:
    require(operator, client_id, Action.GOVERN)
    change = _change(store, client_id, version)
    if change.status not in (RuleChangeStatus.PROPOSED, RuleChangeStatus.APPROVED):
        raise RuleChangeConflict(f"rule version {version} is {change.status.value}")
    rejected = change.model_copy(
        update={
            "status": RuleChangeStatus.REJECTED,
            "rejected_by": operator.subject,
            "rejected_at": clock.now(),
            "rejection_reason": request.note or None,
        }
    )
    store.save_rule_change(rejected, expected=change)
    return RuleChangeView.of(rejected)
