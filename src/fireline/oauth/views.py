"""OAuth 2.0 endpoints (token, revocation, RFC 8414 metadata) and the REST API for apps and
the authorizations people gave them.

The token and revocation endpoints take `application/x-www-form-urlencoded` bodies only
(RFC 6749 §4.1.3) and answer with `Cache-Control: no-store` (Authlib's headers). No route
here sends CORS headers: browsers may not call them from another origin (OA-8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import CurrentPrincipal, Principal, Session
from fireline.core.clock import isoformat
from fireline.core.errors import AccessDeniedError, InvalidInputError
from fireline.oauth import scopes, service
from fireline.oauth.models import OAuthApp
from fireline.oauth.server import (
    AUTH_METHODS,
    GRANT_TYPES,
    Caller,
    HttpRequest,
    Outcome,
    Server,
)

T = TypeVar("T")
router = APIRouter(tags=["oauth"])
_FORM = "application/x-www-form-urlencoded"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppFields(_Closed):
    name: str = Field(max_length=200)
    redirect_uris: list[str]
    public: bool = False
    scopes: list[str] | None = None


class AppCreate(_Closed):
    oauth_app: AppFields


class AppChanges(_Closed):
    disabled: bool


class AppUpdate(_Closed):
    oauth_app: AppChanges


def issuer(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def oauth_request(request: Request, *, form: list[tuple[str, str]] | None = None
                        ) -> HttpRequest:
    """The request as Authlib sees it, at our public URL (what clients were told to use)."""
    if form is None and request.method == "POST":
        if request.headers.get("content-type", "").split(";")[0].strip() != _FORM:
            raise InvalidInputError(f"The body must be {_FORM}")
        form = [(key, value) for key, value in (await request.form()).multi_items()
                if isinstance(value, str)]
    query = f"?{request.url.query}" if request.url.query else ""
    return HttpRequest(request.method, f"{issuer(request)}{request.url.path}{query}",
                       request.headers, list(request.query_params.multi_items()),
                       form or [])


async def run_server(request: Request, session: AsyncSession, oauth: HttpRequest, *,
                     handler: Callable[[Server, HttpRequest], T],
                     caller: Caller | None = None) -> T:
    settings = request.app.state.settings
    return await service.run(
        session, oauth, issuer=issuer(request),
        access_token_lifetime=settings.oauth_access_token_lifetime,
        caller=caller or Caller(request_id(request)), handler=handler)


def respond(outcome: Outcome, *, after_post: bool = False) -> Response:
    headers = dict(outcome.headers)
    location = outcome.location
    if location is not None:
        # OA-8: a redirect answering a POST is a 303, so the browser follows it with GET.
        return RedirectResponse(location, status_code=303 if after_post else outcome.status,
                                headers={k: v for k, v in headers.items()
                                         if k.lower() != "location"})
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


@router.post("/oauth/token", include_in_schema=False)
async def token(request: Request, session: Session) -> Response:
    oauth = await oauth_request(request)
    outcome: Outcome = await run_server(
        request, session, oauth, handler=lambda server, r: server.create_token_response(r))
    # Committed whatever the answer: a refused replay still revokes its family (OA-4, OA-6).
    await session.commit()
    return respond(outcome)


@router.post("/oauth/revoke", include_in_schema=False)
async def revoke(request: Request, session: Session) -> Response:
    oauth = await oauth_request(request)
    outcome: Outcome = await run_server(
        request, session, oauth,
        handler=lambda server, r: server.create_endpoint_response("revocation", r))
    await session.commit()
    return respond(outcome)


@router.get("/.well-known/oauth-authorization-server", include_in_schema=False)
async def metadata(request: Request) -> dict[str, Any]:
    """RFC 8414 §2."""
    base = issuer(request)
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "scopes_supported": sorted(scopes.KNOWN),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
    }


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise AccessDeniedError("Only admins and the account owner manage OAuth apps")


def app_body(app: OAuthApp, *, client_secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": app.id,
        "type": "oauth_app",
        "summary": app.name,
        "name": app.name,
        "client_id": app.client_id,
        "public": app.public,
        "redirect_uris": app.redirect_uris,
        "scopes": app.scopes,
        "created_at": isoformat(app.created_at),
        "disabled": app.disabled_at is not None,
    }
    if client_secret is not None:
        body["client_secret"] = client_secret  # this once: only its hash is kept
    return body


@router.post("/api/oauth_apps", status_code=201)
async def create_app(body: AppCreate, request: Request, principal: CurrentPrincipal,
                     session: Session) -> dict[str, Any]:
    require_admin(principal)
    fields = body.oauth_app
    app, secret = await service.create_app(
        session=session, actor=principal.user, request_id=request_id(request),
        data=service.NewApp(name=fields.name, redirect_uris=fields.redirect_uris,
                            public=fields.public, scopes=fields.scopes))
    await session.commit()
    return {"oauth_app": app_body(app, client_secret=secret)}


@router.get("/api/oauth_apps")
async def list_apps(principal: CurrentPrincipal, session: Session) -> dict[str, Any]:
    require_admin(principal)
    return {"oauth_apps": [app_body(app) for app in await service.list_apps(session=session)]}


@router.get("/api/oauth_apps/{app_id}")
async def get_app(app_id: str, principal: CurrentPrincipal, session: Session) -> dict[str, Any]:
    require_admin(principal)
    return {"oauth_app": app_body(await service.get_app(session=session, app_id=app_id))}


@router.patch("/api/oauth_apps/{app_id}")
async def update_app(app_id: str, body: AppUpdate, request: Request,
                     principal: CurrentPrincipal, session: Session) -> dict[str, Any]:
    require_admin(principal)
    app = await service.set_app_disabled(
        session=session, actor=principal.user, app_id=app_id,
        disabled=body.oauth_app.disabled, request_id=request_id(request))
    await session.commit()
    return {"oauth_app": app_body(app)}


@router.delete("/api/oauth_apps/{app_id}", status_code=204)
async def delete_app(app_id: str, request: Request, principal: CurrentPrincipal,
                     session: Session) -> Response:
    require_admin(principal)
    await service.delete_app(session=session, actor=principal.user, app_id=app_id,
                             request_id=request_id(request))
    await session.commit()
    return Response(status_code=204)


@router.get("/api/oauth_authorizations")
async def list_authorizations(principal: CurrentPrincipal, session: Session) -> dict[str, Any]:
    """The apps the caller has authorized: name, scopes, when, last used."""
    found = await service.authorizations_of(session=session, user=principal.user)
    return {"oauth_authorizations": [{
        "app": {"id": item.app.id, "name": item.app.name, "client_id": item.app.client_id},
        "scopes": item.scopes,
        "scope_descriptions": scopes.describe(item.scopes),
        "authorized_at": isoformat(item.authorized_at),
        "last_used_at": isoformat(item.last_used_at) if item.last_used_at else None,
    } for item in found]}


@router.delete("/api/oauth_authorizations/{app_id}", status_code=204)
async def revoke_authorization(app_id: str, request: Request, principal: CurrentPrincipal,
                               session: Session) -> Response:
    await service.revoke_authorization(session=session, user=principal.user, app_id=app_id,
                                       request_id=request_id(request))
    await session.commit()
    return Response(status_code=204)

