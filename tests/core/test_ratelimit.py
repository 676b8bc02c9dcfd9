from __future__ import annotations

import dataclasses

import httpx
import pytest

from fireline.app import create_app
from fireline.core.db import Database
from fireline.core.errors import RateLimitedError
from fireline.core.ratelimit import RateLimiter
from fireline.settings import Settings
from tests.conftest import BASE_URL, Actor


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fixed_window_limits_per_key_and_resets() -> None:
    clock = FakeClock()
    limiter = RateLimiter(limit=2, window=60, clock=clock)
    assert limiter.hit("a").remaining == 1
    assert limiter.hit("a").remaining == 0
    with pytest.raises(RateLimitedError) as raised:
        limiter.check("a")
    assert raised.value.headers == {"ratelimit-limit": "2", "ratelimit-remaining": "0",
                                    "ratelimit-reset": "60"}
    assert limiter.hit("b").allowed
    clock.now += 60
    assert limiter.hit("a").allowed


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
