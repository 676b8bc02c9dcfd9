"""The web app's static files: our own (`web/static/`) and the third-party ones installed as
dependencies at set-up (`make assets`: `npm ci` from the committed `package.json`), never
committed. A missing third-party file is a start-up error that says how to install it, not a
page that silently lacks its script.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

OWN = Path(__file__).parent / "static"
# An editable install (the Makefile's) runs from the checkout, where `npm ci` put node_modules.
DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"


@dataclass(frozen=True)
class Vendored:
    """One npm package's directory, served under `/static/vendor/<package>`."""

    package: str
    directory: str  # inside the package
    required_file: str

    def path(self, node_modules: Path) -> Path:
        return node_modules / self.package / self.directory


HTMX = Vendored("htmx.org", "dist", "htmx.min.js")
VENDORED = (HTMX,)


class MissingAssetError(RuntimeError):
    pass


def node_modules() -> Path:
    return Path(os.environ.get("FIRELINE_WEB_ASSETS_DIR") or DEFAULT_NODE_MODULES)


def mounts() -> list[tuple[str, ASGIApp]]:
    """(path, app) for every static directory, the vendored ones checked first."""
    root = node_modules()
    found: list[tuple[str, ASGIApp]] = []
    for asset in VENDORED:
        if not (asset.path(root) / asset.required_file).is_file():
            raise MissingAssetError(
                f"The web app's {asset.package} file is missing "
                f"({asset.path(root) / asset.required_file}). Install the web assets with "
                "`make assets` (npm ci), or point FIRELINE_WEB_ASSETS_DIR at a node_modules "
                "directory that has them.")
        found.append((f"/static/vendor/{asset.package}", StaticFiles(directory=asset.path(root))))
    found.append(("/static", StaticFiles(directory=OWN)))
    return found
