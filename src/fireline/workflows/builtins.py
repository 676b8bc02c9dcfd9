"""Built-in `fireline.*` actions: they change the run's incident through the incidents
lifecycle, so log entries and outbox events are written as for any other change.

They run inside the transaction that records the step's completion (guarded by the lease),
so their effect and the step's `succeeded` commit together or not at all: a retry after a
crash can never apply one twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import User
from fireline.core.errors import PermanentError
from fireline.incidents import catalog, lifecycle
from fireline.incidents.models import Incident
from fireline.incidents.schemas import Assignment, IncidentChanges, Reference
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


class Changed(BaseModel):
    incident_id: str
    status: str


class Nothing(BaseModel):
    pass


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
        Builtin("noop", "Do nothing (tests, benchmarks)", NoInput, Nothing, None),
    )
}
