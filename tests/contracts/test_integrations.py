"""Registry-wide rules: one check, every integration (STYLE: "registry-wide invariant tests")."""

from __future__ import annotations

import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

import fireline.integrations
from fireline.integrations import registry
from fireline.integrations.base import Integration, OAuthSecrets

INTEGRATIONS = {integration.slug: integration for integration in registry.INTEGRATIONS}
PACKAGE_DIR = Path(fireline.integrations.__file__).parent
# Not secret: when an OAuth token expires (the tokens beside it are SecretStr).
NON_SECRET_SECRET_FIELDS = {"expires_at"}


def test_every_package_is_registered_once() -> None:
    packages = {m.name for m in pkgutil.iter_modules([str(PACKAGE_DIR)])
                if m.ispkg and not m.name.startswith("_")}
    assert packages == set(INTEGRATIONS)
    assert len(registry.INTEGRATIONS) == len(INTEGRATIONS)


def test_every_package_has_the_same_parts() -> None:
    for slug in INTEGRATIONS:
        parts = {p.stem for p in (PACKAGE_DIR / slug).glob("*.py")}
        assert {"__init__", "schema", "client", "health", "actions"} <= parts, slug


@pytest.mark.parametrize("slug", sorted(INTEGRATIONS))
def test_secrets_are_write_only(slug: str) -> None:
    integration = INTEGRATIONS[slug]
    for name, field in integration.secrets.model_fields.items():
        if name in NON_SECRET_SECRET_FIELDS and issubclass(integration.secrets, OAuthSecrets):
            continue
        assert SecretStr in _types(field.annotation), f"{slug}.secrets.{name} is not SecretStr"
    schema = integration.secrets.model_json_schema()
    for name, spec in schema.get("properties", {}).items():
        if name not in NON_SECRET_SECRET_FIELDS:
            assert _write_only(spec), f"{slug}.secrets.{name} is not writeOnly in the schema"


@pytest.mark.parametrize("slug", sorted(INTEGRATIONS))
def test_models_refuse_unknown_fields(slug: str) -> None:
    integration = INTEGRATIONS[slug]
    for model in (integration.config, integration.secrets,
                  *(action.input for action in integration.actions)):
        assert model.model_config.get("extra") == "forbid", f"{slug}: {model.__name__}"


@pytest.mark.parametrize("slug", sorted(INTEGRATIONS))
def test_declarations(slug: str) -> None:
    integration: Integration = INTEGRATIONS[slug]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", slug)
    assert integration.title and integration.description
    assert inspect.iscoroutinefunction(integration.verify)
    assert integration.actions, f"{slug} has no action"
    for action in integration.actions:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", action.name)
        assert isinstance(action.idempotent, bool)
        assert issubclass(action.input, BaseModel) and issubclass(action.output, BaseModel)
        assert inspect.iscoroutinefunction(action.run)
    for name in integration.credential_fields:
        assert name in integration.config.model_fields, f"{slug}: {name}"
    if integration.auth == "oauth":
        assert integration.oauth is not None and integration.oauth.token_url.startswith("https://")
        assert integration.oauth.authorize_url.startswith("https://")


@pytest.mark.parametrize("slug", sorted(INTEGRATIONS))
def test_net6_hosts_are_pinned(slug: str) -> None:
    """Without configuration a typed tool names its fixed hosts; with one, only hosts derived
    from it — never a wildcard that would match any host."""
    integration = INTEGRATIONS[slug]
    try:
        config = integration.config.model_validate({})
    except ValueError:
        return  # needs configuration: its host comes from a validated field (tested per tool)
    destination = integration.destination(config)
    assert destination.hosts, slug
    for host in destination.hosts:
        assert "*" not in host and "." in host, (slug, host)


def _types(annotation: object) -> set[object]:
    args = getattr(annotation, "__args__", None)
    return {annotation} if not args else {a for arg in args for a in _types(arg)}


def _write_only(spec: dict[str, object]) -> bool:
    if spec.get("writeOnly"):
        return True
    options = spec.get("anyOf")
    return isinstance(options, list) and any(
        isinstance(o, dict) and o.get("writeOnly") for o in options)
