"""A client's operating rules: who owns each exception type, how fast they must act (in
business hours), and whom it escalates to when they do not.

No automation without an owner for its exceptions: a client's rules must name an owner and an
escalation chain for *every* exception type, and every name they use must be a known team or
person. Rules that leave a gap are refused with a message that names it.
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from shipshape.base import Model
from shipshape.models import NAME_MAX_LENGTH, ExceptionType, Note
from shipshape.sla import BusinessCalendar, WorkingHours

__all__ = ["ClientRules", "ExceptionRule", "ExceptionType", "calendar_for", "due_at"]

OwnerName = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
]
BusinessHours = Annotated[float, Field(gt=0, le=24 * 30)]

# Each rules version is stored whole in one DynamoDB item, and every notification carries the
# steps of its rule: the counts are a client's whole organisation, with room to spare.
MAX_PEOPLE = 500  # people without a team; members of one team; pickers
MAX_TEAMS = 100
MAX_ESCALATION_LEVELS = 10  # each level is one more missed SLA
MAX_REMEDIATION_STEPS = 20  # a checklist someone follows while the SLA runs
MAX_CLOSED_DATES = 1000  # years of closures one by one; holidays come from the calendar
Remediation = Annotated[tuple[Note, ...], Field(min_length=1, max_length=MAX_REMEDIATION_STEPS)]
People = Annotated[tuple[OwnerName, ...], Field(max_length=MAX_PEOPLE)]


class EscalationLevel(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: OwnerName
    sla_hours: BusinessHours = Field(description="Business hours this level has to act.")


class ExceptionRule(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: OwnerName
    sla_hours: BusinessHours
    escalation: tuple[EscalationLevel, ...] = Field(
        min_length=1,
        max_length=MAX_ESCALATION_LEVELS,
        description="Who takes over, level by level, when the SLA is missed.",
    )
    remediation: Remediation = Field(
        description="The steps the owner follows; sent with every notification."
    )

    @property
    def sla(self) -> timedelta:
        return timedelta(hours=self.sla_hours)

    def level(self, number: int) -> tuple[str, timedelta]:
        """Owner and SLA at escalation ``number`` (0 is the first owner); the last level holds."""
        if number <= 0:
            return self.owner, self.sla
        step = self.escalation[min(number, len(self.escalation)) - 1]
        return step.owner, timedelta(hours=step.sla_hours)


class Schedule(Model):
    """When the client's SLA clocks run; the timezone is the client's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(9, 0)
    end: time = time(17, 0)
    # Codes of the holidays library (the longest it knows today has 17 characters).
    holiday_country: Annotated[str, Field(max_length=NAME_MAX_LENGTH)] | None = None
    holiday_subdivision: Annotated[str, Field(max_length=NAME_MAX_LENGTH)] | None = None
    extra_closed_dates: frozenset[date] = Field(default=frozenset(), max_length=MAX_CLOSED_DATES)


class ClientRules(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    working_hours: Schedule = Field(default_factory=Schedule)
    teams: dict[OwnerName, People] = Field(default_factory=dict, max_length=MAX_TEAMS)
    people: People = Field(
        default=(), description="People who own or escalate but belong to no team."
    )
    away_reassign_after_hours: BusinessHours = Field(
        default=4, description="Reassign an away owner's open exceptions after this long."
    )
    exceptions: dict[ExceptionType, ExceptionRule] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_gaps(self) -> "ClientRules":
        missing = [t.value for t in ExceptionType if t not in self.exceptions]
        if missing:
            raise ValueError(f"no owner for exception type(s) {', '.join(missing)}")
        empty = [name for name, members in self.teams.items() if not members]
        if empty:
            raise ValueError(f"team(s) {', '.join(empty)} have no members")
        known = self.known_owners()
        for kind, rule in self.exceptions.items():
            names = [rule.owner, *(level.owner for level in rule.escalation)]
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(
                    f"exceptions.{kind.value} names unknown owner(s) {', '.join(unknown)}; "
                    "add them to teams or people"
                )
        return self

    def known_owners(self) -> frozenset[str]:
        members = {m for team in self.teams.values() for m in team}
        return frozenset({*self.teams, *members, *self.people})

    def members_of(self, owner: str) -> tuple[str, ...]:
        """The people behind an owner: a team's members, or the person themself."""
        return self.teams.get(owner, (owner,))

    def rule_for(self, kind: ExceptionType) -> ExceptionRule:
        return self.exceptions[kind]


def calendar_for(timezone: str, schedule: Schedule) -> BusinessCalendar:
    """The client's business calendar: its timezone, working hours and public holidays."""
    return BusinessCalendar(WorkingHours(timezone=timezone, **schedule.model_dump()))


def due_at(
    calendar: BusinessCalendar, rule: ExceptionRule, opened_at: datetime, level: int = 0
) -> tuple[str, datetime]:
    """Owner and deadline of an exception at an escalation level, in business time."""
    owner, sla = rule.level(level)
    return owner, calendar.add_business_time(opened_at, sla)
