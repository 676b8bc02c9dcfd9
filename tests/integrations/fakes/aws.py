"""moto's server behind a thin front that enforces what moto does not (DESIGN.md, AWS).

moto 5.2 answers every `sts:AssumeRole` with credentials, whatever the external ID and even
for a role that does not exist. The front reads the AssumeRole form request, looks the role up
in moto (`iam.get_role` in the role's account) and evaluates its trust policy for the calling
account and `sts:ExternalId` (`StringEquals`); on a mismatch or a missing role it answers as
STS does: 403 with an `AccessDenied` XML error. It also
- refuses CloudWatch Logs and Lambda calls that are not signed with credentials it issued
  through AssumeRole (`UnrecognizedClientException`), so the tests prove the actions run as
  the customer's role and not as the server;
- runs Lambda Invoke itself (`POST /2015-03-31/functions/{name}/invocations`), because moto
  needs Docker for that: the function must exist in moto (checked with GetFunction), and its
  Python handler, registered with `add_function`, is called with the event and the client
  context, answering with Lambda's headers (`X-Amz-Function-Error`, `X-Amz-Executed-Version`).
Everything else is forwarded to moto unchanged.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import socket
import threading
import time
import traceback
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree

import boto3
import httpx
import trustme
import uvicorn
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FIRELINE_ACCOUNT = "123456789012"  # moto's default account: the server's own credentials
_STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Aws:
    """moto (at `moto_url`) and its front (at `endpoint_url`, what Fireline is pointed at)."""

    moto_url: str
    endpoint_url: str = ""
    ca: Any = field(default_factory=trustme.CA)  # tool contexts want one; boto3 ignores it
    issued: dict[str, str] = field(default_factory=dict)  # access key id -> role account
    handlers: dict[tuple[str, str], Callable[[Any, Any], Any]] = field(default_factory=dict)
    assume_calls: list[dict[str, str]] = field(default_factory=list)
    # When set, GetCallerIdentity answers this ARN: a role whose credentials turn out to be
    # someone else's, which the health check must refuse.
    identity_override: str | None = None

    def account(self, account_id: str, region: str = "us-east-1") -> Any:
        """A boto3 session acting as an administrator of `account_id`, straight at moto."""
        # A session of its own: the default session is not thread-safe.
        sts = boto3.session.Session().client(
            "sts",
            endpoint_url=self.moto_url,
            region_name=region,
            aws_access_key_id="AKIAMOTOADMIN",
            aws_secret_access_key="admin",
        )
        creds = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/moto-admin", RoleSessionName="moto-admin"
        )["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )

    def add_function(
        self, account_id: str, name: str, source: str, region: str = "us-east-1"
    ) -> str:
        """Creates a Python function in moto and registers its handler for Invoke."""
        session = self.account(account_id, region)
        iam = session.client("iam", endpoint_url=self.moto_url)
        role = f"{name}-exec"
        try:
            iam.get_role(RoleName=role)
        except ClientError:
            iam.create_role(
                RoleName=role,
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("app.py", source)
        created = session.client("lambda", endpoint_url=self.moto_url).create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=f"arn:aws:iam::{account_id}:role/{role}",
            Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )
        namespace: dict[str, Any] = {}
        with zipfile.ZipFile(io.BytesIO(archive.getvalue())) as zipped:
            exec(compile(zipped.read("app.py"), "app.py", "exec"), namespace)
        self.handlers[(account_id, name)] = namespace["handler"]
        return str(created["FunctionArn"])


def _sts_error(code: str, message: str, status: int = 403) -> Response:
    body = (
        f'<ErrorResponse xmlns="{_STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{uuid.uuid4()}</RequestId>"
        "</ErrorResponse>"
    )
    return Response(body, status_code=status, media_type="text/xml")


def _identity(arn: str) -> Response:
    body = (
        f'<GetCallerIdentityResponse xmlns="{_STS_NS}"><GetCallerIdentityResult>'
        f"<Arn>{arn}</Arn><UserId>AROAEXAMPLE:fireline</UserId>"
        f"<Account>{arn.split(':')[4]}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )
    return Response(body, media_type="text/xml")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def trust_allows(policy: dict[str, Any], caller_account: str, external_id: str | None) -> bool:
    """IAM trust-policy evaluation for AssumeRole, for the forms Fireline's text uses."""
    allowed = False
    for statement in _listed(policy.get("Statement", [])):
        actions = _listed(statement.get("Action", []))
        if not any(action in ("sts:AssumeRole", "sts:*", "*") for action in actions):
            continue
        principals = _listed((statement.get("Principal") or {}).get("AWS", []))
        if not any(
            p in ("*", caller_account, f"arn:aws:iam::{caller_account}:root") for p in principals
        ):
            continue
        conditions = statement.get("Condition") or {}
        satisfied = True
        for operator, tests in conditions.items():
            for key, expected in tests.items():
                if operator != "StringEquals" or key != "sts:ExternalId":
                    satisfied = False  # a condition we cannot evaluate never grants access
                elif external_id is None or external_id not in _listed(expected):
                    satisfied = False
        if not satisfied:
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _front(aws: Aws) -> Starlette:
    async def forward(request: Request, body: bytes) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with httpx.AsyncClient(base_url=aws.moto_url, timeout=30) as upstream:
            answer = await upstream.request(
                request.method,
                request.url.path,
                params=request.url.query or None,
                headers=headers,
                content=body,
            )
        passed = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "connection", "server"}
        }
        return Response(answer.content, status_code=answer.status_code, headers=passed)

    def role_policy(role_arn: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:.+/)?([\w+=,.@-]+)", role_arn)
        if match is None:
            return None
        iam = aws.account(match[1]).client("iam", endpoint_url=aws.moto_url)
        try:
            document = iam.get_role(RoleName=match[2])["Role"]["AssumeRolePolicyDocument"]
        except ClientError:
            return None
        return document if isinstance(document, dict) else json.loads(unquote(document))

    async def assume_role(request: Request, body: bytes, form: dict[str, str]) -> Response:
        aws.assume_calls.append(form)
        role_arn = form.get("RoleArn", "")
        denied = _sts_error(
            "AccessDenied",
            f"User: arn:aws:iam::{FIRELINE_ACCOUNT}:user/fireline is not authorized to "
            f"perform: sts:AssumeRole on resource: {role_arn}",
        )
        policy = await asyncio.to_thread(role_policy, role_arn)
        if policy is None or not trust_allows(policy, FIRELINE_ACCOUNT, form.get("ExternalId")):
            return denied
        answer = await forward(request, body)
        if answer.status_code == 200:
            tree = ElementTree.fromstring(bytes(answer.body))
            key = tree.find(f".//{{{_STS_NS}}}AccessKeyId")
            if key is not None and key.text:
                aws.issued[key.text] = role_arn.split(":")[4]
        return answer

    def caller(request: Request) -> tuple[str | None, str | None]:
        match = _CREDENTIAL.search(request.headers.get("authorization", ""))
        if match is None:
            return None, None
        return aws.issued.get(match["key"]), match["service"]

    def get_function(account: str, name: str) -> None:
        functions = aws.account(account).client("lambda", endpoint_url=aws.moto_url)
        functions.get_function(FunctionName=name)

    async def invoke(request: Request, account: str, name: str, body: bytes) -> Response:
        try:
            await asyncio.to_thread(get_function, account, name)
        except ClientError as exc:
            return JSONResponse(
                {"Type": "User", "message": exc.response["Error"]["Message"]},
                status_code=exc.response["ResponseMetadata"]["HTTPStatusCode"],
                headers={"x-amzn-ErrorType": exc.response["Error"]["Code"]},
            )
        handler = aws.handlers[(account, name.split(":")[-1])]
        raw_context = request.headers.get("x-amz-client-context")
        context = SimpleNamespace(
            function_name=name,
            client_context=SimpleNamespace(
                **json.loads(base64.b64decode(raw_context)) if raw_context else {}
            ),
        )
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if request.headers.get("x-amz-invocation-type") == "Event":
            handler(json.loads(body or b"null"), context)
            return Response(status_code=202, headers=headers)
        try:
            result = handler(json.loads(body or b"null"), context)
        except Exception as exc:  # the function's own failure, reported as Lambda does
            headers["X-Amz-Function-Error"] = "Unhandled"
            result = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_exception(exc)[-1:],
            }
        return Response(json.dumps(result), headers=headers, media_type="application/json")

    async def handle(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if form.get("Action") == "AssumeRole":
                return await assume_role(request, body, form)
            if form.get("Action") == "GetCallerIdentity" and aws.identity_override:
                return _identity(aws.identity_override)
        account, service = caller(request)
        if service in ("logs", "lambda"):
            if account is None:
                return JSONResponse(
                    {
                        "__type": "UnrecognizedClientException",
                        "message": "The security token included in the request is invalid.",
                    },
                    status_code=403,
                )
            if service == "lambda" and (match := _INVOKE.match(request.url.path)):
                return await invoke(request, account, unquote(match["name"]), body)
        return await forward(request, body)

    return Starlette(
        routes=[
            Route("/{path:path}", handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
        ]
    )


@contextmanager
def serve() -> Iterator[Aws]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = Aws(moto_url=f"http://{host}:{port}")
    # moto keeps its accounts in process-wide memory: each server starts from none.
    urllib.request.urlopen(urllib.request.Request(f"{aws.moto_url}/moto-api/reset",
                                                  method="POST"), timeout=10).close()
    front_port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            _front(aws), host="127.0.0.1", port=front_port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("AWS front did not start")
        time.sleep(0.02)
    aws.endpoint_url = f"http://127.0.0.1:{front_port}"
    try:
        yield aws
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        moto.stop()
