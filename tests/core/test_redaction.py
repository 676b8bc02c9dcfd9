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


def _registry_with(secrets: list[str]) -> SecretRegistry:
    registry = SecretRegistry()
    for secret in secrets:
        registry.register(secret)
    return registry


def test_sec5_scrub_finds_every_form_among_thousands_of_secrets() -> None:
    secrets = [f"tenant-{i:05d}-key-{i * 7919:08x}" for i in range(3000)]
    registry = _registry_with(secrets)  # far beyond the direct search: the prefix index
    target = secrets[1234]
    text = (f"a {target} b {base64.b64encode(target.encode()).decode()} "
            f"c {target.encode().hex()} d {quote(target, safe='')}e")
    scrubbed = registry.scrub(text)
    assert target not in scrubbed
    assert scrubbed.count(REDACTED) == 4
    assert scrubbed.startswith("a [REDACTED] b ") and scrubbed.endswith("e")


def test_sec5_overlapping_secrets_leave_no_fragment_behind() -> None:
    first, second = "abcdef-123456", "123456-ghijkl"
    text = "x abcdef-123456-ghijkl y"
    fillers = [f"filler-secret-{i:04d}" for i in range(40)]
    for registry in (_registry_with([first, second]), _registry_with([first, second, *fillers])):
        assert registry.scrub(text) == "x [REDACTED] y"


def test_sec5_the_direct_search_and_the_index_agree() -> None:
    few = ["alpha-secret-1", "beta-secret-22"]
    many = [*few, *(f"unused-secret-{i:04d}" for i in range(100))]
    text = "alpha-secret-1 and beta-secret-22, then alpha-secret-1beta-secret-22 and none"
    assert _registry_with(few).scrub(text) == _registry_with(many).scrub(text)
    assert "secret" not in _registry_with(few).scrub(text).replace("none", "")


def test_sec5_registering_again_keeps_a_secret_from_being_evicted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fireline.core.redaction as redaction

    # Room for the forms of two secrets (these three have as many forms each).
    monkeypatch.setattr(redaction, "_CAPACITY", 2 * len(redaction._forms("first-secret")))
    registry = _registry_with(["first-secret", "second-secret"])
    registry.register("first-secret")  # now the most recent
    registry.register("third-secret")  # evicts second-secret
    assert registry.scrub("first-secret") == REDACTED
    assert registry.scrub("third-secret") == REDACTED
    assert registry.scrub("second-secret") == "second-secret"
