"""The action catalog (`workflows.catalog`) as `GET /api/incident_workflows/actions` serves it:
every action once, under a unique id of PagerDuty's form, paged by cursor, filtered by
keyword, and in the shape PagerDuty's REST schema gives its `IncidentWorkflowAction`."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import httpx
import jsonschema
import pytest

from fireline.integrations import registry
from fireline.workflows import catalog
from fireline.workflows.builtins import BUILTINS
from tests.conftest import Actor
from tests.workflows import pagerduty_schemas
from tests.workflows.conftest import WORKFLOWS

ACTIONS = f"{WORKFLOWS}/actions"
# domain:package:function:version, as PagerDuty's ids are (pagerduty.com:slack:create-a-channel:4)
ACTION_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*:[a-z0-9][a-z0-9_-]*:[a-z0-9][a-z0-9-]*:[0-9]+$")
STATUS_UPDATE = "pagerduty.com:incident-workflows:send-status-update:1"


def expected_keys() -> set[str]:
    """Every action a step may name: the built-ins and each integration's actions."""
    builtins = {f"fireline.{name}" for name in BUILTINS}
    tools = {f"{integration.slug}.{action.name}"
             for integration in registry.INTEGRATIONS for action in integration.actions}
    return builtins | tools


def key_of(action: dict[str, Any]) -> str:
    return str(json.loads(action["metadata"])["key"])


async def walk(client: httpx.AsyncClient, actor: Actor, limit: int, **params: str
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page from the first, following next_cursor: (actions, page bodies)."""
    found: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get(ACTIONS, params=query, headers=actor.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        found += body["actions"]
        assert body["more"] is (body["next_cursor"] is not None)
        cursor = body["next_cursor"]
        if cursor is None:
            return found, pages
        assert len(pages) <= 200, "paging does not end"


# --- the catalog itself ----------------------------------------------------------------------

def test_every_builtin_and_integration_action_is_in_the_catalog_once() -> None:
    keys = Counter(action.key for action in catalog.all_actions())
    assert set(keys) == expected_keys()
    assert [key for key, count in keys.items() if count > 1] == []


def test_ids_are_unique_and_of_pagerdutys_form() -> None:
    actions = catalog.all_actions()
    ids = Counter(action.id for action in actions)
    assert [action_id for action_id, count in ids.items() if count > 1] == []
    for action in actions:
        assert ACTION_ID.match(action.id), action.id
        assert catalog.by_id(action.id) == action
        assert catalog.by_key(action.key) == action
    assert [action.id for action in actions] == sorted(ids)


def test_known_pagerduty_ids_resolve_and_other_versions_of_them_too() -> None:
    status = catalog.by_id(STATUS_UPDATE)
    assert status is not None and status.key == "fireline.send_status_update"
    assert status.input_named("Message") is not None
    for other in ("pagerduty.com:incident-workflows:send-status-update:5",
                  "pagerduty.com:incident-workflows:send-status-update:2"):
        assert catalog.by_id(other) is None  # not served under that id ...
        resolved = catalog.resolve(other)  # ... but a definition naming it means the same step
        assert resolved is not None and resolved.key == "fireline.send_status_update"
    for action_id, key in [
        ("pagerduty.com:incident-workflows:add-notes-to-incident:1", "fireline.add_note"),
        ("pagerduty.com:logic:incident-workflows-loop-until:3", "fireline.loop_until"),
        ("pagerduty.com:slack:create-a-channel:4", "slack.create_incident_channel"),
        ("pagerduty.com:slack:create-a-channel:3", "slack.create_incident_channel"),
        ("fireline.dev:elasticsearch:search-logs:1", "elasticsearch.search_logs"),
        ("fireline.dev:fireline:condition:1", "fireline.condition"),
    ]:
        found = catalog.resolve(action_id)
        assert found is not None and found.key == key, action_id
    for unknown in ("pagerduty.com:incident-workflows:no-such-thing:1",
                    "pagerduty.com:incident-workflows:send-status-update:x",
                    "fireline.dev:elasticsearch:search-logs:2",  # ours have one version
                    "fireline.dev:fireline:send-status-update:1",  # served under PagerDuty's id
                    "send-status-update", "fireline.send_status_update", ""):
        assert catalog.resolve(unknown) is None, unknown


def test_a_tool_actions_first_input_is_its_connection() -> None:
    search = catalog.by_key("elasticsearch.search_logs")
    assert search is not None and search.integration is not None
    first = search.inputs[0]
    assert (first.name, first.type, first.connection_type_id, first.required) == (
        catalog.CONNECTION_INPUT, "connection", "elasticsearch", False)
    assert {item.key for item in search.inputs[1:]} >= {"index_pattern", "query_type", "query"}
    query_type = search.input_named("query_type")
    assert query_type is not None and query_type.type == "singleChoice"
    assert set(query_type.choices) == {"lucene", "kql", "dsl", "eql"}


# --- over HTTP -----------------------------------------------------------------------------

async def test_paging_walks_every_action_once(client: httpx.AsyncClient, make_actor) -> None:
    observer: Actor = await make_actor("observer")  # reading the catalog needs no more
    everything, _ = await walk(client, observer, limit=100)
    for limit in (1, 7, 25):
        found, pages = await walk(client, observer, limit=limit)
        ids = [action["id"] for action in found]
        assert len(ids) == len(set(ids)), f"repeats at limit {limit}"
        assert ids == [action["id"] for action in everything]
        assert all(len(page["actions"]) <= limit and page["limit"] == limit for page in pages)
        assert all(len(page["actions"]) == limit for page in pages[:-1])
    assert Counter(key_of(action) for action in everything) == Counter(expected_keys())


async def test_limit_is_capped_and_a_bad_cursor_is_400(client: httpx.AsyncClient, make_actor
                                                        ) -> None:
    admin: Actor = await make_actor("admin")
    capped = (await client.get(ACTIONS, params={"limit": 1000}, headers=admin.headers)).json()
    assert capped["limit"] == 100 and len(capped["actions"]) <= 100
    default = (await client.get(ACTIONS, headers=admin.headers)).json()
    assert default["limit"] == 25 and len(default["actions"]) == 25 and default["more"] is True
    for bad in ("not-a-cursor", "eyJub3QiOiAiYWZ0ZXIifQ=="):  # the second: {"not": "after"}
        response = await client.get(ACTIONS, params={"cursor": bad}, headers=admin.headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["errors"] == ["cursor: not a cursor this API returned"]
    assert (await client.get(ACTIONS, params={"limit": 0}, headers=admin.headers)
            ).status_code == 400
    assert (await client.get(ACTIONS)).status_code == 401


async def test_keyword_keeps_the_actions_tagged_with_it(client: httpx.AsyncClient, make_actor
                                                        ) -> None:
    admin: Actor = await make_actor("admin")
    slack, _ = await walk(client, admin, limit=10, keyword="slack")
    slack_keys = {f"slack.{action.name}" for action in registry.get("slack").actions}  # type: ignore[union-attr]
    assert {key_of(action) for action in slack} == slack_keys
    assert all("slack" in action["search_keywords"] for action in slack)
    # Any case; a tag counts as a keyword.
    upper, _ = await walk(client, admin, limit=100, keyword="SLACK")
    assert upper == slack
    idempotent, _ = await walk(client, admin, limit=100, keyword="idempotent")
    assert idempotent and all(action["idempotent"] and action["tags"] == ["idempotent"]
                              for action in idempotent)
    assert {key_of(action) for action in idempotent} == {
        action.key for action in catalog.all_actions() if action.idempotent}
    logic, _ = await walk(client, admin, limit=100, keyword="logic")
    assert {key_of(action) for action in logic} >= {"fireline.condition", "fireline.loop_until"}
    none, pages = await walk(client, admin, limit=100, keyword="no-such-keyword")
    assert none == [] and pages[0]["more"] is False and pages[0]["next_cursor"] is None


async def test_one_action_by_id_and_an_unknown_id_is_pagerdutys_404(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    response = await client.get(f"{ACTIONS}/{STATUS_UPDATE}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    pagerduty_schemas.validate(body, pagerduty_schemas.ACTION_RESPONSE)
    action = body["action"]
    assert action["id"] == STATUS_UPDATE and key_of(action) == "fireline.send_status_update"
    assert (action["domain_name"], action["package_name"], action["function_name"],
            action["version"]) == ("pagerduty.com", "incident-workflows", "send-status-update", 1)
    assert action["self"] == f"http://testserver{ACTIONS}/{STATUS_UPDATE}"
    assert [item["name"] for item in action["inputs"]][:1] == ["Message"]
    listed = (await client.get(ACTIONS, params={"limit": 100}, headers=admin.headers)).json()
    assert next(item for item in listed["actions"] if item["id"] == STATUS_UPDATE) == action

    for unknown in ("pagerduty.com:incident-workflows:no-such-thing:1",
                    # Another version resolves in a definition, but is not served as an action.
                    "pagerduty.com:incident-workflows:send-status-update:5",
                    "fireline.dev:fireline:send-status-update:1", "PXXXXXX"):
        missing = await client.get(f"{ACTIONS}/{unknown}", headers=admin.headers)
        assert missing.status_code == 404, unknown
        error = missing.json()
        assert error == {"error": {"message": "Incident Workflow Action Not Found",
                                   "code": 2100, "errors": []}}
        assert pagerduty_schemas.errors(error, ERROR_RESPONSE) == []


# PagerDuty's generic error response (its `components.responses` error schema).
ERROR_RESPONSE: dict[str, Any] = {"type": "object", "properties": {"error": {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "string"}}},
}}}


async def test_the_list_validates_against_pagerdutys_schema(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    jsonschema.Draft202012Validator.check_schema(pagerduty_schemas.ACTIONS_RESPONSE)
    _, pages = await walk(client, admin, limit=30)
    for page in pages:
        pagerduty_schemas.validate(page, pagerduty_schemas.ACTIONS_RESPONSE)
    actions = [action for page in pages for action in page["actions"]]
    # The schema requires no action field: check that ours give every field PagerDuty's own
    # response example has (but who created it, and when: Fireline's actions are built in).
    for action in actions:
        missing = {"type", "id", "domain_name", "package_name", "function_name", "version",
                   "name", "description", "action_type", "action_tier", "tags", "metadata",
                   "search_keywords", "inputs", "outputs"} - set(action)
        assert not missing, (action["id"], missing)
        assert action["id"] == ":".join((action["domain_name"], action["package_name"],
                                         action["function_name"], str(action["version"])))
        assert isinstance(json.loads(action["metadata"]), dict)
        for item in action["inputs"]:
            assert {"name", "description", "type", "is_required", "is_hidden", "advanced",
                    "metadata", "connection_type_id"} <= set(item), (action["id"], item)
            metadata = json.loads(item["metadata"])
            if item["type"] in ("singleChoice", "multipleChoice"):
                assert metadata["choices"], (action["id"], item)
        names = [item["name"].casefold() for item in action["inputs"]]
        assert len(names) == len(set(names)), (action["id"], names)
    # Every input and output type PagerDuty knows is one of its enums (the schema says so);
    # a secret is never an input (SEC: secrets live in connections).
    assert not any(item["type"] == "password" for action in actions for item in action["inputs"])


@pytest.mark.parametrize("broken", [
    {"version": "1"}, {"action_tier": "gold"}, {"type": "tool"}, {"tags": "idempotent"},
    {"inputs": [{"name": "X", "type": "secret"}]}, {"outputs": [{"name": "X", "type": "url"}]},
])
def test_the_schema_refuses_what_pagerduty_would_not_send(broken: dict[str, Any]) -> None:
    action = catalog.all_actions()[0].body("http://testserver")
    pagerduty_schemas.validate(
        {"actions": [action], "limit": 1, "next_cursor": None, "more": False},
        pagerduty_schemas.ACTIONS_RESPONSE)
    bad = {"actions": [{**action, **broken}], "limit": 1, "next_cursor": None}
    assert pagerduty_schemas.errors(bad, pagerduty_schemas.ACTIONS_RESPONSE)
    assert pagerduty_schemas.errors({"actions": [action], "limit": 1},  # next_cursor required
                                    pagerduty_schemas.ACTIONS_RESPONSE)
