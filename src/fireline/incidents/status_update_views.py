"""REST API v2 for an incident's status updates and their subscribers (stakeholders), in
PagerDuty's shapes.

PagerDuty's routes: `POST /incidents/{id}/status_updates` (answers 200 with
`{"status_update": ...}`, plus Fireline's `notified_count`: the users it reached),
`GET|POST /incidents/{id}/status_updates/subscribers` and `POST .../unsubscribe`. Fireline
adds `GET /incidents/{id}/status_updates` (newest first, paged as the other lists). Reading
follows the incident's visibility (a hidden incident is a 404); writing needs a role that may
change incidents. Subscribing or unsubscribing anyone is open to those roles, so no result is
ever `unauthorized`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.core.clock import isoformat
from fireline.core.pagination import Pagination
from fireline.incidents import access
from fireline.incidents.shapes import user_ref
from fireline.incidents.status_updates import (
    StatusUpdate,
    StatusUpdateCreate,
    Subscriber,
    SubscribersChange,
    add_subscribers,
    list_status_updates,
    list_subscribers,
    remove_subscribers,
    send_status_update,
)
from fireline.incidents.views import FromHeader, writer

router = APIRouter(prefix="/api", tags=["incidents"])

_STATUS_UPDATES = "/incidents/{incident_id}/status_updates"


def _base(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def status_update_body(base: str, status_update: StatusUpdate) -> dict[str, Any]:
    """PagerDuty's `StatusUpdate`: `subject` and `html_message` only when they were sent."""
    body: dict[str, Any] = {
        "id": status_update.id,
        "message": status_update.message,
        "sender": user_ref(base, status_update.sender) if status_update.sender else None,
        "created_at": isoformat(status_update.created_at),
    }
    if status_update.subject is not None:
        body["subject"] = status_update.subject
    if status_update.html_message is not None:
        body["html_message"] = status_update.html_message
    return body


def subscriber_body(subscriber: Subscriber) -> dict[str, Any]:
    """PagerDuty's `NotificationSubscriberWithContext`: subscribed directly, always."""
    return {"subscriber_id": subscriber.subscriber_id,
            "subscriber_type": subscriber.subscriber_type,
            "has_indirect_subscription": False, "subscribed_via": None}


@router.post(_STATUS_UPDATES)
async def create_status_update(
    incident_id: str, body: StatusUpdateCreate, request: Request, principal: CurrentPrincipal,
    session: Session, from_header: FromHeader = None,
) -> dict[str, Any]:
    user, agent = await writer(session, principal, from_header)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    sent = await send_status_update(
        session=session, incident=incident, agent=agent, sender=user, message=body.message,
        subject=body.subject, html_message=body.html_message)
    await session.commit()
    return {"status_update": status_update_body(_base(request), sent.status_update)
            | {"notified_count": sent.notified}}


@router.get(_STATUS_UPDATES)
async def get_status_updates(
    incident_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    page: Pagination,
) -> dict[str, Any]:
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id)
    found = await list_status_updates(session=session, incident=incident, params=page)
    base = _base(request)
    return found.body("status_updates", [status_update_body(base, item) for item in found.items])


@router.get(f"{_STATUS_UPDATES}/subscribers")
async def get_subscribers(
    incident_id: str, principal: CurrentPrincipal, session: Session, page: Pagination,
) -> dict[str, Any]:
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id)
    found = await list_subscribers(session=session, incident=incident, params=page)
    return found.body("subscribers", [subscriber_body(item) for item in found.items])


@router.post(f"{_STATUS_UPDATES}/subscribers")
async def subscribe(
    incident_id: str, body: SubscribersChange, principal: CurrentPrincipal, session: Session,
) -> dict[str, Any]:
    # PagerDuty's subscriber routes take no `From` header: nothing is attributed to anyone.
    access.require_incident_writer(principal)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    results = await add_subscribers(session=session, incident=incident,
                                    subscribers=body.subscribers)
    await session.commit()
    return {"subscriptions": [
        {"subscriber_id": item.subscriber_id, "subscriber_type": item.subscriber_type,
         "subscribable_id": incident.id, "subscribable_type": "incident", "result": result}
        for item, result in results]}


@router.post(f"{_STATUS_UPDATES}/unsubscribe")
async def unsubscribe(
    incident_id: str, body: SubscribersChange, principal: CurrentPrincipal, session: Session,
) -> dict[str, Any]:
    # PagerDuty's subscriber routes take no `From` header: nothing is attributed to anyone.
    access.require_incident_writer(principal)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    removed = await remove_subscribers(session=session, incident=incident,
                                       subscribers=body.subscribers)
    await session.commit()
    return {"deleted_count": removed.deleted, "unauthorized_count": 0,
            "non_existent_count": removed.non_existent}
