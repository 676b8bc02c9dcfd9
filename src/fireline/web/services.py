"""Pages of the services domain (see DESIGN.md, the web app): the service list, a service
with its integrations and open incidents, and an integration with its Events API routing key.

Pages read and write through the functions the REST views call, with the same checks: the
API's request schemas validate a form (a refused one comes back with status 400, what was typed
kept and each message beside its field) and `access.require_service_admin` decides who may add
services and integrations (a refusal is the 403 page). The routing key is shown where the API's
own integration body shows it (`shapes.integration_body`), so the page and the API cannot
disagree about who sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import Principal, Session
from fireline.core.errors import ConflictError, validation_message
from fireline.core.pagination import PageParams, Pagination
from fireline.incidents import access, catalog, listing, shapes
from fireline.incidents.models import Incident, ServiceIntegration
from fireline.incidents.schemas import IntegrationFields, ServiceFields
from fireline.web.frame import (
    CurrentViewer,
    FormState,
    Viewer,
    permits,
    redirect,
    render,
    start_over,
)
from fireline.web.incidents import NEWEST_FIRST, list_url
from fireline.web.incidents import STATUS_TONES as INCIDENT_TONES

router = APIRouter(include_in_schema=False)

SERVICE_TONES = {"active": "healthy", "warning": "unhealthy", "critical": "unhealthy",
                 "maintenance": "unknown", "disabled": "unknown"}
EVENTS_API_V2 = "events_api_v2_inbound_integration"
INTEGRATION_TYPES = {EVENTS_API_V2: "Events API v2", "app_integration": "App (OAuth)"}
OPEN_STATUSES = ["triggered", "acknowledged"]
OPEN_INCIDENTS_SHOWN = 25
# The README's quick-start event.
EXAMPLE_PAYLOAD = {"summary": "Disk full on web-1", "source": "web-1", "severity": "critical"}


@dataclass(frozen=True)
class IntegrationRow:
    integration: ServiceIntegration
    type_label: str
    routing_key: str | None
    url: str


def _base(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def integration_row(base: str, integration: ServiceIntegration) -> IntegrationRow:
    body = shapes.integration_body(base, integration)
    return IntegrationRow(
        integration, INTEGRATION_TYPES.get(integration.type, integration.type),
        body["integration_key"],
        f"/services/{integration.service_id}/integrations/{integration.id}")


def enqueue_example(base: str, routing_key: str) -> str:
    """One `curl` that triggers an incident through this key (as the README's quick start)."""
    event = {"routing_key": routing_key, "event_action": "trigger", "payload": EXAMPLE_PAYLOAD}
    return (f"curl -s {base}/v2/enqueue -H 'Content-Type: application/json' "
            f"-d '{json.dumps(event)}'")


async def open_incident_counts(
    *, session: AsyncSession, principal: Principal, service_ids: list[str]
) -> dict[str, int]:
    """Open incidents per service, counting only those `principal` may see."""
    if not service_ids:
        return {}
    open_ones = select(Incident.service_id).where(
        Incident.service_id.in_(service_ids), Incident.status.in_(OPEN_STATUSES))
    statement = (access.restrict_visible(principal, open_ones)
                 .add_columns(func.count()).group_by(Incident.service_id))
    return {service_id: int(count) for service_id, count in await session.execute(statement)}


def _refused(values: dict[str, str], exc: ValidationError) -> FormState:
    """The schema's messages beside the fields they name; any other above the form."""
    errors: dict[str, str] = {}
    for item in exc.errors(include_input=False, include_url=False):
        where = str(item["loc"][0]) if item["loc"] else ""
        errors.setdefault(where if where in values else "", validation_message(item))
    message = errors.pop("", None)
    return FormState(values, errors, message)


@router.get("/services")
async def service_list(
    request: Request, viewer: CurrentViewer, session: Session, page: Pagination
) -> Response:
    found = await catalog.list_services(session=session, params=page)
    counts = await open_incident_counts(session=session, principal=viewer.principal,
                                        service_ids=[item.id for item in found.items])

    def at_offset(offset: int) -> str:
        return f"/services?offset={offset}&limit={page.limit}"

    return render(
        request, "services/list.html", viewer=viewer, services=found.items, counts=counts,
        tones=SERVICE_TONES, may_add=permits(access.require_service_admin, viewer.principal),
        previous_url=at_offset(max(page.offset - page.limit, 0)) if page.offset else None,
        next_url=at_offset(page.offset + page.limit) if found.more else None,
    )


def _new_service_page(request: Request, viewer: Viewer, form: FormState,
                      status_code: int = 200) -> HTMLResponse:
    return render(request, "services/new.html", status_code, viewer=viewer, form=form)


# Before `/services/{service_id}`, which would otherwise take "new" for an id.
@router.get("/services/new")
async def new_service_page(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    access.require_service_admin(viewer.principal)
    return _new_service_page(request, viewer, FormState())


@router.post("/services/new")
async def create_service(request: Request, viewer: CurrentViewer, session: Session,
                         name: str = Form(""), description: str = Form("")) -> Response:
    access.require_service_admin(viewer.principal)
    values = {"name": name, "description": description}
    try:
        # A form has no null: an empty description is none, as the API's omitted field.
        data = ServiceFields(name=name.strip(), description=description.strip() or None)
    except ValidationError as exc:
        return _new_service_page(request, viewer, _refused(values, exc), 400)
    try:
        service = await catalog.create_service(session=session, data=data)
    except ConflictError as error:  # the only conflict `create_service` knows: a taken name
        await start_over(session, viewer)
        form = FormState(values, {"name": "; ".join(error.errors) or error.message})
        return _new_service_page(request, viewer, form, 400)
    await session.commit()
    return redirect(request, f"/services/{service.id}",
                    flash=f"Service “{service.name}” created")


async def _service_page(request: Request, viewer: Viewer, session: AsyncSession,
                        service_id: str, form: FormState | None = None,
                        status_code: int = 200) -> HTMLResponse:
    service = await catalog.get_service(session=session, service_id=service_id)
    integrations = await catalog.integrations_of(session=session, service_ids=[service.id])
    open_incidents = await listing.list_incidents(
        session=session, principal=viewer.principal,
        filters=listing.IncidentFilters(statuses=OPEN_STATUSES, service_ids=[service.id],
                                        sort_by=NEWEST_FIRST),
        params=PageParams(limit=OPEN_INCIDENTS_SHOWN))
    base = _base(request)
    return render(
        request, "services/detail.html", status_code, viewer=viewer, service=service,
        tones=SERVICE_TONES, incident_tones=INCIDENT_TONES,
        integrations=[integration_row(base, item) for item in integrations[service.id]],
        open_incidents=open_incidents.items, more_open=open_incidents.more,
        incidents_url=list_url(service_id=service.id),
        may_add=permits(access.require_service_admin, viewer.principal),
        form=form or FormState({"name": INTEGRATION_TYPES[EVENTS_API_V2]}),
    )


@router.get("/services/{service_id}")
async def service_page(
    service_id: str, request: Request, viewer: CurrentViewer, session: Session
) -> Response:
    return await _service_page(request, viewer, session, service_id)


@router.post("/services/{service_id}/integrations")
async def create_integration(
    service_id: str, request: Request, viewer: CurrentViewer, session: Session,
    name: str = Form(""),
) -> Response:
    access.require_service_admin(viewer.principal)
    values = {"name": name}
    try:
        data = IntegrationFields(type=EVENTS_API_V2, name=name.strip())
    except ValidationError as exc:
        return await _service_page(request, viewer, session, service_id,
                                   _refused(values, exc), 400)
    integration = await catalog.create_integration(session=session, service_id=service_id,
                                                   data=data)
    await session.commit()
    return redirect(request, f"/services/{service_id}/integrations/{integration.id}",
                    flash=f"Integration “{integration.name}” added")


@router.get("/services/{service_id}/integrations/{integration_id}")
async def integration_page(
    service_id: str, integration_id: str, request: Request, viewer: CurrentViewer,
    session: Session,
) -> Response:
    integration = await catalog.get_integration(
        session=session, service_id=service_id, integration_id=integration_id)
    base = _base(request)
    row = integration_row(base, integration)
    context: dict[str, Any] = {"row": row, "integration": integration,
                               "service": integration.service}
    if row.routing_key:
        context["example"] = enqueue_example(base, row.routing_key)
    return render(request, "services/integration.html", viewer=viewer, **context)
