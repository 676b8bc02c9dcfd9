"""Built-in `fireline.*` actions: they change the run's incident through the incidents
lifecycle, so log entries and outbox events are written as for any other change.

They run inside the transaction that records the step's completion (guarded by the lease),
so their effect and the step's `succeeded` commit together or not at all: a retry after a
crash can never apply one twice.

`delay` and `wait_for_status` are logic steps that take time: while not done they raise
`Parked`, and the engine puts the step back to `ready` at the time it names, holding no
worker and no lease meanwhile. They measure from the step's first start (`started_at`, kept
in its row), so a restart or a lost worker changes nothing about when they end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import Team, User
from fireline.core.errors import PermanentError
from fireline.incidents import catalog, lifecycle, status_updates
from fireline.incidents.models import Incident
from fireline.incidents.schemas import (
    Assignment,
    ConferenceBridge,
    IncidentChanges,
    Reference,
)
from fireline.incidents.timeline import Agent


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoInput(_Input):
    pass


class NoteInput(_Input):
    content: str = Field(min_length=1, max_length=65_536)


class PriorityInput(_Input):
    priority: str = Field(min_length=1, description="Priority name (P1) or id")


class UrgencyInput(_Input):
    urgency: Literal["high", "low"]


class TitleInput(_Input):
    title: str = Field(min_length=1, max_length=1024)


class ReassignInput(_Input):
    users: list[str] = Field(min_length=1, max_length=100, description="User ids or emails")


class RespondersInput(_Input):
    users: list[str] = Field(min_length=1, max_length=100, description="User ids or emails")
    message: str = Field(default="", max_length=65_536, description=(
        'Sent with the request; empty: Please help with "<incident title>"'))


class DelayInput(_Input):
    seconds: int = Field(ge=1, le=7 * 86400, title="Seconds",
                         description="How long to wait before the next step (up to 7 days)")


class ConditionInput(_Input):
    expression: str = Field(min_length=1, max_length=2000, title="Expression", description=(
        "Run `then` when it holds, else `else`; it sees incident and steps (earlier outputs), "
        "e.g. incident.priority == 'P1'"))


class LoopUntilInput(_Input):
    expression: str = Field(min_length=1, max_length=2000, title="Until", description=(
        "Checked after each pass of the loop's steps; the loop ends once it holds"))
    max_iterations: int = Field(default=10, ge=1, le=100, title="At most (passes)",
                                description="The step fails if it still does not hold then")
    interval_seconds: int = Field(default=0, ge=0, le=86400, title="Between passes (seconds)")


class WaitForStatusInput(_Input):
    status: Literal["acknowledged", "resolved"] = Field(
        title="Status", description="Go on once the incident is in this status (resolved "
        "also satisfies acknowledged)")
    timeout_seconds: int = Field(default=3600, ge=1, le=7 * 86400, title="Timeout (seconds)",
                                 description="Fail the step if the status is not reached by then")
    poll_seconds: int = Field(default=10, ge=1, le=3600, title="Check every (seconds)")


class JsonLookupInput(_Input):
    json_: Any = Field(alias="json", title="JSON", description=(
        "A JSON text, e.g. an earlier step's output: {{ steps.search.output | tojson }}"))
    key: str = Field(min_length=1, max_length=1000, title="Key", description=(
        "Where the value is: keys and list positions joined by dots, e.g. hits.0._source.host"))


class FormatTextInput(_Input):
    text: str = Field(max_length=65_536, title="Text")
    operation: Literal["upper", "lower", "trim", "replace", "truncate"] = Field(
        title="Operation")
    find: str = Field(default="", max_length=1000, title="Find (replace)")
    replace_with: str = Field(default="", max_length=65_536, title="Replace with (replace)")
    length: int = Field(default=100, ge=1, le=65_536, title="Length (truncate)")


class ServiceDetails(BaseModel):
    id: str
    name: str
    description: str | None
    status: str


class NoteItem(BaseModel):
    id: str
    content: str
    created_at: str
    user_id: str | None
    user_name: str | None


class Notes(BaseModel):
    notes: list[NoteItem]


class LookedUp(BaseModel):
    found: bool
    value: Any = None


class Text(BaseModel):
    text: str


class Waited(BaseModel):
    waited_seconds: float


class StatusReached(BaseModel):
    status: str
    waited_seconds: float


class Parked(Exception):
    """The step is not done: the engine sets it `ready` again at `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until.isoformat())
        self.until = until


class Changed(BaseModel):
    incident_id: str
    status: str


class Nothing(BaseModel):
    pass


class Branch(BaseModel):
    holds: bool = False
    branch: Literal["then", "else"] = "else"


class LoopEnded(BaseModel):
    iterations: int = 0  # passes of the loop's steps


class NoteAdded(BaseModel):
    note_id: str


class RespondersAdded(BaseModel):
    incident_id: str
    responders: list[str]  # user ids requested
    added: list[str]  # of those, the ones not assigned before


@dataclass(frozen=True)
class BuiltinContext:
    session: AsyncSession
    incident: Incident
    user: User
    agent: Agent
    now: datetime
    started_at: datetime  # the step's first start: what delays count from


@dataclass(frozen=True)
class Builtin:
    name: str
    title: str
    input: type[BaseModel]
    output: type[BaseModel]
    # None: the action has no effect, so the engine loads nothing for it and opens no
    # savepoint (`noop`: what is left of a step is the engine's own cost).
    run: Callable[[BuiltinContext, Any], Awaitable[BaseModel]] | None
    # Transactional with the step's completion: applying it twice is impossible.
    idempotent: bool = True


def _changed(ctx: BuiltinContext) -> Changed:
    return Changed(incident_id=ctx.incident.id, status=ctx.incident.status)


async def _apply(ctx: BuiltinContext, changes: IncidentChanges) -> Changed:
    await lifecycle.apply_changes(session=ctx.session, incident=ctx.incident, agent=ctx.agent,
                                  author=ctx.user, changes=changes)
    return _changed(ctx)


async def add_note(ctx: BuiltinContext, data: NoteInput) -> NoteAdded:
    note = await lifecycle.add_note(session=ctx.session, incident=ctx.incident, author=ctx.user,
                                    content=data.content)
    return NoteAdded(note_id=note.id)


async def set_priority(ctx: BuiltinContext, data: PriorityInput) -> Changed:
    priorities = await catalog.priorities(session=ctx.session)
    found = next((p for p in priorities if data.priority in (p.id, p.name)), None)
    if found is None:
        raise PermanentError(f"No priority {data.priority!r}")
    return await _apply(ctx, IncidentChanges(priority=Reference(id=found.id)))


async def set_urgency(ctx: BuiltinContext, data: UrgencyInput) -> Changed:
    return await _apply(ctx, IncidentChanges(urgency=data.urgency))


async def update_title(ctx: BuiltinContext, data: TitleInput) -> Changed:
    return await _apply(ctx, IncidentChanges(title=data.title))


async def acknowledge(ctx: BuiltinContext, _data: NoInput) -> Changed:
    if ctx.incident.status == "triggered":
        lifecycle.change_status(session=ctx.session, incident=ctx.incident, agent=ctx.agent,
                                status="acknowledged")
    return _changed(ctx)


async def resolve(ctx: BuiltinContext, _data: NoInput) -> Changed:
    lifecycle.change_status(session=ctx.session, incident=ctx.incident, agent=ctx.agent,
                            status="resolved")
    return _changed(ctx)


async def _users(ctx: BuiltinContext, references: list[str]) -> list[User]:
    """The users named by id or email, in the order named; PermanentError names the unknown."""
    found = list(await ctx.session.scalars(select(User).where(
        or_(User.id.in_(references), User.email.in_([u.lower() for u in references])))))
    by_key = {user.id: user for user in found} | {user.email: user for user in found}
    missing = [item for item in references if item not in by_key and item.lower() not in by_key]
    if missing:
        raise PermanentError("Unknown users: " + ", ".join(missing))
    named = [by_key.get(item) or by_key[item.lower()] for item in references]
    return list({user.id: user for user in named}.values())


async def reassign(ctx: BuiltinContext, data: ReassignInput) -> Changed:
    users = await _users(ctx, data.users)
    assignments = [Assignment(assignee=Reference(id=user.id)) for user in users]
    return await _apply(ctx, IncidentChanges(assignments=assignments))


async def add_responders(ctx: BuiltinContext, data: RespondersInput) -> RespondersAdded:
    users = await _users(ctx, data.users)
    added = await lifecycle.add_responders(
        session=ctx.session, incident=ctx.incident, agent=ctx.agent, requester=ctx.user,
        users=users, message=data.message or f'Please help with "{ctx.incident.title}"')
    return RespondersAdded(incident_id=ctx.incident.id, responders=[user.id for user in users],
                           added=[user.id for user in added])


async def delay(ctx: BuiltinContext, data: DelayInput) -> Waited:
    due = ctx.started_at + timedelta(seconds=data.seconds)
    if ctx.now < due:
        raise Parked(due)
    return Waited(waited_seconds=(ctx.now - ctx.started_at).total_seconds())


async def get_service_details(ctx: BuiltinContext, _data: NoInput) -> ServiceDetails:
    service = await catalog.get_service(session=ctx.session, service_id=ctx.incident.service_id)
    return ServiceDetails(id=service.id, name=service.name, description=service.description,
                          status=service.status)


async def get_notes(ctx: BuiltinContext, _data: NoInput) -> Notes:
    notes = await lifecycle.list_notes(session=ctx.session, incident=ctx.incident)
    return Notes(notes=[NoteItem(id=note.id, content=note.content,
                                 created_at=note.created_at.isoformat(), user_id=note.user_id,
                                 user_name=note.user.name if note.user else None)
                        for note in notes])


async def json_lookup(_ctx: BuiltinContext, data: JsonLookupInput) -> LookedUp:
    value = data.json_
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise PermanentError(f"json: not valid JSON ({exc})") from None
    for part in data.key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() \
                and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return LookedUp(found=False)
    return LookedUp(found=True, value=value)


async def format_text(_ctx: BuiltinContext, data: FormatTextInput) -> Text:
    operations: dict[str, Callable[[str], str]] = {
        "upper": str.upper, "lower": str.lower, "trim": str.strip,
        "replace": lambda text: text.replace(data.find, data.replace_with) if data.find
        else text,
        "truncate": lambda text: text if len(text) <= data.length
        else text[:max(data.length - 1, 0)] + "…",
    }
    return Text(text=operations[data.operation](data.text))


_REACHES = {"acknowledged": {"acknowledged", "resolved"}, "resolved": {"resolved"}}


async def wait_for_status(ctx: BuiltinContext, data: WaitForStatusInput) -> StatusReached:
    waited = (ctx.now - ctx.started_at).total_seconds()
    if ctx.incident.status in _REACHES[data.status]:
        return StatusReached(status=ctx.incident.status, waited_seconds=waited)
    if waited >= data.timeout_seconds:
        raise PermanentError(f"The incident was not {data.status} within "
                             f"{data.timeout_seconds} seconds (it is {ctx.incident.status})")
    deadline = ctx.started_at + timedelta(seconds=data.timeout_seconds)
    raise Parked(min(ctx.now + timedelta(seconds=data.poll_seconds), deadline))



# Status updates, stakeholders and the conference bridge (incidents.status_updates).

class StatusUpdateInput(_Input):
    message: str = Field(min_length=1, max_length=65_536, title="Message")
    subject: str | None = Field(default=None, max_length=1024, title="Subject")


class StatusUpdateSent(BaseModel):
    status_update_id: str
    notified_count: int  # stakeholder users it reached


class StakeholdersInput(_Input):
    users: list[str] = Field(default_factory=list, max_length=100, title="Users",
                             description="User ids or emails")
    teams: list[str] = Field(default_factory=list, max_length=100, title="Teams",
                             description="Team ids or names")

    @model_validator(mode="after")
    def _someone(self) -> StakeholdersInput:
        if not (self.users or self.teams):
            raise ValueError("name at least one user or team")
        return self


class StakeholdersAdded(BaseModel):
    incident_id: str
    users: list[str]  # user ids subscribed, now or before
    teams: list[str]  # team ids likewise
    added: int  # of those, the ones not subscribed before


class ConferenceBridgeInput(ConferenceBridge):
    conference_number: str | None = Field(default=None, max_length=64, title="Conference number",
                                          description='A dial-in, e.g. "+1 415-555-1212,,,,1234#"')
    conference_url: str | None = Field(default=None, max_length=2048, title="Conference URL",
                                       description="An http(s) link to the call")

    @model_validator(mode="after")
    def _something(self) -> ConferenceBridgeInput:
        if not self.is_set:
            raise ValueError("give a conference_number, a conference_url or both")
        return self


class ConferenceBridgeSet(BaseModel):
    incident_id: str
    conference_number: str | None
    conference_url: str | None


async def send_status_update(ctx: BuiltinContext, data: StatusUpdateInput) -> StatusUpdateSent:
    sent = await status_updates.send_status_update(
        session=ctx.session, incident=ctx.incident, agent=ctx.agent, sender=ctx.user,
        message=data.message, subject=data.subject or None)
    return StatusUpdateSent(status_update_id=sent.status_update.id, notified_count=sent.notified)


async def _teams(ctx: BuiltinContext, references: list[str]) -> list[Team]:
    """The teams named by id or name (any case), in the order named; PermanentError names
    the unknown."""
    lowered = [item.lower() for item in references]
    found = list(await ctx.session.scalars(select(Team).where(
        or_(Team.id.in_(references), func.lower(Team.name).in_(lowered)))))
    by_key = {team.id: team for team in found} | {team.name.lower(): team for team in found}
    missing = [item for item in references if item not in by_key and item.lower() not in by_key]
    if missing:
        raise PermanentError("Unknown teams: " + ", ".join(missing))
    named = [by_key.get(item) or by_key[item.lower()] for item in references]
    return list({team.id: team for team in named}.values())


async def add_stakeholders(ctx: BuiltinContext, data: StakeholdersInput) -> StakeholdersAdded:
    users = await _users(ctx, data.users) if data.users else []
    teams = await _teams(ctx, data.teams) if data.teams else []
    results = await status_updates.add_subscribers(
        session=ctx.session, incident=ctx.incident, subscribers=[
            *(status_updates.NotificationSubscriber(subscriber_id=user.id, subscriber_type="user")
              for user in users),
            *(status_updates.NotificationSubscriber(subscriber_id=team.id, subscriber_type="team")
              for team in teams)])
    return StakeholdersAdded(
        incident_id=ctx.incident.id, users=[user.id for user in users],
        teams=[team.id for team in teams],
        added=sum(result == "success" for _, result in results))


async def add_conference_bridge(ctx: BuiltinContext, data: ConferenceBridgeInput
                                ) -> ConferenceBridgeSet:
    status_updates.set_conference_bridge(session=ctx.session, incident=ctx.incident,
                                         agent=ctx.agent, bridge=data)
    return ConferenceBridgeSet(incident_id=ctx.incident.id,
                               conference_number=ctx.incident.conference_number,
                               conference_url=ctx.incident.conference_url)


BUILTINS: dict[str, Builtin] = {
    builtin.name: builtin
    for builtin in (
        Builtin("add_note", "Add a note", NoteInput, NoteAdded, add_note),
        Builtin("set_priority", "Set priority", PriorityInput, Changed, set_priority),
        Builtin("set_urgency", "Set urgency", UrgencyInput, Changed, set_urgency),
        Builtin("update_title", "Update the title", TitleInput, Changed, update_title),
        Builtin("acknowledge", "Acknowledge", NoInput, Changed, acknowledge),
        Builtin("resolve", "Resolve", NoInput, Changed, resolve),
        Builtin("reassign", "Reassign", ReassignInput, Changed, reassign),
        Builtin("add_responders", "Add responders", RespondersInput, RespondersAdded,
                add_responders),
        Builtin("get_service_details", "Get service details", NoInput, ServiceDetails,
                get_service_details),
        Builtin("get_notes", "Get the incident's notes", NoInput, Notes, get_notes),
        Builtin("json_lookup", "JSON lookup", JsonLookupInput, LookedUp, json_lookup),
        Builtin("format_text", "Format text", FormatTextInput, Text, format_text),
        Builtin("delay", "Delay", DelayInput, Waited, delay),
        Builtin("wait_for_status", "Wait for the incident's status", WaitForStatusInput,
                StatusReached, wait_for_status),
        Builtin("send_status_update", "Send a status update", StatusUpdateInput,
                StatusUpdateSent, send_status_update),
        Builtin("add_stakeholders", "Add stakeholders", StakeholdersInput, StakeholdersAdded,
                add_stakeholders),
        Builtin("add_conference_bridge", "Add a conference bridge", ConferenceBridgeInput,
                ConferenceBridgeSet, add_conference_bridge),
        # Logic blocks: the engine itself runs them (it holds their nested steps).
        Builtin("condition", "Condition (if / else)", ConditionInput, Branch, None),
        Builtin("loop_until", "Loop until", LoopUntilInput, LoopEnded, None),
        Builtin("noop", "Do nothing (tests, benchmarks)", NoInput, Nothing, None),
    )
}
