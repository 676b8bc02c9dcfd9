"""JSON Schemas of PagerDuty's REST responses for incident workflows, to validate ours against.

Transcribed by hand from PagerDuty's public REST schema (PagerDuty/api-schema,
`reference/REST/openapiv3.json`): the `$ref`s resolved, `allOf` merged, OpenAPI's
`nullable: true` written as a `null` type. Property names, types, enums and required lists
are PagerDuty's; `additionalProperties` is left open, as in the original (we add fields such
as an action's `idempotent`). Nothing here is ours to change: if Fireline's answer disagrees,
Fireline is wrong.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}

# PagerDuty's common resource fields (the first part of its `Tag` schema, which its
# `IncidentWorkflowAction` and `IncidentWorkflow` start from).
_RESOURCE = {
    "id": _STRING,
    "summary": _NULLABLE_STRING,
    "self": {"type": ["string", "null"], "format": "url"},
    "html_url": {"type": ["string", "null"], "format": "url"},
}

ACTION_INPUT_TYPES = ["text", "password", "integer", "decimal", "date", "dateTime", "boolean",
                      "singleChoice", "multipleChoice", "json", "connection", "trigger"]
ACTION_OUTPUT_TYPES = ACTION_INPUT_TYPES[:10]  # no connection or trigger outputs

ACTION: dict[str, Any] = {  # IncidentWorkflowAction
    "type": "object",
    "properties": {
        **_RESOURCE,
        "type": {"type": "string", "enum": ["action"]},
        "domain_name": _STRING,
        "package_name": _STRING,
        "function_name": _STRING,
        "version": {"type": "number"},
        "name": _STRING,
        "description": _STRING,
        "action_type": {"type": "string", "enum": ["action", "trigger"]},
        "action_tier": {"type": "string",
                        "enum": ["basic-action", "standard-action", "premium-action"]},
        "trigger_type": {"type": "string", "enum": ["polling", "subscription", "web"]},
        "tags": {"type": "array", "items": _STRING},
        "search_keywords": {"type": "array", "items": _STRING},
        "metadata": _STRING,  # a JSON text
        "created_at": {"type": "string", "format": "date-time"},
        "created_by_user_id": _STRING,
        "inputs": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "name": _STRING,
                "description": _STRING,
                "type": {"type": "string", "enum": ACTION_INPUT_TYPES},
                "default_value": _STRING,  # serialised
                "is_required": {"type": "boolean"},
                "is_hidden": {"type": "boolean"},
                "advanced": {"type": "boolean"},
                "metadata": _STRING,
                "connection_type_id": _STRING,
            },
        }},
        "outputs": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "name": _STRING,
                "description": _STRING,
                "type": {"type": "string", "enum": ACTION_OUTPUT_TYPES},
            },
        }},
    },
}

# GET /incident_workflows/actions: CursorPagination, `more`, and the actions.
ACTIONS_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "limit": {"type": "integer"},
        "next_cursor": _NULLABLE_STRING,
        "more": {"type": "boolean"},
        "actions": {"type": "array", "items": ACTION},
    },
    "required": ["limit", "next_cursor"],
}

# GET /incident_workflows/actions/{id}
ACTION_RESPONSE: dict[str, Any] = {"type": "object", "properties": {"action": ACTION}}

_STEP_INPUT = {
    "type": "object",
    "properties": {"name": _STRING, "parameter_type": _STRING, "value": _STRING},
    "required": ["name", "value"],
}
# PagerDuty's schema also lists `required: [name, value]` for outputs, which have no `value`
# (its own response example has none): left out here.
_STEP_OUTPUT = {
    "type": "object",
    "properties": {"name": _STRING, "reference_name": _STRING, "parameter_type": _STRING},
}


def _step(inline: dict[str, Any] | None) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "type": "object",
        "properties": {
            "action_id": _STRING,
            "description": _STRING,
            "inputs": {"type": "array", "items": _STEP_INPUT},
            "outputs": {"type": "array", "items": _STEP_OUTPUT},
        },
        "required": ["action_id", "inputs"],
    }
    if inline is not None:
        configuration["properties"]["inline_steps_inputs"] = {"type": "array", "items": {
            "type": "object",
            "properties": {"name": _STRING, "value": {
                "type": "object",
                "properties": {"steps": {"type": "array", "items": inline}},
            }},
            "required": ["name", "value"],
        }}
    properties: dict[str, Any] = {
        **_RESOURCE,
        "type": {"type": "string", "enum": ["step"]},
        "name": _STRING,
        "action_configuration": configuration,
    }
    if inline is not None:  # only a top-level step's description is in the schema
        properties["description"] = _STRING
    return {"type": "object", "properties": properties,
            "required": ["name", "action_configuration"]}


WORKFLOW: dict[str, Any] = {  # IncidentWorkflow (its steps' inline steps one level deep)
    "type": "object",
    "properties": {
        **_RESOURCE,
        "type": {"type": "string", "enum": ["incident_workflow"]},
        "name": _STRING,
        "description": _STRING,
        "created_at": {"type": "string", "format": "date-time"},
        "team": {"type": "object", "properties": {
            "type": {"type": "string", "enum": ["team_reference"]}, "id": _STRING}},
        "is_enabled": {"type": "boolean"},
        "steps": {"type": "array", "items": _step(_step(None))},
    },
}

# POST /incident_workflows (201), GET and PUT /incident_workflows/{id}
WORKFLOW_RESPONSE: dict[str, Any] = {
    "type": "object",
    "properties": {"incident_workflow": WORKFLOW},
    "required": ["incident_workflow"],
}


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Raises jsonschema's ValidationError (naming the path) when `instance` does not fit."""
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.validate(instance)


def errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(instance)]
