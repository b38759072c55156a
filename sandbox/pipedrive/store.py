"""The fake Pipedrive company's data, shaped as API v1 and v2 return it (crm-apis.md §3).

Records are SandboxRecord rows (crm="pipedrive", object_type = the API resource: organizations, persons,
deals, activities, notes, organizationRelationships, organizationFields, personFields, dealFields,
pipelines, users). `properties` hold the v2 shape (custom field values under `custom_fields` by their
40-character key, related records as bare ids); v1 answers lift custom fields to the top level and nest
related records ({"name", "value"}). A deleted record is `archived`."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import SandboxRecord

CRM = "pipedrive"
DEFAULT_ACCOUNT = "7301024"  # the company id
DEFAULT_USER = "anna.admin@demo-saas.test"
COMPANY_DOMAIN = "demo-saas"
ACCESS_TOKEN_SECONDS = 3599
MAX_LIMIT = 500
V2_SORTS = {"id": "pk", "update_time": "updated_at", "add_time": "created_at"}
DEAL_STATUSES = ("open", "won", "lost", "deleted")


class ApiError(Exception):
    """Pipedrive's error envelope: {"success": false, "error", "error_info", "data", "additional_data"}."""

    def __init__(self, status: int, error: str, code: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {
            "success": False,
            "error": error,
            "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
            "data": None,
            "additional_data": None,
        }
        if code:
            self.body["code"] = code


def field_key(name: str) -> str:
    """A custom field key looks like Pipedrive's: 40 hex characters."""
    return hashlib.sha1(f"skalin-sandbox:{name}".encode()).hexdigest()


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def v1_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_when(value: Any, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400,
            f"Validation failed: {name}: must be a valid RFC 3339 date-time",
            "ERR_SCHEMA_VALIDATION_FAILED",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def records(object_type: str) -> QuerySet[SandboxRecord]:
    return SandboxRecord.objects.filter(crm=CRM, object_type=object_type, archived=False)


def get_record(object_type: str, external_id: Any) -> SandboxRecord:
    record = records(object_type).filter(external_id=str(external_id)).first()
    if record is None:
        raise ApiError(404, f"{object_type[:-1].capitalize()} not found", "not_found")
    return record


def new_record(object_type: str, external_id: int | str, properties: dict[str, Any], *,
               created: dt.datetime, modified: dt.datetime) -> SandboxRecord:  # fmt: skip
    return SandboxRecord(crm=CRM, object_type=object_type, external_id=str(external_id), properties=properties,
                         created_at=created, updated_at=modified)  # fmt: skip


def next_id(object_type: str) -> int:
    ids = SandboxRecord.objects.filter(crm=CRM, object_type=object_type).values_list("external_id", flat=True)
    return max((int(i) for i in ids if i.isdigit()), default=0) + 1


# -- JSON shapes --------------------------------------------------------------------------------------------
def v2_json(record: SandboxRecord, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": int(record.external_id), **record.properties}
    body.update({"add_time": rfc3339(record.created_at), "update_time": rfc3339(record.updated_at),
                 "is_deleted": record.archived})  # fmt: skip
    if record.object_type in ("organizations", "persons", "deals"):
        body.setdefault("custom_fields", {})
    return {**body, **(extra or {})}


def _names(object_type: str, ids: set[int]) -> dict[int, str]:
    rows = (
        records(object_type)
        .filter(external_id__in=[str(i) for i in ids])
        .values_list("external_id", "properties")
    )
    return {int(i): p.get("name") or p.get("subject") or "" for i, p in rows}


def v1_json(record: SandboxRecord, org_names: dict[int, str] | None = None) -> dict[str, Any]:
    """v1: custom fields at the top level, `org_id` nested as {"name", "value"}, v1 times."""
    props = dict(record.properties)
    body: dict[str, Any] = {"id": int(record.external_id)}
    body.update({k: v for k, v in props.items() if k != "custom_fields"})
    body.update(props.get("custom_fields") or {})
    body.update({"add_time": v1_time(record.created_at), "update_time": v1_time(record.updated_at),
                 "active_flag": not record.archived})  # fmt: skip
    if record.object_type == "notes" and props.get("org_id"):
        body["organization"] = {"name": (org_names or {}).get(props["org_id"], "")}
    elif record.object_type in ("persons", "deals") and props.get("org_id"):
        body["org_id"] = {"name": (org_names or {}).get(props["org_id"], ""), "value": props["org_id"]}
    return body


def won_deal_counts(org_ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    won = records("deals").filter(properties__status="won", properties__org_id__in=org_ids)
    for props in won.values_list("properties", flat=True):
        counts[props["org_id"]] = counts.get(props["org_id"], 0) + 1
    return counts


# -- paging -------------------------------------------------------------------------------------------------
def as_limit(value: Any, default: int = 100) -> int:
    try:
        limit = int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        raise ApiError(
            400, "Validation failed: limit: must be integer", "ERR_SCHEMA_VALIDATION_FAILED"
        ) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(
            400, f"Validation failed: limit: must be <= {MAX_LIMIT}", "ERR_SCHEMA_VALIDATION_FAILED"
        )
    return limit


def v2_page(rows: QuerySet[SandboxRecord], params: Any) -> tuple[list[SandboxRecord], str | None]:
    """v2 cursor paging: `cursor` is opaque (base64 of the last row's sort key), `next_cursor` null at the end."""
    limit = as_limit(params.get("limit"))
    sort = params.get("sort_by") or "id"
    if sort not in V2_SORTS:
        raise ApiError(
            400,
            f"Validation failed: sort_by: must be one of {', '.join(V2_SORTS)}",
            "ERR_SCHEMA_VALIDATION_FAILED",
        )
    descending = (params.get("sort_direction") or "asc") == "desc"
    column = V2_SORTS[sort]
    keys = list(dict.fromkeys((column, "pk")))
    ordered = rows.order_by(*(f"-{k}" if descending else k for k in keys))
    if cursor := params.get("cursor"):
        try:
            value, last_pk = json.loads(base64.b64decode(str(cursor), validate=True))
        except (ValueError, binascii.Error, TypeError):
            raise ApiError(
                400, "Validation failed: cursor: invalid cursor", "ERR_SCHEMA_VALIDATION_FAILED"
            ) from None
        op = "lt" if descending else "gt"
        if column == "pk":
            ordered = ordered.filter(**{f"pk__{op}": last_pk})
        else:
            moment = dt.datetime.fromisoformat(value)
            ordered = ordered.filter(
                Q(**{f"{column}__{op}": moment}) | Q(**{column: moment, f"pk__{op}": last_pk})
            )
    chosen = list(ordered[: limit + 1])
    if len(chosen) <= limit:
        return chosen, None
    chosen = chosen[:limit]
    last = chosen[-1]
    value = {
        "pk": last.pk,
        "updated_at": last.updated_at.isoformat(),
        "created_at": last.created_at.isoformat(),
    }[column]
    return chosen, base64.b64encode(json.dumps([value, last.pk]).encode()).decode()


def v1_page(rows: QuerySet[SandboxRecord], params: Any, order: tuple[str, ...] = ("pk",)
            ) -> tuple[list[SandboxRecord], dict[str, Any]]:  # fmt: skip
    """v1 offset paging: additional_data.pagination {start, limit, more_items_in_collection, next_start}."""
    try:
        start = int(params.get("start") or 0)
    except ValueError:
        raise ApiError(400, "start must be an integer") from None
    limit = as_limit(params.get("limit"))
    chosen = list(rows.order_by(*order)[start : start + limit + 1])
    more = len(chosen) > limit
    pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return chosen[:limit], pagination


# -- list filters -------------------------------------------------------------------------------------------
def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, f"Validation failed: {name}: must be integer", "ERR_SCHEMA_VALIDATION_FAILED"
        ) from None


def list_filter(object_type: str, params: Any) -> Q:
    """The v2 filters of organizations, persons, deals and activities, and v1 notes' (crm-apis.md §3.2)."""
    q = Q()
    if value := params.get("updated_since"):
        q &= Q(updated_at__gte=parse_when(value, "updated_since"))
    if value := params.get("updated_until"):
        q &= Q(updated_at__lt=parse_when(value, "updated_until"))
    if value := params.get("ids"):
        ids = [i.strip() for i in str(value).split(",") if i.strip()]
        if len(ids) > 100:
            raise ApiError(
                400, "Validation failed: ids: must have at most 100 items", "ERR_SCHEMA_VALIDATION_FAILED"
            )
        q &= Q(external_id__in=[str(_int(i, "ids")) for i in ids])
    names = (
        ("owner_id",)
        if object_type == "organizations"
        else ("org_id", "person_id", "deal_id", "pipeline_id", "stage_id", "owner_id")
    )
    for name in names:
        if (value := params.get(name)) not in (None, ""):
            q &= Q(**{f"properties__{name}": _int(value, name)})
    if object_type == "deals":
        status = params.get("status")
        if status and status not in DEAL_STATUSES:
            raise ApiError(
                400,
                "Validation failed: status: must be one of open, won, lost, deleted",
                "ERR_SCHEMA_VALIDATION_FAILED",
            )
        if status in ("open", "won", "lost"):
            q &= Q(properties__status=status)
    if object_type == "activities" and (done := params.get("done")) not in (None, ""):
        q &= Q(properties__done=str(done).lower() in ("true", "1"))
    return q
