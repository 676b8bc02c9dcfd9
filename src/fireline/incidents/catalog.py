"""Services, their Events API integrations, and priorities.

A service's routing keys are 32 lowercase hex characters from the OS CSPRNG (128 bits), like
PagerDuty's integration keys; uniqueness is the database's job (a unique constraint).
Priorities are PagerDuty's standard P1..P5; the migration seeds them and `priorities`
re-seeds the same rows (same ids) if the table was emptied.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import Team, User
from fireline.core.db import Database, insert_for
from fireline.core.errors import ConflictError, InvalidInputError, NotFoundError
from fireline.core.pagination import Page, PageParams, paginate
from fireline.incidents.models import Priority, Service, ServiceIntegration, ServiceOnCall
from fireline.incidents.schemas import IntegrationFields, ServiceFields
from fireline.oauth.models import OAuthApp

STANDARD_PRIORITIES = (
    ("PPRIORITY0000P1", "P1", "Critical", "a8171c", 1),
    ("PPRIORITY0000P2", "P2", "High", "eb6016", 2),
    ("PPRIORITY0000P3", "P3", "Moderate", "f9b406", 3),
    ("PPRIORITY0000P4", "P4", "Low", "4c7ed6", 4),
    ("PPRIORITY0000P5", "P5", "Informational", "777777", 5),
)


def new_routing_key() -> str:
    return secrets.token_hex(16)


async def users_by_id(*, session: AsyncSession, ids: list[str], label: str) -> list[User]:
    unique = list(dict.fromkeys(ids))
    found = {user.id: user for user in await session.scalars(
        select(User).where(User.id.in_(unique)))} if unique else {}
    missing = [id_ for id_ in unique if id_ not in found]
    if missing:
        raise InvalidInputError(errors=[f"{label} {id_} not found" for id_ in missing])
    return [found[id_] for id_ in unique]


async def create_service(*, session: AsyncSession, data: ServiceFields) -> Service:
    team = None
    if data.teams:
        team = await session.get(Team, data.teams[0].id)
        if team is None:
            raise InvalidInputError(errors=[f"Team {data.teams[0].id} not found"])
    users = await users_by_id(session=session, ids=[ref.id for ref in data.on_call_users],
                              label="User")
    if await session.scalar(select(Service.id).where(Service.name == data.name)):
        raise ConflictError(errors=["Name has already been taken"])
    service = Service(name=data.name, description=data.description, status=data.status,
                      team=team)
    service.on_call = [ServiceOnCall(user=user, position=index)
                       for index, user in enumerate(users)]
    session.add(service)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent create won the name
        raise ConflictError(errors=["Name has already been taken"]) from exc
    return service


async def get_service(*, session: AsyncSession, service_id: str) -> Service:
    service = await session.get(Service, service_id)
    if service is None:
        raise NotFoundError("Service Not Found")
    return service


async def services_by_id(*, session: AsyncSession, ids: list[str]) -> dict[str, Service]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    found = await session.scalars(select(Service).where(Service.id.in_(unique)))
    return {service.id: service for service in found.unique()}


async def list_services(
    *, session: AsyncSession, params: PageParams, query: str | None = None,
    team_ids: list[str] | None = None,
) -> Page[Service]:
    statement = select(Service)
    if query:
        statement = statement.where(func.lower(Service.name).contains(query.lower()))
    if team_ids:
        statement = statement.where(Service.team_id.in_(team_ids))
    return await paginate(session, statement.order_by(Service.name, Service.id), params)


async def integrations_of(
    *, session: AsyncSession, service_ids: list[str]
) -> dict[str, list[ServiceIntegration]]:
    result: dict[str, list[ServiceIntegration]] = {id_: [] for id_ in service_ids}
    if service_ids:
        rows = await session.scalars(
            select(ServiceIntegration).where(ServiceIntegration.service_id.in_(service_ids))
            .order_by(ServiceIntegration.created_at, ServiceIntegration.id))
        for row in rows.unique():
            result[row.service_id].append(row)
    return result


async def create_integration(
    *, session: AsyncSession, service_id: str, data: IntegrationFields
) -> ServiceIntegration:
    service = await get_service(session=session, service_id=service_id)
    if data.type == "app_integration" or data.vendor is not None:
        app = await session.get(OAuthApp, data.vendor.id) if data.vendor else None
        if app is None:
            raise InvalidInputError("An app integration names an OAuth app as its vendor",
                                    errors=["integration.vendor.id: no such OAuth app"])
        name = data.name if "name" in data.model_fields_set else app.name
        integration = ServiceIntegration(service=service, type="app_integration", name=name,
                                         vendor_app=app)
    else:
        integration = ServiceIntegration(
            service=service, type=data.type, name=data.name, routing_key=new_routing_key())
    session.add(integration)
    await session.flush()
    return integration


async def get_integration(
    *, session: AsyncSession, service_id: str, integration_id: str
) -> ServiceIntegration:
    integration = await session.get(ServiceIntegration, integration_id)
    if integration is None or integration.service_id != service_id:
        raise NotFoundError("Integration Not Found")
    return integration


async def priorities(*, session: AsyncSession, seed: bool = True) -> list[Priority]:
    """The account's priorities; on first use (`seed`) the standard set is written first."""
    rows = list(await session.scalars(select(Priority).order_by(Priority.order)))
    if rows or not seed:
        return rows
    await session.execute(insert_for(session)(Priority).values([
        {"id": id_, "name": name, "description": description, "color": color, "order": order}
        for id_, name, description, color, order in STANDARD_PRIORITIES
    ]).on_conflict_do_nothing())
    return list(await session.scalars(select(Priority).order_by(Priority.order)))


async def priorities_for_reading(*, db: Database, session: AsyncSession) -> list[Priority]:
    """The priorities, for a request whose `session` only reads: on first use the standard
    set is written in a transaction of its own (on SQLite, upgrading a reading session to
    write fails if another write committed since it began); then a new snapshot sees them."""
    rows = await priorities(session=session, seed=False)
    if rows:
        return rows
    async with db.transaction() as writer:
        await priorities(session=writer)
    await session.commit()
    return await priorities(session=session, seed=False)


async def get_priority(*, session: AsyncSession, priority_id: str) -> Priority:
    for priority in await priorities(session=session):
        if priority.id == priority_id:
            return priority
    raise InvalidInputError(errors=[f"Priority {priority_id} not found"])
