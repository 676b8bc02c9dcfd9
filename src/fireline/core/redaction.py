"""Secret redaction (SEC-5): every decrypted value is registered here before use, and every
log record, stored error and run output passes through `scrub` on its way out.

A registered secret is replaced in its plain form and in the encodings a tool might echo
back (base64, URL-encoding, hex). Values shorter than 6 characters are not registered:
replacing them would shred ordinary text and they carry too little entropy to matter.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"
_MIN_LENGTH = 6
_CAPACITY = 50_000


class SecretRegistry:
    def __init__(self) -> None:
        self._forms: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        if len(secret) < _MIN_LENGTH:
            return
        raw = secret.encode()
        forms = {
            secret,
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            quote(secret, safe=""),
            quote_plus(secret),
            binascii.hexlify(raw).decode(),
        }
        with self._lock:
            for form in forms:
                self._forms[form] = None
                self._forms.move_to_end(form)
            while len(self._forms) > _CAPACITY:
                self._forms.popitem(last=False)

    def scrub(self, text: str) -> str:
        if not self._forms:
            return text
        with self._lock:
            forms = sorted(self._forms, key=len, reverse=True)
        for form in forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {key: self.scrub_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(item) for item in value)
        return value


registry = SecretRegistry()


def register_secret(secret: str) -> None:
    registry.register(secret)


def scrub(text: str) -> str:
    return registry.scrub(text)


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Scrubs the formatted message, its arguments and any traceback of a stdlib record."""
    if not registry._forms:
        return record
    record.msg, record.args = registry.scrub(record.getMessage()), None
    if record.exc_info:
        record.exc_text = registry.scrub(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    return record


def install_record_factory() -> None:
    """Scrubs every stdlib record at creation, whichever handler later receives it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "fireline_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(previous(*args, **kwargs))

    factory.fireline_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
