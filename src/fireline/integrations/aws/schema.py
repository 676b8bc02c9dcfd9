from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fireline.integrations.aws.regions import Region, partition_of
from fireline.integrations.base import ConnectionConfig

# arn:<partition>:iam::<12-digit account>:role/<optional path/>name (IAM role name rules:
# [\w+=,.@-]{1,64}; paths are slash-separated segments of the same characters).
ROLE_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>\d{12}):role/"
    r"(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})$"
)


class AwsConfig(ConnectionConfig):
    role_arn: str = Field(
        title="Role ARN",
        description="The ARN of the IAM role Fireline assumes, e.g. "
        "arn:aws:iam::123456789012:role/Fireline-IncidentWorkflows-Role.",
    )
    default_region: Region = Field(
        title="Default Region", description="The AWS region actions run in, e.g. us-east-1."
    )

    @field_validator("role_arn")
    @classmethod
    def _role_arn_format(cls, value: str) -> str:
        if any(ch.isspace() for ch in value) or not ROLE_ARN.match(value):
            raise ValueError(
                "must be an IAM role ARN like arn:aws:iam::123456789012:role/RoleName "
                "(no spaces or extra characters)"
            )
        return value

    @model_validator(mode="after")
    def _same_partition(self) -> AwsConfig:
        match = ROLE_ARN.match(self.role_arn)
        if match and match["partition"] != partition_of(self.default_region):
            raise ValueError(
                f"the role is in partition {match['partition']} but region "
                f"{self.default_region} is in {partition_of(self.default_region)}"
            )
        return self

    def _arn(self, part: str) -> str:
        match = ROLE_ARN.match(self.role_arn)
        if match is None:  # unreachable: validated on construction
            raise ValueError("invalid role ARN")
        return match[part]

    @property
    def account_id(self) -> str:
        return self._arn("account")

    @property
    def role_name(self) -> str:
        return self._arn("name")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LogEvent(BaseModel):
    timestamp: datetime
    message: str
    log_stream_name: str


LogGroupName = Annotated[
    str,
    Field(min_length=1, max_length=512, pattern=r"^[.\-_/#A-Za-z0-9]+$", title="Log Group"),
]
LogStreamName = Annotated[
    str, Field(min_length=1, max_length=512, pattern=r"^[^:*]+$", title="Log Stream")
]


class QueryCloudwatchLogsInput(_Input):
    log_group_name: LogGroupName
    filter_pattern: str = Field(
        default="", max_length=1024, description="CloudWatch Logs filter pattern syntax."
    )
    log_stream_name: LogStreamName | None = Field(
        default=None,
        description="Read this stream only (GetLogEvents, or FilterLogEvents with a pattern).",
    )
    start_time: datetime | None = Field(default=None, description="Default: an hour before end.")
    end_time: datetime | None = Field(default=None, description="Default: now.")
    limit: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _window(self) -> QueryCloudwatchLogsInput:
        start, end = self.window()
        if start >= end:
            raise ValueError("start_time must be before end_time")
        return self

    def window(self) -> tuple[datetime, datetime]:
        end = _aware(self.end_time) if self.end_time else datetime.now(UTC)
        start = _aware(self.start_time) if self.start_time else end - timedelta(hours=1)
        return start, end


class GetLogEventsInput(_Input):
    log_group_name: LogGroupName
    log_stream_name: LogStreamName
    start_time: datetime | None = Field(
        default=None,
        description="Leave out events before this time (a time without a zone is "
        "UTC); default: the start of the stream.",
    )
    end_time: datetime | None = Field(
        default=None, description="Leave out events at or after this time; default: its end."
    )
    limit: int = Field(default=100, ge=1, le=1000, title="Limit")
    start_from_head: bool = Field(
        default=False,
        title="Start From Head",
        description="Read the oldest events first; otherwise the newest events (CloudWatch's "
        "default).",
    )

    @model_validator(mode="after")
    def _window(self) -> GetLogEventsInput:
        start, end = self.window()
        if start and end and start >= end:
            raise ValueError("start_time must be before end_time")
        return self

    def window(self) -> tuple[datetime | None, datetime | None]:
        """The bounds given, zone-aware; None reads to that end of the stream."""
        return (
            _aware(self.start_time) if self.start_time else None,
            _aware(self.end_time) if self.end_time else None,
        )


def _aware(value: datetime) -> datetime:
    # A time without a zone is taken as UTC, the zone CloudWatch stores.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class QueryCloudwatchLogsOutput(BaseModel):
    events: list[LogEvent]
    count: int
    truncated: bool = Field(description="More events matched than the limit.")


FunctionName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=170,
        pattern=r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:)?[A-Za-z0-9_-]{1,64}"
        r"(:(\$LATEST|[A-Za-z0-9_-]+))?$",
        description="Function name or ARN.",
    ),
]
Qualifier = Annotated[
    str | None,
    Field(
        default=None,
        pattern=r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$",
        description="A version or alias; default $LATEST.",
    ),
]


class InvokeLambdaInput(_Input):
    function_name: FunctionName
    payload: Any = Field(default=None, description="The JSON event passed to the function.")
    qualifier: Qualifier
    invocation_type: Literal["RequestResponse", "Event"] = "RequestResponse"


class InvokeLambdaOutput(BaseModel):
    status_code: int
    function_error: str | None
    executed_version: str | None
    payload: Any


class LambdaFunction(BaseModel):
    """A function's configuration as Lambda reports it. Environment variable values are left
    out (they often hold credentials): only their names."""

    function_name: str
    function_arn: str
    runtime: str | None
    handler: str | None
    description: str
    role: str | None
    memory_size: int | None
    timeout: int | None
    code_size: int | None
    last_modified: str | None
    version: str | None
    package_type: str | None
    architectures: list[str]
    environment_variable_names: list[str]
    # GetFunction only: ListFunctions leaves the state fields out.
    state: str | None = None
    state_reason: str | None = None
    last_update_status: str | None = None


class ListLambdaFunctionsInput(_Input):
    limit: int = Field(
        default=50, ge=1, le=1000, title="Limit", description="At most this many functions."
    )


class ListLambdaFunctionsOutput(BaseModel):
    functions: list[LambdaFunction]
    count: int
    truncated: bool = Field(description="The region has more functions than the limit.")


class DescribeLambdaFunctionInput(_Input):
    function_name: FunctionName
    qualifier: Qualifier


class DescribeLambdaFunctionOutput(BaseModel):
    function: LambdaFunction
    tags: dict[str, str]
    reserved_concurrent_executions: int | None
