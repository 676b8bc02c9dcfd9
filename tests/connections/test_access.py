"""ACL-1 matrix: every base role, team role, connection scope and verb."""

from __future__ import annotations

import itertools

import pytest

from fireline.accounts.roles import BaseRole, TeamRole
from fireline.connections.access import Verb, allowed

TEAM = "PTEAM1"
OTHER = "PTEAM2"
SCOPES = {"default": (), "my_team": (TEAM,), "other_team": (OTHER,)}


def expected(verb: Verb, role: BaseRole, team_role: TeamRole | None, scope: str) -> bool:
    if verb is Verb.ALLOW_PRIVATE:
        return role in {BaseRole.OWNER, BaseRole.ADMIN}
    if role in {BaseRole.OWNER, BaseRole.ADMIN, BaseRole.MANAGER}:
        return True
    if verb in {Verb.CREATE, Verb.CHANGE_ACCESS} or role is BaseRole.RESTRICTED:
        return False
    return scope == "my_team" and team_role is TeamRole.MANAGER


@pytest.mark.parametrize(
    ("role", "team_role", "scope", "verb"),
    list(itertools.product(BaseRole, [None, *TeamRole], SCOPES, Verb)),
)
def test_acl1_matrix(role: BaseRole, team_role: TeamRole | None, scope: str, verb: Verb) -> None:
    team_roles = {TEAM: team_role} if team_role else {}
    assert allowed(verb, role=role, team_roles=team_roles, scope_team_ids=SCOPES[scope]) is (
        expected(verb, role, team_role, scope)
    )


def test_acl1_view_follows_select_and_edit() -> None:
    for role, team_role, scope in itertools.product(BaseRole, [None, *TeamRole], SCOPES):
        team_roles = {TEAM: team_role} if team_role else {}
        kwargs = {"role": role, "team_roles": team_roles, "scope_team_ids": SCOPES[scope]}
        can_view = allowed(Verb.VIEW, **kwargs)  # type: ignore[arg-type]
        assert can_view == (allowed(Verb.SELECT, **kwargs) or allowed(Verb.EDIT, **kwargs))  # type: ignore[arg-type]
