"""Configuration from the environment.

Every setting has one source (a `FIRELINE_*` variable) and is validated when loaded; a
malformed value raises `SettingsError` naming the variable, so the process stops before it
touches the database.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from fireline.core.errors import SettingsError
from fireline.core.redaction import register_secret

DEFAULT_PORT = 8080
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, kw_only=True)
class Settings:
    home: Path
    database_url: str
    base_url: str
    master_keys: tuple[str, ...] = ()
    egress_allow_private: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    egress_ca_bundle: Path | None = None
    rest_rate_limit_per_minute: int = 960
    events_rate_limit_per_minute: int = 120 * 60
    provider_urls: Mapping[str, str] = field(default_factory=dict)
    # Fireline's own AWS account, shown in AWS set-up (the principal roles must trust).
    aws_account_id: str | None = None
    # Fireline's OAuth app at each provider: FIRELINE_<PREFIX>_CLIENT_ID / _CLIENT_SECRET.
    oauth_clients: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # How long a workflow worker's claim on a step lasts without a heartbeat (WF-3).
    workflow_lease_seconds: int = 30
    # At most this many workflow steps run at once through one connection, across every
    # worker and node (tools rate-limit per credential).
    workflow_connection_concurrency: int = 4
    # How often each connection is checked again (longer while it keeps failing).
    health_check_interval: timedelta = timedelta(minutes=5)
    # Short, unlike PagerDuty's 30 days: a leaked access token dies soon; apps refresh.
    oauth_access_token_lifetime: timedelta = timedelta(hours=1)
    # `host:port=address:port` routes that replace DNS for those hosts (curl's --connect-to):
    # split-horizon set-ups, a private endpoint, tests against local fakes. The address is
    # still checked like any DNS answer (NET-3) and TLS still verifies the host name.
    egress_connect_to: Mapping[tuple[str, int], tuple[_IPAddress, int]] = field(
        default_factory=dict)
    # The largest REST or web request body (the Events API's limit is PagerDuty's 512 KB).
    max_request_bytes: int = 1 << 20
    # A request's body must arrive within this time, or the connection is closed (408).
    request_body_timeout_seconds: int = 30
    # A request's line and headers must arrive within this time, or the connection closes.
    request_header_timeout_seconds: int = 10
    # Open connections one process serves at once; more are answered 503 (uvicorn's
    # limit_concurrency).
    max_connections: int = 1000
    # SQLite's `synchronous`: full (the default) keeps every acknowledged commit through a
    # power loss; normal only through a process crash (core/db.py).
    sqlite_synchronous: str = "full"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("FIRELINE_HOME") or "./.fireline").expanduser().resolve()
        return cls(
            home=home,
            database_url=_database_url(env.get("FIRELINE_DATABASE_URL", ""), home),
            base_url=_base_url(env.get("FIRELINE_BASE_URL", "")),
            master_keys=_master_keys(env.get("FIRELINE_MASTER_KEY", "")),
            egress_allow_private=_networks(env.get("FIRELINE_EGRESS_ALLOW_PRIVATE", "")),
            egress_ca_bundle=_ca_bundle(env.get("FIRELINE_EGRESS_CA_BUNDLE", "")),
            rest_rate_limit_per_minute=_positive_int(
                env, "FIRELINE_REST_RATE_LIMIT_PER_MINUTE", 960
            ),
            events_rate_limit_per_minute=_positive_int(
                env, "FIRELINE_EVENTS_RATE_LIMIT_PER_MINUTE", 120 * 60
            ),
            aws_account_id=_aws_account_id(env.get("FIRELINE_AWS_ACCOUNT_ID", "")),
            oauth_clients=_oauth_clients(env),
            workflow_lease_seconds=_positive_int(env, "FIRELINE_WORKFLOW_LEASE_SECONDS", 30),
            workflow_connection_concurrency=_positive_int(
                env, "FIRELINE_WORKFLOW_CONNECTION_CONCURRENCY", 4),
            health_check_interval=timedelta(seconds=_positive_int(
                env, "FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS", 300)),
            oauth_access_token_lifetime=timedelta(seconds=_positive_int(
                env, "FIRELINE_OAUTH_ACCESS_TOKEN_SECONDS", 3600)),
            egress_connect_to=_connect_to(env.get("FIRELINE_EGRESS_CONNECT_TO", "")),
            max_request_bytes=_positive_int(env, "FIRELINE_MAX_REQUEST_BYTES", 1 << 20),
            request_body_timeout_seconds=_positive_int(
                env, "FIRELINE_REQUEST_BODY_TIMEOUT_SECONDS", 30),
            request_header_timeout_seconds=_positive_int(
                env, "FIRELINE_REQUEST_HEADER_TIMEOUT_SECONDS", 10),
            max_connections=_positive_int(env, "FIRELINE_MAX_CONNECTIONS", 1000),
            sqlite_synchronous=_sqlite_synchronous(env.get("FIRELINE_SQLITE_SYNCHRONOUS", "")),
            provider_urls={
                key: value
                for key, value in env.items()
                if key.startswith("FIRELINE_") and key.endswith("_URL")
                and key not in {"FIRELINE_DATABASE_URL", "FIRELINE_BASE_URL"}
            },
        )


def _sqlite_synchronous(raw: str) -> str:
    value = raw.strip().lower() or "full"
    if value not in ("full", "normal"):
        raise SettingsError(f"FIRELINE_SQLITE_SYNCHRONOUS must be full or normal, got {raw!r}")
    return value


def _database_url(raw: str, home: Path) -> str:
    raw = raw.strip()
    if not raw:
        return f"sqlite+aiosqlite:///{home / 'fireline.db'}"
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme in {"postgresql", "postgres", "postgresql+asyncpg"}:
        return "postgresql+asyncpg://" + raw.split("://", 1)[1]
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        return "sqlite+aiosqlite://" + raw.split("://", 1)[1]
    raise SettingsError(
        "FIRELINE_DATABASE_URL must be a postgresql:// or sqlite:/// URL, "
        f"got scheme {scheme or '(none)'!r}"
    )


def _base_url(raw: str) -> str:
    raw = raw.strip().rstrip("/")
    if not raw:
        return f"http://127.0.0.1:{DEFAULT_PORT}"
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError("FIRELINE_BASE_URL must be an absolute http(s) URL")
    return raw


def _master_keys(raw: str) -> tuple[str, ...]:
    # Validated for shape here; the vault decodes and checks lengths (CRY-6).
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in raw.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise SettingsError(
                f"FIRELINE_EGRESS_ALLOW_PRIVATE: {part!r} is not a CIDR network"
            ) from exc
    return tuple(networks)


def _connect_to(raw: str) -> dict[tuple[str, int], tuple[_IPAddress, int]]:
    routes: dict[tuple[str, int], tuple[_IPAddress, int]] = {}
    for part in raw.replace("\n", ",").split(","):
        if not part.strip():
            continue
        source, _, target = part.strip().partition("=")
        try:
            host, port = _host_port(source)
            address, address_port = _host_port(target)
            routes[(host.lower(), port)] = (ipaddress.ip_address(address), address_port)
        except ValueError as exc:
            raise SettingsError(
                f"FIRELINE_EGRESS_CONNECT_TO: {part.strip()!r} is not host:port=address:port"
            ) from exc
    return routes


def _host_port(raw: str) -> tuple[str, int]:
    host, _, port = raw.strip().rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(raw)
    return host.removeprefix("[").removesuffix("]"), int(port)


def _ca_bundle(raw: str) -> Path | None:
    if not raw.strip():
        return None
    path = Path(raw.strip())
    if not path.is_file():
        raise SettingsError(f"FIRELINE_EGRESS_CA_BUNDLE: no such file {str(path)!r}")
    return path


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}")
    return value


def _aws_account_id(raw: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) != 12 or not raw.isdigit():
        raise SettingsError("FIRELINE_AWS_ACCOUNT_ID must be 12 digits")
    return raw


def _oauth_clients(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    clients = {}
    for key, client_id in env.items():
        if not (key.startswith("FIRELINE_") and key.endswith("_CLIENT_ID")) or not client_id:
            continue
        prefix = key.removeprefix("FIRELINE_").removesuffix("_CLIENT_ID")
        secret = env.get(f"FIRELINE_{prefix}_CLIENT_SECRET", "")
        if not secret:
            raise SettingsError(f"{key} is set but FIRELINE_{prefix}_CLIENT_SECRET is not")
        register_secret(secret)  # SEC-5: a server secret is never logged either
        clients[prefix] = (client_id.strip(), secret.strip())
    return clients
