"""A tool as the served layer drives it: its fake, where the fake answers, and what to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCase:
    slug: str
    # Builds the fake's ASGI app (a fresh state per test session).
    fake: Callable[[], Any]
    # The real host names the fake's certificate carries and egress routes to it, at `port`.
    hosts: tuple[str, ...]
    config: dict[str, Any]
    secrets: dict[str, Any]
    # One workflow step per action: (action name, its inputs).
    steps: tuple[tuple[str, dict[str, Any]], ...]
    port: int = 443
    # Checks the steps' outputs (by action name): real data came back, not just "succeeded".
    check: Callable[[dict[str, Any]], None] = field(default=lambda outputs: None)
    # A wrong credential: for tools that refuse to save a connection whose check fails.
    wrong_secrets: dict[str, Any] | None = None
    # What the served process needs in its environment for this tool (FIRELINE_* only).
    env: dict[str, str] = field(default_factory=dict)
