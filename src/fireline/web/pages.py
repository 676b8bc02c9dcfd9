"""Browser pages: sign-in with a secure session cookie, CSRF on every state change.

The sign-in form has no session yet, so it is protected by checking that `Origin` (when the
browser sends it) is our own; every later form carries the session-derived CSRF token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fireline.accounts import service
from fireline.accounts.permissions import SESSION_COOKIE, Session, csrf_token_for
from fireline.core.errors import AccessDeniedError
from fireline.web.frame import CurrentViewer, render

router = APIRouter(include_in_schema=False)


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = urlsplit(str(request.base_url))
        sent = urlsplit(origin)
        if (sent.scheme, sent.netloc) != (own.scheme, own.netloc):
            raise AccessDeniedError("Cross-origin form submission refused")


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another site (`//host`
    and `/\\host` are other sites to a browser)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


async def signed_in(request: Request, session: Session) -> service.Authenticated | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return await service.authenticate_session(session=session, secret=cookie) if cookie else None


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", user=None, next=local_path(next))


@router.post("/login")
async def login_submit(
    request: Request, session: Session, email: str = Form(""), password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    _check_origin(request)
    result = await service.login(session=session, email=email, password=password)
    if result is None:
        return render(request, "login.html", status_code=401, user=None, email=email,
                      next=local_path(next), error="Email or password is incorrect.")
    await session.commit()
    _, secret = result
    response = RedirectResponse(local_path(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
        secure=request.url.scheme == "https", max_age=int(service.SESSION_LIFETIME.total_seconds()),
    )
    return response


@router.post("/logout")
async def logout(request: Request, session: Session, csrf_token: str = Form("")) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        if csrf_token != csrf_token_for(cookie):
            raise AccessDeniedError("Missing or invalid CSRF token")
        await service.logout(session=session, secret=cookie)
        await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def home(request: Request, viewer: CurrentViewer) -> Response:
    return render(request, "home.html", viewer=viewer)
