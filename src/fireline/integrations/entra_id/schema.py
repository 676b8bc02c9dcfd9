from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fireline.integrations.base import ConnectionConfig

_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class EntraIdConfig(ConnectionConfig):
    """The directory (tenant) the signed-in admin belongs to, learned at connect time from the
    id_token `tid` claim or `GET /v1.0/organization`; empty until the callback."""

    tenant_id: str | None = Field(default=None, title="Tenant ID", pattern=_GUID)
    tenant_name: str | None = Field(default=None, title="Organization", max_length=256)


class GetUserInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(
        title="User",
        description="The user's object ID or user principal name (ada@contoso.com; guests "
        "look like ada_gmail.com#EXT#@contoso.onmicrosoft.com).",
        pattern=r"^[^/\\?\s]{1,256}$",
    )


class User(BaseModel):
    id: str
    display_name: str | None
    user_principal_name: str | None
    mail: str | None
    job_title: str | None = None
    department: str | None = None
    account_enabled: bool | None = None
    mobile_phone: str | None = None
    office_location: str | None = None


class ListGroupMembersInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str = Field(title="Group ID", pattern=_GUID)
    limit: int = Field(default=100, ge=1, le=5000)


class Member(BaseModel):
    id: str
    type: str  # user, group, device, servicePrincipal, orgContact
    display_name: str | None
    user_principal_name: str | None
    mail: str | None


class ListGroupMembersOutput(BaseModel):
    members: list[Member]
