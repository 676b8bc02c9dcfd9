from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fireline.accounts import service
from fireline.accounts.models import ApiKey, TeamMembership, User
from fireline.accounts.passwords import verify_password
from fireline.accounts.roles import TeamRole
from fireline.core.db import Database
from fireline.core.errors import ConflictError, InvalidInputError, NotFoundError


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_create_user_normalises_email_and_hashes_password(db: Database) -> None:
    async with db.transaction() as session:
        user = await service.create_user(
            session=session, email="  Ana@Example.COM ", name="Ana", role="manager",
            password="correct horse battery",
        )
    assert user.email == "ana@example.com"
    assert user.password_hash and "correct horse" not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "correct horse battery")
    assert not verify_password(user.password_hash, "wrong password!")


async def test_duplicate_email_is_a_conflict_and_changes_nothing(db: Database) -> None:
    async with db.transaction() as session:
        await service.create_user(session=session, email="a@example.com", name="A", role="admin")
    with pytest.raises(ConflictError, match="already exists"):
        async with db.transaction() as session:
            await service.create_user(
                session=session, email="A@example.com", name="B", role="observer")
    assert await _count(db, User) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("role", "superuser", "Unknown role"), ("email", "not-an-email", "Invalid email"),
     ("name", "   ", "Name"), ("password", "short", "at least")],
)
async def test_bad_user_input_is_rejected_and_nothing_written(
    db: Database, field: str, value: str, message: str
) -> None:
    data = {"email": "x@example.com", "name": "X", "role": "responder", "password": None}
    data[field] = value
    with pytest.raises(InvalidInputError, match=message):
        async with db.transaction() as session:
            await service.create_user(session=session, **data)  # type: ignore[arg-type]
    assert await _count(db, User) == 0


async def test_team_membership_roles(db: Database) -> None:
    async with db.transaction() as session:
        user = await service.create_user(
            session=session, email="m@example.com", name="M", role="responder")
        team = await service.create_team(session=session, name="Payments")
        await service.add_team_member(
            session=session, team_name="Payments", email="m@example.com", role="responder")
        await service.add_team_member(
            session=session, team_name="Payments", email="m@example.com", role="manager")
    async with db.session() as session:
        roles = await service.team_roles_of(session=session, user_id=user.id)
    assert roles == {team.id: TeamRole.MANAGER}
    assert await _count(db, TeamMembership) == 1


async def test_bad_team_input_is_rejected(db: Database) -> None:
    async with db.transaction() as session:
        await service.create_user(session=session, email="m@example.com", name="M", role="admin")
        await service.create_team(session=session, name="Ops")
    with pytest.raises(InvalidInputError, match="Unknown team role"):
        async with db.transaction() as session:
            await service.add_team_member(
                session=session, team_name="Ops", email="m@example.com", role="owner")
    with pytest.raises(NotFoundError, match="No team"):
        async with db.transaction() as session:
            await service.add_team_member(
                session=session, team_name="Nope", email="m@example.com", role="manager")
    with pytest.raises(ConflictError):
        async with db.transaction() as session:
            await service.create_team(session=session, name="Ops")
    assert await _count(db, TeamMembership) == 0


async def test_api_key_is_stored_only_as_a_hash(db: Database) -> None:
    async with db.transaction() as session:
        user = await service.create_user(
            session=session, email="k@example.com", name="K", role="admin")
        _, secret = await service.create_api_key(session=session, user=user, read_only=True)
    async with db.session() as session:
        stored = await session.scalar(select(ApiKey))
        assert stored is not None and secret not in stored.token_hash
        found = await service.authenticate_api_key(session=session, secret=secret)
        assert found is not None and found.user.id == user.id and found.read_only
        assert await service.authenticate_api_key(session=session, secret=secret + "x") is None


async def test_bootstrap_owner_runs_once(db: Database) -> None:
    async with db.transaction() as session:
        created = await service.bootstrap_owner(session=session)
    assert created is not None
    owner, password, key = created
    assert owner.role == "owner"
    async with db.transaction() as session:
        assert await service.bootstrap_owner(session=session) is None
        assert await service.login(session=session, email=owner.email, password=password)
        assert await service.authenticate_api_key(session=session, secret=key)


async def test_reset_password_signs_in_with_the_new_one_only_and_ends_sessions(
    db: Database,
) -> None:
    async with db.transaction() as session:
        await service.create_user(session=session, email="ana@example.com", name="Ana",
                                  role="responder", password="the first password")
    async with db.transaction() as session:
        signed = await service.login(session=session, email="ana@example.com",
                                     password="the first password")
        assert signed is not None
        _, cookie = signed
    async with db.transaction() as session:
        new = await service.reset_password(session=session, email="ana@example.com")
    async with db.transaction() as session:
        assert await service.authenticate_session(session=session, secret=cookie) is None
        assert await service.login(session=session, email="ana@example.com",
                                   password="the first password") is None
        assert await service.login(session=session, email="ana@example.com",
                                   password=new) is not None
