from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from fireline.connections.tools import Tools
from fireline.integrations import registry
from fireline.integrations.base import ToolContext


async def test_shared_clients_in_use_are_kept_and_idle_ones_are_closed(app) -> None:  # type: ignore[no-untyped-def]
    tools: Tools = app.state.tools
    integration = registry.get("elasticsearch")
    assert integration is not None

    def shared(host: str) -> AbstractAsyncContextManager[ToolContext]:
        config = integration.config.model_validate({"url": f"https://{host}:9200"})
        return tools.context(integration, connection_id="PTEST", config=config, secrets=None,
                             external_id=None, allow_private=())

    async with shared("es.example.com") as busy:
        async with shared("other.example.com") as other:
            assert other.http is not busy.http  # one pooled client per destination
        await tools.close_unused_clients()  # both were used since: kept
        assert len(tools.shared_clients) == 2
        await tools.close_unused_clients()  # other is idle now; busy is in use
        assert [c.client for c in tools.shared_clients.values()] == [busy.http]
        async with shared("es.example.com") as again:
            assert again.http is busy.http  # warm connections reused
    await tools.close_unused_clients()  # used since the previous call: kept
    assert len(tools.shared_clients) == 1
    await tools.close_unused_clients()
    assert tools.shared_clients == {}
