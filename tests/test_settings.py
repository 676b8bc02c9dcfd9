from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from fireline.core.errors import SettingsError
from fireline.settings import Settings


def test_defaults_use_sqlite_in_home(tmp_path: Path) -> None:
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'fireline.db'}"
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.egress_allow_private == ()
    assert settings.is_sqlite


def test_postgresql_url_uses_the_async_driver() -> None:
    settings = Settings.from_env({"FIRELINE_DATABASE_URL": "postgresql://u@h:5432/d"})
    assert settings.database_url == "postgresql+asyncpg://u@h:5432/d"
    assert not settings.is_sqlite


def test_egress_allow_private_parses_cidrs() -> None:
    settings = Settings.from_env({"FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8, ::1/128"})
    assert settings.egress_allow_private == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_egress_connect_to_parses_host_port_routes() -> None:
    settings = Settings.from_env({"FIRELINE_EGRESS_CONNECT_TO":
                                  "API.X.com:443=127.0.0.1:8443, es.internal:9200=[::1]:9201"})
    assert settings.egress_connect_to == {
        ("api.x.com", 443): (ipaddress.ip_address("127.0.0.1"), 8443),
        ("es.internal", 9200): (ipaddress.ip_address("::1"), 9201)}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FIRELINE_DATABASE_URL", "mysql://x/y", "FIRELINE_DATABASE_URL"),
        ("FIRELINE_BASE_URL", "not a url", "FIRELINE_BASE_URL"),
        ("FIRELINE_EGRESS_ALLOW_PRIVATE", "10.0.0.0/8,banana", "banana"),
        ("FIRELINE_EGRESS_CA_BUNDLE", "/nonexistent/ca.pem", "FIRELINE_EGRESS_CA_BUNDLE"),
        ("FIRELINE_REST_RATE_LIMIT_PER_MINUTE", "-3", "FIRELINE_REST_RATE_LIMIT_PER_MINUTE"),
        ("FIRELINE_EGRESS_CONNECT_TO", "api.x.com:443=api.y.com:443", "FIRELINE_EGRESS_CONNECT_TO"),
        ("FIRELINE_EGRESS_CONNECT_TO", "api.x.com=127.0.0.1:8443", "FIRELINE_EGRESS_CONNECT_TO"),
        ("FIRELINE_EGRESS_CONNECT_TO", "api.x.com:443=127.0.0.1:0", "FIRELINE_EGRESS_CONNECT_TO"),
        ("FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS", "0", "FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS"),
    ],
)
def test_malformed_variable_is_named_in_the_error(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})


def test_workflow_lease_seconds(tmp_path: Path) -> None:
    assert Settings.from_env({"FIRELINE_HOME": str(tmp_path)}).workflow_lease_seconds == 30
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path),
                                  "FIRELINE_WORKFLOW_LEASE_SECONDS": "5"})
    assert settings.workflow_lease_seconds == 5
    with pytest.raises(SettingsError, match="FIRELINE_WORKFLOW_LEASE_SECONDS"):
        Settings.from_env({"FIRELINE_WORKFLOW_LEASE_SECONDS": "0"})


def test_workflow_connection_concurrency(tmp_path: Path) -> None:
    default = Settings.from_env({"FIRELINE_HOME": str(tmp_path)})
    assert default.workflow_connection_concurrency == 4
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path),
                                  "FIRELINE_WORKFLOW_CONNECTION_CONCURRENCY": "2"})
    assert settings.workflow_connection_concurrency == 2
    with pytest.raises(SettingsError, match="FIRELINE_WORKFLOW_CONNECTION_CONCURRENCY"):
        Settings.from_env({"FIRELINE_WORKFLOW_CONNECTION_CONCURRENCY": "0"})
