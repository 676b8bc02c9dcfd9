"""The workflow editor in-process: a workflow built step by step in the form (add a step,
choose its action and see its inputs, move and delete steps) saves the same definition the API
returns; refused drafts come back with each message beside the step field it names; the YAML
view round-trips and keeps refused text; the condition is checked as it is typed; only authors
may edit. The connection picker's ACL-1 rule is driven in Chromium (tests/served)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.conftest import Actor
from tests.web.helpers import HTML, HTMX, signed_in
from tests.web.test_workflow_pages import _workflow


def _fields(page: str) -> dict[str, str]:
    """The editor's posted fields as the page shows them (inputs, textareas, selected)."""
    found = {name: html.unescape(value) for name, value in re.findall(
        r'<input type="(?:text|hidden)"[^>]*name="([^"]+)" value="([^"]*)"', page)}
    found |= {name: html.unescape(value) for name, value in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page)}
    for name, value in re.findall(
            r'<input type="(?:checkbox|radio)" name="([^"]+)"(?: value="([^"]*)")? checked', page):
        found.setdefault(name, value or "on")  # the first of several checked boxes
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page,
                                    re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        if chosen:
            found[name] = chosen[1]
    return found


def _error(page: str, field_id: str) -> str | None:
    found = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', page)
    return found[1] if found else None


async def _post(client: httpx.AsyncClient, url: str, fields: dict[str, str], op: str,
                **changes: str) -> httpx.Response:
    return await client.post(url, data={**fields, **changes, "op": op}, headers=HTMX)


async def test_a_workflow_is_built_in_the_form_and_saved_as_the_api_defines_it(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    page = await client.get("/incident_workflows/new", headers=HTML)
    assert page.status_code == 200
    fields = _fields(page.text) | {"csrf_token": csrf, "name": "Note and resolve"}

    chosen = await _post(client, "/incident_workflows/new", fields, "refresh",
                         **{"steps.0.action": "fireline.add_note"})
    assert chosen.status_code == 200 and "<html" not in chosen.text  # the form alone
    assert 'name="steps.0.with.content"' in chosen.text  # the action's input, generated
    fields = _fields(chosen.text) | {"csrf_token": csrf,
                                     "steps.0.with.content": "Seen: {{ incident.title }}"}
    added = await _post(client, "/incident_workflows/new", fields, "add")
    fields = _fields(added.text) | {"csrf_token": csrf, "steps.1.action": "fireline.resolve"}
    assert fields["steps.1.id"] == "step_2"
    moved = await _post(client, "/incident_workflows/new", fields, "up.1")
    fields = _fields(moved.text) | {"csrf_token": csrf}
    assert (fields["steps.0.id"], fields["steps.1.id"]) == ("step_2", "step_1")
    moved = await _post(client, "/incident_workflows/new", fields, "down.0")
    fields = _fields(moved.text) | {"csrf_token": csrf}

    saved = await client.post("/incident_workflows/new", data={**fields, "op": "save"})
    assert saved.status_code == 303, saved.text
    workflow_id = saved.headers["location"].rsplit("/", 1)[1]
    body = (await client.get(f"/api/incident_workflows/{workflow_id}",
                             headers=admin.headers)).json()["incident_workflow"]
    assert [(s["id"], s["action"]) for s in body["steps"]] == [
        ("step_1", "fireline.add_note"), ("step_2", "fireline.resolve")]
    assert body["steps"][0]["with"] == {"content": "Seen: {{ incident.title }}"}
    assert body["trigger"] == {"type": "manual"} and body["is_enabled"] is True

    edit = await client.get(f"/incident_workflows/{workflow_id}/edit", headers=HTML)
    fields = _fields(edit.text) | {"csrf_token": csrf}
    deleted = await _post(client, f"/incident_workflows/{workflow_id}/edit", fields,
                          "delete.1")
    fields = _fields(deleted.text) | {"csrf_token": csrf}
    assert "steps.1.id" not in fields
    resaved = await client.post(f"/incident_workflows/{workflow_id}/edit",
                                data={**fields, "op": "save"})
    assert resaved.status_code == 303, resaved.text
    body = (await client.get(f"/api/incident_workflows/{workflow_id}",
                             headers=admin.headers)).json()["incident_workflow"]
    assert [s["id"] for s in body["steps"]] == ["step_1"]


async def test_refused_drafts_show_each_message_beside_its_step_field(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    _, csrf = await signed_in(client, make_actor)
    page = await client.get("/incident_workflows/new", headers=HTML)
    fields: dict[str, Any] = _fields(page.text) | {
        "csrf_token": csrf, "name": "Broken", "steps.0.id": "Bad Id",
        "steps.0.action": "fireline.add_note", "steps.0.timeout": "0",
        "trigger_type": "conditional", "trigger_on": "incident.triggered",
        "condition": "incident.urgency ==", "op": "save"}
    refused = await client.post("/incident_workflows/new", data=fields, headers=HTML)
    assert refused.status_code == 400
    assert "should match pattern" in (_error(refused.text, "field-step-0-id") or "")
    assert _error(refused.text, "field-step-0-timeout")
    assert 'value="incident.urgency =="' in refused.text  # what was typed is kept

    fields |= {"steps.0.id": "note", "steps.0.timeout": "30", "condition": ""}
    empty = await client.post("/incident_workflows/new", data=fields, headers=HTML)
    assert empty.status_code == 400
    assert _error(empty.text, "field-steps.0.with-content")  # the required input

    fields["steps.0.action"] = "nosuchtool.search"
    unknown = await client.post("/incident_workflows/new", data=fields, headers=HTML)
    assert "unknown action" in (_error(unknown.text, "field-step-0-action") or "")


async def test_the_condition_is_checked_as_it_is_typed(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    _, csrf = await signed_in(client, make_actor)
    bad = await client.post("/incident_workflows/condition", headers=HTMX,
                            data={"csrf_token": csrf, "condition": "incident.urgency =="})
    assert "does not parse" in bad.text and "<html" not in bad.text
    good = await client.post("/incident_workflows/condition", headers=HTMX,
                             data={"csrf_token": csrf, "condition": 'incident.urgency == "high"'})
    assert "The condition parses" in good.text


async def test_the_yaml_view_round_trips_and_keeps_refused_text(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    workflow_id = await _workflow(client, admin, "As YAML",
                                  [{"id": "n", "action": "fireline.noop"}])
    shown = await client.get(f"/incident_workflows/{workflow_id}/yaml", headers=HTML)
    text = re.search(r'name="definition"[^>]*>([^<]*)</textarea>', shown.text)
    assert text and "name: As YAML" in text[1]
    edited = html.unescape(text[1]).replace("name: As YAML", "name: As YAML, renamed")
    saved = await client.post(f"/incident_workflows/{workflow_id}/yaml",
                              data={"csrf_token": csrf, "definition": edited})
    assert saved.status_code == 303, saved.text
    again = await client.get(f"/incident_workflows/{workflow_id}/yaml", headers=HTML)
    assert "name: As YAML, renamed" in again.text

    broken = edited.replace("fireline.noop", "fireline.nope")
    refused = await client.post(f"/incident_workflows/{workflow_id}/yaml", headers=HTML,
                                data={"csrf_token": csrf, "definition": broken})
    assert refused.status_code == 400
    assert "unknown action" in refused.text and "fireline.nope" in refused.text


async def test_only_authors_see_and_use_the_editor(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "Theirs", [{"id": "n", "action": "fireline.noop"}])
    _, csrf = await signed_in(client, make_actor, role="responder")
    listed = await client.get("/incident_workflows", headers=HTML)
    assert "New workflow" not in listed.text
    assert (await client.get("/incident_workflows/new", headers=HTML)).status_code == 403
    assert (await client.get(f"/incident_workflows/{workflow_id}/edit",
                             headers=HTML)).status_code == 403
    refused = await client.post(f"/incident_workflows/{workflow_id}/yaml", headers=HTML,
                                data={"csrf_token": csrf, "definition": "name: x"})
    assert refused.status_code in (400, 403)
