"""Header lines for Web API requests: parsed once, refused when unsafe.

Names must be RFC 9110 tokens; values printable ASCII (no CR, LF or NUL: a value that
smuggles a line break would inject headers). Headers that control framing, routing or the
connection are Fireline's, never the user's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# RFC 9110 §5.6.2: token = 1*tchar
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 §5.5: field-value = VCHAR / SP / HTAB (obs-text refused: encodings differ).
_VALUE = re.compile(r"^[\x20-\x7e\t]*$")

# Framing, routing and hop-by-hop headers (RFC 9110 §7.2, §7.6.1, §8.6, RFC 9112 §6.1).
RESERVED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
    }
)


def check_header(name: str, value: str, where: str) -> tuple[str, str]:
    name, value = name.strip(), value.strip()
    if not _TOKEN.match(name):
        # Not quoted back: a mistyped line ("Authorization Bearer x:y") holds the secret.
        raise ValueError(
            f"{where}: the header name is not a valid header name (RFC 9110 token: letters, "
            "digits and !#$%&'*+-.^_`|~, no spaces)"
        )
    if name.lower() in RESERVED:
        raise ValueError(f"{where}: the {name} header cannot be set")
    # The value itself is never quoted back: it may be a secret.
    if not _VALUE.match(value):
        raise ValueError(f"{where}: the value of {name} contains a control or non-ASCII character")
    if not value:
        raise ValueError(f"{where}: the value of {name} is empty")
    return name, value


def parse_header_lines(text: str) -> tuple[tuple[str, str], ...]:
    """`Name: value` per line; blank lines ignored; names unique (case-insensitive)."""
    parsed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(f"line {number}: expected 'Name: value'")
        name, value = check_header(name, value, f"line {number}")
        if name.lower() in seen:
            raise ValueError(f"line {number}: {name} is given twice")
        seen.add(name.lower())
        parsed.append((name, value))
    if not parsed:
        raise ValueError("enter at least one header, e.g. Authorization: Bearer …")
    return tuple(parsed)


def check_extra_headers(headers: Mapping[str, str], protected: frozenset[str]) -> dict[str, str]:
    """Non-secret headers given to an action; they may not replace `protected` names."""
    checked: dict[str, str] = {}
    for raw_name, raw_value in headers.items():
        name, value = check_header(raw_name, raw_value, "headers")
        if name.lower() in protected:
            raise ValueError(f"headers: {name} is set by the connection and cannot be overridden")
        checked[name] = value
    return checked
