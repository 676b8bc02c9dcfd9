"""ServiceNow actions.

Retrieve Runbook from Knowledge Base Article (reference text), reads only, safe to retry:
1. `GET /api/now/table/sn_km_mr_st_kb_knowledge?sysparm_query=number=KB…&sysparm_limit=1`
   (or `sys_id=…`): the primary payload — number, short description, content, author, sys_id.
2. `GET /api/now/table/kb_knowledge/{sys_id}`: knowledge base, workflow state, last update.
3. With Include Attachments, `GET /api/now/attachment?sysparm_query=table_sys_id={sys_id}`:
   JSON metadata only; binaries are never downloaded.
An unknown article is a `PermanentError` naming it.

Create Incident: `POST /api/now/table/incident` (Table API insert). An assignment group or
caller given by name is resolved to its sys_id first (`sys_user_group` by `name`, `sys_user`
by `user_name` or `email`), since the Table API stores reference values as given.
WF-5: the Table API takes no idempotency key, so the incident's `correlation_id` (the field
ServiceNow keeps for an external system's ID) carries a value derived from the run's
idempotency key. Create Incident looks that value up first and returns the incident a retried
step already created instead of inserting a second one.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.servicenow import client
from fireline.integrations.servicenow.schema import (
    Attachment,
    CreateIncidentInput,
    IncidentOutput,
    RetrieveRunbookInput,
    RetrieveRunbookOutput,
)
from fireline.integrations.servicenow.text import html_to_text

ARTICLE_TABLE = "sn_km_mr_st_kb_knowledge"
KB_TABLE = "kb_knowledge"
# Table API: display values turn reference fields (author, knowledge base) and choice fields
# (workflow state) into readable text; the link objects are not needed.
_DISPLAY = {"sysparm_display_value": "true", "sysparm_exclude_reference_link": "true"}
INCIDENT_TABLE = "incident"
# Actual values (urgency "1", references as bare sys_ids), only the fields the output needs.
_INCIDENT = {
    "sysparm_fields": "sys_id,number,short_description,urgency,impact,priority,state,"
    "assignment_group,caller_id,correlation_id",
    "sysparm_exclude_reference_link": "true",
}
# Namespace for correlation IDs derived from idempotency keys (a fixed, random UUID).
_CORRELATION_NAMESPACE = uuid.UUID("3b8f6c2e-94d1-4a57-b0e3-6d2c1f9a8e47")
_SYS_ID = re.compile(r"^[0-9a-fA-F]{32}$")


def _text(record: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _size(value: Any) -> int | None:
    try:
        return int(str(value).replace(",", ""))
    except ValueError:
        return None


async def retrieve_runbook(ctx: ToolContext, data: RetrieveRunbookInput) -> RetrieveRunbookOutput:
    token = await client.access_token(ctx)
    by = "number" if data.article.startswith("KB") else "sys_id"
    found = await client.get(
        ctx,
        token,
        f"/api/now/table/{ARTICLE_TABLE}",
        {
            "sysparm_query": f"{by}={data.article}",
            "sysparm_limit": "1",
            "sysparm_fields": "sys_id,number,short_description,text,content,author,"
            "kb_knowledge_base,workflow_state,sys_updated_on",
            **_DISPLAY,
        },
    )
    if not found:
        raise PermanentError(f"Knowledge article {data.article} was not found in ServiceNow")
    article: dict[str, Any] = found[0]
    sys_id = str(article["sys_id"])
    details: dict[str, Any] = (
        await client.get(
            ctx,
            token,
            f"/api/now/table/{KB_TABLE}/{sys_id}",
            {"sysparm_fields": "kb_knowledge_base,workflow_state,sys_updated_on", **_DISPLAY},
            # Supplemental only: without the kb_knowledge row the primary payload still serves.
            missing_ok=True,
        )
        or {}
    )
    attachments: list[Attachment] = []
    if data.include_attachments:
        rows = await client.get(
            ctx,
            token,
            "/api/now/attachment",
            {"sysparm_query": f"table_sys_id={sys_id}", "sysparm_limit": "100"},
        )
        attachments = [
            Attachment(
                sys_id=str(row["sys_id"]),
                file_name=str(row.get("file_name", "")),
                content_type=_text(row, "content_type"),
                size_bytes=_size(row.get("size_bytes")),
                download_link=_text(row, "download_link"),
                created_at=_text(row, "sys_created_on"),
            )
            for row in rows or []
        ]
    html = _text(article, "text", "content") or ""
    return RetrieveRunbookOutput(
        sys_id=sys_id,
        number=str(article.get("number") or data.article),
        title=str(article.get("short_description") or ""),
        content=html,
        content_text=html_to_text(html),
        author=_text(article, "author"),
        knowledge_base=_text(details, "kb_knowledge_base") or _text(article, "kb_knowledge_base"),
        workflow_state=_text(details, "workflow_state") or _text(article, "workflow_state"),
        updated_at=_text(details, "sys_updated_on") or _text(article, "sys_updated_on"),
        attachments=attachments,
    )


def correlation_id(idempotency_key: str) -> str:
    # Stable across retries, and only [0-9a-f:-]: safe inside an encoded query.
    return f"fireline:{uuid.uuid5(_CORRELATION_NAMESPACE, idempotency_key)}"


def _level(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _incident(ctx: ToolContext, record: dict[str, Any], *, created: bool) -> IncidentOutput:
    sys_id = str(record["sys_id"])
    return IncidentOutput(
        sys_id=sys_id,
        number=str(record.get("number") or ""),
        short_description=str(record.get("short_description") or ""),
        urgency=_level(record.get("urgency")),
        impact=_level(record.get("impact")),
        priority=_level(record.get("priority")),
        state=_text(record, "state"),
        assignment_group=_text(record, "assignment_group"),
        caller=_text(record, "caller_id"),
        link=f"{ctx.config.url}/nav_to.do?uri={quote(f'incident.do?sys_id={sys_id}', safe='')}",
        created=created,
    )


async def _sys_id(
    ctx: ToolContext, token: str, table: str, field: str, value: str, what: str
) -> str:
    if _SYS_ID.fullmatch(value):
        return value.lower()
    rows = await client.get(
        ctx,
        token,
        f"/api/now/table/{table}",
        {"sysparm_query": f"{field}={value}", "sysparm_limit": "2", "sysparm_fields": "sys_id"},
    )
    if not rows:
        raise PermanentError(f"ServiceNow has no {what} {value}")
    if len(rows) > 1:
        raise PermanentError(f"ServiceNow has more than one {what} {value}: give its sys_id")
    return str(rows[0]["sys_id"])


async def create_incident(ctx: ToolContext, data: CreateIncidentInput) -> IncidentOutput:
    token = await client.access_token(ctx)
    path = f"/api/now/table/{INCIDENT_TABLE}"
    correlation = correlation_id(ctx.idempotency_key) if ctx.idempotency_key else None
    if correlation:
        found = await client.get(
            ctx,
            token,
            path,
            {"sysparm_query": f"correlation_id={correlation}", "sysparm_limit": "1", **_INCIDENT},
        )
        if found:
            return _incident(ctx, found[0], created=False)
    fields: dict[str, str] = {
        "short_description": data.short_description,
        "urgency": str(data.urgency),
        "impact": str(data.impact),
    }
    if data.description:
        fields["description"] = data.description
    if data.category:
        fields["category"] = data.category
    if data.assignment_group:
        fields["assignment_group"] = await _sys_id(
            ctx, token, "sys_user_group", "name", data.assignment_group, "assignment group named"
        )
    if data.caller:
        by = "email" if "@" in data.caller else "user_name"
        fields["caller_id"] = await _sys_id(
            ctx, token, "sys_user", by, data.caller, f"user with {by}"
        )
    if correlation:
        fields["correlation_id"] = correlation
        fields["correlation_display"] = "Fireline"
    record = await client.post(ctx, token, path, fields, _INCIDENT)
    if not isinstance(record, dict) or not record.get("sys_id"):
        raise PermanentError("ServiceNow did not return the new incident")
    return _incident(ctx, record, created=True)


RETRIEVE_RUNBOOK = Action(
    name="retrieve_runbook",
    title="Retrieve Runbook from Knowledge Base Article",
    input=RetrieveRunbookInput,
    output=RetrieveRunbookOutput,
    idempotent=True,
    run=retrieve_runbook,
)

CREATE_INCIDENT = Action(
    name="create_incident",
    title="Create Incident",
    input=CreateIncidentInput,
    output=IncidentOutput,
    idempotent=False,
    run=create_incident,
)
