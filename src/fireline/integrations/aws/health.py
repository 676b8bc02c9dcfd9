"""Verification (AWS-2): assume the role with the connection's external ID, then call
GetCallerIdentity with the temporary credentials and check that the identity is that role in
the role's account. Read-only: nothing is created in the customer's account. A wrong external
ID, a missing role or a trust policy that does not name Fireline's account all answer
AccessDenied, which is a credential error (Unhealthy)."""

from __future__ import annotations

from typing import Any

from fireline.core.errors import CredentialError
from fireline.integrations.aws import client
from fireline.integrations.aws.schema import AwsConfig
from fireline.integrations.base import ToolContext


async def verify(ctx: ToolContext) -> str:
    config: AwsConfig = ctx.config

    def identity(role: client.RoleSession) -> dict[str, Any]:
        sts = role.client("sts")
        answer: dict[str, Any] = client.call("GetCallerIdentity", sts.get_caller_identity)
        return answer

    found = await client.run(ctx, identity)
    arn = str(found.get("Arn", ""))
    # An assumed role's ARN: arn:aws:sts::<account>:assumed-role/<role name>/<session name>
    if found.get("Account") != config.account_id or f":assumed-role/{config.role_name}/" not in arn:
        raise CredentialError(
            f"the assumed identity {arn} is not role {config.role_name} "
            f"in account {config.account_id}"
        )
    return f"Assumed role {config.role_name} in account {config.account_id}"
