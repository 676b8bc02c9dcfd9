from __future__ import annotations

import pytest

from fireline.core.errors import InvalidInputError
from fireline.core.pagination import page_params


async def test_limit_is_capped_at_100_and_defaults_to_25() -> None:
    assert (await page_params()).limit == 25
    assert (await page_params(limit=500)).limit == 100


async def test_offset_plus_limit_beyond_10000_is_invalid() -> None:
    assert (await page_params(limit=100, offset=9900)).offset == 9900
    with pytest.raises(InvalidInputError):
        await page_params(limit=100, offset=9901)
