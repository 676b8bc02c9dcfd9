from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from fireline.core.redaction import (
    REDACTED,
    SecretRegistry,
    install_record_factory,
    register_secret,
)


def test_sec5_scrub_replaces_plain_and_encoded_forms() -> None:
    registry = SecretRegistry()
    secret = "s3cr3t/value+with=chars"
    registry.register(secret)
    text = " ".join(
        [
            secret,
            base64.b64encode(secret.encode()).decode(),
            quote(secret, safe=""),
            secret.encode().hex(),
        ]
    )
    scrubbed = registry.scrub(text)
    assert secret not in scrubbed
    assert scrubbed.count(REDACTED) == 4


def test_sec5_short_values_are_not_registered() -> None:
    registry = SecretRegistry()
    registry.register("abc")
    assert registry.scrub("abc def") == "abc def"


def test_sec5_log_records_are_scrubbed_in_message_args_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_record_factory()
    secret = "canary-9f8e7d6c5b4a"
    register_secret(secret)
    logger = logging.getLogger("fireline.test")
    with caplog.at_level(logging.INFO):
        logger.info("token is %s", secret)
        try:
            raise RuntimeError(f"upstream said {secret}")
        except RuntimeError:
            logger.exception("call failed")
    text = caplog.text + "".join(record.getMessage() for record in caplog.records)
    assert secret not in text
    assert REDACTED in text
