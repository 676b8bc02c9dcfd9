"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `FIRELINE_TEST_POSTGRES_URL` (default: the local server); each run
creates its own throwaway database and drops it at the end. Under `CI=true` an unreachable
PostgreSQL fails the run instead of skipping its half of the suite.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import delete

from fireline.accounts import service as accounts
from fireline.accounts.models import User
from fireline.app import create_app
from fireline.core import migrate
from fireline.core.db import Base, Database
from fireline.models import load_all
from fireline.settings import Settings

POSTGRES_URL = os.environ.get(
    "FIRELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BASE_URL = "http://testserver"
load_all()


class PostgresServer:
    """Creates and drops throwaway databases on the test PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url_for(self, name: str) -> str:
        prefix = self.admin_url.rsplit("/", 1)[0]
        return f"{prefix}/{name}"

    async def _execute(self, statement: str) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def create(self) -> str:
        name = f"fireline_test_{secrets.token_hex(6)}"
        await self._execute(f'CREATE DATABASE "{name}"')
        return name

    async def drop(self, name: str) -> None:
        await self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_reachable() -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    # Its own loop in its own thread: this fixture may be requested from inside a running loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result()


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    if not _postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable (CI=true)")
        pytest.skip("PostgreSQL is unreachable")
    return PostgresServer(POSTGRES_URL)


@dataclass
class EmptyDatabase:
    backend: str
    url: str


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EmptyDatabase]:
    """A brand-new database with no schema, for migration tests."""
    if request.param == "sqlite":
        yield EmptyDatabase("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = await server.create()
    try:
        yield EmptyDatabase("postgres", Settings.from_env(
            {"FIRELINE_DATABASE_URL": server.url_for(name)}).database_url)
    finally:
        await server.drop(name)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'fireline.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        database = Database(url)
        yield database
        await database.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = await server.create()
    url = Settings.from_env({"FIRELINE_DATABASE_URL": server.url_for(name)}).database_url
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        database = Database(url)
        yield database
        await database.dispose()
    finally:
        await server.drop(name)


@pytest.fixture
async def db(migrated_database: Database) -> AsyncIterator[Database]:
    """The migrated database of the current backend, emptied after each test."""
    yield migrated_database
    async with migrated_database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def settings(db: Database, home: Path, master_key: str) -> Settings:
    return Settings.from_env({
        "FIRELINE_HOME": str(home),
        "FIRELINE_DATABASE_URL": db.url,
        "FIRELINE_BASE_URL": BASE_URL,
        "FIRELINE_MASTER_KEY": master_key,
        "FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
    })


@pytest.fixture
async def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    application = create_app(settings, database=db)
    yield application
    # ASGITransport runs no lifespan: the app's pooled egress clients close as at shutdown.
    await application.state.tools.aclose()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@dataclass
class Actor:
    user: User
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.api_key}"}


@pytest.fixture
def make_actor(db: Database):  # type: ignore[no-untyped-def]
    """Creates a user with the given base role and an API key for it."""

    async def make(role: str = "admin", *, read_only: bool = False, email: str | None = None,
                   password: str | None = None) -> Actor:
        async with db.transaction() as session:
            user = await accounts.create_user(
                session=session, email=email or f"{role}-{secrets.token_hex(4)}@example.com",
                name=f"{role.title()} User", role=role, password=password,
            )
            _, key = await accounts.create_api_key(session=session, user=user, read_only=read_only)
        return Actor(user, key)

    return make


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_ambient_fireline_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("FIRELINE_") and name != "FIRELINE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    yield


@pytest.fixture(autouse=True)
def _close_tool_clients(request: pytest.FixtureRequest) -> None:
    """Clients made by tests/integrations/support.py are closed after each async test. Only
    those: a sync test (a browser test) makes none, and an async fixture would need the
    asyncio runner while Playwright marks its own loop as running (tests/served/web.py)."""
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("_tool_clients_closed")


@pytest.fixture
async def _tool_clients_closed() -> AsyncIterator[None]:
    yield
    from tests.integrations.support import OPEN_CLIENTS

    while OPEN_CLIENTS:
        await OPEN_CLIENTS.pop().aclose()
