from __future__ import annotations

from fireline.integrations.aws import actions, health
from fireline.integrations.aws.regions import service_hosts
from fireline.integrations.aws.schema import AwsConfig
from fireline.integrations.base import Destination, Integration, NoSecrets


def _destination(config: AwsConfig) -> Destination:
    # The regional STS, CloudWatch Logs and Lambda endpoints of the default region.
    return Destination(hosts=service_hosts(config.default_region))


INTEGRATION = Integration(
    slug="aws",
    title="AWS",
    description="Assume an IAM role in your account (with an external ID) to query CloudWatch "
    "Logs and to list, describe and invoke Lambda functions.",
    config=AwsConfig,
    secrets=NoSecrets,
    destination=_destination,
    verify=health.verify,
    auth="aws_role",
    credential_fields=("role_arn", "default_region"),
    actions=(
        actions.QUERY_CLOUDWATCH_LOGS,
        actions.GET_CLOUDWATCH_LOG_EVENTS,
        actions.INVOKE_LAMBDA,
        actions.LIST_LAMBDA_FUNCTIONS,
        actions.DESCRIBE_LAMBDA_FUNCTION,
    ),
)
