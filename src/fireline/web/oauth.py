"""The authorization endpoint's pages: who asks, for what, as whom — then allow or deny.

RFC 6749 §4.1 with the rules of SECURITY.md: an unknown client or redirect URI gets an error
page here, never a redirect (OA-2); the consent form carries the session's CSRF token, its
answer is a 303 (OA-8), and every redirect names the issuer (RFC 9207). The page is never
framed (`frame-ancestors 'none'`), so another site cannot trick a click on "Allow".
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from fireline.accounts.permissions import SESSION_COOKIE, Session, csrf_token_for
from fireline.core.errors import AccessDeniedError
from fireline.oauth import scopes
from fireline.oauth.server import Caller, HttpRequest, Issuer, Outcome, Server
from fireline.oauth.views import issuer, oauth_request, request_id, respond, run_server
from fireline.web.frame import render
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

