"""The only way out: `client.GuardedClient` built from a `policy.EgressPolicy`.

Integrations never create an HTTP client of their own; the allow-list (NET-1), the parsed-once
URL (NET-2), the connect-time address check (NET-3, `resolver`: aiohttp's resolver hook),
redirects (NET-4) and the limits (NET-5) all live here.
"""
