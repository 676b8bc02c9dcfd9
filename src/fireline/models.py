"""Imports every model module so that `Base.metadata` knows the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "fireline.accounts.models",
    "fireline.core.audit",
    "fireline.core.ratelimit",
    "fireline.connections.models",
    "fireline.incidents.models",
    "fireline.incidents.status_updates",
    "fireline.oauth.models",
    "fireline.workflows.models",
)


def load_all() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
