"""PagerDuty Condition Language (PCL) for workflow trigger conditions: parse once at save,
evaluate on every incident change.

    incident.priority matches 'P1' and not (incident.title matches part 'test'
                                            or incident.urgency matches 'low')

The grammar, with PagerDuty's precedence (parentheses, then the built-in operations, then
`not`, `and`, `or`):

    expression := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | operation
    operation  := "(" expression ")" | "true" | "false" | path "exists"
                | operand ("matches" ["part" | "regex"] ["exactly"] | "==" | ">" | ">="
                           | "<" | "<=") operand
    operand    := path | 'string' | number | "true" | "false"
    path       := name ("." name | "[" 'string' "]" | "[" integer "]")*

What PagerDuty's "PCL Overview" defines, and Fireline keeps:
- `matches` (the whole string), `matches part` (a substring), `matches regex` (RE2 syntax,
  with the `s` and `m` flags) compare without regard to case unless `exactly` follows; a
  value that is not a string is compared as its text, and nil never matches;
- `==` compares without conversion (strings by case), `>`, `>=`, `<`, `<=` compare numbers;
  an integer meets a float as PCL's "Note About Comparing Integers and Floats" says (as a
  float when the float lies within ±2^53);
- strings are single-quoted UTF-8 with `\\'` and `\\\\` as escapes (any other backslash
  stands for itself, as a regex wants); integers are 64-bit; floats are 64-bit doubles written
  with a digit before the point and may have a lowercase `e` exponent;
- an operation that cannot be evaluated (a type mismatch) counts as false: `not` makes it
  true, `and` and `or` treat it as false.
What it refuses, at parse time, with the position: any other syntax, a number out of its
64 bits, text that is not UTF-8 (a lone surrogate), a regex RE2 rejects, a path that is not
one of `FIELDS`, nesting deeper than `MAX_DEPTH`, and the parts of PCL that mean nothing for
an incident (`now`, `in` schedules, datetimes and durations, `trigger_count`).

Evaluation never raises: what cannot be evaluated over an incident counts as above.

Fireline's meaning of `exists`: the field has a value (every field of `FIELDS` is always
present, so PCL's "the path is there" would always be true).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

# PCL path → the key of the outbox snapshot (`incidents.outbox.snapshot`) it reads.
FIELDS: dict[str, str] = {
    "incident.id": "id",
    "incident.incident_number": "incident_number",
    "incident.title": "title",
    "incident.status": "status",
    "incident.urgency": "urgency",
    "incident.priority": "priority",
    "incident.priority.name": "priority",
    "incident.service.id": "service_id",
    "incident.incident_type": "incident_type",
    "incident.incident_type.name": "incident_type",
    "incident.incident_key": "incident_key",
}
MAX_DEPTH = 32
_UNSUPPORTED = {
    "now": "'now' (time conditions) is not available in workflow conditions",
    "in": "'in' (schedules) is not available in workflow conditions",
    "trigger_count": "'trigger_count' is not available in workflow conditions",
    "resetting_trigger_count": "'resetting_trigger_count' is not available in workflow "
                               "conditions",
}
_KEYWORDS = {"and", "or", "not", "matches", "part", "regex", "exactly", "exists", "true",
             "false", *_UNSUPPORTED}
_COMPARISONS = ("==", ">=", "<=", ">", "<")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'?)
  | (?P<number>-?[0-9]+(?:\.[0-9]+(?:e[+-]?[0-9]+)?)?(?![A-Za-z_0-9]|\.[0-9]))
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<symbol>==|>=|<=|[><()\[\].])
""", re.VERBOSE | re.DOTALL)
_INT64 = (-(2**63), 2**63 - 1)
_HINTS = {'"': "strings are written in single quotes", "=": "compare with '==' or 'matches'",
          "!": "negate with 'not'", "&": "combine with 'and'", "|": "combine with 'or'"}
_MALFORMED_NUMBER = re.compile(r"-?[0-9][A-Za-z_0-9.]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
# PCL Overview, "String": a string is a sequence of UTF-8 characters; a lone surrogate (which
# JSON can carry) has no UTF-8 form, and RE2 could not take it.
_NOT_UTF8 = "not UTF-8 text (a lone surrogate)"
# PCL Overview, "Note About Comparing Integers and Floats": within ±2^53 a float is the more
# precise, so the integer is converted to a float; beyond, the other way round.
_FLOAT_EXACT = 2**53


class PclError(ValueError):
    """A condition that does not parse; `position` is 1-based, in characters."""

    def __init__(self, message: str, source: str, offset: int) -> None:
        self.message, self.position = message, offset + 1
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        where = f"line {line}, column {column}" if "\n" in source else f"column {column}"
        super().__init__(f"{message} at {where}")


@dataclass(frozen=True)
class _Token:
    kind: str  # string | number | name | symbol | end | error (its value is the message)
    text: str
    offset: int
    value: Any = None


def _tokens(source: str) -> list[_Token]:
    """The tokens, ending at the first text that is not PCL with an `error` token: the parser
    raises it when it gets there, so a condition's first mistake is the one named (`now > ...`
    is refused for `now`, not for the datetime after it)."""
    found: list[_Token] = []

    def refused(message: str, offset: int) -> list[_Token]:
        return [*found, _Token("error", source[offset:offset + 1], offset, message)]

    offset = 0
    while offset < len(source):
        match = _TOKEN.match(source, offset)
        if match is None:
            malformed = _MALFORMED_NUMBER.match(source, offset)
            if malformed is not None:
                return refused(f"{malformed.group()!r} is not a number (an integer is digits, "
                               "a float has a decimal point: 4.5e10)", offset)
            if _SURROGATE.match(source, offset):
                return refused(_NOT_UTF8, offset)
            return refused(_HINTS.get(source[offset], "unexpected character "
                                      f"{source[offset]!r}"), offset)
        kind, text = str(match.lastgroup), match.group()
        if kind == "string":
            if len(text) < 2 or not text.endswith("'") or _escaped_quote_ends(text):
                return refused("unterminated string", offset)
            surrogate = _SURROGATE.search(text)
            if surrogate is not None:
                return refused(_NOT_UTF8, offset + surrogate.start())
            # PCL's two escapes; any other backslash stands for itself (`'\d+'` in a regex).
            found.append(_Token(kind, text, offset, re.sub(r"\\(['\\])", r"\1", text[1:-1])))
        elif kind == "number":
            value: int | float = float(text) if "." in text else int(text)
            if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
                return refused("integer out of range (64 bits)", offset)
            if isinstance(value, float) and not math.isfinite(value):
                return refused("float out of range (64 bits)", offset)
            found.append(_Token(kind, text, offset, value))
        elif kind != "space":
            found.append(_Token(kind, text, offset))
        offset = match.end()
    found.append(_Token("end", "", len(source)))
    return found


def _escaped_quote_ends(text: str) -> bool:
    """Whether the closing quote of `text` is itself escaped (`'abc\\'`)."""
    backslashes = len(text) - 1 - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 1


# --- the tree ----------------------------------------------------------------------------------

Scope = Mapping[str, Any]
Node = Callable[[Scope], Any]
# What an operation that cannot be evaluated gives: false to `and`, `or` and the final
# answer, true under `not` (PagerDuty's "non-boolean evaluation").
_UNDECIDED = object()


def _truth(value: Any) -> bool:
    return value is True


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(a: int | float, b: int | float) -> tuple[int | float, int | float]:
    """The pair as PCL compares it (Python alone compares an int and a float exactly)."""
    if isinstance(a, int) and isinstance(b, float) and abs(b) <= _FLOAT_EXACT:
        return float(a), b
    if isinstance(a, float) and isinstance(b, int) and abs(a) <= _FLOAT_EXACT:
        return a, float(b)
    # Beyond ±2^53 a float is a whole number (or infinite): compared exactly, as by the rule.
    return a, b


def _equal(left: Any, right: Any) -> Any:
    if _number(left) and _number(right):
        a, b = _numbers(left, right)
        return a == b
    if type(left) is not type(right):
        return False
    return left == right


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}


def _compare(symbol: str, left: Node, right: Node) -> Node:
    if symbol == "==":
        return lambda scope: _equal(left(scope), right(scope))
    order = _ORDER[symbol]

    def compare(scope: Scope) -> Any:
        a, b = left(scope), right(scope)
        return order(*_numbers(a, b)) if _number(a) and _number(b) else _UNDECIDED
    return compare


def _matcher(mode: str, exactly: bool, left: Node, right: Node | None,
             pattern: Any | None = None) -> Node:
    def match(scope: Scope) -> Any:
        value = left(scope)
        if value is None:
            return False
        subject = _text(value)
        if pattern is not None:
            return _search(pattern, subject)
        wanted = right(scope) if right is not None else None
        if wanted is None:
            return False
        other = _text(wanted)
        if not exactly:
            subject, other = subject.casefold(), other.casefold()
        return subject == other if mode == "matches" else other in subject
    return match


def _search(pattern: Any, subject: str) -> bool:
    try:
        return pattern.search(subject) is not None
    except UnicodeEncodeError:  # a lone surrogate in the incident's text: RE2 reads UTF-8
        return pattern.search(subject.encode("utf-8", "replace").decode()) is not None


def _regex(text: str, exactly: bool, source: str, offset: int) -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is our error message, not a log line
    # PCL: `s` and `m` always, `i` unless `exactly`; the pattern's own flags come after ours
    # and win (`(?-s)...`).
    flags = "(?sm)" if exactly else "(?ism)"
    try:
        return re2.compile(flags + text, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PclError(f"not a valid RE2 regular expression ({reason})", source,
                       offset) from None


# --- the parser --------------------------------------------------------------------------------

class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.at = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        token = self.tokens[self.at]
        if token.kind == "error":
            raise PclError(token.value, self.source, token.offset)
        return token

    def take(self) -> _Token:
        token = self.token
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "name" and self.token.text in words

    def is_symbol(self, *symbols: str) -> bool:
        return self.token.kind == "symbol" and self.token.text in symbols

    def fail(self, message: str, token: _Token | None = None) -> PclError:
        token = token or self.token
        return PclError(message, self.source, token.offset)

    def expected(self, what: str) -> PclError:
        found = "the end" if self.token.kind == "end" else repr(self.token.text)
        return self.fail(f"expected {what}, found {found}")

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("the condition is empty")
        node = self.disjunction()
        if self.token.kind != "end":
            raise self.expected("'and', 'or' or the end of the condition")
        return node

    def disjunction(self) -> Node:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        return lambda scope: any(_truth(part(scope)) for part in parts)

    def conjunction(self) -> Node:
        parts = [self.negation()]
        while self.is_word("and"):
            self.take()
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        return lambda scope: all(_truth(part(scope)) for part in parts)

    def negation(self) -> Node:
        if self.is_word("not"):
            inner = self.nested(self.negation, self.take())
            return lambda scope: not _truth(inner(scope))
        return self.operation()

    def nested(self, parse: Callable[[], Node], opener: _Token) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the condition nests deeper than {MAX_DEPTH} levels", opener)
        try:
            return parse()
        finally:
            self.depth -= 1

    def operation(self) -> Node:
        start = self.token
        if self.is_symbol("("):
            inner = self.nested(self.disjunction, self.take())
            if not self.is_symbol(")"):
                raise self.expected("')'")
            self.take()
            return inner
        left, field = self.operand()
        if self.is_word("exists"):
            if field is None:
                raise self.fail("'exists' follows a field", start)
            self.take()
            return lambda scope: left(scope) is not None
        if self.is_word("matches"):
            return self.matches(left)
        if self.is_symbol(*_COMPARISONS):
            symbol = self.take().text
            right, _ = self.operand()
            return _compare(symbol, left, right)
        if start.kind == "name" and start.text in ("true", "false"):
            return left
        if self.is_word(*_UNSUPPORTED):
            raise self.fail(_UNSUPPORTED[self.token.text])
        raise self.expected("'matches', 'exists', '==', '>', '>=', '<' or '<=' after "
                            f"{field or start.text!r}")

    def matches(self, left: Node) -> Node:
        self.take()
        mode = "matches"
        if self.is_word("part", "regex"):
            mode = f"matches {self.take().text}"
        exactly = self.is_word("exactly")
        if exactly:
            self.take()
        value_token = self.token
        if mode == "matches regex":
            if value_token.kind != "string":
                raise self.expected("a regular expression in single quotes")
            self.take()
            pattern = _regex(value_token.value, exactly, self.source, value_token.offset)
            return _matcher(mode, exactly, left, None, pattern)
        right, _ = self.operand()
        return _matcher(mode, exactly, left, right)

    def operand(self) -> tuple[Node, str | None]:
        """The operand, and the field it names (None for a literal)."""
        token = self.token
        if token.kind in ("string", "number"):
            self.take()
            value = token.value
            return (lambda _scope: value), None
        if token.kind == "name" and token.text in ("true", "false"):
            self.take()
            flag = token.text == "true"
            return (lambda _scope: flag), None
        if token.kind == "name" and token.text in _UNSUPPORTED:
            raise self.fail(_UNSUPPORTED[token.text])
        if token.kind == "name" and token.text not in _KEYWORDS:
            return self.path()
        raise self.expected("a field, a string in single quotes or a number")

    def path(self) -> tuple[Node, str]:
        start = self.take()
        parts = [start.text]
        while True:
            if self.is_symbol("."):
                self.take()
                if self.token.kind != "name":
                    raise self.expected("a field name after '.'")
                parts.append(self.take().text)
            elif self.is_symbol("["):
                self.take()
                if self.token.kind not in ("string", "number"):
                    raise self.expected("a quoted name or a position inside '[ ]'")
                parts.append(str(self.take().value))
                if not self.is_symbol("]"):
                    raise self.expected("']'")
                self.take()
            else:
                break
        name = ".".join(parts)
        key = FIELDS.get(name)
        if key is None:
            raise self.fail(f"unknown field {name!r} (known: {', '.join(FIELDS)})", start)
        return (lambda scope: scope.get(key)), name


@dataclass(frozen=True)
class Condition:
    """A parsed condition; `holds` evaluates it over an incident snapshot."""

    source: str
    _root: Node

    def holds(self, snapshot: Scope) -> bool:
        return _truth(self._root(snapshot))


@functools.lru_cache(maxsize=512)
def parse(source: str) -> Condition:
    """The condition, or PclError naming what is wrong and where."""
    return Condition(source, _Parser(source).parse())


# A bare word PCL has and a Jinja expression does not, outside quoted strings.
_PCL_WORD = re.compile(r"(?<![\w.])(?:matches|exists)(?!\w)")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)


def looks_like_pcl(source: str) -> bool:
    """Fireline's rule for which language a condition is written in: PCL when it uses one
    of PCL's own operators, `matches` or `exists`, outside a quoted string; the expression
    syntax otherwise. (What both languages share — `==`, `and`, `or`, `not`, numbers and
    quoted strings — means the same in both.)"""
    return _PCL_WORD.search(_QUOTED.sub(" ", source)) is not None
