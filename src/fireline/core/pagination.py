"""PagerDuty classic offset pagination for list endpoints.

`limit` defaults to 25 and is capped at 100; `offset` starts at 0; `limit + offset` may not
exceed 10,000 (PagerDuty answers 400 past it). `more` says whether another page exists —
found by fetching one row beyond the page, not by counting. `total` is counted only when the
caller asks with `total=true` and is `null` otherwise, as PagerDuty does to keep lists cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.errors import InvalidInputError

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_OFFSET_PLUS_LIMIT = 10_000
T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    total: bool = False


async def page_params(  # async: FastAPI would run a plain function in a worker thread
    limit: Annotated[int, Query(ge=1)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0)] = 0,
    total: bool = False,
) -> PageParams:
    limit = min(limit, MAX_LIMIT)
    if offset + limit > MAX_OFFSET_PLUS_LIMIT:
        raise InvalidInputError(errors=[f"Offset must be less than {MAX_OFFSET_PLUS_LIMIT}."])
    return PageParams(limit=limit, offset=offset, total=total)


Pagination = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    params: PageParams
    more: bool
    total: int | None

    def body(self, key: str, shaped: Sequence[Any]) -> dict[str, Any]:
        return {
            key: list(shaped),
            "limit": self.params.limit,
            "offset": self.params.offset,
            "more": self.more,
            "total": self.total,
        }


async def paginate(
    session: AsyncSession, statement: Select[T], params: PageParams
) -> Page[T]:
    """Runs an ordered `statement` for one page (and its count when asked)."""
    rows = list(
        (await session.scalars(statement.limit(params.limit + 1).offset(params.offset))).unique()
    )
    total = None
    if params.total:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        total = int(await session.scalar(counted) or 0)
    return Page(rows[: params.limit], params, len(rows) > params.limit, total)
