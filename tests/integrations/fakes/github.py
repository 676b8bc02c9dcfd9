"""A small GitHub: the GitHub App user-authorization flow on github.com and the REST endpoints
Fireline calls on api.github.com.

    github = FakeGitHub(
        client_id="Iv1.abc", client_secret="s3cret",
        redirect_uris=("https://fireline.example.com/connections/oauth/callback",),
        login="octocat", installations=("acme", "octocat"),
        repos={"acme/api": FakeRepo(commits=[...])},
    )
    with serve(github.app, ca, tmp, "github.com", "api.github.com") as server: ...

- `GET /login/oauth/authorize` (github.com): unknown `client_id` → 404 page; a
  `redirect_uri` that is not registered → redirect to the registered callback with
  `error=redirect_uri_mismatch`; `github.oauth.denied = True` → `error=access_denied`;
  PKCE `code_challenge` with S256 only.
- `POST /login/oauth/access_token` (github.com; form or query): code exchange (checks
  `redirect_uri` and the PKCE `code_verifier`) and `grant_type=refresh_token`; expiring tokens
  (`ghu_` 8 h, `ghr_` refresh, `refresh_token_expires_in`); using a refresh token kills it and
  the old access token. JSON only with `Accept: application/json`, form-encoded otherwise;
  refusals are HTTP 200 with `error`, `error_description`, `error_uri`.
- api.github.com (`Authorization: Bearer|token`, a User-Agent required, an unknown
  `X-GitHub-Api-Version` → 400): `GET /user`, `GET /user/installations`,
  `GET /repos/{o}/{r}/commits` (`sha`, `since`, `per_page`, `page`; `Link` rel=next/last),
  `POST /repos/{o}/{r}/issues` (201; 422 Validation Failed; 410 when issues are disabled),
  `GET /repos/{o}/{r}/deployments` (`sha`, `ref`, `task`, `environment`, `per_page`, `page`;
  newest first; `Link`) and `GET /repos/{o}/{r}/deployments/{id}/statuses` (`per_page`,
  `page`; newest first; 404 for a deployment that is not the repository's).
  Repositories outside the user's installations answer 404, like private repos do.
- `github.user_token()` issues a token directly; `github.oauth.advance(s)` moves time;
  `github.rate_limited = True` makes the API answer GitHub's 403 rate-limit error;
  `github.calls` lists the API paths requested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from tests.integrations.fakes._oauth import (
    AuthorizationServer,
    Grant,
    OAuthFault,
    client_credentials,
    with_query,
)

DOCS = "https://docs.github.com/rest"
_TOKEN_ERRORS = {
    "invalid_client": (
        "incorrect_client_credentials",
        "The client_id and/or client_secret passed are incorrect.",
    ),
    "bad_secret": (
        "incorrect_client_credentials",
        "The client_id and/or client_secret passed are incorrect.",
    ),
    "invalid_code": ("bad_verification_code", "The code passed is incorrect or expired."),
    "pkce": ("bad_verification_code", "The code_verifier does not match the code_challenge."),
    "bad_redirect_uri": (
        "redirect_uri_mismatch",
        "The redirect_uri MUST match the registered callback URL for this application.",
    ),
    "invalid_refresh": ("bad_refresh_token", "The refresh token passed is incorrect or expired."),
    "unsupported_grant": ("unsupported_grant_type", "The grant type is not supported."),
    "invalid_request": ("bad_verification_code", "The code passed is incorrect or expired."),
}


@dataclass
class FakeCommit:
    sha: str
    message: str
    date: str  # ISO 8601, Z
    author_name: str = "Ada Lovelace"
    author_login: str | None = "ada"
    branch: str = "main"


@dataclass
class FakeStatus:
    state: str  # error, failure, inactive, in_progress, queued, pending, success
    created_at: str  # ISO 8601, Z
    description: str = ""
    log_url: str = ""
    environment_url: str = ""


@dataclass
class FakeDeployment:
    id: int
    sha: str
    ref: str
    environment: str
    created_at: str  # ISO 8601, Z
    task: str = "deploy"
    description: str | None = None
    creator: str = "deploy-bot"
    statuses: list[FakeStatus] = field(default_factory=list)  # oldest first


@dataclass
class FakeRepo:
    commits: list[FakeCommit] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    has_issues: bool = True
    deployments: list[FakeDeployment] = field(default_factory=list)


class FakeGitHub:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        login: str = "octocat",
        installations: tuple[str, ...] = ("acme",),
        repos: dict[str, FakeRepo] | None = None,
    ) -> None:
        self.login = login
        self.installations = installations
        self.repos = repos or {}
        self.oauth = AuthorizationServer(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            access_prefix="ghu_",
            refresh_prefix="ghr_",
            access_ttl=28_800,
            refresh=True,
            rotate=True,
            pkce=True,
            refresh_revokes_access=True,
        )
        self._issue_ids = 1_000
        self.rate_limited = False  # True: every API call answers GitHub's 403 rate-limit body
        self.calls: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/login/oauth/authorize", self._authorize, methods=["GET"]),
                Route("/login/oauth/access_token", self._token, methods=["POST"]),
                Route("/user", self._user, methods=["GET"]),
                Route("/user/installations", self._installations, methods=["GET"]),
                Route("/repos/{owner}/{repo}/commits", self._commits, methods=["GET"]),
                Route("/repos/{owner}/{repo}/issues", self._create_issue, methods=["POST"]),
                Route("/repos/{owner}/{repo}/deployments", self._deployments, methods=["GET"]),
                Route(
                    "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
                    self._statuses,
                    methods=["GET"],
                ),
            ]
        )

    def user_token(self) -> str:
        return self.oauth.issue(Grant(scopes=())).access_token

    # -- github.com: OAuth -----------------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        try:
            target = self.oauth.authorize(query, Grant(scopes=()))
        except OAuthFault as fault:
            if fault.kind == "invalid_client":
                return HTMLResponse("<h1>404</h1>", status_code=404)
            error, description = _TOKEN_ERRORS[fault.kind]
            target = with_query(
                self.oauth.redirect_uris[0],
                {"error": error, "error_description": description, "state": query.get("state", "")},
            )
        return RedirectResponse(target, status_code=302)

    async def _token(self, request: Request) -> Response:
        # GitHub reads the parameters from the query string or the form body.
        fields = dict(request.query_params) | dict(await request.form())
        self.oauth.token_requests.append(fields)
        try:
            self.oauth.check_client(*client_credentials(request, fields))
            grant_type = fields.get("grant_type", "authorization_code")
            if grant_type == "authorization_code":
                issued = self.oauth.exchange_code(
                    code=fields.get("code"),
                    redirect_uri=fields.get("redirect_uri"),
                    code_verifier=fields.get("code_verifier"),
                )
            elif grant_type == "refresh_token":
                issued = self.oauth.refresh_tokens(refresh_token=fields.get("refresh_token"))
            else:
                raise OAuthFault("unsupported_grant", grant_type)
            body: dict[str, Any] = {
                "access_token": issued.access_token,
                "expires_in": issued.expires_in,
                "refresh_token": issued.refresh_token,
                "refresh_token_expires_in": 15_897_600,
                "scope": "",
                "token_type": "bearer",
            }
        except OAuthFault as fault:
            error, description = _TOKEN_ERRORS[fault.kind]
            body = {
                "error": error,
                "error_description": description,
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
                "troubleshooting-oauth-app-access-token-request-errors",
            }
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(body)
        return PlainTextResponse(
            urlencode({k: v for k, v in body.items() if v is not None}),
            media_type="application/x-www-form-urlencoded",
        )

    # -- api.github.com --------------------------------------------------------------------
    def _denied(self, request: Request) -> JSONResponse | None:
        self.calls.append(request.url.path)
        if self.rate_limited:
            return JSONResponse(
                {
                    "message": "API rate limit exceeded for user ID 583231. If you reach out to "
                    "GitHub Support for help, please include the request ID.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits",
                    "status": "403",
                },
                status_code=403,
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700003600"},
            )
        if not request.headers.get("user-agent"):
            return JSONResponse(
                {
                    "message": "Request forbidden by administrative rules. Please make sure your "
                    "request has a User-Agent header",
                    "status": "403",
                },
                status_code=403,
            )
        version = request.headers.get("x-github-api-version")
        if version not in (None, "2022-11-28", "2026-03-10"):
            return JSONResponse(
                {
                    "message": f"API version {version} is not supported.",
                    "documentation_url": DOCS,
                    "status": "400",
                },
                status_code=400,
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or self.oauth.check(token.strip())[0] != "ok":
            return JSONResponse(
                {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"},
                status_code=401,
            )
        return None

    def _repo(self, request: Request) -> tuple[FakeRepo | None, JSONResponse | None]:
        if (denied := self._denied(request)) is not None:
            return None, denied
        owner, name = request.path_params["owner"], request.path_params["repo"]
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None or owner.lower() not in {a.lower() for a in self.installations}:
            return None, JSONResponse(
                {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                status_code=404,
            )
        return repo, None

    async def _user(self, request: Request) -> JSONResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        return JSONResponse(
            {"login": self.login, "id": 583231, "type": "User", "name": "The Octocat"}
        )

    async def _installations(self, request: Request) -> JSONResponse:
        if (denied := self._denied(request)) is not None:
            return denied
        installations = [
            {
                "id": 100 + i,
                "account": {
                    "login": account,
                    "type": "User" if account == self.login else "Organization",
                },
                "app_slug": "pd-incident-workflows-integration",
                "repository_selection": "all",
            }
            for i, account in enumerate(self.installations)
        ]
        return JSONResponse({"total_count": len(installations), "installations": installations})

    async def _commits(self, request: Request) -> JSONResponse:
        repo, denied = self._repo(request)
        if repo is None:
            assert denied is not None
            return denied
        query = request.query_params
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        since = query.get("since")
        branch = query.get("sha", "main")
        selected = sorted(
            (
                c
                for c in repo.commits
                if c.branch == branch and (since is None or _instant(c.date) >= _instant(since))
            ),
            key=lambda c: c.date,
            reverse=True,
        )
        chunk = selected[(page - 1) * per_page : page * per_page]
        headers = {}
        last = max(1, -(-len(selected) // per_page))
        if page < last:
            base = dict(query) | {"per_page": str(per_page)}
            owner, name = request.path_params["owner"], request.path_params["repo"]
            url = f"https://api.github.com/repos/{owner}/{name}/commits?"
            headers["link"] = (
                f'<{url}{urlencode(base | {"page": str(page + 1)})}>; rel="next", '
                f'<{url}{urlencode(base | {"page": str(last)})}>; rel="last"'
            )
        owner, name = request.path_params["owner"], request.path_params["repo"]
        return JSONResponse(
            [
                {
                    "sha": c.sha,
                    "commit": {
                        "author": {
                            "name": c.author_name,
                            "email": "ada@example.com",
                            "date": c.date,
                        },
                        "committer": {
                            "name": c.author_name,
                            "email": "ada@example.com",
                            "date": c.date,
                        },
                        "message": c.message,
                    },
                    "author": {"login": c.author_login} if c.author_login else None,
                    "html_url": f"https://github.com/{owner}/{name}/commit/{c.sha}",
                }
                for c in chunk
            ],
            headers=headers,
        )

    async def _create_issue(self, request: Request) -> JSONResponse:
        repo, denied = self._repo(request)
        if repo is None:
            assert denied is not None
            return denied
        if not repo.has_issues:
            return JSONResponse(
                {
                    "message": "Issues are disabled for this repo",
                    "documentation_url": DOCS,
                    "status": "410",
                },
                status_code=410,
            )
        body = await request.json()
        if not isinstance(body.get("title"), str) or not body["title"]:
            return JSONResponse(
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
                    "documentation_url": DOCS,
                    "status": "422",
                },
                status_code=422,
            )
        self._issue_ids += 1
        owner, name = request.path_params["owner"], request.path_params["repo"]
        number = len(repo.issues) + 1
        issue = {
            "id": self._issue_ids,
            "number": number,
            "title": body["title"],
            "body": body.get("body"),
            "labels": [{"name": label} for label in body.get("labels", [])],
            "assignees": [{"login": login} for login in body.get("assignees", [])],
            "state": "open",
            "html_url": f"https://github.com/{owner}/{name}/issues/{number}",
            "user": {"login": self.login},
        }
        repo.issues.append(issue)
        return JSONResponse(issue, status_code=201)

    async def _deployments(self, request: Request) -> JSONResponse:
        repo, denied = self._repo(request)
        if repo is None:
            assert denied is not None
            return denied
        query = request.query_params
        selected = sorted(
            (
                d
                for d in repo.deployments
                if all(
                    query.get(name) in (None, value)
                    for name, value in (
                        ("sha", d.sha),
                        ("ref", d.ref),
                        ("task", d.task),
                        ("environment", d.environment),
                    )
                )
            ),
            key=lambda d: d.id,
            reverse=True,
        )
        chunk, headers = _paginate(request, selected)
        return JSONResponse([self._deployment(request, d) for d in chunk], headers=headers)

    async def _statuses(self, request: Request) -> JSONResponse:
        repo, denied = self._repo(request)
        if repo is None:
            assert denied is not None
            return denied
        wanted = request.path_params["deployment_id"]
        deployment = next((d for d in repo.deployments if str(d.id) == wanted), None)
        if deployment is None:
            return JSONResponse(
                {"message": "Not Found", "documentation_url": DOCS, "status": "404"},
                status_code=404,
            )
        chunk, headers = _paginate(request, list(reversed(deployment.statuses)))
        base = self._deployment(request, deployment)
        return JSONResponse(
            [
                {
                    "url": f"{base['url']}/statuses/{deployment.id * 100 + index}",
                    "id": deployment.id * 100 + index,
                    "node_id": f"DES_{deployment.id}_{index}",
                    "state": status.state,
                    "creator": {"login": deployment.creator, "type": "Bot"},
                    "description": status.description,
                    "environment": deployment.environment,
                    "target_url": status.log_url,
                    "log_url": status.log_url,
                    "environment_url": status.environment_url,
                    "created_at": status.created_at,
                    "updated_at": status.created_at,
                    "deployment_url": base["url"],
                    "repository_url": base["repository_url"],
                }
                for index, status in enumerate(chunk)
            ],
            headers=headers,
        )

    def _deployment(self, request: Request, d: FakeDeployment) -> dict[str, Any]:
        owner, name = request.path_params["owner"], request.path_params["repo"]
        repository = f"https://api.github.com/repos/{owner}/{name}"
        return {
            "url": f"{repository}/deployments/{d.id}",
            "id": d.id,
            "node_id": f"DE_{d.id}",
            "sha": d.sha,
            "ref": d.ref,
            "task": d.task,
            "payload": {},
            "original_environment": d.environment,
            "environment": d.environment,
            "description": d.description,
            "creator": {"login": d.creator, "type": "Bot"},
            "created_at": d.created_at,
            "updated_at": d.statuses[-1].created_at if d.statuses else d.created_at,
            "statuses_url": f"{repository}/deployments/{d.id}/statuses",
            "repository_url": repository,
            "transient_environment": False,
            "production_environment": d.environment == "production",
        }


def _paginate(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """GitHub's `per_page` (at most 100) and `page`, with `Link` rel=next/last."""
    query = request.query_params
    per_page = min(int(query.get("per_page", 30)), 100)
    page = int(query.get("page", 1))
    last = max(1, -(-len(items) // per_page))
    headers = {}
    if page < last:
        base = dict(query) | {"per_page": str(per_page)}
        url = f"https://api.github.com{request.url.path}?"
        headers["link"] = (
            f'<{url}{urlencode(base | {"page": str(page + 1)})}>; rel="next", '
            f'<{url}{urlencode(base | {"page": str(last)})}>; rel="last"'
        )
    return items[(page - 1) * per_page : page * per_page], headers


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
