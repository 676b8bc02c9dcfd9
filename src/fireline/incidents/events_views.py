"""Events API v2: `POST /v2/enqueue`, answered in PagerDuty's shapes.

202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`; a malformed
event or an unknown routing key is 400 `{"status": "invalid event", "message": "Event object
is invalid", "errors": [...]}`; over the per-routing-key limit, 429 `throttle event`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from fireline.core.errors import validation_message
from fireline.incidents import intake

router = APIRouter(tags=["events"])


def _invalid(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status_code=400)


@router.post("/v2/enqueue", status_code=202)
async def enqueue(request: Request) -> JSONResponse:
    try:
        event = intake.Event.model_validate_json(await request.body())
    except ValidationError as exc:
        if any(item["type"] == "json_invalid" for item in exc.errors()):
            return JSONResponse({"status": "Unrecognized object",
                                 "message": "Event object format is unrecognized",
                                 "errors": ["JSON parse error"]}, status_code=400)
        return _invalid([_describe(item) for item in exc.errors()])
    decision = request.app.state.events_limiter.hit(event.routing_key)
    if not decision.allowed:
        return JSONResponse(
            {"status": "throttle event",
             "message": "Requests for this service are arriving too quickly.  Please retry "
                        "later."},
            status_code=429, headers=decision.headers())
    # Answered only once the shared transaction holding this event committed.
    dedup_key = await request.app.state.events_intake.submit(event)
    if dedup_key is None:
        return _invalid(["Invalid routing key"])
    return JSONResponse({"status": "success", "message": "Event processed",
                         "dedup_key": dedup_key}, status_code=202)


def _describe(item: Any) -> str:
    location = ".".join(str(part) for part in item.get("loc", ()))
    message = validation_message(item)
    return f"'{location}' {message}" if location else message
