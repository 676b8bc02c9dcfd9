"""Connections: create, read, update, delete, verify — each deciding access through
`access.allowed` (ACL-1), writing its audit event in the same transaction (AUD-1), and never
returning or logging a secret (SEC-1).

Verification talks to the tool before any transaction opens, so a slow tool never holds a
database lock. Where the product text says a failed check stops the save, nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import Team
from fireline.accounts.permissions import Principal
from fireline.accounts.roles import BaseRole
from fireline.accounts.service import team_roles_of
from fireline.connections import external_ids, health
from fireline.connections import tokens as oauth_tokens
from fireline.connections.access import Verb, allowed
from fireline.connections.models import UNKNOWN, Connection, ConnectionTeam, HealthCheck
from fireline.connections.schemas import ConnectionCreate, ConnectionUpdate
from fireline.connections.tools import Tools, parse_networks
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.core.errors import (
    AccessDeniedError,
    ConflictError,
    CredentialError,
    InvalidInputError,
    NotFoundError,
    UnprocessableError,
    located_messages,
)
from fireline.core.ids import new_id
from fireline.core.logging import get_logger
from fireline.core.redaction import register_secret, scrub
from fireline.integrations.base import SECRET_PLACEHOLDER, Integration
from fireline.vault.sealing import VaultError

log = get_logger("fireline.connections")


@dataclass(frozen=True)
class Actor:
    principal: Principal
    team_roles: Mapping[str, Any]
    request_id: str | None

    def may(self, verb: Verb, scope_team_ids: Sequence[str] = ()) -> bool:
        return allowed(
            verb,
            role=self.principal.role,
            team_roles=self.team_roles,
            scope_team_ids=scope_team_ids,
        )

    def audit(
        self,
        session: AsyncSession,
        action: str,
        target_id: str | None,
        *,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        audit.record(
            session,
            actor_id=self.principal.user.id,
            actor=self.principal.user.email,
            action=action,
            target_type="connection",
            target_id=target_id,
            outcome=outcome,
            request_id=self.request_id,
            details=details,
            message=message,
        )


async def actor_for(
    *, session: AsyncSession, principal: Principal, request_id: str | None
) -> Actor:
    roles = await team_roles_of(session=session, user_id=principal.user.id)
    return Actor(principal, roles, request_id)


@dataclass(frozen=True)
class Loaded:
    connection: Connection
    team_ids: list[str]


def validate_config(integration: Integration, data: Mapping[str, Any]) -> BaseModel:
    try:
        return integration.config.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError(errors=located_messages(exc, "configuration")) from None


def validate_secrets(integration: Integration, values: Mapping[str, str]) -> BaseModel:
    """Validates entered or stored secrets and registers them for redaction (SEC-5) before
    they are sent anywhere: a tool that echoes a wrong key must not get it into a message."""
    for value in values.values():
        if isinstance(value, str):
            register_secret(value)
    try:
        return integration.secrets.model_validate(dict(values))
    except ValidationError as exc:
        raise InvalidInputError(errors=located_messages(exc, "secrets")) from None


def _secret_strings(raw: Mapping[str, Any]) -> dict[str, str]:
    values = {}
    for name, value in raw.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise InvalidInputError(errors=[f"secrets.{name}: must be a string"])
        values[name] = value
    return values


def plain_secrets(model: BaseModel) -> dict[str, str]:
    values = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            values[name] = value.get_secret_value()
        elif value is not None:
            values[name] = str(value)
    return values


def config_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


async def _check_teams(session: AsyncSession, team_ids: list[str]) -> None:
    if not team_ids:
        return
    found = set(await session.scalars(select(Team.id).where(Team.id.in_(team_ids))))
    missing = [team_id for team_id in team_ids if team_id not in found]
    if missing:
        raise InvalidInputError(
            errors=[f"teams: no team with id {team_id!r}" for team_id in missing]
        )


async def _make_default(session: AsyncSession, connection: Connection) -> None:
    await session.execute(
        update(Connection)
        .where(
            Connection.integration == connection.integration,
            Connection.id != connection.id,
            Connection.is_default.is_(True),
        )
        .values(is_default=False)
    )


def _external_id_for(tools: Tools, integration: Integration, requested: str | None) -> str | None:
    if integration.auth != "aws_role":
        if requested:
            raise InvalidInputError(errors=["external_id: only AWS connections have one"])
        return None
    if requested is None:
        return external_ids.issue(tools.keyring)
    # AWS-1: the user cannot choose it; it must be one this server issued.
    if not external_ids.was_issued(tools.keyring, requested):
        raise InvalidInputError(errors=["external_id: not an external ID issued by Fireline"])
    return requested


async def create_connection(
    *,
    db: Database,
    tools: Tools,
    actor: Actor,
    integration: Integration,
    data: ConnectionCreate,
) -> Loaded:
    if not actor.may(Verb.CREATE):
        raise AccessDeniedError("Only managers, admins and the Account Owner add connections")
    if data.allow_private_networks and not actor.may(Verb.ALLOW_PRIVATE):
        raise AccessDeniedError("Only admins may let a connection reach private networks")
    networks = [str(network) for network in parse_networks(data.allow_private_networks)]
    config = validate_config(integration, data.configuration)
    team_ids = list(dict.fromkeys(team.key for team in data.teams))
    connection_id = new_id()
    external_id = _external_id_for(tools, integration, data.external_id)
    if integration.auth == "oauth":
        if data.secrets:
            raise InvalidInputError(
                errors=[
                    f"secrets: {integration.title} connects through OAuth; no secrets are accepted"
                ]
            )
        secrets_model, outcome = None, None
    else:
        raw = _secret_strings(data.secrets)
        if SECRET_PLACEHOLDER in raw.values():
            raise InvalidInputError(errors=["secrets: the placeholder is not a secret value"])
        secrets_model = validate_secrets(integration, raw)
        outcome = await health.probe(
            tools,
            integration,
            connection_id=connection_id,
            config=config,
            secrets=secrets_model,
            external_id=external_id,
            allow_private=networks,
        )
        if integration.verify_blocks_save and not outcome.is_healthy:
            async with db.transaction() as session:
                actor.audit(
                    session,
                    "connection.create",
                    None,
                    outcome="failure",
                    details={"integration": integration.slug, "name": data.name},
                    message=outcome.message,
                )
            raise InvalidInputError(
                f"{integration.title} connection could not be verified: {outcome.message}"
            )
    try:
        async with db.transaction() as session:
            await _check_teams(session, team_ids)
            connection = Connection(
                id=connection_id,
                integration=integration.slug,
                name=data.name,
                configuration=config_json(config),
                data_key=tools.vault.new_data_key(table="connections", row_id=connection_id),
                is_default=data.is_default,
                allow_sre_agent=data.allow_sre_agent,
                allow_private=networks,
                external_id=external_id,
                oauth_state="pending" if integration.auth == "oauth" else None,
                health_status=UNKNOWN,
                health_failures=0,
                created_by_id=actor.principal.user.id,
                updated_by_id=actor.principal.user.id,
            )
            if secrets_model is not None:
                tools.seal_secrets(connection, plain_secrets(secrets_model))
            if data.is_default:
                await _make_default(session, connection)
            session.add(connection)
            await session.flush()
            session.add_all(
                ConnectionTeam(connection_id=connection_id, team_id=team_id) for team_id in team_ids
            )
            if outcome is not None:
                health.apply(
                    session, connection, outcome, trigger="create", request_id=actor.request_id,
                    interval=tools.settings.health_check_interval,
                )
            actor.audit(
                session,
                "connection.create",
                connection_id,
                details={
                    "integration": integration.slug,
                    "name": data.name,
                    "teams": team_ids,
                    "is_default": data.is_default,
                    "allow_private_networks": networks,
                    "secret_fields": connection.secret_fields,
                },
            )
    except IntegrityError as exc:
        # Two unique indexes can refuse the insert: the external ID's (AWS-1) and the one
        # default per tool.
        if "external_id" in str(exc.orig):
            raise ConflictError(
                "That external ID is already used by another connection: issue a new one"
            ) from exc
        raise ConflictError("Another connection was made the default at the same time") from exc
    return Loaded(connection, team_ids)


async def _load(
    session: AsyncSession, integration_slug: str | None, connection_id: str
) -> Loaded | None:
    connection = await session.get(Connection, connection_id)
    if connection is None or (integration_slug and connection.integration != integration_slug):
        return None
    team_ids = list(
        await session.scalars(
            select(ConnectionTeam.team_id)
            .where(ConnectionTeam.connection_id == connection_id)
            .order_by(ConnectionTeam.team_id)
        )
    )
    return Loaded(connection, team_ids)


async def get_visible(
    *,
    session: AsyncSession,
    actor: Actor,
    integration_slug: str | None,
    connection_id: str,
    verb: Verb = Verb.VIEW,
) -> Loaded:
    """ACL-2: a connection the actor may not view is indistinguishable from a missing one."""
    loaded = await _load(session, integration_slug, connection_id)
    if loaded is None or not actor.may(Verb.VIEW, loaded.team_ids):
        raise NotFoundError()
    if not actor.may(verb, loaded.team_ids):
        actor.audit(session, f"connection.{verb.value}", connection_id, outcome="denied")
        await session.commit()
        raise AccessDeniedError()
    return loaded


async def list_visible(
    *,
    session: AsyncSession,
    actor: Actor,
    integration_slug: str | None,
    name: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Loaded], bool]:
    query = select(Connection)
    if integration_slug:
        query = query.where(Connection.integration == integration_slug)
    if name:
        query = query.where(func.lower(Connection.name).contains(name.lower()))
    if not actor.may(Verb.VIEW):
        # Not global: only connections scoped to a team this actor manages.
        managed = [team_id for team_id, role in actor.team_roles.items() if role == "manager"]
        if actor.principal.role is BaseRole.RESTRICTED or not managed:
            return [], False
        query = query.where(
            Connection.id.in_(
                select(ConnectionTeam.connection_id).where(ConnectionTeam.team_id.in_(managed))
            )
        )
    rows = list(
        await session.scalars(
            query.order_by(Connection.created_at, Connection.id).offset(offset).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    teams: dict[str, list[str]] = {row.id: [] for row in rows}
    if rows:
        for connection_id, team_id in await session.execute(
            select(ConnectionTeam.connection_id, ConnectionTeam.team_id)
            .where(ConnectionTeam.connection_id.in_(list(teams)))
            .order_by(ConnectionTeam.team_id)
        ):
            teams[connection_id].append(team_id)
    loaded = [Loaded(row, teams[row.id]) for row in rows]
    return [item for item in loaded if actor.may(Verb.VIEW, item.team_ids)], more


def _merged_secrets(
    integration: Integration,
    current: dict[str, str],
    given: Mapping[str, Any] | None,
    *,
    destination_changed: list[str],
) -> dict[str, str]:
    """SEC-2: the exact placeholder keeps a secret, any other value replaces it, and an empty
    value clears an optional one. SEC-3: when the credentials' destination changes, every
    set secret must be entered again."""
    given = dict(given or {})
    unknown = [name for name in given if name not in integration.secrets.model_fields]
    if unknown:
        raise InvalidInputError(errors=[f"secrets.{name}: unknown field" for name in unknown])
    if destination_changed:
        missing = [name for name in current if given.get(name) in (None, "", SECRET_PLACEHOLDER)]
        if missing:
            raise UnprocessableError(
                "Changing " + ", ".join(destination_changed) + " requires entering the "
                "secrets again",
                errors=[f"secrets.{name}: enter the secret again" for name in missing],
            )
    merged = dict(current)
    for name, value in given.items():
        if value == SECRET_PLACEHOLDER:
            continue
        if value in (None, ""):
            merged.pop(name, None)
        elif isinstance(value, str):
            merged[name] = value
        else:
            raise InvalidInputError(errors=[f"secrets.{name}: must be a string"])
    return merged


async def update_connection(
    *,
    db: Database,
    tools: Tools,
    actor: Actor,
    integration: Integration,
    connection_id: str,
    data: ConnectionUpdate,
) -> Loaded:
    async with db.session() as session:
        loaded = await get_visible(
            session=session,
            actor=actor,
            integration_slug=integration.slug,
            connection_id=connection_id,
            verb=Verb.EDIT,
        )
        before = loaded.connection
        current_secrets = tools.unseal_secrets(before)
    new_teams = (
        list(dict.fromkeys(team.key for team in data.teams))
        if data.teams is not None
        else loaded.team_ids
    )
    if new_teams != loaded.team_ids and not actor.may(Verb.CHANGE_ACCESS):
        raise AccessDeniedError("Only admins and global managers change who may use a connection")
    networks = (
        [str(n) for n in parse_networks(data.allow_private_networks)]
        if data.allow_private_networks is not None
        else list(before.allow_private)
    )
    if networks != list(before.allow_private) and not actor.may(Verb.ALLOW_PRIVATE):
        raise AccessDeniedError("Only admins may let a connection reach private networks")
    if data.external_id is not None and data.external_id != before.external_id:
        raise InvalidInputError(errors=["external_id: is read-only"])
    config = validate_config(integration, {**before.configuration, **(data.configuration or {})})
    new_config = config_json(config)
    destination_changed = [
        name
        for name in integration.credential_fields
        if new_config.get(name) != before.configuration.get(name)
    ]
    if networks != list(before.allow_private):
        destination_changed.append("allow_private_networks")
    outcome = None
    if integration.auth == "oauth":
        if data.secrets:
            raise InvalidInputError(errors=["secrets: OAuth tokens are set by reconnecting"])
        secrets_values = current_secrets
    else:
        secrets_values = _merged_secrets(
            integration, current_secrets, data.secrets, destination_changed=destination_changed
        )
        secrets_model = validate_secrets(integration, secrets_values)
        # The text: editing a connection triggers an immediate verification check.
        outcome = await health.probe(
            tools,
            integration,
            connection_id=connection_id,
            config=config,
            secrets=secrets_model,
            external_id=before.external_id,
            allow_private=networks,
        )
        if integration.verify_blocks_save and not outcome.is_healthy:
            raise InvalidInputError(
                f"{integration.title} connection could not be verified: {outcome.message}"
            )
    async with db.transaction() as session:
        connection = await session.get(Connection, connection_id)
        if connection is None:
            raise NotFoundError()
        changed = []
        for field, value in (
            ("name", data.name),
            ("is_default", data.is_default),
            ("allow_sre_agent", data.allow_sre_agent),
        ):
            if value is not None and getattr(connection, field) != value:
                setattr(connection, field, value)
                changed.append(field)
        if new_config != connection.configuration:
            connection.configuration = new_config
            changed.append("configuration")
        if networks != list(connection.allow_private):
            connection.allow_private = networks
            changed.append("allow_private_networks")
        if secrets_values != current_secrets:
            tools.seal_secrets(connection, secrets_values)
            changed.append("secrets")
        if new_teams != loaded.team_ids:
            await _check_teams(session, new_teams)
            await session.execute(
                delete(ConnectionTeam).where(ConnectionTeam.connection_id == connection_id)
            )
            session.add_all(
                ConnectionTeam(connection_id=connection_id, team_id=team_id)
                for team_id in new_teams
            )
            changed.append("teams")
        if data.is_default:
            await _make_default(session, connection)
        connection.updated_by_id = actor.principal.user.id
        connection.updated_at = utcnow()
        if outcome is not None:
            health.apply(session, connection, outcome, trigger="edit", request_id=actor.request_id,
                         interval=tools.settings.health_check_interval)
        actor.audit(
            session,
            "connection.update",
            connection_id,
            details={"changed": changed, "teams": new_teams},
        )
    return Loaded(connection, new_teams)


# Who uses a connection (the workflows package registers itself): names of the users.
UsageFinder = Callable[[AsyncSession, Connection], Awaitable[list[str]]]
USAGE_FINDERS: list[UsageFinder] = []


async def delete_connection(
    *,
    db: Database,
    actor: Actor,
    integration: Integration,
    connection_id: str,
    force: bool = False,
) -> None:
    """Deletion is final. A connection that workflows use is kept unless `force`, and the
    answer names those workflows; forced, their steps fail clearly when they next run."""
    async with db.transaction() as session:
        loaded = await get_visible(
            session=session,
            actor=actor,
            integration_slug=integration.slug,
            connection_id=connection_id,
            verb=Verb.DELETE,
        )
        users = [name for find in USAGE_FINDERS for name in await find(session, loaded.connection)]
        if users and not force:
            raise ConflictError(
                "This connection is used by workflows; delete with force=true to delete it anyway",
                errors=[f"workflow: {name}" for name in users],
            )
        await session.delete(loaded.connection)
        actor.audit(
            session,
            "connection.delete",
            connection_id,
            details={
                "integration": integration.slug,
                "name": loaded.connection.name,
                "used_by_workflows": users,
            },
        )


async def verify_connection(
    *, db: Database, tools: Tools, actor: Actor, integration: Integration, connection_id: str
) -> Loaded:
    """SEC-4: re-checks with the stored secret; invisible connections are a 404."""
    async with db.session() as session:
        await get_visible(
            session=session,
            actor=actor,
            integration_slug=integration.slug,
            connection_id=connection_id,
        )
    return await check_stored(
        db=db,
        tools=tools,
        integration=integration,
        connection_id=connection_id,
        trigger="on_demand",
        actor=actor,
    )


async def check_stored(
    *,
    db: Database,
    tools: Tools,
    integration: Integration,
    connection_id: str,
    trigger: str,
    actor: Actor | None = None,
) -> Loaded:
    async with db.session() as session:
        loaded = await _load(session, integration.slug, connection_id)
        if loaded is None:
            raise NotFoundError()
        connection = loaded.connection
        config = validate_config(integration, connection.configuration)
    outcome = await probe_stored(
        db=db, tools=tools, integration=integration, connection=connection, config=config
    )
    async with db.transaction() as session:
        stored = await session.get(Connection, connection_id)
        if stored is None:
            raise NotFoundError()
        health.apply(
            session,
            stored,
            outcome,
            trigger=trigger,
            interval=tools.settings.health_check_interval,
            request_id=actor.request_id if actor else None,
        )
        if actor is not None:
            actor.audit(
                session,
                "connection.verify",
                connection_id,
                outcome="success" if outcome.is_healthy else "failure",
                message=outcome.message,
            )
    return Loaded(stored, loaded.team_ids)


async def probe_stored(
    *,
    db: Database,
    tools: Tools,
    integration: Integration,
    connection: Connection,
    config: BaseModel,
) -> health.Outcome:
    """Verifies a stored connection with its stored secrets (OAuth tokens refreshed first)."""
    try:
        values = await oauth_tokens.current_secrets(
            db=db, tools=tools, integration=integration, connection=connection
        )
        secrets_model = validate_secrets(integration, values)
    except CredentialError as exc:
        return health.Outcome(False, scrub(str(exc)), 0, utcnow())
    except VaultError:
        log.error("connection_unreadable", connection_id=connection.id)
        return health.Outcome(False, "Stored credentials cannot be decrypted", 0, utcnow())
    return await health.probe(
        tools,
        integration,
        connection_id=connection.id,
        config=config,
        secrets=secrets_model,
        external_id=connection.external_id,
        allow_private=list(connection.allow_private),
    )


async def health_history(
    *, session: AsyncSession, actor: Actor, integration_slug: str, connection_id: str, limit: int
) -> list[HealthCheck]:
    await get_visible(
        session=session, actor=actor, integration_slug=integration_slug, connection_id=connection_id
    )
    return list(
        await session.scalars(
            select(HealthCheck)
            .where(HealthCheck.connection_id == connection_id)
            .order_by(HealthCheck.checked_at.desc(), HealthCheck.id)
            .limit(limit)
        )
    )
