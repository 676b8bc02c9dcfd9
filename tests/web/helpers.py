"""Signing in to the web app in-process, as the page tests do: through the sign-in form,
keeping the CSRF token a page's forms carry."""

from __future__ import annotations

import html
import re

import httpx

from fireline.accounts.permissions import SESSION_COOKIE, csrf_token_for
from tests.conftest import Actor

PASSWORD = "a long enough password"
HTML = {"Accept": "text/html"}
HTMX = {**HTML, "HX-Request": "true"}


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Signs `client` in through the form; returns the CSRF token its pages carry."""
    signed = await client.post("/login", data={"email": email, "password": password})
    assert signed.status_code == 303, signed.text
    return csrf_token_for(client.cookies[SESSION_COOKIE])


async def signed_in(client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
                    role: str = "admin") -> tuple[Actor, str]:
    """`client` signed in as a new user of `role`: the user, and the CSRF token."""
    actor: Actor = await make_actor(role, password=PASSWORD)
    return actor, await sign_in(client, actor.user.email)


def error_of(page: str, field: str) -> str | None:
    """The error a page shows beside a field (`<field>-error`), unescaped."""
    found = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    return html.unescape(found[1]) if found else None


def flash(page: str) -> str:
    """The page's flash message as "kind: text"."""
    found = re.search(r'<div class="flash flash-(\w+)" role="status">([^<]*)</div>', page)
    assert found, page
    return f"{found[1]}: {html.unescape(found[2])}"
