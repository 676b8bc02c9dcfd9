"""What a newcomer meets first, seen from outside `fireline serve`."""

from __future__ import annotations

import re

import httpx

from tests.served.harness import Served


def test_api_docs_load_offline_with_every_asset_from_the_server(served: Served) -> None:
    page = httpx.get(f"{served.base_url}/api/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by Fireline"
        assert httpx.get(f"{served.base_url}{asset}").status_code == 200, asset
