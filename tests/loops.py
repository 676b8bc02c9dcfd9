"""Both event loops for the tests that reach tools: production serves on uvloop (uvicorn's
default, with `uvicorn[standard]`), and code that only works on asyncio's own loop must fail
here, not in `fireline serve`. A conftest opts in with
`from tests.loops import pytest_asyncio_loop_factories  # noqa: F401`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop

LOOPS: Mapping[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return LOOPS
