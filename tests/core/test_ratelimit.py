from __future__ import annotations

import asyncio
import bisect
import dataclasses

import httpx
import pytest
from sqlalchemy import select

from fireline.app import create_app
from fireline.core.db import Database
from fireline.core.errors import RateLimitedError
from fireline.core.ratelimit import RateLimitCount, RateLimiter
from fireline.settings import Settings
from tests.conftest import BASE_URL, Actor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_sliding_window_limits_per_key_and_frees_as_requests_age_out() -> None:
    clock = FakeClock()
    limiter = RateLimiter(limit=2, window=60, clock=clock)
    assert limiter.hit("a").remaining == 1
    clock.now += 20
    assert limiter.hit("a").remaining == 0
    with pytest.raises(RateLimitedError) as raised:
        limiter.check("a")
    assert raised.value.headers == {"ratelimit-limit": "2", "ratelimit-remaining": "0",
                                    "ratelimit-reset": "40", "retry-after": "40"}
    assert limiter.hit("b").allowed  # each key its own
    clock.now += 39
    assert not limiter.hit("a").allowed
    clock.now += 1  # the first request has left the window: one more
    allowed = limiter.hit("a")
    assert allowed.allowed and allowed.remaining == 0 and allowed.reset == 20
    clock.now += 60
    assert limiter.hit("a").remaining == 1  # the whole limit again


def test_no_span_of_the_window_holds_more_than_the_limit() -> None:
    """The boundary case of fixed windows: the limit at the end of one minute and again at
    the start of the next. A client tries as often as it may at 10 ms steps over three
    minutes, in bursts; no 60 s span of the allowed requests holds more than the limit."""
    clock = FakeClock()
    limit = 960
    limiter = RateLimiter(limit=limit, window=60, clock=clock)
    allowed: list[float] = []
    start = clock.now
    while clock.now < start + 180:
        while limiter.hit("client").allowed:
            allowed.append(clock.now)
        clock.now += 0.01
    spans = [bisect.bisect_left(allowed, at + 60) - index for index, at in enumerate(allowed)]
    assert max(spans) == limit
    assert len(allowed) == 3 * limit  # and the client gets all of it


async def test_nodes_share_their_requests_through_the_database(db: Database) -> None:
    """Two API nodes (two limiters on one database): each decides from its own requests plus
    what the other had allowed at the last share, so together they keep one limit."""
    clock = FakeClock()
    first, second = (RateLimiter(limit=5, window=60, clock=clock, scope="rest")
                     for _ in range(2))
    for limiter in (first, second):
        await limiter.share(db)  # sharing starts (nothing counted yet)
    assert [first.hit("key").allowed for _ in range(3)] == [True] * 3
    await first.share(db)
    assert second.hit("key").remaining == 4  # it has not shared yet: it knows only its own
    await second.share(db)  # it learns the other node's 3
    assert second.hit("key").remaining == 0  # 3 + 2
    assert not second.hit("key").allowed
    await second.share(db)
    assert first.hit("other").allowed  # another key, its own count
    await first.share(db)  # it learns the other node's 2, although it had none new itself
    denied = first.hit("key")
    assert not denied.allowed and denied.reset == 60
    clock.now += 61  # every request so far has left the window, on both nodes
    assert first.hit("key").remaining == 4
    await first.share(db)
    await second.share(db)
    # A key this node has not limited within the window is learnt once it sees it again.
    assert second.hit("key").remaining == 4
    await second.share(db)
    assert second.hit("key").remaining == 2  # its own 2 and the other node's 1
    async with db.session(read_only=True) as session:  # keys are stored hashed
        stored = (await session.execute(select(RateLimitCount.key_hash))).scalars().all()
    assert stored and "key" not in stored and all(len(item) == 64 for item in stored)
    await second.share(db)  # seconds that have left the window are deleted
    async with db.session(read_only=True) as session:
        seconds = (await session.execute(select(RateLimitCount.window_index))).scalars().all()
    assert all(second_ >= clock.now - 61 for second_ in seconds), seconds


async def test_two_nodes_keep_the_window_within_one_shares_worth(db: Database) -> None:
    """The boundary case through two nodes sharing every second: a client round-robins a
    request every 10 ms over three minutes; no 60 s span holds more than the limit and what
    the client sent in the second before a share (100 requests here)."""
    clock = FakeClock()
    limit = 960
    nodes = [RateLimiter(limit=limit, window=60, clock=clock, scope="rest") for _ in range(2)]
    for node in nodes:
        await node.share(db)
    allowed: list[float] = []
    start = clock.now
    step = 0
    while clock.now < start + 180:
        if nodes[step % 2].hit("client").allowed:
            allowed.append(clock.now)
        step += 1
        clock.now = start + step * 0.01
        if step % 100 == 0:
            for node in nodes:
                await node.share(db)
    spans = [bisect.bisect_left(allowed, at + 60) - index for index, at in enumerate(allowed)]
    assert limit <= max(spans) <= limit + 100, max(spans)


async def test_rest_api_answers_429_with_ratelimit_headers(
    settings: Settings, db: Database, make_actor
) -> None:
    app = create_app(dataclasses.replace(settings, rest_rate_limit_per_minute=3), database=db)
    actor: Actor = await make_actor("observer")
    other: Actor = await make_actor("observer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE_URL) as client:
        for _ in range(3):
            assert (await client.get("/api/users/me", headers=actor.headers)).status_code == 200
        limited = await client.get("/api/users/me", headers=actor.headers)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == 2020
        assert limited.headers["ratelimit-limit"] == "3"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert int(limited.headers["ratelimit-reset"]) > 0
        assert (await client.get("/api/users/me", headers=other.headers)).status_code == 200


async def test_events_api_is_limited_per_routing_key(
    settings: Settings, db: Database, make_actor
) -> None:
    app = create_app(dataclasses.replace(settings, events_rate_limit_per_minute=2), database=db)
    event = {"routing_key": "f" * 32, "event_action": "resolve", "dedup_key": "x"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE_URL) as client:
        for _ in range(2):
            assert (await client.post("/v2/enqueue", json=event)).status_code == 400
        limited = await client.post("/v2/enqueue", json=event)
        assert limited.status_code == 429
        assert limited.json()["status"] == "throttle event"
        assert "ratelimit-reset" in limited.headers


async def test_api_nodes_on_postgresql_share_while_they_run(
    settings: Settings, db: Database, make_actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fireline.app.RATE_LIMIT_SHARE_SECONDS", 0.01)
    app = create_app(settings, database=db)
    actor: Actor = await make_actor("observer")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        assert (await client.get("/api/users/me", headers=actor.headers)).status_code == 200
        for _ in range(200):  # a few of the app's shares
            await asyncio.sleep(0.01)
            async with db.session(read_only=True) as session:
                shared = (await session.execute(select(RateLimitCount.count))).scalars().all()
            if shared or db.is_sqlite:
                break
    # One process with SQLite has nobody to share with.
    assert shared == ([] if db.is_sqlite else [1])
