"""Browser endpoints of the OAuth connect flow: the provider redirects the user back here.

The callback needs the signed-in user's session: `state` was bound to that user when the flow
started, so a callback carried to another browser (login CSRF, RFC 6749 §10.12) is refused.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.connections import oauth, service
from fireline.core.errors import ApiError
from fireline.integrations import registry
from fireline.web.frame import render

router = APIRouter(include_in_schema=False)


@router.get("/integrations/oauth/callback/{integration_id}")
async def oauth_callback(
    integration_id: str,
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    state: str = "",
    code: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    integration = registry.get(integration_id)
    if integration is None or integration.oauth is None:
        return render(
            request,
            "oauth_result.html",
            status_code=404,
            user=principal.user,
            title="Unknown integration",
            error="No such OAuth integration.",
        )
    actor = await service.actor_for(
        session=session, principal=principal, request_id=getattr(request.state, "request_id", None)
    )
    await session.close()
    try:
        connection = await oauth.complete(
            db=request.app.state.database,
            tools=request.app.state.tools,
            actor=actor,
            integration=integration,
            state=state,
            code=code,
            error=error,
        )
        await service.check_stored(
            db=request.app.state.database,
            tools=request.app.state.tools,
            integration=integration,
            connection_id=connection.id,
            trigger="connect",
            actor=actor,
        )
    except ApiError as exc:
        return render(
            request,
            "oauth_result.html",
            status_code=exc.status_code,
            user=principal.user,
            title=f"{integration.title} was not connected",
            error=exc.message,
        )
    return render(
        request,
        "oauth_result.html",
        user=principal.user,
        title=f"{integration.title} connected",
        connection_name=connection.name,
    )
