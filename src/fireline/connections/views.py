"""REST API for Workflow Integrations and their connections, on PagerDuty's paths and shapes:

    GET    /api/workflows/integrations                       the catalog, with field schemas
    GET    /api/workflows/integrations/{integration_id}
    GET    /api/workflows/integrations/connections           every connection the caller sees
    GET    /api/workflows/integrations/{integration_id}/connections
    POST   /api/workflows/integrations/{integration_id}/connections
    GET    /api/workflows/integrations/{integration_id}/connections/{id}
    PATCH  /api/workflows/integrations/{integration_id}/connections/{id}   (PUT accepted too)
    DELETE /api/workflows/integrations/{integration_id}/connections/{id}
    POST   /api/workflows/integrations/{integration_id}/connections/{id}/verify
    GET    /api/workflows/integrations/{integration_id}/connections/{id}/health_checks
    POST   /api/workflows/integrations/{integration_id}/connections/{id}/authorize  (OAuth)
    POST   /api/workflows/integrations/aws/external_ids      AWS set-up: an external ID

List pagination is PagerDuty's cursor style: `limit`, `cursor` → `next_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from fireline.accounts.models import User
from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.connections import external_ids, oauth, service
from fireline.connections.access import Verb
from fireline.connections.models import HEALTHY, UNKNOWN, HealthCheck
from fireline.connections.schemas import CreateEnvelope, UpdateEnvelope
from fireline.connections.tools import Tools
from fireline.core.clock import isoformat
from fireline.core.db import Database
from fireline.core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from fireline.core.resources import reference
from fireline.integrations import registry
from fireline.integrations.aws.setup import setup_info
from fireline.integrations.base import SECRET_PLACEHOLDER, Integration

router = APIRouter(prefix="/api/workflows/integrations", tags=["workflow integrations"])
Limit = Annotated[int, Query(ge=1, le=100)]


def _integration(integration_id: str) -> Integration:
    integration = registry.get(integration_id)
    if integration is None:
        raise NotFoundError(f"No workflow integration {integration_id!r}")
    return integration


def _tools(request: Request) -> Tools:
    tools: Tools = request.app.state.tools
    return tools


def _catalog_entry(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.slug,
        "type": "workflow_integration",
        "name": integration.title,
        "description": integration.description,
        "auth": integration.auth,
        "fields": {
            "configuration": integration.config.model_json_schema(),
            "secrets": integration.secrets.model_json_schema(),
        },
        "verified_on_save": integration.verify_blocks_save,
        "actions": [
            {
                "id": f"{integration.slug}.{action.name}",
                "name": action.title,
                "idempotent": action.idempotent,
                "input": action.input.model_json_schema(),
            }
            for action in integration.actions
        ],
    }


def _cursor(raw: str | None) -> int:
    if not raw:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(raw.encode()))
        offset = int(value["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(errors=["cursor: not a cursor this API returned"]) from None
    if offset < 0:
        raise InvalidInputError(errors=["cursor: not a cursor this API returned"])
    return offset


def _next_cursor(offset: int, more: bool) -> str | None:
    if not more:
        return None
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


async def _body(
    request: Request, session: Session, loaded: service.Loaded, users: dict[str, User] | None = None
) -> dict[str, Any]:
    connection = loaded.connection
    base_url = request.app.state.settings.base_url
    if users is None:
        ids = {connection.created_by_id, connection.updated_by_id} - {None}
        users = (
            {user.id: user for user in await session.scalars(select(User).where(User.id.in_(ids)))}
            if ids
            else {}
        )

    def user_ref(user_id: str | None) -> dict[str, Any] | None:
        user = users.get(user_id or "") if users else None
        return reference(base_url, "user", user.id, user.name) if user else None

    status = connection.health_status
    body: dict[str, Any] = {
        "id": connection.id,
        "type": "workflow_integration_connection",
        "integration_id": connection.integration,
        "name": connection.name,
        "self": f"{base_url}/api/workflows/integrations/{connection.integration}"
        f"/connections/{connection.id}",
        "configuration": dict(connection.configuration),
        # SEC-2: a fixed placeholder for each secret that is set; never the value.
        "secrets": {name: SECRET_PLACEHOLDER for name in connection.secret_fields},
        "is_default": connection.is_default,
        "allow_sre_agent": connection.allow_sre_agent,
        "allow_private_networks": list(connection.allow_private),
        "teams": [{"team_id": team_id, "type": "team_reference"} for team_id in loaded.team_ids],
        "health": {
            "status": status,
            "is_healthy": None if status == UNKNOWN else status == HEALTHY,
            "health_message": connection.health_message,
            "last_checked_at": isoformat(connection.health_checked_at)
            if connection.health_checked_at
            else None,
        },
        "created_at": isoformat(connection.created_at),
        "created_by": user_ref(connection.created_by_id),
        "updated_at": isoformat(connection.updated_at),
        "updated_by": user_ref(connection.updated_by_id),
    }
    if connection.oauth_state is not None:
        body["oauth_state"] = connection.oauth_state
    if connection.external_id is not None:
        body["external_id"] = connection.external_id
        body["external_id_label"] = "External ID"
    return body


async def _actor(request: Request, session: Session, principal: CurrentPrincipal) -> service.Actor:
    return await service.actor_for(
        session=session, principal=principal, request_id=getattr(request.state, "request_id", None)
    )


@dataclass(frozen=True)
class Call:
    """A change to a connection: the tool, who acts, and what the service needs."""

    integration: Integration
    actor: service.Actor
    db: Database
    tools: Tools


async def _call(
    integration_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> Call:
    integration = _integration(integration_id)
    actor = await _actor(request, session, principal)
    # The service opens its own transactions (a tool is called between them): release this
    # request's session first, so SQLite's single writer is never waiting on ourselves.
    await session.close()
    return Call(integration, actor, request.app.state.database, _tools(request))


ConnectionCall = Annotated[Call, Depends(_call)]


@router.get("", operation_id="listWorkflowIntegrations")
async def list_integrations(principal: CurrentPrincipal) -> dict[str, Any]:
    entries = [_catalog_entry(integration) for integration in registry.INTEGRATIONS]
    return {"workflow_integrations": entries, "limit": len(entries), "next_cursor": None}


@router.get("/connections", operation_id="listWorkflowIntegrationConnections")
async def list_all_connections(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    limit: Limit = 25,
    cursor: str | None = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    return await _list(request, principal, session, None, limit, cursor, name)


@router.post("/aws/external_ids", status_code=201)
async def issue_external_id(
    request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    if not actor.may(Verb.CREATE):
        raise AccessDeniedError()
    return aws_setup(request, external_ids.issue(_tools(request).keyring))


@router.get("/{integration_id}", operation_id="getWorkflowIntegration")
async def get_integration(integration_id: str, principal: CurrentPrincipal) -> dict[str, Any]:
    return {"workflow_integration": _catalog_entry(_integration(integration_id))}


async def _list(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    integration_id: str | None,
    limit: int,
    cursor: str | None,
    name: str | None,
) -> dict[str, Any]:
    actor = await _actor(request, session, principal)
    offset = _cursor(cursor)
    items, more = await service.list_visible(
        session=session,
        actor=actor,
        integration_slug=integration_id,
        name=name,
        offset=offset,
        limit=limit,
    )
    ids = {i.connection.created_by_id for i in items} | {i.connection.updated_by_id for i in items}
    ids.discard(None)
    users = (
        {user.id: user for user in await session.scalars(select(User).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    return {
        "connections": [await _body(request, session, item, users) for item in items],
        "limit": limit,
        "next_cursor": _next_cursor(offset + limit, more),
    }


@router.get(
    "/{integration_id}/connections", operation_id="listWorkflowIntegrationConnectionsByIntegration"
)
async def list_connections(
    integration_id: str,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    limit: Limit = 25,
    cursor: str | None = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    _integration(integration_id)
    return await _list(request, principal, session, integration_id, limit, cursor, name)


@router.post(
    "/{integration_id}/connections",
    status_code=201,
    operation_id="createWorkflowIntegrationConnection",
)
async def create_connection(
    envelope: CreateEnvelope, request: Request, call: ConnectionCall, session: Session
) -> dict[str, Any]:
    loaded = await service.create_connection(
        db=call.db,
        tools=call.tools,
        actor=call.actor,
        integration=call.integration,
        data=envelope.connection,
    )
    extra: dict[str, Any] = {}
    if call.integration.auth == "oauth":
        # Add → redirect to the provider (the text: "You will be directed to ...").
        extra["authorization_url"] = await oauth.start(
            db=call.db,
            tools=call.tools,
            actor=call.actor,
            integration=call.integration,
            connection_id=loaded.connection.id,
        )
    if call.integration.auth == "aws_role":
        extra["setup"] = aws_setup(request, loaded.connection.external_id or "")
    # The request's session opens its transaction only now, after the service's have ended.
    return {"connection": await _body(request, session, loaded), **extra}


def aws_setup(request: Request, external_id: str) -> dict[str, Any]:
    """PagerDuty-style AWS set-up: the account roles must trust, the external ID, and the
    example trust policy with both filled in."""
    account_id = request.app.state.settings.aws_account_id or ""
    return setup_info(account_id, external_id)


@router.post(
    "/{integration_id}/connections/{connection_id}/authorize",
    operation_id="authorizeWorkflowIntegrationConnection",
)
async def authorize_connection(connection_id: str, call: ConnectionCall) -> dict[str, Any]:
    """Starts (or restarts, to reconnect) the OAuth flow of a connection."""
    url = await oauth.start(
        db=call.db,
        tools=call.tools,
        actor=call.actor,
        integration=call.integration,
        connection_id=connection_id,
    )
    return {"authorization_url": url}


@router.get(
    "/{integration_id}/connections/{connection_id}", operation_id="getWorkflowIntegrationConnection"
)
async def get_connection(
    integration_id: str,
    connection_id: str,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    _integration(integration_id)
    actor = await _actor(request, session, principal)
    loaded = await service.get_visible(
        session=session, actor=actor, integration_slug=integration_id, connection_id=connection_id
    )
    return {"connection": await _body(request, session, loaded)}


@router.patch(
    "/{integration_id}/connections/{connection_id}",
    operation_id="updateWorkflowIntegrationConnection",
)
async def update_connection(
    connection_id: str,
    envelope: UpdateEnvelope,
    request: Request,
    call: ConnectionCall,
    session: Session,
) -> dict[str, Any]:
    loaded = await service.update_connection(
        db=call.db,
        tools=call.tools,
        actor=call.actor,
        integration=call.integration,
        connection_id=connection_id,
        data=envelope.connection,
    )
    return {"connection": await _body(request, session, loaded)}


router.add_api_route(
    "/{integration_id}/connections/{connection_id}",
    update_connection,
    methods=["PUT"],
    include_in_schema=False,
)


@router.delete(
    "/{integration_id}/connections/{connection_id}",
    status_code=204,
    operation_id="deleteWorkflowIntegrationConnection",
)
async def delete_connection(
    connection_id: str, call: ConnectionCall, force: bool = False
) -> Response:
    await service.delete_connection(
        force=force,
        db=call.db,
        actor=call.actor,
        integration=call.integration,
        connection_id=connection_id,
    )
    return Response(status_code=204)


@router.post("/{integration_id}/connections/{connection_id}/verify")
async def verify_connection(
    connection_id: str, request: Request, call: ConnectionCall, session: Session
) -> dict[str, Any]:
    loaded = await service.verify_connection(
        db=call.db,
        tools=call.tools,
        actor=call.actor,
        integration=call.integration,
        connection_id=connection_id,
    )
    return {"connection": await _body(request, session, loaded)}


@router.get("/{integration_id}/connections/{connection_id}/health_checks")
async def health_checks(
    integration_id: str,
    connection_id: str,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    limit: Limit = 25,
) -> dict[str, Any]:
    _integration(integration_id)
    actor = await _actor(request, session, principal)
    checks = await service.health_history(
        session=session,
        actor=actor,
        integration_slug=integration_id,
        connection_id=connection_id,
        limit=limit,
    )
    return {"health_checks": [_check_body(check) for check in checks], "limit": limit}


def _check_body(check: HealthCheck) -> dict[str, Any]:
    return {
        "id": check.id,
        "checked_at": isoformat(check.checked_at),
        "is_healthy": check.is_healthy,
        "status": HEALTHY if check.is_healthy else "Unhealthy",
        "health_message": check.message,
        "trigger": check.trigger,
        "duration_ms": check.duration_ms,
    }
