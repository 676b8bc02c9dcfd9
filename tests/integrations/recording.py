"""A pass-through HttpClient that records every URL an integration asks for, so tests can
prove SEC-7 (no secret in a URL or query string) for each tool."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from fireline.integrations.base import HttpClient, ToolContext


class RecordingHttp:
    def __init__(self, inner: HttpClient) -> None:
        self.inner = inner
        self.urls: list[str] = []

    async def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        self.urls.append(str(httpx.URL(url, params=kwargs.get("params"))))
        return await self.inner.request(method, url, **kwargs)


def recording(ctx: ToolContext) -> tuple[ToolContext, RecordingHttp]:
    recorder = RecordingHttp(ctx.http)
    return dataclasses.replace(ctx, http=recorder), recorder


def assert_no_secret_in_urls(recorder: RecordingHttp, *secrets: str) -> None:
    assert recorder.urls, "nothing was requested"
    for secret in secrets:
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
        for url in recorder.urls:
            assert not any(form in url for form in forms), f"a secret is in {url}"
