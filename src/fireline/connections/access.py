"""ACL-1: the one function that decides what a principal may do with a connection.

Product rules (reference/workflow-integrations.txt, "Required User Permissions" and
"Permission Scope"):
- Managers (global), admins and the Account Owner add, update and delete connections.
- Each connection's scope is "all admins and global managers" (no teams) or that plus the
  managers of chosen teams; the scope decides who may *edit* it and who may *select* it in a
  workflow step. It does not decide who may run a workflow.
- Only admins and global managers change a connection's access (its teams), and only admins
  let a connection reach private networks (NET-3).
ACL-2: whoever may neither edit nor select a connection cannot see it at all (404, not 403).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum

from fireline.accounts.roles import BaseRole, TeamRole


class Verb(StrEnum):
    CREATE = "create"
    VIEW = "view"
    SELECT = "select"
    EDIT = "edit"
    DELETE = "delete"
    CHANGE_ACCESS = "change_access"
    ALLOW_PRIVATE = "allow_private"


_GLOBAL = {BaseRole.OWNER, BaseRole.ADMIN, BaseRole.MANAGER}
_ADMINS = {BaseRole.OWNER, BaseRole.ADMIN}


def allowed(
    verb: Verb,
    *,
    role: BaseRole,
    team_roles: Mapping[str, TeamRole],
    scope_team_ids: Collection[str] = (),
) -> bool:
    """`team_roles` are the principal's teams; `scope_team_ids` the connection's teams."""
    if verb is Verb.ALLOW_PRIVATE:
        return role in _ADMINS
    if role in _GLOBAL:
        return True
    if verb in {Verb.CREATE, Verb.CHANGE_ACCESS}:
        return False
    # Restricted users never manage integrations, whatever their team roles.
    if role is BaseRole.RESTRICTED:
        return False
    return any(team_roles.get(team_id) is TeamRole.MANAGER for team_id in scope_team_ids)
