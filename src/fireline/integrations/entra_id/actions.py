"""Microsoft Entra ID actions: Get User (`GET /v1.0/users/{id | userPrincipalName}` with
`$select`) and List Group Members (`GET /v1.0/groups/{id}/members`, paged by
`@odata.nextLink`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.entra_id import client
from fireline.integrations.entra_id.schema import (
    GetUserInput,
    ListGroupMembersInput,
    ListGroupMembersOutput,
    Member,
    User,
)

_USER_FIELDS = (
    "id,displayName,userPrincipalName,mail,jobTitle,department,accountEnabled,"
    "mobilePhone,officeLocation"
)
_MEMBER_FIELDS = "id,displayName,userPrincipalName,mail"
_TOP_MAX = 999  # Graph's page-size ceiling for directory objects


async def get_user(ctx: ToolContext, data: GetUserInput) -> User:
    # Graph: a `#` in a guest UPN must be sent as %23 (quote does that; `@` stays).
    try:
        found = await client.get(
            ctx, f"/users/{quote(data.user, safe='@')}", {"$select": _USER_FIELDS}
        )
    except PermanentError as exc:
        raise PermanentError(f"Entra ID user {data.user!r}: {exc}") from exc
    return User(
        id=found["id"],
        display_name=found.get("displayName"),
        user_principal_name=found.get("userPrincipalName"),
        mail=found.get("mail"),
        job_title=found.get("jobTitle"),
        department=found.get("department"),
        account_enabled=found.get("accountEnabled"),
        mobile_phone=found.get("mobilePhone"),
        office_location=found.get("officeLocation"),
    )


def _member(item: dict[str, Any]) -> Member:
    return Member(
        id=item["id"],
        type=str(item.get("@odata.type", "#microsoft.graph.directoryObject")).rsplit(".", 1)[-1],
        display_name=item.get("displayName"),
        user_principal_name=item.get("userPrincipalName"),
        mail=item.get("mail"),
    )


async def list_group_members(
    ctx: ToolContext, data: ListGroupMembersInput
) -> ListGroupMembersOutput:
    members: list[Member] = []
    url: str | None = f"/groups/{data.group_id}/members"
    params: dict[str, Any] | None = {"$select": _MEMBER_FIELDS, "$top": min(_TOP_MAX, data.limit)}
    while url is not None and len(members) < data.limit:
        # The nextLink carries $select, $top and the $skiptoken itself.
        page = await client.get(ctx, url, params)
        params = None
        members.extend(_member(item) for item in page.get("value", []))
        url = client.next_link(page)
    return ListGroupMembersOutput(members=members[: data.limit])


GET_USER = Action(
    name="get_user",
    title="Get User",
    input=GetUserInput,
    output=User,
    idempotent=True,
    run=get_user,
)

LIST_GROUP_MEMBERS = Action(
    name="list_group_members",
    title="List Group Members",
    input=ListGroupMembersInput,
    output=ListGroupMembersOutput,
    idempotent=True,
    run=list_group_members,
)
