from __future__ import annotations

from fireline.integrations.base import Destination, Integration, host_of, port_of
from fireline.integrations.elasticsearch import actions, health
from fireline.integrations.elasticsearch.schema import ElasticsearchConfig, ElasticsearchSecrets


def _destination(config: ElasticsearchConfig) -> Destination:
    return Destination(hosts=(host_of(config.url),), ports=(port_of(config.url),))


INTEGRATION = Integration(
    slug="elasticsearch",
    title="Elasticsearch",
    description="Search logs in an Elasticsearch cluster with Lucene, KQL, Query DSL or EQL.",
    config=ElasticsearchConfig,
    secrets=ElasticsearchSecrets,
    destination=_destination,
    verify=health.verify,
    verify_blocks_save=True,
    credential_fields=("url",),
    actions=(actions.SEARCH_LOGS,),
)
