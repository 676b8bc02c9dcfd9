"""Imports every model module so that `Base.metadata` knows the whole schema."""

from __future__ import annotations


def load_all() -> None:
    import fireline.accounts.models
    import fireline.connections.models
    import fireline.incidents.models  # noqa: F401
