"""What the server shows when an AWS connection is added (reference text, Step 1 and 2.2):
Fireline's own AWS account ID, the connection's external ID, and the trust policy to paste.

AWS-1: the external ID is generated here, by the server, once per connection; it is never
connection input. Fireline's account ID is server configuration (`FIRELINE_AWS_ACCOUNT_ID`).
"""

from __future__ import annotations

import json
from typing import Any


def trust_policy(account_id: str, external_id: str, partition: str = "aws") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }


def setup_info(account_id: str, external_id: str, partition: str = "aws") -> dict[str, str]:
    """The instructions block: account ID, external ID and the trust policy JSON."""
    return {
        "account_id": account_id,
        "external_id": external_id,
        "trust_policy": json.dumps(trust_policy(account_id, external_id, partition), indent=2),
    }
