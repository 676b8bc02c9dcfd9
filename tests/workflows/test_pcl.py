"""PagerDuty Condition Language as PagerDuty's "PCL Overview" defines it
(https://developer.pagerduty.com/docs/ZG9jOjM1NTE0MDc0-pcl-overview), over the incident
snapshot the relay evaluates it on; and how a trigger condition is routed between PCL and the
expression syntax. Pure: no database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fireline.workflows import pcl, triggers


def snapshot(**fields: Any) -> dict[str, Any]:
    """An outbox snapshot (`incidents.outbox.snapshot`) of a P1, high-urgency incident."""
    return {
        "id": "PINC001", "incident_number": 42, "title": "[PROD] Disk space low on db-1",
        "status": "triggered", "urgency": "high", "priority": "P1", "service_id": "PSVC001",
        "incident_key": "disk/db-1", "created_at": "2024-05-01T12:00:00Z",
        "incident_type": None, **fields,
    }


P1 = snapshot()
P2 = snapshot(priority="P2")
NO_PRIORITY = snapshot(priority=None)
# The payload of PCL Overview's `matches regex` examples.
IMPORTANT = snapshot(title="This is an important value")
NEWLINE = snapshot(title="This has a newline\nin it")
BEYOND_2_53 = snapshot(incident_number=2**53 + 1)

TRUTH: list[tuple[str, dict[str, Any], bool]] = [
    # priority, by name
    ("incident.priority matches 'P1'", P1, True),
    ("incident.priority matches 'P1'", P2, False),
    ("incident.priority matches 'P1'", NO_PRIORITY, False),  # nil never matches
    ("incident.priority.name matches 'P1'", P1, True),
    ("not incident.priority matches 'P1'", NO_PRIORITY, True),
    # `matches`: the whole string, without regard to case unless `exactly`
    ("incident.priority matches 'p1'", P1, True),
    ("incident.priority matches exactly 'p1'", P1, False),
    ("incident.priority matches exactly 'P1'", P1, True),
    ("incident.urgency matches 'HIGH'", P1, True),
    ("incident.title matches '[prod] disk space low on db-1'", P1, True),
    ("incident.title matches 'disk space low'", P1, False),
    ("incident.title matches 'trailing whitespace'", snapshot(title="trailing whitespace "),
     False),
    ("incident.title matches 'the system\\'s down'", snapshot(title="the system's down"), True),
    ("incident.title matches 'one \\\\ backslash'", snapshot(title="one \\ backslash"), True),
    ("incident.title matches 'こんにちは世界'", snapshot(title="こんにちは世界"), True),
    # a value that is not a string is compared as its text
    ("incident.incident_number matches '42'", P1, True),
    ("incident.incident_number matches 42", P1, True),
    # `matches part`: a substring, same case rule
    ("incident.title matches part 'prod'", P1, True),
    ("incident.title matches part 'DB-1'", P1, True),
    ("incident.title matches part exactly 'db-1'", P1, True),
    ("incident.title matches part exactly 'DB-1'", P1, False),
    ("incident.title matches part 'network'", P1, False),
    ("incident.incident_number matches part '4'", P1, True),
    ("incident.priority matches part 'P'", NO_PRIORITY, False),
    # `matches regex`: RE2, a search, with `i` (unless `exactly`), `s` and `m`; the pattern's
    # own flags win (PCL Overview's examples, one for one)
    ("incident.title matches regex 'this'", IMPORTANT, True),
    ("incident.title matches regex exactly 'this'", IMPORTANT, False),
    ("incident.title matches regex exactly '(?i)this'", IMPORTANT, True),
    ("incident.title matches regex '(?-i)this'", IMPORTANT, False),
    ("incident.title matches regex '.in it'", NEWLINE, True),
    ("incident.title matches regex '(?-s).in it'", NEWLINE, False),
    ("incident.title matches regex '^in it'", NEWLINE, True),
    ("incident.title matches regex '(?-m)^in it'", NEWLINE, False),
    ("incident.title matches regex '(?-sm)newline.in'", NEWLINE, False),
    # anchors: `^`/`$` hold the whole value when it has one line
    ("incident.title matches regex '^\\[prod\\]'", P1, True),
    ("incident.title matches regex '^disk'", P1, False),
    ("incident.title matches regex 'db-\\d+$'", P1, True),
    ("incident.title matches regex 'low$'", P1, False),
    ("incident.priority matches regex '^P[12]$'", P2, True),
    ("incident.priority matches regex '.*'", NO_PRIORITY, False),
    ("incident.incident_number matches regex '^4\\d$'", P1, True),
    # a lone surrogate in the incident's text (JSON can carry one) does not stop evaluation
    ("incident.title matches regex '^a'", snapshot(title="a\ud800"), True),
    ("incident.title matches part 'a'", snapshot(title="a\ud800"), True),
    # numbers
    ("incident.incident_number < 100", P1, True),
    ("incident.incident_number >= 42", P1, True),
    ("incident.incident_number > 42", P1, False),
    ("incident.incident_number <= 41.5", P1, False),
    ("incident.incident_number > -1", P1, True),
    ("4.5e10 > 45000000000", P1, False),
    ("4.5e10 >= 45000000000", P1, True),
    # PCL Overview, "Note About Comparing Integers and Floats": within ±2^53 the integer is
    # converted to a float (2^53 + 1 is not one, and rounds to 2^53)
    ("incident.incident_number == 9007199254740992.0", BEYOND_2_53, True),
    ("incident.incident_number > 9007199254740992.0", BEYOND_2_53, False),
    ("incident.incident_number == 9007199254740994.0", BEYOND_2_53, False),
    ("9007199254740992 == 9007199254740993.0", P1, True),
    # `==` converts nothing: strings by case, a number is not its text, a bool is not 1
    ("incident.urgency == 'high'", P1, True),
    ("incident.urgency == 'HIGH'", P1, False),
    ("incident.incident_number == 42", P1, True),
    ("incident.incident_number == 42.0", P1, True),
    ("incident.incident_number == '42'", P1, False),
    ("true == 1", P1, False),
    ("true == true", P1, True),
    ("incident.priority == 'P1'", NO_PRIORITY, False),
    ("not incident.priority == 'P1'", NO_PRIORITY, True),
    # `exists`: the field has a value
    ("incident.priority exists", P1, True),
    ("incident.priority exists", NO_PRIORITY, False),
    ("not incident.priority exists", NO_PRIORITY, True),
    ("incident.incident_type exists", P1, False),
    # what cannot be evaluated is false, and `not` makes it true (PCL Overview,
    # "Non-Boolean Evaluation")
    ("incident.title > 5", P1, False),
    ("not incident.title > 5", P1, True),
    ("not incident.priority > 2", NO_PRIORITY, True),
    ("incident.priority > 2 or incident.urgency matches 'high'", NO_PRIORITY, True),
    ("incident.priority > 2 and true", NO_PRIORITY, False),
    ("not (incident.priority > 2 and true)", NO_PRIORITY, True),
    ("2 > 'two'", P1, False),
    ("not 2 > 'two'", P1, True),
    # precedence: parentheses, the operations, `not`, `and`, `or`
    ("true or false and false", P1, True),
    ("(true or false) and false", P1, False),
    ("not false and false", P1, False),
    ("not (false and false)", P1, True),
    ("not not incident.priority matches 'P1'", P1, True),
    ("incident.urgency matches 'low' and not incident.priority matches 'P2'"
     " or incident.status matches 'triggered'", P1, True),
    ("incident.urgency matches 'low' and (not incident.priority matches 'P2'"
     " or incident.status matches 'triggered')", P1, False),
    ("not incident.urgency matches 'low' and incident.priority matches 'P2'", P1, False),
    ("not (incident.urgency matches 'high' and incident.priority matches 'P1')", P1, False),
    ("incident.priority matches 'P1' and not (incident.title matches part 'test'\n"
     "    or incident.urgency matches 'low')", P1, True),
    ("incident['priority'] matches 'P1'", P1, True),
    ("(" * pcl.MAX_DEPTH + "true" + ")" * pcl.MAX_DEPTH, P1, True),
]


@pytest.mark.parametrize(("condition", "incident", "expected"), TRUTH,
                         ids=[f"{i}:{case[0][:60]}" for i, case in enumerate(TRUTH)])
def test_condition_over_an_incident(condition: str, incident: dict[str, Any],
                                    expected: bool) -> None:
    assert pcl.parse(condition).holds(incident) is expected


def test_a_condition_is_parsed_once_and_evaluated_many_times() -> None:
    condition = pcl.parse("incident.priority matches 'P1'")
    assert pcl.parse("incident.priority matches 'P1'") is condition
    assert [condition.holds(s) for s in (P1, P2, NO_PRIORITY, P1)] == [True, False, False, True]


ERRORS: list[tuple[str, str, int]] = [
    # (condition, what the message says, 1-based column)
    ("", "the condition is empty", 1),
    ("incident.title matches 'abc", "unterminated string", 24),
    ("incident.title matches 'abc\\'", "unterminated string", 24),
    ("incident.title matches '", "unterminated string", 24),
    ('incident.title matches "abc"', "strings are written in single quotes", 24),
    ("incident.priority = 'P1'", "compare with '==' or 'matches'", 19),
    ("incident.priority != 'P1'", "negate with 'not'", 19),
    ("incident.priority matches 'P1' && true", "combine with 'and'", 32),
    ("incident.priority matches 'P1' || true", "combine with 'or'", 32),
    ("incident.priority matches 'P1' incident.status", "expected 'and', 'or' or the end", 32),
    ("(incident.priority matches 'P1'", "expected ')', found the end", 32),
    ("incident.priority", "expected 'matches', 'exists'", 18),
    ("'P1' exists", "'exists' follows a field", 1),
    ("incident.title matches regex incident.urgency", "a regular expression in single", 30),
    # RE2, not Python's re: no backreferences, no lookaround
    ("incident.title matches regex '(unclosed'", "not a valid RE2 regular expression", 30),
    ("incident.title matches regex '(a)\\1'", "not a valid RE2 regular expression", 30),
    ("incident.title matches regex 'a(?=b)'", "not a valid RE2 regular expression", 30),
    ("incident.title matches regex exactly '\\\\'", "not a valid RE2 regular expression", 38),
    ("incident.title matches regex exactly '\\'", "unterminated string", 38),  # `\'` escapes
    # what means nothing for an incident
    ("now > 2020-01-01 00:00:00 Etc/UTC", "'now' (time conditions) is not available", 1),
    ("now in Mon,Fri 09:00:00 to 17:00:00 America/New_York", "'now' (time conditions)", 1),
    ("incident.title in 'x'", "'in' (schedules) is not available", 16),
    ("trigger_count over 10 seconds > 5", "'trigger_count' is not available", 1),
    ("incident.urgency matches 'high' or resetting_trigger_count over 1 hour > 50",
     "'resetting_trigger_count' is not available", 36),
    ("incident.incident_number > 2 minutes", "expected 'and', 'or' or the end", 30),
    # numbers: 64-bit integers, 64-bit floats with a decimal point
    ("incident.incident_number > 9223372036854775808", "integer out of range (64 bits)", 28),
    ("incident.incident_number > -9223372036854775809", "integer out of range (64 bits)", 28),
    ("incident.incident_number > 1.0e999", "float out of range (64 bits)", 28),
    ("incident.incident_number > 4e10", "'4e10' is not a number", 28),
    ("incident.incident_number > 1.5.3", "'1.5.3' is not a number", 28),
    # text that has no UTF-8 form
    ("incident.title matches regex 'a\ud800'", "not UTF-8 text (a lone surrogate)", 32),
    ("incident.title\ud800 exists", "not UTF-8 text (a lone surrogate)", 15),
    # where, on a later line
    ("incident.urgency matches 'high'\n  and incident.title matches \"x\"",
     "strings are written in single quotes", 30),
]


@pytest.mark.parametrize(("condition", "message", "column"), ERRORS,
                         ids=[f"{i}:{case[1][:40]}" for i, case in enumerate(ERRORS)])
def test_parse_error_says_what_and_where(condition: str, message: str, column: int) -> None:
    with pytest.raises(pcl.PclError) as raised:
        pcl.parse(condition)
    assert message in raised.value.message
    where = f"line 2, column {column}" if "\n" in condition else f"column {column}"
    assert str(raised.value) == f"{raised.value.message} at {where}"


def test_the_first_mistake_is_the_one_named() -> None:
    with pytest.raises(pcl.PclError, match=r"^unknown field 'incident\.bogus'"):
        pcl.parse('incident.bogus matches "x"')
    with pytest.raises(pcl.PclError, match=r"^strings are written in single quotes"):
        pcl.parse('incident.title matches "x" and incident.bogus exists')


def test_unknown_field_lists_the_known_ones() -> None:
    with pytest.raises(pcl.PclError) as raised:
        pcl.parse("incident.urgency matches 'high' and incident.assignee exists")
    assert raised.value.position == 37
    assert raised.value.message.startswith("unknown field 'incident.assignee' (known: ")
    assert raised.value.message.endswith(", ".join(pcl.FIELDS) + ")")


@pytest.mark.parametrize("condition", ["event.summary matches 'x'", "incident exists",
                                       "incident.priority.id matches 'x'",
                                       "incident.title[0] exists", "matches matches 'x'"])
def test_any_path_outside_fields_is_refused(condition: str) -> None:
    with pytest.raises(pcl.PclError):
        pcl.parse(condition)


def test_nesting_deeper_than_max_depth_is_refused_at_the_opener() -> None:
    too_deep = pcl.MAX_DEPTH + 1
    with pytest.raises(pcl.PclError, match=f"deeper than {pcl.MAX_DEPTH} levels") as raised:
        pcl.parse("(" * too_deep + "true" + ")" * too_deep)
    assert raised.value.position == too_deep
    with pytest.raises(pcl.PclError, match=f"deeper than {pcl.MAX_DEPTH} levels") as raised:
        pcl.parse("not " * too_deep + "true")
    assert raised.value.position == 4 * pcl.MAX_DEPTH + 1
    assert pcl.parse("not " * pcl.MAX_DEPTH + "true").holds(P1) is True


def test_64_bit_integers_at_their_bounds_parse() -> None:
    assert pcl.parse("incident.incident_number < 9223372036854775807").holds(P1)
    assert pcl.parse("incident.incident_number > -9223372036854775808").holds(P1)


def test_a_backslash_before_a_newline_stands_for_itself() -> None:
    assert pcl.parse("incident.title matches 'a\\\nb'").holds(snapshot(title="a\\\nb"))


# --- which language a condition is written in ------------------------------------------------

@pytest.mark.parametrize(("condition", "is_pcl"), [
    ("incident.priority matches 'P1'", True),
    ("incident.priority exists", True),
    ("not incident.priority exists", True),
    ("incident.title matches part 'it\\'s'", True),
    ('incident.title matches "x"', True),  # PCL, with a mistake PCL's parser names
    ("incident.priority matches\n'P1'", True),
    # the expression syntax, Jinja-style
    ("incident.urgency == 'high'", False),
    ("incident.urgency == 'high' and incident.priority == 'P1'", False),
    ("incident.title == 'it matches'", False),
    ('incident.title == "exists"', False),
    ("incident.title == 'a\\\nmatches'", False),  # a backslash before a newline, quoted
    ("'x matches y' in incident.title", False),
    ("incident.title is defined and incident.title | lower == 'x'", False),
    ("incident.matches == 1", False),
    ("incident.title_matches == 1", False),
    ("", False),
])
def test_looks_like_pcl(condition: str, is_pcl: bool) -> None:
    assert pcl.looks_like_pcl(condition) is is_pcl


# --- routing in triggers ---------------------------------------------------------------------

def test_check_condition_accepts_either_language() -> None:
    triggers.check_condition("incident.priority matches 'P1' and incident.incident_number > 1")
    triggers.check_condition("incident.urgency == 'high' and incident.title | length > 3")


def test_check_condition_names_the_pcl_mistake_and_its_column() -> None:
    with pytest.raises(ValueError, match=r"^condition does not parse: strings are written in "
                                         r"single quotes at column 27$"):
        triggers.check_condition('incident.priority matches "P1"')


def test_check_condition_refuses_a_broken_expression() -> None:
    with pytest.raises(ValueError, match=r"^condition does not parse: "):
        triggers.check_condition("incident.urgency == 'high' and")


def test_condition_holds_routes_by_language() -> None:
    # PCL: `matches` ignores case; the expression syntax's `==` does not
    assert triggers.condition_holds("incident.priority matches 'p1'", P1) is True
    assert triggers.condition_holds("incident.priority == 'p1'", P1) is False
    assert triggers.condition_holds("incident.priority == 'P1'", P1) is True
    # Jinja filters are the expression syntax's own
    assert triggers.condition_holds("incident.title | lower == '[prod] disk space low on db-1'",
                                    P1) is True
    assert triggers.condition_holds("incident.priority exists", NO_PRIORITY) is False


def test_condition_holds_without_a_condition_and_with_a_broken_one() -> None:
    assert triggers.condition_holds(None, P1) is True
    assert triggers.condition_holds("", P1) is True
    # saved before a rule changed: holds for nothing, never raises
    assert triggers.condition_holds("incident.assignee matches 'x'", P1) is False
    assert triggers.condition_holds("incident.urgency == 'high' and", P1) is False


# --- properties ------------------------------------------------------------------------------

_FRAGMENTS = [
    *pcl.FIELDS, "incident", "event.summary", "and", "or", "not", "matches", "part", "regex",
    "exactly", "exists", "true", "false", "now", "in", "trigger_count", "over", "minutes",
    "(", ")", "[", "]", ".", "==", "=", "!=", ">", ">=", "<", "<=", "&&", '"', "'", "\\", "\n",
    "0", "-1", "42", "1.5", "4.5e10", "4e10", "1.0e999", "9223372036854775808", "'P1'",
    "'(a'", "'\\'", "'\\\\'", "'(?-sm)^x.*$'", "'(a)\\1'", "'a{1000}{1000}'", "'\ud800'",
    "incident.title matches regex", "incident.title matches part exactly",
]
# Any character, and lone surrogates (which JSON can carry) far more often than by chance.
_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=30)
_quoted = _text.map(lambda text: "'" + text.replace("'", "\\'") + "'")
_pcl_like = st.lists(st.sampled_from(_FRAGMENTS) | _quoted, max_size=25).flatmap(
    lambda parts: st.sampled_from([" ", ""]).map(lambda glue: glue.join(parts)))
_value = st.none() | _text | st.integers() | st.floats() | st.booleans()
_snapshot = st.fixed_dictionaries({key: _value for key in set(pcl.FIELDS.values())})


def _parse_or_refuse(source: str) -> pcl.Condition | None:
    try:
        return pcl.parse(source)
    except pcl.PclError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(st.characters() | st.characters(categories=["Cs"]), max_size=200))
def test_any_text_parses_or_is_refused_with_pcl_error(source: str) -> None:
    _parse_or_refuse(source)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pcl_like, _snapshot)
def test_pcl_like_text_parses_or_is_refused_and_evaluation_never_raises(
        source: str, incident: dict[str, Any]) -> None:
    condition = _parse_or_refuse(source)
    if condition is not None:
        assert condition.holds(incident) in (True, False)
        assert condition.holds(snapshot()) in (True, False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_text, st.booleans(), _text)
def test_any_regex_compiles_or_is_refused_and_matching_completes(
        pattern: str, exactly: bool, title: str) -> None:
    # RE2 runs in time linear in the text: no pattern can make a trigger hang the relay
    modifier = " exactly" if exactly else ""
    escaped = pattern.replace("\\", "\\\\").replace("'", "\\'")
    condition = _parse_or_refuse(f"incident.title matches regex{modifier} '{escaped}'")
    if condition is not None:
        assert condition.holds(snapshot(title=title * 100)) in (True, False)
