"""ServiceNow: Retrieve Runbook from Knowledge Base Article (reference text).

1. `GET /api/now/table/sn_km_mr_st_kb_knowledge?sysparm_query=number=KB…&sysparm_limit=1`
   (or `sys_id=…`): the primary payload — number, short description, content, author, sys_id.
2. `GET /api/now/table/kb_knowledge/{sys_id}`: knowledge base, workflow state, last update.
3. With Include Attachments, `GET /api/now/attachment?sysparm_query=table_sys_id={sys_id}`:
   JSON metadata only; binaries are never downloaded.
Reads only: safe to retry. An unknown article is a `PermanentError` naming it.
"""

from __future__ import annotations

from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.servicenow import client
from fireline.integrations.servicenow.schema import (
    Attachment,
    RetrieveRunbookInput,
    RetrieveRunbookOutput,
)
from fireline.integrations.servicenow.text import html_to_text

ARTICLE_TABLE = "sn_km_mr_st_kb_knowledge"
KB_TABLE = "kb_knowledge"
# Table API: display values turn reference fields (author, knowledge base) and choice fields
# (workflow state) into readable text; the link objects are not needed.
_DISPLAY = {"sysparm_display_value": "true", "sysparm_exclude_reference_link": "true"}


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


RETRIEVE_RUNBOOK = Action(
    name="retrieve_runbook",
    title="Retrieve Runbook from Knowledge Base Article",
    input=RetrieveRunbookInput,
    output=RetrieveRunbookOutput,
    idempotent=True,
    run=retrieve_runbook,
)
