"""Logic blocks (issue 14): `fireline.condition` runs one of its branches and the other ends
`not_taken`; `fireline.loop_until` runs its steps, checks its expression, and runs them again
(each pass with its own idempotency key) until it holds or its passes run out. Both are
steps of the run like any other: durable, and shown step by step in run history."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fireline.core.db import Database
from fireline.incidents.models import Note
from fireline.workflows.definitions import parse
from fireline.workflows.engine import Engine
from fireline.workflows.models import RunStep
from tests.conftest import Actor
from tests.workflows.conftest import run_detail
from tests.workflows.test_engine import Clock, clock, run_of, worker_a, worker_b  # noqa: F401


def note(step_id: str, content: str | None = None) -> dict[str, Any]:
    return {"id": step_id, "action": "fireline.add_note",
            "with": {"content": content or step_id}}


def condition(expression: str, then: list[dict[str, Any]], else_: list[dict[str, Any]],
              step_id: str = "check") -> dict[str, Any]:
    return {"id": step_id, "action": "fireline.condition", "with": {"expression": expression},
            "then": then, "else": else_}


async def _notes(db: Database, incident_id: str) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(Note.content).where(
            Note.incident_id == incident_id).order_by(Note.created_at, Note.id)))


async def _steps(db: Database, run_id: str) -> dict[str, RunStep]:
    async with db.session() as session:
        return {step.step_id: step for step in await session.scalars(
            select(RunStep).where(RunStep.run_id == run_id))}


@pytest.mark.parametrize(("title", "taken", "skipped"),
                         [("Disk full", "yes", "no"), ("CPU hot", "no", "yes")])
async def test_a_condition_runs_one_branch_and_what_follows_waits_for_it(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,  # noqa: F811
    title: str, taken: str, skipped: str,
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(
        client, admin,
        condition("incident.title == 'Disk full'", [note("yes"), note("yes_too")],
                  [note("no")]),
        note("after"), incident_title=title)
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    statuses = {step["id"]: step["status"] for step in run["steps"]}
    assert statuses["check"] == "succeeded"
    assert statuses[skipped] == "not_taken"
    assert statuses[taken] == "succeeded"
    expected = ["yes", "yes_too"] if taken == "yes" else ["no"]
    assert await _notes(db, incident_id) == [*expected, "after"]
    check = next(step for step in run["steps"] if step["id"] == "check")
    assert check["output"] == {"holds": taken == "yes", "branch":
                               "then" if taken == "yes" else "else"}


async def test_a_branch_not_taken_skips_the_blocks_inside_it_and_earlier_outputs_decide(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    inner = condition("true", [note("inner_yes")], [note("inner_no")], step_id="inner")
    run_id, incident_id = await run_of(
        client, admin,
        {"id": "look", "action": "fireline.json_lookup",
         "with": {"json": '{"level": "low"}', "key": "level"}},
        condition("steps.look.output.value == 'high'", [inner], [note("calm")]),
        note("after"))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    statuses = {step["id"]: step["status"] for step in run["steps"]}
    assert [statuses[s] for s in ("inner", "inner_yes", "inner_no")] == ["not_taken"] * 3
    assert await _notes(db, incident_id) == ["calm", "after"]


async def test_a_loop_repeats_its_steps_until_its_expression_holds(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(
        client, admin,
        {"id": "poll", "action": "fireline.loop_until",
         "with": {"expression": "steps.read.output.notes | length >= 3", "max_iterations": 5},
         "steps": [note("ping"), {"id": "read", "action": "fireline.get_notes"}]},
        note("after"))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    assert await _notes(db, incident_id) == ["ping", "ping", "ping", "after"]
    steps = await _steps(db, run_id)
    assert steps["poll"].output == {"iterations": 3}
    # Each pass is a new call: its own WF-5 key, stable across that pass's attempts.
    assert steps["ping"].iteration == 2
    assert steps["ping"].idempotency_key == f"{run_id}:ping:2"
    assert steps["after"].idempotency_key == f"{run_id}:after"


async def test_a_loop_waits_between_passes_and_fails_when_its_passes_run_out(
    client: httpx.AsyncClient, make_actor, db: Database, clock: Clock,  # noqa: F811
    worker_a: Engine, worker_b: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(
        client, admin,
        {"id": "poll", "action": "fireline.loop_until",
         "with": {"expression": "false", "max_iterations": 2, "interval_seconds": 30},
         "steps": [note("ping")]},
        note("after"))
    await worker_a.drain()
    waiting = (await _steps(db, run_id))["ping"]
    assert (waiting.status, waiting.iteration) == ("ready", 1)
    assert waiting.next_attempt_at is not None
    assert (waiting.next_attempt_at - clock.now).total_seconds() == 30
    assert await _notes(db, incident_id) == ["ping"]

    clock.advance(30)
    await worker_b.drain()  # another engine runs the second pass
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "step poll: Still not true after 2 passes"
    assert await _notes(db, incident_id) == ["ping", "ping"]
    assert {step["id"]: step["status"] for step in run["steps"]}["after"] == "skipped"


async def test_an_expression_that_cannot_be_evaluated_fails_its_step(
    client: httpx.AsyncClient, make_actor, worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, _ = await run_of(
        client, admin, condition("steps.nothing.output.value == 1", [note("yes")], []))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed"
    assert "expression: UndefinedError" in run["error"]


@pytest.mark.parametrize(("step", "message"), [
    ({"id": "a", "action": "fireline.add_note", "with": {"content": "x"},
      "then": [note("b")]}, "only fireline.condition and fireline.loop_until hold steps"),
    ({"id": "a", "action": "fireline.condition", "with": {"expression": "true"}},
     "a condition needs `then` or `else` steps"),
    ({"id": "a", "action": "fireline.loop_until", "with": {"expression": "true"}},
     "a loop needs `steps` to repeat"),
    (condition("true", [{**note("b"), "needs": []}], []),
     "steps inside 'check' run in order"),
    (condition("incident.title ==", [note("b")], []),
     "steps.check.with.expression: does not parse"),
    (condition("true", [note("check")], []), "duplicate step ids: check"),
])
def test_blocks_are_checked_when_saved(step: dict[str, Any], message: str) -> None:
    from fireline.core.errors import InvalidInputError
    with pytest.raises(InvalidInputError) as caught:
        parse({"name": "W", "steps": [step]})
    assert message in " ".join([caught.value.message, *caught.value.errors])


def test_a_top_level_step_may_not_need_a_step_inside_a_block() -> None:
    from fireline.core.errors import InvalidInputError
    with pytest.raises(InvalidInputError) as caught:
        parse({"name": "W", "steps": [condition("true", [note("b")], []),
                                      {**note("c"), "needs": ["b"]}]})
    assert "needs a step inside a block 'b'" in " ".join(caught.value.errors)


def test_what_follows_a_block_needs_its_ends() -> None:
    definition = parse({"name": "W", "steps": [
        condition("true", [note("a"), note("b")], [note("c")]),
        {"id": "loop", "action": "fireline.loop_until", "with": {"expression": "true"},
         "steps": [note("d"), note("e")]},
        note("f"),
    ]})
    needs = {step.id: definition.needs_of(step) for step in definition.all_steps}
    assert needs == {"check": [], "a": ["check"], "b": ["a"], "c": ["check"],
                     "loop": ["e"], "d": ["check", "b", "c"], "e": ["d"], "f": ["loop"]}
