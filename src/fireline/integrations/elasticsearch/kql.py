"""A translator from the common subset of Kibana Query Language to Elasticsearch Query DSL.

Elasticsearch's `_search` does not read KQL (Kibana does the translation), so we do it:
`field:value`, `field:"a phrase"`, `field:(a or b)`, `field:*`, wildcards in values,
`field >= value` ranges, bare terms, `and` / `or` / `not` (case-insensitive), parentheses.
Anything else is a clear `ValueError` rather than a silently different query.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<lparen>\()|(?P<rparen>\))|(?P<range><=|>=|<|>)|(?P<colon>:)"
    r'|"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<word>[^\s():<>"]+))'
)
_RANGE_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"KQL: unexpected character at {position}: {text[position]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("KQL: unexpected end of query")
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.at += 1
            return True
        return False

    def parse(self) -> dict[str, Any]:
        query = self.or_expr(None)
        if self.peek() is not None:
            raise ValueError(f"KQL: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return query

    def or_expr(self, field: str | None) -> dict[str, Any]:
        parts = [self.and_expr(field)]
        while self.keyword("or"):
            parts.append(self.and_expr(field))
        return (
            parts[0] if len(parts) == 1 else {"bool": {"should": parts, "minimum_should_match": 1}}
        )

    def and_expr(self, field: str | None) -> dict[str, Any]:
        parts = [self.not_expr(field)]
        while self.keyword("and"):
            parts.append(self.not_expr(field))
        return parts[0] if len(parts) == 1 else {"bool": {"filter": parts}}

    def not_expr(self, field: str | None) -> dict[str, Any]:
        if self.keyword("not"):
            return {"bool": {"must_not": [self.not_expr(field)]}}
        return self.primary(field)

    def primary(self, field: str | None) -> dict[str, Any]:
        kind, value = self.take()
        if kind == "lparen":
            inner = self.or_expr(field)
            if self.take()[0] != "rparen":
                raise ValueError("KQL: missing ')'")
            return inner
        if kind == "phrase":
            return _match(field, value.replace('\\"', '"'), phrase=True)
        if kind != "word":
            raise ValueError(f"KQL: unexpected {value!r}")
        following = self.peek()
        if field is None and following and following[0] == "colon":
            self.take()
            after = self.peek()
            if after and after[0] == "lparen":
                self.take()
                inner = self.or_expr(value)
                if self.take()[0] != "rparen":
                    raise ValueError("KQL: missing ')'")
                return inner
            kind2, value2 = self.take()
            if kind2 == "phrase":
                return _match(value, value2, phrase=True)
            if kind2 != "word":
                raise ValueError(f"KQL: expected a value after '{value}:'")
            return _match(value, value2, phrase=False)
        if field is None and following and following[0] == "range":
            operator = self.take()[1]
            bound = self.take()[1]
            return {"range": {value: {_RANGE_OPS[operator]: bound}}}
        return _match(field, value, phrase=False)


def _match(field: str | None, value: str, *, phrase: bool) -> dict[str, Any]:
    if field is not None and value == "*" and not phrase:
        return {"exists": {"field": field}}
    if not phrase and ("*" in value or "?" in value):
        return {
            "query_string": {
                "query": value,
                **({"default_field": field} if field else {}),
                "analyze_wildcard": True,
            }
        }
    if field is None:
        kind = "multi_match"
        return {
            kind: {"query": value, "type": "phrase" if phrase else "best_fields", "lenient": True}
        }
    return {"match_phrase" if phrase else "match": {field: value}}


def kql_to_dsl(text: str) -> dict[str, Any]:
    if not text.strip():
        return {"match_all": {}}
    return _Parser(text).parse()
