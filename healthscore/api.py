"""POST /health/events/: product-usage events, authenticated by a workspace's usage credential.

    curl -X POST https://app.example/health/events/ \\
      -H "Authorization: Bearer sku_..." -H "Content-Type: application/json" \\
      -d '{"events": [{"event_id": "evt-1", "name": "report.exported",
                       "time": "2025-01-06T09:30:00Z", "email": "ann@client.com"}]}'

A batch is all or nothing: one bad event and nothing is stored, every problem is listed with the
event's index and field, so the sender fixes and resends the batch. Resending events already received
is safe: their ids are counted as duplicates, not stored twice."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from . import services
from .services import MAX_EVENT_AGE_DAYS, ParsedEvent

MAX_EVENTS = 1000
MAX_BODY_BYTES = 1_000_000
FUTURE_TOLERANCE = dt.timedelta(days=1)
EVENT_FIELDS = "event_id, name, time, and email or customer_id"


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _text(
    event: dict[str, Any], field: str, *, max_length: int, required: bool, errors: list, index: int
) -> str:
    value = event.get(field)
    if value is None or value == "":
        if required:
            errors.append({"index": index, "field": field, "message": f"'{field}' is required."})
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append({"index": index, "field": field, "message": f"'{field}' must be a string."})
        return ""
    text = str(value).strip()
    if len(text) > max_length:
        errors.append(
            {"index": index, "field": field, "message": f"'{field}' is longer than {max_length} characters."}
        )
        return ""
    return text


def _time(event: dict[str, Any], errors: list, index: int, now: dt.datetime) -> dt.datetime | None:
    field = "time" if "time" in event else "timestamp" if "timestamp" in event else "time"
    value = event.get(field)
    moment: dt.datetime | None = None
    if value is None or value == "":
        errors.append(
            {"index": index, "field": "time", "message": "'time' is required (ISO 8601 with a timezone)."}
        )
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            moment = None
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
        if moment is not None and timezone.is_naive(moment):
            errors.append(
                {
                    "index": index,
                    "field": field,
                    "message": f"'{field}' has no timezone: add one, e.g. '{value.strip()}Z' for UTC.",
                }
            )
            return None
    if moment is None:
        errors.append(
            {
                "index": index,
                "field": field,
                "message": f"'{field}' is not a date and time: use ISO 8601 such as '2025-01-06T09:30:00Z' "
                "or Unix seconds.",
            }
        )
        return None
    if moment > now + FUTURE_TOLERANCE:
        errors.append({"index": index, "field": field, "message": f"'{field}' is in the future."})
        return None
    if moment < now - dt.timedelta(days=MAX_EVENT_AGE_DAYS):
        errors.append(
            {
                "index": index,
                "field": field,
                "message": f"'{field}' is more than {MAX_EVENT_AGE_DAYS} days ago; older usage is not scored.",
            }
        )
        return None
    return moment


def events_parse(payload: Any, *, now: dt.datetime) -> tuple[list[ParsedEvent], list[dict[str, Any]]]:
    """Validate a payload (one event, a list, or {"events": [...]}): the events, or every error found."""
    if isinstance(payload, dict) and "events" in payload:
        items = payload["events"]
    elif isinstance(payload, dict):
        items = [payload]
    else:
        items = payload
    if not isinstance(items, list):
        return [], [
            {"index": None, "field": "events", "message": "'events' must be a list of event objects."}
        ]
    if not items:
        return [], [
            {"index": None, "field": "events", "message": "'events' is empty: send at least one event."}
        ]
    if len(items) > MAX_EVENTS:
        return [], [
            {
                "index": None,
                "field": "events",
                "message": f"At most {MAX_EVENTS} events per request ({len(items)} sent).",
            }
        ]
    events: list[ParsedEvent] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"index": index, "field": None, "message": "Each event must be a JSON object."})
            continue
        before = len(errors)
        event_id = _text(item, "event_id", max_length=200, required=True, errors=errors, index=index)
        name_field = "name" if "name" in item or "event" not in item else "event"
        name = _text(item, name_field, max_length=200, required=True, errors=errors, index=index)
        email = _text(item, "email", max_length=254, required=False, errors=errors, index=index).lower()
        ref = _text(item, "customer_id", max_length=120, required=False, errors=errors, index=index)
        if email and ("@" not in email or " " in email):
            errors.append(
                {"index": index, "field": "email", "message": f"'{email}' is not an email address."}
            )
        if not email and not ref and len(errors) == before:
            errors.append(
                {
                    "index": index,
                    "field": "email",
                    "message": "Say who did it: 'email' (a contact's email) or 'customer_id' (the Customer ID).",
                }
            )
        moment = _time(item, errors, index, now)
        if event_id and event_id in seen:
            errors.append(
                {
                    "index": index,
                    "field": "event_id",
                    "message": f"'{event_id}' is also the id of event {seen[event_id]} in this batch.",
                }
            )
        elif event_id:
            seen[event_id] = index
        if len(errors) == before and moment is not None:
            events.append(ParsedEvent(event_id, name, moment, email, ref))
    return events, errors


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@csrf_exempt
def events_endpoint(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _error(405, "Send events with POST.")
        response["Allow"] = "POST"
        return response
    token = _bearer(request)
    if not token:
        response = _error(
            401, "Missing credential: send 'Authorization: Bearer <token>' (Settings > Health)."
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    credential = services.usage_credential_for_token(token)
    if credential is None:
        response = _error(401, "Unknown or revoked credential: create a new one in Settings > Health.")
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if len(request.body) > MAX_BODY_BYTES:
        return _error(413, f"The body is larger than {MAX_BODY_BYTES} bytes: send smaller batches.")
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except UnicodeDecodeError:
        return _error(400, "The body is not UTF-8 text.", field=None)
    except json.JSONDecodeError as bad:
        return _error(400, f"The body is not valid JSON: {bad.msg} at line {bad.lineno} column {bad.colno}.")
    events, errors = events_parse(payload, now=timezone.now())
    if errors:
        return _error(
            400,
            f"{len(errors)} problem{'s' if len(errors) > 1 else ''} found; nothing was stored. "
            f"Each event needs {EVENT_FIELDS}.",
            errors=errors,
        )
    result = services.usage_events_ingest(credential=credential, events=events)
    return JsonResponse(
        {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "pending": result.pending,
            "message": (
                "Stored; usage figures are updated every 30 minutes."
                + (
                    f" {result.pending} event(s) name a contact or customer not known yet: kept "
                    f"{services.PENDING_EVENT_RETENTION_DAYS} days and attached when it appears."
                    if result.pending
                    else ""
                )
            ),
        },
        status=202,
    )
