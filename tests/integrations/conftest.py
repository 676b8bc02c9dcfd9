from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trustme

from tests.integrations.support import OPEN_CLIENTS


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while OPEN_CLIENTS:
        await OPEN_CLIENTS.pop().aclose()
