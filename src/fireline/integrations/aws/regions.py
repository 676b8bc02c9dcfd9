"""AWS regions a connection may use, by partition (NET-6: a closed set, hosts derived in code).

Only the partitions a Fireline server can reach with one set of credentials are listed:
commercial (`aws`), China (`aws-cn`) and GovCloud (`aws-us-gov`). A role is assumed within
its own partition, so the role ARN's partition must match the region's.
"""

from __future__ import annotations

from typing import Literal, get_args

Region = Literal[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
]

REGIONS: tuple[str, ...] = get_args(Region)

# The services Fireline calls: STS for the role, and the actions' services.
SERVICES = ("sts", "logs", "lambda")


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if partition_of(region) == "aws-cn" else "amazonaws.com"


def service_hosts(region: str) -> tuple[str, ...]:
    """Regional endpoints, e.g. `sts.eu-west-1.amazonaws.com`."""
    return tuple(f"{service}.{region}.{dns_suffix(region)}" for service in SERVICES)
