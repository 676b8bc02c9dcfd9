"""A small Microsoft cloud: the identity platform v2.0 endpoints on login.microsoftonline.com
and the Graph v1.0 calls Fireline makes on graph.microsoft.com.

    microsoft = FakeMicrosoft(
        client_id="00000000-…", client_secret="s3cret",
        redirect_uris=("https://fireline.example.com/connections/oauth/callback",),
        tenant_id="84841066-274d-4ec0-a5c1-276be684bdd3", tenant_name="Contoso",
        users=[FakeUser(...)], groups={"<group id>": ["<member id>", ...]},
    )
    with serve(microsoft.app, ca, tmp, "login.microsoftonline.com", "graph.microsoft.com"): ...

- `GET /{tenant}/oauth2/v2.0/authorize` (`organizations`, `common` or the tenant id):
  `response_type=code`, `scope`, `state`, PKCE S256; unknown client (AADSTS700016) or
  redirect URI (AADSTS50011) → 400 error page, never a redirect; denial → redirect with
  `error=access_denied`.
- `POST /{tenant}/oauth2/v2.0/token` (form; client secret in the body or HTTP Basic):
  `authorization_code` (checks `redirect_uri` and `code_verifier`) and `refresh_token`
  (which must carry `scope`, as documented; AADSTS900144 otherwise).
  Access tokens ~1 h; a refresh token with `offline_access` — each refresh returns a new one
  and the used one keeps working; an `id_token` (JWT with `tid`, unsigned-for-tests) with
  `openid`. Refusals: 400 `invalid_grant` with AADSTS54005 (code redeemed), AADSTS70008
  (bad/expired code), AADSTS501481 (verifier mismatch), AADSTS50148 (verifier without a
  challenge), AADSTS700082 (refresh token unknown/expired); 401 `invalid_client`
  (AADSTS7000215); 400 `unsupported_grant_type`. Bodies carry `error_codes`, `trace_id`, …
- Graph v1.0 (`Authorization: Bearer`): `/organization`, `/users/{id | UPN}`,
  `/groups/{id}/members` (`$select`, `$top` ≤ 999, `@odata.nextLink` with `$skiptoken`).
  401 `InvalidAuthenticationToken`; 403 `Authorization_RequestDenied` without the delegated
  permission (User.Read / User.Read.All / GroupMember.Read.All); 404 `Request_ResourceNotFound`;
  400 `BadRequest` for an unknown `$select` property.
- `microsoft.access_token(scopes=…)` issues a token directly; `microsoft.oauth.advance(s)`.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

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

USER_PROPERTIES = {
    "id": "id",
    "displayName": "display_name",
    "userPrincipalName": "upn",
    "mail": "mail",
    "jobTitle": "job_title",
    "department": "department",
    "accountEnabled": "account_enabled",
    "mobilePhone": "mobile_phone",
    "officeLocation": "office_location",
}
_TOKEN_ERRORS: dict[str, tuple[int, str, int, str]] = {
    "invalid_client": (
        400,
        "unauthorized_client",
        700016,
        "Application was not found in the directory.",
    ),
    "bad_secret": (401, "invalid_client", 7000215, "Invalid client secret provided."),
    "invalid_code": (
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity.",
    ),
    "pkce": (
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization "
        "request.",
    ),
    "bad_redirect_uri": (
        400,
        "invalid_grant",
        50148,
        "The redirect_uri does not match the one used in the authorization request.",
    ),
    "invalid_refresh": (
        400,
        "invalid_grant",
        700082,
        "The refresh token has expired due to inactivity.",
    ),
    "unsupported_grant": (
        400,
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type.",
    ),
    "invalid_request": (
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
    ),
}


@dataclass
class FakeUser:
    id: str
    display_name: str
    upn: str
    mail: str | None = None
    job_title: str | None = None
    department: str | None = None
    account_enabled: bool = True
    mobile_phone: str | None = None
    office_location: str | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeMicrosoft:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        tenant_id: str,
        tenant_name: str = "Contoso",
        users: list[FakeUser] | None = None,
        groups: dict[str, list[str]] | None = None,
    ) -> None:
        self.client_id = client_id
        self.tenant_id, self.tenant_name = tenant_id, tenant_name
        self.users = users or []
        self.groups = groups or {}
        self.oauth = AuthorizationServer(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            access_prefix="eyJ0eXAiOiJKV1Qi.",
            refresh_prefix="0.AAAA",
            access_ttl=3599,
            refresh=True,
            rotate=True,
            pkce=True,
            keep_used_refresh=True,
        )
        self.app = Starlette(
            routes=[
                Route("/{tenant}/oauth2/v2.0/authorize", self._authorize, methods=["GET"]),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/v1.0/organization", self._organization, methods=["GET"]),
                Route("/v1.0/users/{key}", self._user, methods=["GET"]),
                Route("/v1.0/groups/{group_id}/members", self._members, methods=["GET"]),
            ]
        )

    def access_token(
        self, scopes: tuple[str, ...] = ("User.Read", "User.Read.All", "GroupMember.Read.All")
    ) -> str:
        return self.oauth.issue(Grant(scopes=scopes)).access_token

    def id_token(self) -> str:
        now = int(self.oauth.now())
        claims = {
            "aud": self.client_id,
            "iss": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Ada Admin",
            "oid": str(uuid.uuid4()),
            "preferred_username": "ada@contoso.com",
            "sub": secrets.token_urlsafe(16),
            "tid": self.tenant_id,
            "ver": "2.0",
        }
        header = {"typ": "JWT", "alg": "RS256", "kid": "fake-key"}
        return ".".join(
            [
                _b64(json.dumps(header).encode()),
                _b64(json.dumps(claims).encode()),
                _b64(secrets.token_bytes(64)),
            ]
        )

    # -- login.microsoftonline.com ---------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        if request.path_params["tenant"] not in ("organizations", "common", self.tenant_id):
            return HTMLResponse("AADSTS90002: Tenant not found.", status_code=400)
        query = dict(request.query_params)
        if query.get("response_type") != "code" or not query.get("scope"):
            return HTMLResponse(
                "AADSTS900144: The request body must contain 'scope'.", status_code=400
            )
        try:
            target = self.oauth.authorize(query, Grant(scopes=tuple(query["scope"].split())))
        except OAuthFault as fault:
            code = 700016 if fault.kind == "invalid_client" else 50011
            return HTMLResponse(f"<h1>Sign in</h1>AADSTS{code}: {fault}", status_code=400)
        return RedirectResponse(target, status_code=302)

    async def _token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.oauth.token_requests.append(form)
        try:
            self.oauth.check_client(*client_credentials(request, form))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                issued = self.oauth.exchange_code(
                    code=form.get("code"),
                    redirect_uri=form.get("redirect_uri"),
                    code_verifier=form.get("code_verifier"),
                )
            elif grant_type == "refresh_token":
                # The v2.0 refresh request documents `scope` as required.
                if not form.get("scope"):
                    raise OAuthFault("invalid_request", "scope")
                issued = self.oauth.refresh_tokens(refresh_token=form.get("refresh_token"))
            elif grant_type is None:
                raise OAuthFault("invalid_request", "grant_type")
            else:
                raise OAuthFault("unsupported_grant", grant_type)
        except OAuthFault as fault:
            status, error, code, text = _TOKEN_ERRORS[fault.kind]
            if fault.kind == "invalid_code" and "redeemed" in fault.description:
                code, text = 54005, "OAuth2 Authorization code was already redeemed."
            if fault.kind == "invalid_request":
                text = (
                    f"The request body must contain the following parameter: '{fault.description}'."
                )
            if fault.kind == "pkce" and "no code_challenge" in fault.description:
                code, text = 50148, "The code_verifier does not match the code_challenge."
            trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            return JSONResponse(
                {
                    "error": error,
                    "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\n"
                    f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
                    "error_codes": [code],
                    "timestamp": stamp,
                    "trace_id": trace,
                    "correlation_id": correlation,
                    "error_uri": f"https://login.microsoftonline.com/error?code={code}",
                },
                status_code=status,
            )
        scopes = issued.grant.scopes
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in scopes if s not in ("openid", "offline_access")),
            "expires_in": issued.expires_in,
            "ext_expires_in": issued.expires_in,
            "access_token": issued.access_token,
        }
        if "offline_access" in scopes:
            body["refresh_token"] = issued.refresh_token
        if "openid" in scopes:
            body["id_token"] = self.id_token()
        return JSONResponse(body)

    # -- graph.microsoft.com ---------------------------------------------------------------
    def _graph_error(self, status: int, code: str, message: str) -> JSONResponse:
        inner = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": str(uuid.uuid4()),
        }
        return JSONResponse(
            {"error": {"code": code, "message": message, "innerError": inner}}, status_code=status
        )

    def _denied(self, request: Request, *any_of: str) -> JSONResponse | None:
        reason, grant = self.oauth.check(bearer_token(request))
        if grant is None:
            message = {
                "missing": "Access token is empty.",
                "expired": "Lifetime validation failed, the token is expired.",
            }.get(reason, "Invalid JWT token.")
            return self._graph_error(401, "InvalidAuthenticationToken", message)
        if not set(any_of) & set(grant.scopes):
            return self._graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return None

    def _select(
        self, request: Request, record: dict[str, Any], kind: str
    ) -> dict[str, Any] | JSONResponse:
        fields = request.query_params.get("$select")
        if fields is None:
            return record
        chosen = {"@odata.type": record["@odata.type"]} if "@odata.type" in record else {}
        for name in fields.split(","):
            if name not in USER_PROPERTIES and name not in record:
                return self._graph_error(
                    400,
                    "BadRequest",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.{kind}'.",
                )
            chosen[name] = record.get(name)
        return chosen

    def _user_record(self, user: FakeUser) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.user",
            **{graph: getattr(user, attr) for graph, attr in USER_PROPERTIES.items()},
        }

    async def _organization(self, request: Request) -> JSONResponse:
        if (
            denied := self._denied(
                request, "User.Read", "Organization.Read.All", "Directory.Read.All"
            )
        ) is not None:
            return denied
        record = {
            "id": self.tenant_id,
            "displayName": self.tenant_name,
            "tenantType": "AAD",
            "verifiedDomains": [{"name": "contoso.com", "isDefault": True}],
        }
        selected = self._select(request, record, "organization")
        if isinstance(selected, JSONResponse):
            return selected
        return JSONResponse(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization",
                "value": [selected],
            }
        )

    async def _user(self, request: Request) -> JSONResponse:
        if (
            denied := self._denied(
                request, "User.Read.All", "User.ReadBasic.All", "Directory.Read.All"
            )
        ) is not None:
            return denied
        key = request.path_params["key"].lower()
        user = next((u for u in self.users if key in (u.id.lower(), u.upn.lower())), None)
        if user is None:
            return self._graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.path_params['key']}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        selected = self._select(request, self._user_record(user), "user")
        if isinstance(selected, JSONResponse):
            return selected
        return JSONResponse(
            {
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                **selected,
            }
        )

    async def _members(self, request: Request) -> JSONResponse:
        if (
            denied := self._denied(
                request, "GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"
            )
        ) is not None:
            return denied
        group_id = request.path_params["group_id"]
        if group_id not in self.groups:
            return self._graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{group_id}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        query = request.query_params
        top = int(query.get("$top", 100))
        if not 1 <= top <= 999:
            return self._graph_error(
                400,
                "Request_UnsupportedQuery",
                f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.",
            )
        start = int(base64.b64decode(query["$skiptoken"]).decode()) if "$skiptoken" in query else 0
        records = []
        for member_id in self.groups[group_id]:
            user = next((u for u in self.users if u.id == member_id), None)
            if user is not None:
                records.append(self._user_record(user))
            else:
                records.append(
                    {
                        "@odata.type": "#microsoft.graph.group",
                        "id": member_id,
                        "displayName": f"group {member_id[:8]}",
                        "mail": None,
                    }
                )
        page = []
        for record in records[start : start + top]:
            selected = self._select(request, record, "directoryObject")
            if isinstance(selected, JSONResponse):
                return selected
            page.append(selected)
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
            "value": page,
        }
        if start + top < len(records):
            params = {k: v for k, v in query.items() if k != "$skiptoken"}
            params["$skiptoken"] = base64.b64encode(str(start + top).encode()).decode()
            body["@odata.nextLink"] = (
                f"https://graph.microsoft.com/v1.0/groups/{group_id}/members?{urlencode(params)}"
            )
        return JSONResponse(body)
