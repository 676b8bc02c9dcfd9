"""Pages of the OAuth domain: the authorization endpoint's consent page, the OAuth apps admins
register, and the apps each person has authorized.

The consent page follows RFC 6749 §4.1 with the rules of SECURITY.md: an unknown client or
redirect URI gets an error page here, never a redirect (OA-2); the consent form carries the
session's CSRF token, its answer is a 303 (OA-8), and every redirect names the issuer (RFC
9207). The page is never framed (`frame-ancestors 'none'`), so another site cannot trick a
click on "Allow".

The app pages call the services and authorization checks of the REST API (`oauth/views.py`).
A new app's client secret is shown once, in the answer to the POST that registered it: never
in a redirect, a flash message, a URL or any later page (OA-7 keeps only its hash).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import SESSION_COOKIE, Session, csrf_token_for
from fireline.core.errors import AccessDeniedError, InvalidInputError, validation_message
from fireline.oauth import scopes, service
from fireline.oauth.server import Caller, HttpRequest, Issuer, Outcome, Server
from fireline.oauth.views import (
    AppFields,
    issuer,
    oauth_request,
    request_id,
    require_admin,
    respond,
    run_server,
)
from fireline.web.frame import CurrentViewer, FormState, Viewer, redirect, render
from fireline.web.pages import signed_in

router = APIRouter(include_in_schema=False)


def _refused(request: Request, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        # The client and its redirect URI are known: the client hears why (RFC 6749 §4.1.2.1).
        outcome = Outcome(*error())
        Issuer(issuer(request)).add_issuer_parameter(None, outcome)
        return respond(outcome, after_post=request.method == "POST")
    return render(request, "oauth/error.html", status_code=400, user=None,
                  error=error.description or error.error)


def _login_redirect(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)


@router.get("/oauth/authorize")
async def authorize(request: Request, session: Session) -> Response:
    oauth = await oauth_request(request)
    found = await signed_in(request, session)
    try:
        grant = await run_server(request, session, oauth, handler=lambda server, r:
                                 server.get_consent_grant(r, end_user=None))
    except OAuth2Error as error:
        return _refused(request, error)
    if found is None:
        return _login_redirect(request)
    granted = (grant.request.scope or "").split()
    return render(
        request, "oauth/consent.html", user=found.user,
        csrf_token=csrf_token_for(request.cookies.get(SESSION_COOKIE, "")),
        app=grant.client.app, access=scopes.describe(granted), scopes=granted,
        redirect_host=urlsplit(grant.redirect_uri).netloc or grant.redirect_uri,
        action=f"/oauth/authorize?{request.url.query}")


@router.post("/oauth/authorize")
async def decide(request: Request, session: Session, decision: str = Form(""),
                 csrf_token: str = Form("")) -> Response:
    found = await signed_in(request, session)
    if found is None:
        return _login_redirect(request)
    if csrf_token != csrf_token_for(request.cookies.get(SESSION_COOKIE, "")):
        raise AccessDeniedError("Missing or invalid CSRF token")
    # The authorization request is the action URL's query; the body holds only the answer.
    oauth = await oauth_request(request, form=[])
    user = found.user if decision == "allow" else None

    def answer(server: Server, r: HttpRequest) -> Outcome:
        grant = server.get_consent_grant(r, end_user=found.user)
        outcome: Outcome = server.create_authorization_response(r, grant_user=user, grant=grant)
        return outcome

    try:
        outcome = await run_server(request, session, oauth, handler=answer,
                                   caller=Caller(request_id(request), found.user))
    except OAuth2Error as error:
        return _refused(request, error)
    await session.commit()
    return respond(outcome, after_post=True)



# OAuth apps (Settings): whoever the REST API lets manage them, by the same check.


def _page(request: Request, name: str, viewer: Viewer, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    return render(request, f"oauth/{name}", status_code, viewer=viewer, **context)


@router.get("/settings/oauth_apps")
async def apps_page(request: Request, viewer: CurrentViewer, session: Session) -> HTMLResponse:
    require_admin(viewer.principal)
    return _page(request, "apps.html", viewer, apps=await service.list_apps(session=session))


def _new_app_page(request: Request, viewer: Viewer, form: FormState,
                  status_code: int = 200) -> HTMLResponse:
    return _page(request, "app_new.html", viewer, status_code, form=form,
                 scope_choices=scopes.SCOPE_DESCRIPTIONS.items())


@router.get("/settings/oauth_apps/new")
async def new_app_page(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    require_admin(viewer.principal)
    return _new_app_page(request, viewer,
                         FormState({"scopes": " ".join(service.DEFAULT_SCOPES)}))


# The service's messages name their field before any quoted value, which may hold any word.
_FIELD_WORDS = (("redirect_uris", "redirect uri"), ("scopes", "scope"), ("name", "name"))


def _refusal(values: dict[str, str], message: str, field: str | None = None) -> FormState:
    own_words = re.split(r"['\"]", message, maxsplit=1)[0].lower()
    field = field or next((name for name, word in _FIELD_WORDS if word in own_words), None)
    return FormState(values, {field: message}) if field else FormState(values, message=message)


@router.post("/settings/oauth_apps/new")
async def create_app(request: Request, viewer: CurrentViewer, session: Session,
                     name: str = Form(""), redirect_uris: str = Form(""),
                     chosen: list[str] = Form([], alias="scopes"), public: str = Form("")
                     ) -> HTMLResponse:
    require_admin(viewer.principal)
    values = {"name": name, "redirect_uris": redirect_uris, "scopes": " ".join(chosen),
              "public": public}
    try:
        # The API's own body model first, then its service: the same checks in the same order.
        fields = AppFields(name=name, public=bool(public), scopes=chosen or None,
                           redirect_uris=[line.strip() for line in redirect_uris.splitlines()
                                          if line.strip()])
        app, secret = await service.create_app(
            session=session, actor=viewer.user, request_id=request_id(request),
            data=service.NewApp(name=fields.name, redirect_uris=fields.redirect_uris,
                                public=fields.public, scopes=fields.scopes))
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        return _new_app_page(request, viewer, _refusal(values, validation_message(first),
                                                       str(first["loc"][0])), 400)
    except InvalidInputError as error:
        return _new_app_page(request, viewer, _refusal(values, error.message), 400)
    await session.commit()
    # Shown here, in the POST's own answer, and nowhere else ever again.
    return _page(request, "app_created.html", viewer, app=app, secret=secret)


async def _set_disabled(request: Request, viewer: Viewer, session: AsyncSession, app_id: str,
                        disabled: bool) -> Response:
    require_admin(viewer.principal)
    app = await service.set_app_disabled(session=session, actor=viewer.user, app_id=app_id,
                                         disabled=disabled, request_id=request_id(request))
    await session.commit()
    text = (f"{app.name} is disabled: every token it held has ended." if disabled else
            f"{app.name} is enabled again; people must authorize it again to use it.")
    return redirect(request, "/settings/oauth_apps", flash=text)


@router.post("/settings/oauth_apps/{app_id}/disable")
async def disable_app(app_id: str, request: Request, viewer: CurrentViewer,
                      session: Session) -> Response:
    return await _set_disabled(request, viewer, session, app_id, True)


@router.post("/settings/oauth_apps/{app_id}/enable")
async def enable_app(app_id: str, request: Request, viewer: CurrentViewer,
                     session: Session) -> Response:
    return await _set_disabled(request, viewer, session, app_id, False)


@router.get("/settings/oauth_apps/{app_id}/delete")
async def delete_app_page(app_id: str, request: Request, viewer: CurrentViewer,
                          session: Session) -> HTMLResponse:
    require_admin(viewer.principal)
    return _page(request, "app_delete.html", viewer,
                 app=await service.get_app(session=session, app_id=app_id))


@router.post("/settings/oauth_apps/{app_id}/delete")
async def delete_app(app_id: str, request: Request, viewer: CurrentViewer,
                     session: Session) -> Response:
    require_admin(viewer.principal)
    name = (await service.get_app(session=session, app_id=app_id)).name
    await service.delete_app(session=session, actor=viewer.user, app_id=app_id,
                             request_id=request_id(request))
    await session.commit()
    return redirect(request, "/settings/oauth_apps",
                    flash=f"{name} is deleted: its authorizations and tokens are gone.")


# Authorized apps: everyone's own.


@router.get("/settings/authorized_apps")
async def authorized_apps_page(request: Request, viewer: CurrentViewer,
                               session: Session) -> HTMLResponse:
    return _page(request, "authorized_apps.html", viewer, describe=scopes.describe,
                 authorizations=await service.authorizations_of(session=session,
                                                                user=viewer.user))


@router.post("/settings/authorized_apps/{app_id}/revoke")
async def revoke_authorization(app_id: str, request: Request, viewer: CurrentViewer,
                               session: Session) -> Response:
    await service.revoke_authorization(session=session, user=viewer.user, app_id=app_id,
                                       request_id=request_id(request))
    name = (await service.get_app(session=session, app_id=app_id)).name
    await session.commit()
    return redirect(request, "/settings/authorized_apps",
                    flash=f"{name} no longer has access to your account.")
