"""`fireline workflows apply|export`: the same service calls as the API, acting as a named
user (default: the Account Owner), so ACL-3 and validation apply unchanged."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service as accounts
from fireline.accounts.models import User
from fireline.accounts.permissions import Principal
from fireline.accounts.roles import BaseRole
from fireline.core.errors import InvalidInputError
from fireline.workflows import definitions, service
from fireline.workflows.models import Workflow


async def _editor(session: AsyncSession, email: str | None) -> User:
    if email:
        return await accounts.get_user_by_email(session=session, email=email)
    owner = await session.scalar(
        select(User).where(User.role == BaseRole.OWNER.value).order_by(User.created_at))
    if owner is None:
        raise InvalidInputError("No Account Owner yet: pass --as EMAIL")
    return owner


async def apply(*, session: AsyncSession, text: str, as_email: str | None) -> tuple[str, int]:
    data = definitions.load_text(text)
    user = await _editor(session, as_email)
    principal = Principal(user=user, read_only=False, via="session", credential_id="cli")
    name = data.get("name")
    existing = await service.find_by_name(session=session, name=name) if isinstance(
        name, str) else None
    workflow, _ = await service.save_workflow(
        session=session, principal=principal, data=data,
        workflow_id=existing.id if existing else None, request_id="cli")
    return workflow.id, workflow.current_version


async def export(*, session: AsyncSession, workflow_id: str | None) -> str:
    if workflow_id:
        workflows = [await service.get_workflow(session=session, workflow_id=workflow_id)]
    else:
        workflows = list(await session.scalars(select(Workflow).order_by(Workflow.name)))
    documents = []
    for workflow in workflows:
        definition = await service.definition_of(
            session=session, workflow_id=workflow.id, version=workflow.current_version)
        documents.append(definitions.dump_text(definitions.stored(definition)))
    return "---\n".join(documents)
