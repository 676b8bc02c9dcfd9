"""An app whose egress reaches a fake Elasticsearch at es.example.com:9200 over real TLS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from fireline.app import create_app
from fireline.core.db import Database
from fireline.settings import Settings
from tests.conftest import BASE_URL
from tests.integrations.fakes import elasticsearch as fake_es
from tests.integrations.support import FakeServer, ca_bundle, routing_resolver, serve

ES_HOST = "es.example.com"
ES_KEY = fake_es.api_key_pair("pd", "es-canary-key-8c1d29f7")
DOCS = {"logs-app": [{"level": "error", "message": "payment failed", "service": "checkout"}]}


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def es(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    with serve(
        fake_es.make_app(ES_KEY, DOCS), ca, tmp_path_factory.mktemp("es"), ES_HOST
    ) as server:
        yield server


@pytest.fixture
def settings(db: Database, home, master_key: str, ca: trustme.CA) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.from_env(
        {
            "FIRELINE_HOME": str(home),
            "FIRELINE_DATABASE_URL": db.url,
            "FIRELINE_BASE_URL": BASE_URL,
            "FIRELINE_MASTER_KEY": master_key,
            "FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
            "FIRELINE_EGRESS_CA_BUNDLE": str(ca_bundle(ca)),
        }
    )


@pytest.fixture
async def app(settings: Settings, db: Database, es: FakeServer):  # type: ignore[no-untyped-def]
    application = create_app(settings, database=db, resolver=routing_resolver(es.routes(9200)))
    yield application
    await application.state.tools.aclose()  # no lifespan under ASGITransport


from tests.loops import pytest_asyncio_loop_factories  # noqa: E402, F401  (both event loops)
