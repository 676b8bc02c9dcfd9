from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.elasticsearch import INTEGRATION
from fireline.integrations.elasticsearch.kql import kql_to_dsl
from fireline.integrations.elasticsearch.schema import SearchLogsInput
from tests.integrations.fakes import elasticsearch as fake
from tests.integrations.support import FakeServer, serve, tool_context

HOST = "es.example.com"
KEY = fake.api_key_pair("pd-workflows", "s3cret-api-key-value")
DOCS = {
    "logs-app": [
        {
            "@timestamp": "2026-11-23T10:00:00Z",
            "level": "error",
            "message": "payment failed",
            "service": "checkout",
            "latency": 900,
            "event": {"category": "process"},
        },
        {
            "@timestamp": "2026-11-23T10:01:00Z",
            "level": "info",
            "message": "payment ok",
            "service": "checkout",
            "latency": 120,
            "event": {"category": "process"},
        },
        {
            "@timestamp": "2026-11-23T10:02:00Z",
            "level": "error",
            "message": "db timeout",
            "service": "ledger",
            "latency": 3000,
            "event": {"category": "network"},
        },
    ],
    "other": [{"level": "error", "message": "not in the pattern"}],
}


@pytest.fixture(scope="module")
def es(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    with serve(fake.make_app(KEY, DOCS), ca, tmp_path_factory.mktemp("es"), HOST) as server:
        yield server


def _ctx(es: FakeServer, ca: trustme.CA, key: str = KEY):  # type: ignore[no-untyped-def]
    return tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}:9200"},
        secrets={"api_key": key},
        routes=es.routes(9200),
        ca=ca,
    )


async def test_verify_healthy(es: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(es, ca)) == (
        "Connected to fake-cluster (Elasticsearch 8.15.0)"
    )


async def test_verify_wrong_key_is_a_credential_error(es: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(es, ca, key="wrong"))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}:9200"},
        secrets={"api_key": KEY},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


@pytest.mark.parametrize(
    ("query_type", "query", "messages"),
    [
        ("lucene", "level:error", {"payment failed", "db timeout"}),
        ("kql", "level:error and service:checkout", {"payment failed"}),
        ("kql", "level:error and not service:checkout", {"db timeout"}),
        ("kql", 'message:"payment ok" or latency >= 2000', {"payment ok", "db timeout"}),
        ("dsl", json.dumps({"query": {"match": {"service": "ledger"}}}), {"db timeout"}),
        ("eql", 'network where service == "ledger"', {"db timeout"}),
    ],
)
async def test_search_logs_by_query_type(
    es: FakeServer, ca: trustme.CA, query_type: str, query: str, messages: set[str]
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    data = SearchLogsInput(
        index_pattern="logs-*",
        query_type=query_type,  # type: ignore[arg-type]
        query=query,
        size=20,
    )
    output = await action.run(_ctx(es, ca), data)
    assert output.total == len(messages)
    assert {hit["_source"]["message"] for hit in output.hits} == messages


async def test_search_logs_bad_dsl_is_a_clear_error(es: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    with pytest.raises(PermanentError, match="JSON"):
        await action.run(
            _ctx(es, ca),
            SearchLogsInput(index_pattern="logs-*", query_type="dsl", query="{not json"),
        )


def test_kql_translation() -> None:
    assert kql_to_dsl("status:(500 or 503) and not host:web*") == {
        "bool": {
            "filter": [
                {
                    "bool": {
                        "should": [{"match": {"status": "500"}}, {"match": {"status": "503"}}],
                        "minimum_should_match": 1,
                    }
                },
                {
                    "bool": {
                        "must_not": [
                            {
                                "query_string": {
                                    "query": "web*",
                                    "default_field": "host",
                                    "analyze_wildcard": True,
                                }
                            }
                        ]
                    }
                },
            ]
        }
    }
    assert kql_to_dsl("user.id:*") == {"exists": {"field": "user.id"}}
    with pytest.raises(ValueError, match="KQL"):
        kql_to_dsl("level:(error")


def test_config_requires_https(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="https"):
        INTEGRATION.config.model_validate({"url": "http://es.example.com:9200"})
