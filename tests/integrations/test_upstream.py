from __future__ import annotations

import httpx

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.core.redaction import REDACTED, register_secret
from fireline.integrations._upstream import error_body, error_status, safe_text, same_kind


def test_error_body_from_the_status_prefixed_message() -> None:
    exc = CredentialError('401: {"error_description":"access_denied","error":"server_error"}')
    assert error_status(exc) == 401
    assert error_body(exc) == {"error_description": "access_denied", "error": "server_error"}


def test_error_body_prefers_an_attached_response() -> None:
    exc = PermanentError("refused")
    exc.response = httpx.Response(404, json={"message": "gone"})  # type: ignore[attr-defined]
    assert error_status(exc) == 404
    assert error_body(exc) == {"message": "gone"}


def test_error_body_is_none_without_json() -> None:
    assert error_body(TransientError("could not reach host: timed out")) is None
    assert error_status(TransientError("could not reach host")) is None
    assert error_body(PermanentError("400: <html>bad</html>")) is None


def test_sec5_safe_text_removes_registered_and_given_secrets() -> None:
    register_secret("registered-canary-value")
    text = safe_text("a registered-canary-value b short1 c", "short1")
    assert text == f"a {REDACTED} b {REDACTED} c"


def test_same_kind_keeps_the_class_and_retry_hint() -> None:
    again = same_kind(TransientError("429", retry_after=3.0), "slow down")
    assert isinstance(again, TransientError) and again.retry_after == 3.0
    assert str(again) == "slow down" and not again.outcome_unknown
    # WF-6: a request that may have taken effect still says so with its new message.
    lost = same_kind(TransientError("timed out", outcome_unknown=True), "POST timed out")
    assert isinstance(lost, TransientError) and lost.outcome_unknown
    assert type(same_kind(CredentialError("x"), "y")) is CredentialError
