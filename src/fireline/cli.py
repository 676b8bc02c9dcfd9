"""The `fireline` command line (also `python -m fireline`).

Each command loads settings from the environment, validates its arguments, prints a clear
message and exits non-zero on bad input without changing anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service as accounts
from fireline.core import migrate
from fireline.core.db import Database
from fireline.core.errors import ApiError, FirelineError
from fireline.core.logging import configure_logging
from fireline.oauth import service as oauth
from fireline.oauth.views import app_body
from fireline.settings import DEFAULT_PORT, Settings
from fireline.vault.keyring import load_keyring

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Fireline")
db_app = typer.Typer(no_args_is_help=True, help="Database schema")
users_app = typer.Typer(no_args_is_help=True, help="Users")
teams_app = typer.Typer(no_args_is_help=True, help="Teams")
api_keys_app = typer.Typer(no_args_is_help=True, help="REST API keys")
keys_app = typer.Typer(no_args_is_help=True, help="Master keys")
workflows_app = typer.Typer(no_args_is_help=True, help="Incident workflows as code")
oauth_apps_app = typer.Typer(no_args_is_help=True, help="Third-party apps (OAuth 2.0 clients)")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(teams_app, name="teams")
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(keys_app, name="keys")
app.add_typer(workflows_app, name="workflows")
app.add_typer(oauth_apps_app, name="oauth-apps")

err = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except FirelineError as exc:
        _fail(str(exc))


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def _prepare(settings: Settings) -> None:
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)


def _in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    async def run() -> T:
        database = Database(settings.database_url,
                        sqlite_synchronous=settings.sqlite_synchronous)
        try:
            async with database.transaction() as session:
                return await work(session)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except ApiError as exc:
        _fail(exc.message + "".join(f"\n  {item}" for item in exc.errors))
    except FirelineError as exc:
        _fail(str(exc))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all schema migrations."""
    settings = _settings()
    _prepare(settings)
    migrate.upgrade(settings.database_url)
    err.print("database is up to date")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Display name")],
    role: Annotated[
        str, typer.Option(help="owner, admin, manager, responder, observer, restricted")
    ],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Create a user; with --password-stdin the password is read from standard input."""
    settings = _settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    user = _in_transaction(settings, lambda session: accounts.create_user(
        session=session, email=email, name=name, role=role, password=password))
    typer.echo(user.id)


@users_app.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
) -> None:
    """Give a user a new password (printed, unless read from standard input); this signs
    them out everywhere."""
    settings = _settings()
    chosen = sys.stdin.readline().rstrip("\n") if password_stdin else None
    password = _in_transaction(settings, lambda session: accounts.reset_password(
        session=session, email=email, password=chosen))
    if chosen is None:
        typer.echo(password)
    else:
        err.print(f"the password of {email} is changed")


@teams_app.command("create")
def teams_create(name: Annotated[str, typer.Option(help="Team name")]) -> None:
    """Create a team."""
    team = _in_transaction(_settings(), lambda s: accounts.create_team(session=s, name=name))
    typer.echo(team.id)


@teams_app.command("add-member")
def teams_add_member(
    team: Annotated[str, typer.Option(help="Team name")],
    email: Annotated[str, typer.Option(help="User email")],
    role: Annotated[str, typer.Option(help="manager, responder or observer")],
) -> None:
    """Add a user to a team, or change their team role."""
    _in_transaction(_settings(), lambda s: accounts.add_team_member(
        session=s, team_name=team, email=email, role=role))
    err.print(f"{email} is a {role} of {team}")


@api_keys_app.command("create")
def api_keys_create(
    email: Annotated[str, typer.Option(help="The user the key acts as")],
    read_only: Annotated[bool, typer.Option("--read-only")] = False,
) -> None:
    """Create a REST API key and print only the key."""

    async def work(session: AsyncSession) -> str:
        user = await accounts.get_user_by_email(session=session, email=email)
        _, secret = await accounts.create_api_key(session=session, user=user, read_only=read_only)
        return secret

    typer.echo(_in_transaction(_settings(), work))


@oauth_apps_app.command("create")
def oauth_apps_create(
    name: Annotated[str, typer.Option(help="The app's name, shown on the consent page")],
    redirect_uri: Annotated[list[str], typer.Option(
        help="Where the app receives codes (repeatable); https, or http to a loopback address")],
    public: Annotated[bool, typer.Option(
        "--public", help="A native or browser app that cannot keep a secret (PKCE only)")] = False,
    scope: Annotated[list[str] | None, typer.Option(
        help="A scope the app may ask for (repeatable; default: read and write)")] = None,
    email: Annotated[str | None, typer.Option(
        help="The admin registering it (default: the account owner)")] = None,
) -> None:
    """Register an app and print JSON with its client_id (and client_secret, shown once)."""

    async def work(session: AsyncSession) -> dict[str, object]:
        actor = (await accounts.get_user_by_email(session=session, email=email) if email
                 else await accounts.account_owner(session=session))
        app_, secret = await oauth.create_app(session=session, actor=actor, data=oauth.NewApp(
            name=name, redirect_uris=redirect_uri, public=public, scopes=scope or None))
        return app_body(app_, client_secret=secret)

    typer.echo(json.dumps(_in_transaction(_settings(), work), indent=2))


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 200,
) -> None:
    """Re-wrap every data key under the active (first) key of FIRELINE_MASTER_KEY (CRY-7)."""
    from rich.progress import Progress

    from fireline.models import load_all
    from fireline.vault.rotation import SEALED_TABLES, rewrap_all
    from fireline.vault.sealing import Vault

    settings = _settings()
    try:
        vault = Vault(load_keyring(settings))
    except FirelineError as exc:
        _fail(str(exc))
    load_all()  # packages that store sealed data register their tables on import

    async def run() -> int:
        database = Database(settings.database_url,
                        sqlite_synchronous=settings.sqlite_synchronous)
        try:
            with Progress(console=err, transient=False) as bar:
                task = bar.add_task("re-wrapping data keys", total=None)
                return await rewrap_all(
                    database=database, vault=vault, tables=SEALED_TABLES,
                    batch_size=batch_size,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await database.dispose()

    try:
        count = asyncio.run(run())
    except FirelineError as exc:
        _fail(str(exc))
    err.print(f"re-wrapped {count} data keys under master key {vault.active_key.key_id}")


@workflows_app.command("apply")
def workflows_apply(
    file: Annotated[Path, typer.Option("-f", "--file", help="YAML or JSON definition")],
    as_user: Annotated[
        str | None, typer.Option("--as", help="Email of the editor (default: the owner)")
    ] = None,
) -> None:
    """Create a workflow, or update the one with the same name (a new version)."""
    from fireline.workflows import cli_support

    try:
        text = file.read_text()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    workflow_id, version = _in_transaction(
        _settings(), lambda s: cli_support.apply(session=s, text=text, as_email=as_user))
    err.print(f"workflow {workflow_id} is at version {version}")
    typer.echo(workflow_id)


@workflows_app.command("export")
def workflows_export(
    workflow_id: Annotated[str | None, typer.Argument(help="One workflow (default: all)")] = None,
) -> None:
    """Print workflow definitions as YAML (several are separate YAML documents)."""
    from fireline.workflows import cli_support

    typer.echo(_in_transaction(
        _settings(), lambda s: cli_support.export(session=s, workflow_id=workflow_id)), nl=False)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    no_workers: Annotated[bool, typer.Option("--no-workers")] = False,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key")] = None,
) -> None:
    """Serve the UI and APIs (and, unless --no-workers, the workers and scheduler)."""
    import uvicorn

    from fireline.app import create_app
    from fireline.core.serving import protocol_with_header_deadline
    from fireline.runtime import Runtime

    settings = _settings()
    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together")
    _prepare(settings)
    try:
        keyring = load_keyring(settings, create=settings.is_sqlite)
    except FirelineError as exc:
        _fail(str(exc))
    # Bound before anything is printed: the one-time owner sign-in is shown only by a server
    # that is really listening.
    listening = _bind(host, port)
    scheme = "https" if tls_cert else "http"
    if "FIRELINE_BASE_URL" not in os.environ:  # links follow the address actually served
        settings = dataclasses.replace(settings, base_url=_served_url(scheme, host, port))
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    created = _in_transaction(settings, lambda s: accounts.bootstrap_owner(session=s))
    typer.echo(f"Fireline is running on {settings.base_url}")
    if created is not None:
        owner, password, key = created
        typer.echo(f"First start: sign in as {owner.email} with password {password}")
        typer.echo(f"Admin API key: {key}")
    configure_logging()
    application = create_app(settings, keyring=keyring)
    runtime = None if no_workers else Runtime(settings=settings, keyring=keyring)
    if runtime is not None:
        runtime.attach(application)
    uvicorn.run(
        application, fd=listening.fileno(), log_config=None, access_log=False,
        limit_concurrency=settings.max_connections,
        http=protocol_with_header_deadline(settings.request_header_timeout_seconds),
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is already in use; stop what uses it, or choose "
                  f"another port: make run PORT={port + 1} (fireline serve --port {port + 1})")
        _fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening


def _served_url(scheme: str, host: str, port: int) -> str:
    # Listening on every interface: links name the loopback address, which always works here.
    shown = "127.0.0.1" if host in {"0.0.0.0", ""} else "[::1]" if host == "::" else host  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


@app.command()
def worker() -> None:
    """Run workers and the scheduler only (scale-out nodes)."""
    import uvloop

    from fireline.runtime import Runtime

    settings = _settings()
    _prepare(settings)
    try:
        keyring = load_keyring(settings)
    except FirelineError as exc:
        _fail(str(exc))
    configure_logging()
    # The loop `fireline serve` runs on (uvicorn picks uvloop): one event loop in production.
    uvloop.run(Runtime(settings=settings, keyring=keyring).run_forever())


def main() -> None:
    app()
