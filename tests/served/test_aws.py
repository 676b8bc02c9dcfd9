"""AWS through `fireline serve`: boto3 in the served process (uvicorn on uvloop) against moto
behind the trust-policy-enforcing STS front of `tests/integrations/fakes/aws.py`.

The customer's role is created only after the served process has issued the external ID and
the trust policy (`POST /api/workflows/integrations/aws/external_ids`), as a customer would
paste them. The server's own credentials come from the standard boto chain — here the
environment of the process — and are used for AssumeRole only: the front refuses CloudWatch
Logs and Lambda calls not signed with credentials it issued through AssumeRole, so a
succeeding action ran as the customer's role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.integrations.fakes import aws as fake
from tests.integrations.test_aws import CUSTOMER, GROUP, TRIAGE
from tests.served.conftest import base_env
from tests.served.harness import Served

# The customer account, its log group and the Lambda source the in-process tests use.
ROLE_NAME = "Fireline-IncidentWorkflows-Role"
ROLE = f"arn:aws:iam::{CUSTOMER}:role/incident/{ROLE_NAME}"
NOW = datetime.now(UTC)

# The boto chain of the served process: its environment only, never a profile, a config file
# or instance metadata of the machine running the tests.
_CHAIN_VARIABLES = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_LOGS",
    "AWS_ENDPOINT_URL_LAMBDA",
)


@dataclass
class World:
    aws: fake.Aws
    served: Served
    external_id: str  # the ID the customer's role trusts


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _issue(served: Served) -> dict[str, str]:
    issued = served.http.post("/api/workflows/integrations/aws/external_ids")
    assert issued.status_code == 201, issued.text
    setup: dict[str, str] = issued.json()
    assert setup["account_id"] == fake.FIRELINE_ACCOUNT, setup
    return setup


def _seed_customer(aws: fake.Aws, trust_policy: str) -> None:
    session = aws.account(CUSTOMER)
    iam = session.client("iam", endpoint_url=aws.moto_url)
    iam.create_role(Path="/incident/", RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust_policy)
    logs = session.client("logs", endpoint_url=aws.moto_url)
    logs.create_log_group(logGroupName=GROUP)
    events = {
        "web-1": [
            (NOW - timedelta(hours=3), "ERROR payment gateway timeout (old)"),
            (NOW - timedelta(minutes=9), "INFO request ok"),
            (NOW - timedelta(minutes=8), "ERROR payment gateway timeout"),
        ],
        "web-2": [
            (NOW - timedelta(minutes=6), "ERROR database connection refused"),
            (NOW - timedelta(minutes=5), "INFO healthy"),
        ],
    }
    for stream, lines in events.items():
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP, logStreamName=stream,
            logEvents=[{"timestamp": _millis(at), "message": text} for at, text in lines])
    aws.add_function(CUSTOMER, "triage", TRIAGE)


@pytest.fixture(scope="module")
def world(served_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    nowhere = str(Path(tmp_path_factory.mktemp("served-aws")) / "none")
    with pytest.MonkeyPatch.context() as patch, fake.serve() as aws:
        # `Served.start` copies this process's environment: keep any ambient AWS setup out.
        for name in _CHAIN_VARIABLES:
            patch.delenv(name, raising=False)
        env = {
            **base_env(served_ca, {}),
            "FIRELINE_AWS_ACCOUNT_ID": fake.FIRELINE_ACCOUNT,
            "FIRELINE_AWS_ENDPOINT_URL": aws.endpoint_url,
            "AWS_ACCESS_KEY_ID": "AKIAFIRELINESERVER01",
            "AWS_SECRET_ACCESS_KEY": "server-secret-access-key",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        with Served.start(env) as served:
            setup = _issue(served)
            policy = json.loads(setup["trust_policy"])
            assert policy["Statement"][0]["Condition"] == {
                "StringEquals": {"sts:ExternalId": setup["external_id"]}}
            _seed_customer(aws, setup["trust_policy"])
            yield World(aws=aws, served=served, external_id=setup["external_id"])


def _create(world: World, name: str, role: str, external_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "configuration": {"role_arn": role, "default_region": "us-east-1"},
        "secrets": {}}
    if external_id is not None:
        body["external_id"] = external_id
    created = world.served.create_connection("aws", body)
    assert created.status_code == 201, f"{created.text}\n{world.served.log()}"
    connection: dict[str, Any] = created.json()["connection"]
    return connection


def _assume_calls(world: World, external_id: str) -> list[dict[str, str]]:
    return [c for c in world.aws.assume_calls if c.get("ExternalId") == external_id]


def test_aws_connects_with_the_issued_external_id_runs_every_action_and_is_checked(
    world: World,
) -> None:
    served = world.served
    connection = _create(world, "AWS (served)", ROLE, world.external_id)
    assert connection["external_id"] == world.external_id
    assert connection["health"]["status"] == "Healthy", (connection["health"], served.log())
    assert connection["health"]["health_message"] == (
        f"Assumed role {ROLE_NAME} in account {CUSTOMER}")
    # AWS-2: the served process assumed the role with the server-issued external ID.
    call = _assume_calls(world, world.external_id)[-1]
    assert call["RoleArn"] == ROLE
    assert call["RoleSessionName"] == f"fireline-{connection['id']}"
    assert call["DurationSeconds"] == "900"

    run = served.run_workflow({
        "name": "every aws action",
        "steps": [
            {"id": "logs", "action": "aws.query_cloudwatch_logs", "connection": connection["id"],
             "with": {"log_group_name": GROUP, "filter_pattern": "ERROR"}},
            {"id": "triage", "action": "aws.invoke_lambda", "connection": connection["id"],
             "with": {"function_name": "triage", "payload": {"service": "checkout"}}},
            {"id": "events", "action": "aws.get_cloudwatch_log_events",
             "connection": connection["id"],
             "with": {"log_group_name": GROUP, "log_stream_name": "web-1", "limit": 2}},
            {"id": "functions", "action": "aws.list_lambda_functions",
             "connection": connection["id"], "with": {}},
            {"id": "function", "action": "aws.describe_lambda_function",
             "connection": connection["id"], "with": {"function_name": "triage"}},
        ],
    }, title="aws from outside")
    assert run["status"] == "succeeded", (run, served.log())
    steps = {step["id"]: step for step in run["steps"]}
    assert {step["status"] for step in steps.values()} == {"succeeded"}, steps

    logs = steps["logs"]["output"]
    assert [(e["log_stream_name"], e["message"]) for e in logs["events"]] == [
        ("web-1", "ERROR payment gateway timeout"),
        ("web-2", "ERROR database connection refused"),
    ]
    assert (logs["count"], logs["truncated"]) == (2, False)
    assert datetime.fromisoformat(logs["events"][0]["timestamp"]) == datetime.fromtimestamp(
        _millis(NOW - timedelta(minutes=8)) / 1000, tz=UTC)

    invoked = steps["triage"]["output"]
    assert (invoked["status_code"], invoked["function_error"], invoked["executed_version"]) == (
        200, None, "$LATEST")
    # WF-5: the step's idempotency key reached the function in its client context.
    assert invoked["payload"] == {
        "service": "checkout", "restarted": "checkout-1",
        "idempotency_key": steps["triage"]["idempotency_key"]}
    assert steps["triage"]["idempotency_key"] == f"{run['id']}:triage"

    # GetLogEvents reads the newest events first; they come back oldest first.
    events = steps["events"]["output"]
    assert [e["message"] for e in events["events"]] == [
        "INFO request ok", "ERROR payment gateway timeout"]
    assert (events["count"], events["truncated"]) == (2, True)
    (listed,) = steps["functions"]["output"]["functions"]
    assert listed["function_arn"] == f"arn:aws:lambda:us-east-1:{CUSTOMER}:function:triage"
    described = steps["function"]["output"]
    assert (described["function"]["function_name"], described["function"]["runtime"],
            described["function"]["state"]) == ("triage", "python3.12", "Active")
    assert described["tags"] == {} and described["reserved_concurrent_executions"] is None

    periodic = served.wait_for_periodic_check("aws", connection["id"])
    assert periodic["is_healthy"] is True, periodic
    assert periodic["health_message"] == f"Assumed role {ROLE_NAME} in account {CUSTOMER}"


@pytest.mark.parametrize(
    ("case", "role"),
    [
        ("another external ID", ROLE),
        ("a missing role", f"arn:aws:iam::{CUSTOMER}:role/Deleted"),
    ],
)
def test_aws_a_role_that_does_not_trust_the_connection_is_unhealthy(
    world: World, case: str, role: str
) -> None:
    # An ID this server issued (so the connection is accepted), but not the one the role
    # trusts. Each connection has its own: an external ID is unique to one connection.
    external_id = _issue(world.served)["external_id"]
    connection = _create(world, f"AWS with {case}", role, external_id)
    health = connection["health"]
    assert health["status"] == "Unhealthy", (health, world.served.log())
    assert health["is_healthy"] is False
    assert health["health_message"].startswith("AssumeRole: AccessDenied: "), health
    assert f"not authorized to perform: sts:AssumeRole on resource: {role}" in (
        health["health_message"])
    assert any(c["RoleArn"] == role for c in _assume_calls(world, external_id))
    checks = world.served.health_checks("aws", connection["id"])
    assert checks and checks[0]["is_healthy"] is False, checks


def test_aws_an_external_id_the_server_did_not_issue_is_refused(world: World) -> None:
    # AWS-1: the user cannot pick the external ID; it must be one this server issued.
    refused = world.served.create_connection("aws", {
        "name": "AWS with a chosen ID",
        "configuration": {"role_arn": ROLE, "default_region": "us-east-1"}, "secrets": {},
        "external_id": "0123456789abcdef0123456789abcdef"})
    assert 400 <= refused.status_code < 500, refused.text
    assert "not an external ID issued by Fireline" in refused.text


def test_aws1_an_external_id_serves_one_connection_only(world: World) -> None:
    first = _issue(world.served)["external_id"]
    _create(world, "first with its ID", ROLE, first)
    again = world.served.create_connection("aws", {
        "name": "second with the same ID",
        "configuration": {"role_arn": ROLE, "default_region": "us-east-1"}, "secrets": {},
        "external_id": first})
    assert again.status_code == 409, again.text
    assert "external ID is already used" in again.json()["error"]["message"]
