"""A small Atlassian cloud: OAuth 2.0 (3LO) on auth.atlassian.com and, on api.atlassian.com,
accessible-resources plus the Confluence REST v1 calls Fireline makes through the gateway.

    atlassian = FakeAtlassian(
        client_id="abc", client_secret="s3cret",
        redirect_uris=("https://fireline.example.com/connections/oauth/callback",),
        sites=[FakeSite(cloud_id="1324a887-…", name="acme", pages=[FakePage(...)])],
        granted=("1324a887-…",),   # the site(s) the user picks on the consent page
    )
    with serve(atlassian.app, ca, tmp, "auth.atlassian.com", "api.atlassian.com") as server: ...

- `GET /authorize`: requires `audience=api.atlassian.com`, `response_type=code`, a known
  `client_id`, a registered `redirect_uri` and a `scope` (error page otherwise); denial →
  `error=access_denied`. Grants the `granted` sites with the requested scopes.
- `POST /oauth/token` (JSON body; form also read): `authorization_code` and `refresh_token`.
  Access tokens last 3600 s; a refresh token only with `offline_access`; refresh tokens rotate
  (the used one dies). Refusals: 401 `access_denied` "Unauthorized" (client credentials),
  403 `invalid_grant` (code or refresh token), 400 `unsupported_grant_type`.
- `GET /oauth/token/accessible-resources`: the granted sites (`id`, `url`, `name`, `scopes`,
  `avatarUrl`).
- `GET /ex/confluence/{cloudId}/wiki/rest/api/space`, `/search?cql=` (a CQL subset: `text`,
  `siteSearch`, `title` with `~`; `space`, `type`, `label`, `id` with `=`/`!=`; AND, OR, NOT,
  parentheses; bad CQL → 400), `/content/{id}?expand=body.storage|body.view,version,space`.
  A token without the needed scope, expired or unknown → 401; a site not granted → 404.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.integrations.fakes._oauth import (
    AuthorizationServer,
    Grant,
    OAuthFault,
    bearer_token,
    client_credentials,
)

CONFLUENCE_SCOPES = (
    "read:confluence-content.all",
    "search:confluence",
    "read:confluence-space.summary",
)


@dataclass
class FakePage:
    id: str
    title: str
    space_key: str
    storage: str  # XHTML storage format
    labels: tuple[str, ...] = ()
    type: str = "page"
    version: int = 1
    last_modified: str = "2026-11-20T09:30:00.000Z"

    @property
    def text(self) -> str:
        return html.unescape(re.sub(r"<[^>]+>", " ", self.storage))

    @property
    def webui(self) -> str:
        return f"/spaces/{self.space_key}/pages/{self.id}/{self.title.replace(' ', '+')}"


@dataclass
class FakeSite:
    cloud_id: str
    name: str
    pages: list[FakePage] = field(default_factory=list)
    product: str = "confluence"

    @property
    def url(self) -> str:
        return f"https://{self.name}.atlassian.net"


class CqlError(ValueError):
    pass


_TOKEN = re.compile(r'\s*(?:(\()|(\))|(!=|!~|=|~)|"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([\w.-]+))')


def compile_cql(cql: str) -> Callable[[FakePage], bool]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(cql.rstrip()):
        match = _TOKEN.match(cql, position)
        if match is None:
            raise CqlError(f"Could not parse cql : {cql}")
        kinds = ("(", ")", "op", "str", "str", "word")
        index = next(i for i, group in enumerate(match.groups()) if group is not None)
        tokens.append((kinds[index], match.group(index + 1)))
        position = match.end()
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal at
        if at >= len(tokens):
            raise CqlError(f"Could not parse cql : {cql}")
        at += 1
        return tokens[at - 1]

    def keyword(word: str) -> bool:
        token = peek()
        if token is not None and token[0] == "word" and token[1].upper() == word:
            take()
            return True
        return False

    def expr() -> Callable[[FakePage], bool]:
        parts = [term()]
        while keyword("OR"):
            parts.append(term())
        return lambda page: any(part(page) for part in parts)

    def term() -> Callable[[FakePage], bool]:
        parts = [factor()]
        while keyword("AND"):
            parts.append(factor())
        return lambda page: all(part(page) for part in parts)

    def factor() -> Callable[[FakePage], bool]:
        if keyword("NOT"):
            inner = factor()
            return lambda page: not inner(page)
        if peek() is not None and peek()[0] == "(":  # type: ignore[index]
            take()
            inner = expr()
            if take()[0] != ")":
                raise CqlError(f"Could not parse cql : {cql}")
            return inner
        (kind, name), (op_kind, op), (value_kind, value) = take(), take(), take()
        if kind != "word" or op_kind != "op" or value_kind not in ("str", "word"):
            raise CqlError(f"Could not parse cql : {cql}")
        return clause(name, op, value)

    def clause(name: str, op: str, value: str) -> Callable[[FakePage], bool]:
        words = value.lower().split()
        text_fields: dict[str, Callable[[FakePage], str]] = {
            "text": lambda p: f"{p.title} {p.text}",
            "siteSearch": lambda p: f"{p.title} {p.text}",
            "title": lambda p: p.title,
        }
        exact_fields: dict[str, Callable[[FakePage], tuple[str, ...]]] = {
            "space": lambda p: (p.space_key,),
            "type": lambda p: (p.type,),
            "label": lambda p: p.labels,
            "id": lambda p: (p.id,),
        }
        if name in text_fields and op in ("~", "!~"):
            read = text_fields[name]
            positive = op == "~"
            return lambda p: all(w in read(p).lower() for w in words) == positive
        if name in exact_fields and op in ("=", "!="):
            values = exact_fields[name]
            positive = op == "="
            return lambda p: (value in values(p)) == positive
        raise CqlError(f"CQL field '{name}' does not support operator '{op}'")

    matcher = expr()
    if at != len(tokens):
        raise CqlError(f"Could not parse cql : {cql}")
    return matcher


class FakeAtlassian:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        sites: list[FakeSite],
        granted: tuple[str, ...] | None = None,
    ) -> None:
        self.sites = {site.cloud_id: site for site in sites}
        self.granted = granted if granted is not None else tuple(self.sites)
        self.oauth = AuthorizationServer(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            access_prefix="eyJ-atlassian-",
            refresh_prefix="eyJ-refresh-",
            access_ttl=3600,
            refresh=True,
            rotate=True,
            pkce=False,
        )
        self.app = Starlette(
            routes=[
                Route("/authorize", self._authorize, methods=["GET"]),
                Route("/oauth/token", self._token, methods=["POST"]),
                Route("/oauth/token/accessible-resources", self._resources, methods=["GET"]),
                Route("/ex/confluence/{cloud_id}/wiki/rest/api/space", self._spaces),
                Route("/ex/confluence/{cloud_id}/wiki/rest/api/search", self._search),
                Route("/ex/confluence/{cloud_id}/wiki/rest/api/content/{page_id}", self._content),
            ]
        )

    def access_token(self, scopes: tuple[str, ...] = (*CONFLUENCE_SCOPES, "offline_access")) -> str:
        return self.oauth.issue(Grant(scopes=scopes, facts={"sites": self.granted})).access_token

    # -- auth.atlassian.com ----------------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        if query.get("audience") != "api.atlassian.com" or query.get("response_type") != "code":
            return HTMLResponse("<h1>Something went wrong</h1>invalid request", status_code=400)
        scopes = tuple(query.get("scope", "").split())
        if not scopes:
            return HTMLResponse("<h1>Something went wrong</h1>no scope", status_code=400)
        try:
            target = self.oauth.authorize(
                query, Grant(scopes=scopes, facts={"sites": self.granted})
            )
        except OAuthFault as fault:
            return HTMLResponse(f"<h1>Something went wrong</h1>{fault}", status_code=400)
        return RedirectResponse(target, status_code=302)

    async def _token(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = {k: str(v) for k, v in (await request.json()).items()}
        else:
            fields = dict(await request.form())
        self.oauth.token_requests.append(fields)
        try:
            self.oauth.check_client(*client_credentials(request, fields))
            if fields.get("grant_type") == "authorization_code":
                issued = self.oauth.exchange_code(
                    code=fields.get("code"),
                    redirect_uri=fields.get("redirect_uri"),
                    code_verifier=fields.get("code_verifier"),
                )
            elif fields.get("grant_type") == "refresh_token":
                issued = self.oauth.refresh_tokens(refresh_token=fields.get("refresh_token"))
            else:
                raise OAuthFault("unsupported_grant", str(fields.get("grant_type")))
        except OAuthFault as fault:
            if fault.kind in ("invalid_client", "bad_secret"):
                return JSONResponse(
                    {"error": "access_denied", "error_description": "Unauthorized"}, status_code=401
                )
            if fault.kind == "unsupported_grant":
                return JSONResponse(
                    {"error": "unsupported_grant_type", "error_description": fault.description},
                    status_code=400,
                )
            description = (
                "Unknown or invalid refresh token."
                if fault.kind == "invalid_refresh"
                else "Invalid authorization code"
            )
            return JSONResponse(
                {"error": "invalid_grant", "error_description": description}, status_code=403
            )
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "token_type": "Bearer",
            "scope": " ".join(issued.grant.scopes),
        }
        if "offline_access" in issued.grant.scopes:
            body["refresh_token"] = issued.refresh_token
        return JSONResponse(body)

    # -- api.atlassian.com -----------------------------------------------------------------
    def _grant(self, request: Request, scope: str | None) -> Grant | JSONResponse:
        _, grant = self.oauth.check(bearer_token(request))
        if grant is None:
            return JSONResponse({"code": 401, "message": "Unauthorized"}, status_code=401)
        if scope is not None and scope not in grant.scopes:
            return JSONResponse(
                {"code": 401, "message": "Unauthorized; scope does not match"}, status_code=401
            )
        return grant

    def _site(self, request: Request, scope: str) -> FakeSite | JSONResponse:
        grant = self._grant(request, scope)
        if isinstance(grant, JSONResponse):
            return grant
        cloud_id = request.path_params["cloud_id"]
        site = self.sites.get(cloud_id)
        if site is None or cloud_id not in grant.facts.get("sites", ()):
            return JSONResponse({"code": 404, "message": "Not Found"}, status_code=404)
        return site

    async def _resources(self, request: Request) -> JSONResponse:
        grant = self._grant(request, None)
        if isinstance(grant, JSONResponse):
            return grant
        return JSONResponse(
            [
                {
                    "id": site.cloud_id,
                    "url": site.url,
                    "name": site.name,
                    "scopes": [s for s in grant.scopes if s != "offline_access"]
                    if site.product == "confluence"
                    else ["read:jira-work"],
                    "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
                }
                for cloud_id in grant.facts.get("sites", ())
                if (site := self.sites[cloud_id])
            ]
        )

    def _links(self, site: FakeSite) -> dict[str, str]:
        return {"base": f"{site.url}/wiki", "context": "/wiki"}

    async def _spaces(self, request: Request) -> JSONResponse:
        site = self._site(request, "read:confluence-space.summary")
        if isinstance(site, JSONResponse):
            return site
        keys = sorted({page.space_key for page in site.pages})
        limit = int(request.query_params.get("limit", 25))
        results = [
            {"id": i, "key": key, "name": key, "type": "global"} for i, key in enumerate(keys)
        ][:limit]
        return JSONResponse(
            {
                "results": results,
                "start": 0,
                "limit": limit,
                "size": len(results),
                "_links": self._links(site),
            }
        )

    async def _search(self, request: Request) -> JSONResponse:
        site = self._site(request, "search:confluence")
        if isinstance(site, JSONResponse):
            return site
        cql = request.query_params.get("cql", "")
        try:
            matcher = compile_cql(cql)
        except CqlError as exc:
            return JSONResponse(
                {
                    "statusCode": 400,
                    "data": {"authorized": True, "valid": False, "errors": []},
                    "message": "com.atlassian.confluence.api.service.exceptions."
                    f"BadRequestException: {exc}",
                },
                status_code=400,
            )
        limit = min(int(request.query_params.get("limit", 25)), 100)
        found = [page for page in site.pages if matcher(page)]
        highlight = request.query_params.get("excerpt", "highlight") == "highlight"
        terms = re.findall(r'(?:text|siteSearch)\s*~\s*"([^"]*)"', cql)
        return JSONResponse(
            {
                "results": [self._hit(page, terms, highlight) for page in found[:limit]],
                "start": 0,
                "limit": limit,
                "size": min(limit, len(found)),
                "totalSize": len(found),
                "cqlQuery": cql,
                "searchDuration": 12,
                "_links": self._links(site),
            }
        )

    def _hit(self, page: FakePage, terms: list[str], highlight: bool) -> dict[str, Any]:
        excerpt = " ".join(page.text.split())[:200]
        if highlight:
            for word in " ".join(terms).split():
                excerpt = re.sub(f"(?i)({re.escape(word)})", r"@@@hl@@@\1@@@endhl@@@", excerpt)
        return {
            "content": {
                "id": page.id,
                "type": page.type,
                "status": "current",
                "title": page.title,
                "_links": {"webui": page.webui, "self": f"/rest/api/content/{page.id}"},
            },
            "title": page.title,
            "excerpt": excerpt,
            "url": page.webui,
            "resultGlobalContainer": {
                "title": page.space_key,
                "displayUrl": f"/spaces/{page.space_key}",
            },
            "entityType": "content",
            "lastModified": page.last_modified,
        }

    async def _content(self, request: Request) -> JSONResponse:
        site = self._site(request, "read:confluence-content.all")
        if isinstance(site, JSONResponse):
            return site
        page_id = request.path_params["page_id"]
        page = next((p for p in site.pages if p.id == page_id), None)
        if page is None:
            return JSONResponse(
                {
                    "statusCode": 404,
                    "data": {"authorized": False, "valid": True, "errors": []},
                    "message": f"No content found with id : ContentId{{id={page_id}}}",
                },
                status_code=404,
            )
        expand = request.query_params.get("expand", "").split(",")
        body: dict[str, Any] = {
            "id": page.id,
            "type": page.type,
            "status": "current",
            "title": page.title,
            "_links": {**self._links(site), "webui": page.webui},
        }
        if "space" in expand:
            body["space"] = {"key": page.space_key, "name": page.space_key}
        if "version" in expand:
            body["version"] = {"number": page.version}
        if "body.storage" in expand:
            body["body"] = {"storage": {"value": page.storage, "representation": "storage"}}
        if "body.view" in expand:
            view = re.sub(r"<ac:[^>]*>|</ac:[^>]*>", "", page.storage)
            body["body"] = {"view": {"value": view, "representation": "view"}}
        return JSONResponse(body)
