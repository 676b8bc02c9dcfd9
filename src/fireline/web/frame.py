"""The frame every page shares: who is signed in, the layout's navigation, flash messages,
CSRF on every form, and the 404/403 pages.

Pages authenticate by the session cookie only. A form posts the session-derived CSRF token as
the `csrf_token` field (htmx sends the same form fields), so every form works without
JavaScript. Signed out, a page redirects to the sign-in form and comes back after it. A page
(a whole one, asked for with GET) shows the viewer's unread status updates in its header.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service
from fireline.accounts.permissions import SESSION_COOKIE, Principal, Session, csrf_token_for
from fireline.accounts.roles import BaseRole
from fireline.core.errors import AccessDeniedError, ConflictError, InvalidInputError
from fireline.incidents import status_updates

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

PAGE_HEADERS = {
    # htmx's indicator styles are the only inline style; no inline script anywhere.
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self' https:; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
FLASH_COOKIE = "fireline_flash"
# The header lists this many of the viewer's unread status updates (and counts them all).
UNREAD_LISTED = 5
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Paths that answer machines in JSON, never with an HTML page.
_MACHINE_PREFIXES = ("/api/", "/v2/", "/oauth/token", "/oauth/revoke", "/.well-known/",
                     "/healthz", "/readyz", "/metrics", "/static/")

ROLE_LABELS = {
    BaseRole.OWNER: "Account Owner",
    BaseRole.ADMIN: "Admin",
    BaseRole.MANAGER: "Global Manager",
    BaseRole.RESPONDER: "Responder",
    BaseRole.OBSERVER: "Observer",
    BaseRole.RESTRICTED: "Restricted Access",
}

# The product's menus: (label, path) or (label, [(label, path), ...]).
NAVIGATION: list[tuple[str, Any]] = [
    ("Incidents", "/incidents"),
    ("Services", "/services"),
    ("Automation", [("Incident Workflows", "/incident_workflows")]),
    ("Integrations", [("Workflow Integrations", "/integrations/workflow-integrations")]),
    ("Settings", "/settings"),
]


@dataclass(frozen=True)
class UnreadUpdate:
    """A status update delivered to the viewer and not read yet, in plain values: a refused
    form rolls the session back, which expires what it loaded, and the layout still shows
    these."""

    incident_id: str
    incident_number: int
    incident_title: str
    text: str  # its subject, else its message
    at: datetime


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a page, as the services see them (a session principal)."""

    principal: Principal
    csrf_token: str
    unread: tuple[UnreadUpdate, ...] = ()
    unread_count: int = 0

    @property
    def user(self) -> Any:
        return self.principal.user

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.principal.role]


@dataclass
class FormState:
    """What a form was filled with and what is wrong with it, to show it again."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # A problem that is not about one field.
    message: str | None = None

    @classmethod
    def failed(cls, values: dict[str, str], error: InvalidInputError | ConflictError
               ) -> FormState:
        if isinstance(error, service.InvalidFieldError | service.FieldConflictError) \
                and error.field in values:
            return cls(values, {error.field: error.message})
        return cls(values, message=error.message)


async def start_over(session: AsyncSession, viewer: Viewer) -> None:
    """Before showing a refused form again: drop whatever the attempt left in the session (a
    lost race for a unique email fails mid-flush) and reload the signed-in user, whom the
    rollback expired and the layout shows."""
    await session.rollback()
    await session.refresh(viewer.user)


class SignInRequired(Exception):
    """Raised by `current_viewer`: the answer is a redirect to the sign-in form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def viewer_of(request: Request, session: AsyncSession) -> Viewer | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = await service.authenticate_session(session=session, secret=cookie) if cookie else None
    if found is None or cookie is None:
        return None
    return Viewer(Principal(found.user, False, "session", found.credential_id),
                  csrf_token_for(cookie))


async def current_viewer(request: Request, session: Session) -> Viewer:
    viewer = await viewer_of(request, session)
    if viewer is None:
        raise SignInRequired(here(request) if request.method in _SAFE_METHODS else "/")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("x-csrf-token") or str((await request.form()).get(
            "csrf_token", ""))
        if not hmac.compare_digest(sent, viewer.csrf_token):
            raise AccessDeniedError("This form has expired or did not come from Fireline: "
                                    "reload the page and try again")
    elif not is_htmx(request):  # a whole page: its header counts the unread status updates
        return await with_unread(session, viewer)
    return viewer


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


async def with_unread(session: AsyncSession, viewer: Viewer) -> Viewer:
    """`viewer` with their unread status updates, for the layout's header."""
    found, total = await status_updates.unread(session=session, principal=viewer.principal,
                                               limit=UNREAD_LISTED)
    return replace(viewer, unread_count=total, unread=tuple(
        UnreadUpdate(item.incident_id, item.incident_number, item.incident_title,
                     item.status_update.subject or item.status_update.message,
                     item.status_update.created_at) for item in found))


def permits(check: Callable[[Principal], None], principal: Principal) -> bool:
    """Whether an API rule (one that raises AccessDeniedError) lets `principal` through:
    a page shows a button only where the API would accept what it sends."""
    try:
        check(principal)
    except AccessDeniedError:
        return False
    return True


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_page(request: Request) -> bool:
    """A browser asking for a page (or htmx for a piece of one), not an API client."""
    if request.url.path.startswith(_MACHINE_PREFIXES):
        return False
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def render(request: Request, name: str, status_code: int = 200, *,
           viewer: Viewer | None = None, **context: Any) -> HTMLResponse:
    """Renders a template in the layout; a flash message left by the last redirect shows once."""
    # Only a whole page shows (and so uses up) a flash: a polled table or a form htmx swaps
    # in could land between a redirect and the page it leads to, and swallow its message.
    flash = None if is_htmx(request) else _read_flash(request)
    response = templates.TemplateResponse(request, name, {
        "viewer": viewer, "user": viewer.user if viewer else context.pop("user", None),
        "csrf_token": viewer.csrf_token if viewer else context.pop("csrf_token", ""),
        "navigation": NAVIGATION, "flash": flash, "path": request.url.path, **context,
    }, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(request: Request, url: str, *, flash: str | None = None,
             kind: str = "success") -> Response:
    """After a form: a 303 (htmx follows `HX-Redirect` with a full page load instead)."""
    response: Response
    if is_htmx(request):
        response = Response(status_code=204, headers={"hx-redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(json.dumps({"kind": kind, "text": flash})),
                            path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(unquote(raw))
        return {"kind": str(value["kind"]), "text": str(value["text"])}
    except (ValueError, KeyError, TypeError):
        return None


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = f"/login?{urlencode({'next': exc.next_path})}" if exc.next_path != "/" else "/login"
    if is_htmx(request):
        return Response(status_code=204, headers={"hx-redirect": target})
    return RedirectResponse(target, status_code=303)


_TITLES = {403: "You don't have access to this", 404: "Page not found",
           405: "Not allowed here", 400: "Something is wrong with that request",
           429: "Too many requests"}


async def error_page(request: Request, status_code: int, message: str) -> Response:
    """The 404/403/... page, in the layout when the browser is signed in."""
    try:
        async with request.app.state.database.session(read_only=True) as session:
            viewer = await viewer_of(request, session)
    except Exception:  # an error page must render whatever else is wrong
        viewer = None
    if status_code >= 500:
        message = "Fireline could not complete this request. The error has been logged."
    return render(request, "error.html", status_code=status_code, viewer=viewer,
                  title=_TITLES.get(status_code, "Something went wrong"), message=message,
                  status=status_code)
