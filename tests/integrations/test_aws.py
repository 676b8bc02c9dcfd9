from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from fireline.connections import external_ids
from fireline.core.errors import CredentialError, EgressDenied, PermanentError, TransientError
from fireline.integrations.aws import INTEGRATION
from fireline.integrations.aws.actions import list_functions, read_stream
from fireline.integrations.aws.client import ENDPOINT_SETTING, make_client
from fireline.integrations.aws.schema import (
    DescribeLambdaFunctionInput,
    DescribeLambdaFunctionOutput,
    GetLogEventsInput,
    InvokeLambdaInput,
    InvokeLambdaOutput,
    ListLambdaFunctionsInput,
    ListLambdaFunctionsOutput,
    QueryCloudwatchLogsInput,
    QueryCloudwatchLogsOutput,
)
from fireline.integrations.aws.setup import setup_info
from fireline.integrations.base import ToolContext
from fireline.vault.keyring import Keyring, decode_key
from tests.integrations.fakes import aws as fake
from tests.integrations.support import tool_context

KEYRING = Keyring((decode_key(base64.b64encode(bytes(32)).decode(), source="test"),))

CUSTOMER = "111122223333"
EXTERNAL_ID = "da399432e33cd15616a59a08f523ac65"
ROLE = f"arn:aws:iam::{CUSTOMER}:role/incident/Fireline-IncidentWorkflows-Role"
GROUP = "/app/checkout"
NOW = datetime.now(UTC)
# A function's environment often holds credentials: its values must never reach an output.
DB_PASSWORD = "db-password-7d1f0c9b2e"

TRIAGE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("cannot triage " + event["service"])
    return {
        "service": event["service"],
        "restarted": event["service"] + "-1",
        "idempotency_key": context.client_context.custom["idempotency_key"],
    }
"""


@pytest.fixture(autouse=True)
def _server_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # The server's own credentials come from the standard boto chain; here, the environment.
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFIRELINESERVER01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-secret-access-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@pytest.fixture(scope="module")
def aws() -> Iterator[fake.Aws]:
    with fake.serve() as aws:
        session = aws.account(CUSTOMER)
        iam = session.client("iam", endpoint_url=aws.moto_url)
        policy = json.loads(setup_info(fake.FIRELINE_ACCOUNT, EXTERNAL_ID)["trust_policy"])
        iam.create_role(
            Path="/incident/",
            RoleName="Fireline-IncidentWorkflows-Role",
            AssumeRolePolicyDocument=json.dumps(policy),
        )
        other = json.loads(setup_info("999999999999", EXTERNAL_ID)["trust_policy"])
        iam.create_role(RoleName="Trusts-Someone-Else", AssumeRolePolicyDocument=json.dumps(other))
        logs = session.client("logs", endpoint_url=aws.moto_url)
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_group(logGroupName=GROUP + "-canary")
        events = {
            "web-1": [
                (NOW - timedelta(hours=3), "ERROR payment gateway timeout (old)"),
                (NOW - timedelta(minutes=9), "INFO request ok"),
                (NOW - timedelta(minutes=8), "ERROR payment gateway timeout"),
                (NOW - timedelta(minutes=7), "WARN retrying payment"),
            ],
            "web-2": [
                (NOW - timedelta(minutes=6), "ERROR database connection refused"),
                (NOW - timedelta(minutes=5), "INFO healthy"),
            ],
        }
        for stream, lines in events.items():
            logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
            logs.put_log_events(
                logGroupName=GROUP,
                logStreamName=stream,
                logEvents=[{"timestamp": _millis(at), "message": text} for at, text in lines],
            )
        aws.add_function(CUSTOMER, "triage", TRIAGE)
        arn = aws.add_function(CUSTOMER, "checkout-api", TRIAGE)
        functions = session.client("lambda", endpoint_url=aws.moto_url)
        functions.update_function_configuration(
            FunctionName="checkout-api",
            Description="Checkout HTTP API",
            MemorySize=512,
            Timeout=15,
            Environment={"Variables": {"STAGE": "prod", "DB_PASSWORD": DB_PASSWORD}},
        )
        functions.tag_resource(Resource=arn, Tags={"team": "payments"})
        functions.put_function_concurrency(
            FunctionName="checkout-api", ReservedConcurrentExecutions=20
        )
        yield aws


def _ctx(
    aws: fake.Aws,
    *,
    role: str = ROLE,
    external_id: str | None = EXTERNAL_ID,
    endpoint: str | None = None,
    key: str | None = "run-1:restart",
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"role_arn": role, "default_region": "us-east-1"},
        secrets={},
        routes={},  # boto3 does its own HTTP, to the endpoint override
        ca=aws.ca,
        external_id=external_id,
        idempotency_key=key,
        endpoints={ENDPOINT_SETTING: endpoint or aws.endpoint_url},
    )


async def test_aws2_verify_assumes_the_role_with_the_external_id(aws: fake.Aws) -> None:
    message = await INTEGRATION.verify(_ctx(aws))
    assert message == f"Assumed role Fireline-IncidentWorkflows-Role in account {CUSTOMER}"
    call = aws.assume_calls[-1]
    assert call["RoleArn"] == ROLE
    assert call["ExternalId"] == EXTERNAL_ID
    assert call["RoleSessionName"] == "fireline-PTESTCONNECTION"
    assert call["DurationSeconds"] == "900"


async def test_aws2_wrong_external_id_is_unhealthy(aws: fake.Aws) -> None:
    with pytest.raises(CredentialError, match="AccessDenied"):
        await INTEGRATION.verify(_ctx(aws, external_id=external_ids.issue(KEYRING)))


async def test_aws2_missing_role_is_unhealthy(aws: fake.Aws) -> None:
    with pytest.raises(CredentialError, match="AccessDenied"):
        await INTEGRATION.verify(_ctx(aws, role=f"arn:aws:iam::{CUSTOMER}:role/Deleted"))


async def test_aws2_trust_policy_for_another_account_is_unhealthy(aws: fake.Aws) -> None:
    with pytest.raises(CredentialError, match="not authorized"):
        await INTEGRATION.verify(
            _ctx(aws, role=f"arn:aws:iam::{CUSTOMER}:role/Trusts-Someone-Else")
        )


@pytest.mark.parametrize(
    "identity",
    [
        "arn:aws:sts::444455556666:assumed-role/Fireline-IncidentWorkflows-Role/fireline-x",
        f"arn:aws:sts::{CUSTOMER}:assumed-role/Some-Other-Role/fireline-x",
    ],
)
async def test_aws2_caller_identity_must_be_the_role(aws: fake.Aws, identity: str) -> None:
    aws.identity_override = identity
    try:
        with pytest.raises(CredentialError, match="is not role Fireline-IncidentWorkflows-Role"):
            await INTEGRATION.verify(_ctx(aws))
    finally:
        aws.identity_override = None


async def test_aws1_a_connection_without_external_id_never_calls_aws(aws: fake.Aws) -> None:
    before = len(aws.assume_calls)
    with pytest.raises(PermanentError, match="external ID"):
        await INTEGRATION.verify(_ctx(aws, external_id=None))
    assert len(aws.assume_calls) == before


async def test_verify_unreachable_is_transient(aws: fake.Aws) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(TransientError, match="AssumeRole"):
        await INTEGRATION.verify(_ctx(aws, endpoint=closed))


async def test_verify_without_server_credentials_is_a_clear_error(
    aws: fake.Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PermanentError, match="no AWS credentials"):
        await INTEGRATION.verify(_ctx(aws))


async def _logs(aws: fake.Aws, **data: Any) -> QueryCloudwatchLogsOutput:
    action = INTEGRATION.action("query_cloudwatch_logs")
    assert action is not None and action.idempotent
    output = await action.run(_ctx(aws), QueryCloudwatchLogsInput.model_validate(data))
    assert isinstance(output, QueryCloudwatchLogsOutput)
    return output


async def test_query_logs_with_a_filter_pattern(aws: fake.Aws) -> None:
    output = await _logs(aws, log_group_name=GROUP, filter_pattern="ERROR")
    assert [(e.log_stream_name, e.message) for e in output.events] == [
        ("web-1", "ERROR payment gateway timeout"),
        ("web-2", "ERROR database connection refused"),
    ]
    assert output.count == 2 and output.truncated is False
    assert output.events[0].timestamp == datetime.fromtimestamp(
        _millis(NOW - timedelta(minutes=8)) / 1000, tz=UTC
    )
    phrase = await _logs(aws, log_group_name=GROUP, filter_pattern='"payment gateway"')
    assert [e.message for e in phrase.events] == ["ERROR payment gateway timeout"]


async def test_query_logs_time_window(aws: fake.Aws) -> None:
    output = await _logs(
        aws,
        log_group_name=GROUP,
        filter_pattern="ERROR",
        start_time=(NOW - timedelta(hours=4)).isoformat(),
        end_time=(NOW - timedelta(hours=2)).isoformat(),
    )
    assert [e.message for e in output.events] == ["ERROR payment gateway timeout (old)"]


async def test_query_logs_limit_stops_paging_and_says_so(aws: fake.Aws) -> None:
    output = await _logs(aws, log_group_name=GROUP, limit=2)
    assert output.count == 2 and output.truncated is True
    assert [e.message for e in output.events] == [
        "INFO request ok",
        "ERROR payment gateway timeout",
    ]


async def test_query_logs_one_stream(aws: fake.Aws) -> None:
    read = await _logs(aws, log_group_name=GROUP, log_stream_name="web-2")
    assert [e.message for e in read.events] == [
        "ERROR database connection refused",
        "INFO healthy",
    ]
    assert {e.log_stream_name for e in read.events} == {"web-2"}
    filtered = await _logs(
        aws, log_group_name=GROUP, log_stream_name="web-1", filter_pattern="WARN"
    )
    assert [e.message for e in filtered.events] == ["WARN retrying payment"]


async def test_query_logs_unknown_group_is_a_clear_error(aws: fake.Aws) -> None:
    # `/app/checkout-canary` exists, so a prefix match alone would wrongly accept `/app/check`.
    with pytest.raises(PermanentError, match="does not exist"):
        await _logs(aws, log_group_name="/app/check")


def test_query_logs_input_validation() -> None:
    with pytest.raises(ValidationError, match="before"):
        QueryCloudwatchLogsInput(
            log_group_name=GROUP, start_time=NOW, end_time=NOW - timedelta(minutes=1)
        )
    with pytest.raises(ValidationError):
        QueryCloudwatchLogsInput(log_group_name="bad group name")
    with pytest.raises(ValidationError):
        QueryCloudwatchLogsInput(log_group_name=GROUP, limit=0)


async def _invoke(aws: fake.Aws, **data: Any) -> InvokeLambdaOutput:
    action = INTEGRATION.action("invoke_lambda")
    assert action is not None and action.idempotent is False
    output = await action.run(_ctx(aws), InvokeLambdaInput.model_validate(data))
    assert isinstance(output, InvokeLambdaOutput)
    return output


async def test_invoke_lambda_returns_the_functions_payload(aws: fake.Aws) -> None:
    output = await _invoke(aws, function_name="triage", payload={"service": "checkout"})
    assert output.status_code == 200
    assert output.function_error is None
    assert output.executed_version == "$LATEST"
    # WF-5: the run's idempotency key reaches the function in its client context.
    assert output.payload == {
        "service": "checkout",
        "restarted": "checkout-1",
        "idempotency_key": "run-1:restart",
    }


async def test_invoke_lambda_reports_the_function_error(aws: fake.Aws) -> None:
    output = await _invoke(aws, function_name="triage", payload={"service": "db", "fail": True})
    assert output.status_code == 200
    assert output.function_error == "Unhandled"
    assert output.payload["errorMessage"] == "cannot triage db"
    assert output.payload["errorType"] == "ValueError"


async def test_invoke_lambda_asynchronously(aws: fake.Aws) -> None:
    output = await _invoke(
        aws, function_name="triage", payload={"service": "x"}, invocation_type="Event"
    )
    assert (output.status_code, output.payload) == (202, None)


async def test_invoke_missing_function_is_a_clear_error(aws: fake.Aws) -> None:
    with pytest.raises(PermanentError, match="ResourceNotFoundException"):
        await _invoke(aws, function_name="does-not-exist", payload={})


def test_invoke_input_validation() -> None:
    assert InvokeLambdaInput(
        function_name=f"arn:aws:lambda:us-east-1:{CUSTOMER}:function:triage"
    ).function_name.endswith("triage")
    with pytest.raises(ValidationError):
        InvokeLambdaInput(function_name="bad name")
    with pytest.raises(ValidationError):
        InvokeLambdaInput.model_validate({"function_name": "f", "invocation_type": "DryRun"})


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/PagerDuty-IncidentWorkflows-Role",
        "arn:aws:iam::123456789012:role/team/ops/Fireline",
        "arn:aws-us-gov:iam::123456789012:role/Fireline",
    ],
)
def test_role_arn_accepts_role_arns(arn: str) -> None:
    region = "us-gov-west-1" if "us-gov" in arn else "eu-west-1"
    config = INTEGRATION.config.model_validate({"role_arn": arn, "default_region": region})
    assert config.account_id == "123456789012"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/ Fireline",
        "arn:aws:iam::12345678901:role/Fireline",
        "arn:aws:iam::123456789012:user/Fireline",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:sts::123456789012:assumed-role/Fireline/x",
        "123456789012:role/Fireline",
    ],
)
def test_role_arn_rejects_other_values(arn: str) -> None:
    with pytest.raises(ValidationError, match="IAM role ARN"):
        INTEGRATION.config.model_validate({"role_arn": arn, "default_region": "us-east-1"})


def test_region_is_a_closed_set_in_the_roles_partition() -> None:
    with pytest.raises(ValidationError, match="us-east-1"):
        INTEGRATION.config.model_validate({"role_arn": ROLE, "default_region": "mars-north-1"})
    with pytest.raises(ValidationError, match="partition"):
        INTEGRATION.config.model_validate({"role_arn": ROLE, "default_region": "cn-north-1"})


@pytest.mark.parametrize(
    ("region", "suffix"),
    [
        ("us-east-1", "us-east-1.amazonaws.com"),
        ("eu-central-2", "eu-central-2.amazonaws.com"),
        ("ap-southeast-7", "ap-southeast-7.amazonaws.com"),
        ("us-gov-west-1", "us-gov-west-1.amazonaws.com"),
        ("cn-north-1", "cn-north-1.amazonaws.com.cn"),
    ],
)
def test_net6_destination_is_the_regions_endpoints(region: str, suffix: str) -> None:
    partition = {"cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"}.get(region, "aws")
    config = INTEGRATION.config.model_validate(
        {"role_arn": f"arn:{partition}:iam::{CUSTOMER}:role/R", "default_region": region}
    )
    destination = INTEGRATION.destination(config)
    assert destination.hosts == (f"sts.{suffix}", f"logs.{suffix}", f"lambda.{suffix}")
    assert destination.ports == (443,)


def test_integration_declaration() -> None:
    assert INTEGRATION.auth == "aws_role"
    assert INTEGRATION.verify_blocks_save is False
    assert INTEGRATION.credential_fields == ("role_arn", "default_region")
    assert INTEGRATION.secrets.model_fields == {}


def test_aws1_external_ids_are_random_32_hex_and_issued_by_this_server() -> None:
    ids = {external_ids.issue(KEYRING) for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert all(external_ids.was_issued(KEYRING, value) for value in ids)
    chosen = "0123456789abcdef0123456789abcdef"  # a user may not pick their own
    assert not external_ids.was_issued(KEYRING, chosen)


def test_setup_info_matches_the_texts_trust_policy() -> None:
    info = setup_info("210987654321", EXTERNAL_ID)
    assert info["account_id"] == "210987654321"
    assert info["external_id"] == EXTERNAL_ID
    assert json.loads(info["trust_policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    assert info["trust_policy"].startswith('{\n  "Version": "2012-10-17"')


def test_fake_trust_evaluation_is_strict() -> None:
    policy = json.loads(setup_info(fake.FIRELINE_ACCOUNT, "abc")["trust_policy"])
    assert fake.trust_allows(policy, fake.FIRELINE_ACCOUNT, "abc")
    assert not fake.trust_allows(policy, fake.FIRELINE_ACCOUNT, None)
    assert not fake.trust_allows(policy, fake.FIRELINE_ACCOUNT, "abd")
    assert not fake.trust_allows(policy, "999999999999", "abc")


def test_net6_clients_use_the_regions_endpoint_and_refuse_any_other_host() -> None:
    session = boto3.session.Session()
    logs = make_client(session, "logs", "eu-west-1", None)
    assert logs.meta.endpoint_url == "https://logs.eu-west-1.amazonaws.com"
    assert make_client(session, "sts", "cn-north-1", None).meta.endpoint_url == (
        "https://sts.cn-north-1.amazonaws.com.cn"
    )

    def divert(request: Any, **_: Any) -> None:
        request.url = request.url.replace("logs.eu-west-1.amazonaws.com", "evil.example.com")

    logs.meta.events.register("before-sign", divert)
    with pytest.raises(EgressDenied, match=r"evil\.example\.com"):
        logs.describe_log_groups()


def test_integration_actions_and_their_idempotency() -> None:
    assert {(a.name, a.title, a.idempotent) for a in INTEGRATION.actions} == {
        ("query_cloudwatch_logs", "Query CloudWatch Logs", True),
        ("get_cloudwatch_log_events", "Get CloudWatch Log Events", True),
        ("invoke_lambda", "Invoke Lambda Function", False),
        ("list_lambda_functions", "List Lambda Functions", True),
        ("describe_lambda_function", "Describe Lambda Function", True),
    }


async def _events(aws: fake.Aws, **data: Any) -> QueryCloudwatchLogsOutput:
    action = INTEGRATION.action("get_cloudwatch_log_events")
    assert action is not None
    output = await action.run(_ctx(aws), GetLogEventsInput.model_validate(data))
    assert isinstance(output, QueryCloudwatchLogsOutput)
    return output


async def test_get_log_events_reads_the_newest_events_by_default(aws: fake.Aws) -> None:
    newest = await _events(aws, log_group_name=GROUP, log_stream_name="web-1", limit=2)
    assert [e.message for e in newest.events] == [
        "ERROR payment gateway timeout",
        "WARN retrying payment",
    ]
    assert (newest.count, newest.truncated) == (2, True)
    assert {e.log_stream_name for e in newest.events} == {"web-1"}
    everything = await _events(aws, log_group_name=GROUP, log_stream_name="web-1")
    assert [e.message for e in everything.events] == [
        "ERROR payment gateway timeout (old)",
        "INFO request ok",
        "ERROR payment gateway timeout",
        "WARN retrying payment",
    ]
    assert everything.truncated is False


async def test_get_log_events_from_head_and_in_a_window(aws: fake.Aws) -> None:
    oldest = await _events(
        aws, log_group_name=GROUP, log_stream_name="web-1", limit=2, start_from_head=True
    )
    assert [e.message for e in oldest.events] == [
        "ERROR payment gateway timeout (old)",
        "INFO request ok",
    ]
    window = await _events(
        aws,
        log_group_name=GROUP,
        log_stream_name="web-1",
        start_time=(NOW - timedelta(minutes=10)).isoformat(),
        end_time=(NOW - timedelta(minutes=7, seconds=30)).replace(tzinfo=None).isoformat(),
    )
    assert [e.message for e in window.events] == [
        "INFO request ok",
        "ERROR payment gateway timeout",
    ]
    assert window.events[0].timestamp == datetime.fromtimestamp(
        _millis(NOW - timedelta(minutes=9)) / 1000, tz=UTC
    )


async def test_get_log_events_for_a_missing_stream_is_a_clear_error(aws: fake.Aws) -> None:
    with pytest.raises(PermanentError, match="ResourceNotFoundException"):
        await _events(aws, log_group_name=GROUP, log_stream_name="web-9")


def _stubbed(service: str) -> tuple[Any, Stubber]:
    session = boto3.session.Session(
        aws_access_key_id="AKIASTUB", aws_secret_access_key="stub", region_name="us-east-1"
    )
    stubbed = session.client(service, region_name="us-east-1")
    return stubbed, Stubber(stubbed)


def _page_event(minute: int) -> dict[str, Any]:
    at = _millis(NOW - timedelta(minutes=60 - minute))
    return {"timestamp": at, "message": f"event {minute}", "ingestionTime": at}


def test_get_log_events_pages_backwards_and_returns_oldest_first() -> None:
    # CloudWatch may answer fewer events than asked (1 MB a page): the backward token leads
    # to older pages until it repeats.
    logs, stub = _stubbed("logs")
    asked = {"logGroupName": GROUP, "logStreamName": "web-1", "startFromHead": False}
    stub.add_response(
        "get_log_events",
        {
            "events": [_page_event(3), _page_event(4)],
            "nextBackwardToken": "b/2",
            "nextForwardToken": "f/4",
        },
        {**asked, "limit": 10},
    )
    stub.add_response(
        "get_log_events",
        {
            "events": [_page_event(1), _page_event(2)],
            "nextBackwardToken": "b/0",
            "nextForwardToken": "f/2",
        },
        {**asked, "limit": 8, "nextToken": "b/2"},
    )
    stub.add_response(
        "get_log_events",
        {"events": [], "nextBackwardToken": "b/0", "nextForwardToken": "f/0"},
        {**asked, "limit": 6, "nextToken": "b/0"},
    )
    with stub:
        events, truncated = read_stream(
            logs, GROUP, "web-1", start=None, end=None, limit=10, from_head=False
        )
    stub.assert_no_pending_responses()
    assert [e.message for e in events] == ["event 1", "event 2", "event 3", "event 4"]
    assert truncated is False


def _summary(name: str) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "FunctionArn": f"arn:aws:lambda:us-east-1:{CUSTOMER}:function:{name}",
        "Runtime": "python3.12",
        "Environment": {"Variables": {"TOKEN": DB_PASSWORD}},
    }


def test_list_functions_follows_next_marker_up_to_the_limit() -> None:
    functions, stub = _stubbed("lambda")
    stub.add_response(
        "list_functions",
        {"Functions": [_summary("a"), _summary("b")], "NextMarker": "m-1"},
        {"MaxItems": 3},
    )
    stub.add_response(
        "list_functions",
        {"Functions": [_summary("c")], "NextMarker": "m-2"},
        {"MaxItems": 1, "Marker": "m-1"},
    )
    with stub:
        found, truncated = list_functions(functions, 3)
    stub.assert_no_pending_responses()
    assert [f.function_name for f in found] == ["a", "b", "c"]
    assert truncated is True  # the region has more after m-2
    assert found[0].environment_variable_names == ["TOKEN"]
    assert DB_PASSWORD not in str([f.model_dump() for f in found])

    functions, stub = _stubbed("lambda")
    stub.add_response("list_functions", {"Functions": [_summary("a")]}, {"MaxItems": 50})
    with stub:
        assert list_functions(functions, 120) == ([found[0]], False)


def test_list_functions_throttled_is_transient() -> None:
    functions, stub = _stubbed("lambda")
    stub.add_client_error(
        "list_functions", service_error_code="TooManyRequestsException", http_status_code=429
    )
    with stub, pytest.raises(TransientError, match="ListFunctions: TooManyRequestsException"):
        list_functions(functions, 10)


async def _lambda(aws: fake.Aws, name: str, model: Any, **data: Any) -> Any:
    action = INTEGRATION.action(name)
    assert action is not None and action.idempotent is True
    return await action.run(_ctx(aws), model.model_validate(data))


async def test_list_lambda_functions_as_the_role(aws: fake.Aws) -> None:
    listed = await _lambda(aws, "list_lambda_functions", ListLambdaFunctionsInput)
    assert isinstance(listed, ListLambdaFunctionsOutput)
    by_name = {f.function_name: f for f in listed.functions}
    assert set(by_name) == {"triage", "checkout-api"}
    assert (listed.count, listed.truncated) == (2, False)
    api = by_name["checkout-api"]
    assert api.function_arn == f"arn:aws:lambda:us-east-1:{CUSTOMER}:function:checkout-api"
    assert (api.runtime, api.handler, api.memory_size, api.timeout) == (
        "python3.12",
        "app.handler",
        512,
        15,
    )
    assert api.environment_variable_names == ["DB_PASSWORD", "STAGE"]
    assert DB_PASSWORD not in listed.model_dump_json()
    one = await _lambda(aws, "list_lambda_functions", ListLambdaFunctionsInput, limit=1)
    assert (one.count, one.truncated) == (1, True)


async def test_describe_lambda_function(aws: fake.Aws) -> None:
    described = await _lambda(
        aws, "describe_lambda_function", DescribeLambdaFunctionInput, function_name="checkout-api"
    )
    assert isinstance(described, DescribeLambdaFunctionOutput)
    function = described.function
    assert (function.function_name, function.description) == ("checkout-api", "Checkout HTTP API")
    assert function.role == f"arn:aws:iam::{CUSTOMER}:role/checkout-api-exec"
    assert function.state == "Active"
    assert function.environment_variable_names == ["DB_PASSWORD", "STAGE"]
    assert described.tags == {"team": "payments"}
    assert described.reserved_concurrent_executions == 20
    # Neither an environment value nor the code's presigned download link is output.
    dumped = described.model_dump_json()
    assert DB_PASSWORD not in dumped and "Location" not in dumped and "s3" not in dumped
    latest = await _lambda(
        aws,
        "describe_lambda_function",
        DescribeLambdaFunctionInput,
        function_name=f"arn:aws:lambda:us-east-1:{CUSTOMER}:function:triage",
        qualifier="$LATEST",
    )
    assert (latest.function.function_name, latest.tags) == ("triage", {})


async def test_describe_missing_function_is_a_clear_error(aws: fake.Aws) -> None:
    with pytest.raises(PermanentError, match="GetFunction: ResourceNotFoundException"):
        await _lambda(
            aws, "describe_lambda_function", DescribeLambdaFunctionInput, function_name="gone"
        )


async def test_lambda_reads_need_the_roles_credentials(aws: fake.Aws) -> None:
    # A wrong external ID stops at AssumeRole: nothing is listed with the server's own keys.
    ctx = _ctx(aws, external_id=external_ids.issue(KEYRING))
    action = INTEGRATION.action("list_lambda_functions")
    assert action is not None
    with pytest.raises(CredentialError, match="AssumeRole: AccessDenied"):
        await action.run(ctx, ListLambdaFunctionsInput())


def test_new_read_inputs_validation() -> None:
    with pytest.raises(ValidationError, match="before"):
        GetLogEventsInput(
            log_group_name=GROUP, log_stream_name="web-1", start_time=NOW, end_time=NOW
        )
    with pytest.raises(ValidationError, match="log_stream_name"):
        GetLogEventsInput.model_validate({"log_group_name": GROUP})
    with pytest.raises(ValidationError):
        GetLogEventsInput(log_group_name=GROUP, log_stream_name="a:b")
    with pytest.raises(ValidationError):
        GetLogEventsInput(log_group_name=GROUP, log_stream_name="web-1", limit=1001)
    with pytest.raises(ValidationError):
        ListLambdaFunctionsInput(limit=0)
    with pytest.raises(ValidationError):
        DescribeLambdaFunctionInput(function_name="bad name")
    with pytest.raises(ValidationError):
        DescribeLambdaFunctionInput(function_name="f", qualifier="no spaces")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ListLambdaFunctionsInput.model_validate({"limit": 5, "marker": "x"})
