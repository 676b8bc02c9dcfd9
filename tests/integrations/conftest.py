from __future__ import annotations

import pytest
import trustme


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


from tests.loops import pytest_asyncio_loop_factories  # noqa: E402, F401  (both event loops)
