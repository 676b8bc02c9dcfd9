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
_CAPACITY = 50_000  # forms (about 6 per secret); the least recently registered go first
# Up to this many forms, each is searched for in the text (C speed); beyond, the text is
# scanned once and every 6-character window looked up in an index of the forms' prefixes,
# so that scrubbing costs the same with 10 secrets registered or 10,000 (the health monitor
# registers every connection's secret on each check and scrubs each outcome).
_DIRECT_SEARCH_FORMS = 64


def _forms(secret: str) -> tuple[str, ...]:
    raw = secret.encode()
    return tuple(
        {
            secret,
            base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="),
            quote(secret, safe=""),
            quote_plus(secret),
            binascii.hexlify(raw).decode(),
        }
    )


class SecretRegistry:
    def __init__(self) -> None:
        self._secrets: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        # form -> how many registered secrets have it; and the same forms by their prefix.
        self._forms: dict[str, int] = {}
        self._by_prefix: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        if len(secret) < _MIN_LENGTH:
            return
        if secret in self._secrets:  # the usual case: only its recency changes
            with self._lock:
                if secret in self._secrets:
                    self._secrets.move_to_end(secret)
                    return
        forms = _forms(secret)
        with self._lock:
            if secret in self._secrets:
                self._secrets.move_to_end(secret)
                return
            self._secrets[secret] = forms
            for form in forms:
                self._add(form)
            while len(self._forms) > _CAPACITY and len(self._secrets) > 1:
                _, old = self._secrets.popitem(last=False)
                for form in old:
                    self._remove(form)

    def _add(self, form: str) -> None:
        count = self._forms.get(form, 0)
        self._forms[form] = count + 1
        if not count:
            self._by_prefix.setdefault(form[:_MIN_LENGTH], set()).add(form)

    def _remove(self, form: str) -> None:
        count = self._forms.pop(form) - 1
        if count:
            self._forms[form] = count
            return
        prefix = form[:_MIN_LENGTH]
        self._by_prefix[prefix].discard(form)
        if not self._by_prefix[prefix]:
            del self._by_prefix[prefix]

    def scrub(self, text: str) -> str:
        if not self._forms or len(text) < _MIN_LENGTH:
            return text
        with self._lock:
            direct = list(self._forms) if len(self._forms) <= _DIRECT_SEARCH_FORMS else None
        spans = self._search(text, direct) if direct is not None else self._scan(text)
        return _redact(text, spans) if spans else text

    @staticmethod
    def _search(text: str, forms: list[str]) -> list[tuple[int, int]]:
        spans = []
        for form in forms:
            start = text.find(form)
            while start >= 0:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        spans.sort()
        return spans

    def _scan(self, text: str) -> list[tuple[int, int]]:
        spans = []
        candidates = self._by_prefix.get
        for start in range(len(text) - _MIN_LENGTH + 1):
            forms = candidates(text[start : start + _MIN_LENGTH])
            if forms:
                for form in tuple(forms):  # a copy: another thread may register meanwhile
                    if text.startswith(form, start):
                        spans.append((start, start + len(form)))
        return spans

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {key: self.scrub_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_value(item) for item in value)
        return value


registry = SecretRegistry()


def _redact(text: str, spans: list[tuple[int, int]]) -> str:
    """Replaces every span (sorted by start), overlapping ones as one, so that no part of
    any occurrence of any form survives."""
    out: list[str] = []
    position = 0
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start < end:
            end = max(end, next_end)
            continue
        out += (text[position:start], REDACTED)
        position, start, end = end, next_start, next_end
    out += (text[position:start], REDACTED, text[end:])
    return "".join(out)


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
