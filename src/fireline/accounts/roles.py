"""Base roles and team roles, as the product texts name them."""

from __future__ import annotations

from enum import StrEnum


class BaseRole(StrEnum):
    OWNER = "owner"  # "Account Owner"
    ADMIN = "admin"
    MANAGER = "manager"  # "global manager"
    RESPONDER = "responder"
    OBSERVER = "observer"
    RESTRICTED = "restricted"


class TeamRole(StrEnum):
    MANAGER = "manager"
    RESPONDER = "responder"
    OBSERVER = "observer"


# PagerDuty's REST API names these roles differently; clients send and expect these.
PAGERDUTY_ROLE_NAMES = {
    BaseRole.OWNER: "owner",
    BaseRole.ADMIN: "admin",
    BaseRole.MANAGER: "user",
    BaseRole.RESPONDER: "limited_user",
    BaseRole.OBSERVER: "observer",
    BaseRole.RESTRICTED: "restricted_access",
}
