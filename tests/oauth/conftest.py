"""An app served at an https base URL (OAuth 2.0 requires TLS; the ASGI transport stands in
for it), apps registered through the service, and a person who signs in and answers the
consent page the way a browser does."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fireline.core.db import Database
from fireline.oauth import service as oauth
from fireline.settings import Settings
from tests.conftest import Actor

ISSUER = "https://fireline.test"
REDIRECT_URI = "https://app.example.com/oauth/callback"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(db: Database, home: Path, master_key: str) -> Settings:
    return Settings.from_env({
        "FIRELINE_HOME": str(home),
        "FIRELINE_DATABASE_URL": db.url,
        "FIRELINE_BASE_URL": ISSUER,
        "FIRELINE_MASTER_KEY": master_key,
    })


# tests/conftest.py's `app` is built from the `settings` above; only the base URL differs here.
@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=ISSUER) as http:
        yield http


@dataclass
class App:
    id: str
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]


@pytest.fixture
def make_app(db: Database, make_actor):  # type: ignore[no-untyped-def]
    async def make(*, public: bool = False, redirect_uris: list[str] | None = None,
                   scopes: list[str] | None = None, admin: Actor | None = None) -> App:
        admin = admin or await make_actor("admin")
        uris = redirect_uris or [REDIRECT_URI]
        async with db.transaction() as session:
            created, secret = await oauth.create_app(
                session=session, actor=admin.user,
                data=oauth.NewApp(name="VectorShift", redirect_uris=uris, public=public,
                                  scopes=scopes))
        return App(created.id, created.client_id, secret, uris)

    return make


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


@dataclass
class Person:
    """A browser: signed in with a session cookie, answering consent pages."""

    http: httpx.AsyncClient
    actor: Actor

    async def consent_page(self, params: dict[str, str]) -> httpx.Response:
        return await self.http.get("/oauth/authorize", params=params)

    async def answer(self, params: dict[str, str], decision: str = "allow") -> httpx.Response:
        page = await self.consent_page(params)
        assert page.status_code == 200, page.text
        action = re.search(r'action="(/oauth/authorize[^"]*)"', page.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert action and csrf
        return await self.http.post(action.group(1).replace("&amp;", "&"),
                                    data={"csrf_token": csrf.group(1), "decision": decision})

    async def authorize(self, app: App, *, scope: str = "write", state: str = "xyz",
                        verifier: str | None = None, **extra: str) -> dict[str, list[str]]:
        """Allows `app` and returns the query of the redirect back to it."""
        params = {"client_id": app.client_id, "redirect_uri": app.redirect_uris[0],
                  "response_type": "code", "scope": scope, "state": state, **extra}
        if verifier is not None:
            params |= {"code_challenge": challenge_of(verifier), "code_challenge_method": "S256"}
        answered = await self.answer(params)
        assert answered.status_code == 303, answered.text
        return parse_qs(urlsplit(answered.headers["location"]).query)


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
async def make_person(app, make_actor):  # type: ignore[no-untyped-def]
    opened: list[httpx.AsyncClient] = []

    async def make(role: str = "responder") -> Person:
        actor: Actor = await make_actor(role, password=PASSWORD)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)
        opened.append(http)
        signed = await http.post("/login", data={"email": actor.user.email,
                                                 "password": PASSWORD})
        assert signed.status_code == 303
        return Person(http, actor)

    yield make
    for http in opened:
        await http.aclose()


async def exchange(client: httpx.AsyncClient, app: App, code: str, **extra: Any
                   ) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": app.redirect_uris[0], "client_id": app.client_id, **extra}
    if app.client_secret and "client_secret" not in extra:
        data["client_secret"] = app.client_secret
    return await client.post("/oauth/token", data=data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
