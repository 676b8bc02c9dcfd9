"""Signing in to the web app in-process, as the page tests do: through the sign-in form,
keeping the CSRF token a page's forms carry."""

from __future__ import annotations

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
