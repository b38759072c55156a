"""The fake Sellsy account's data: records shaped as API v2 returns them, lists and searches paged as Sellsy
pages them (crm-apis.md §5).

Records are SandboxRecord rows (crm="sellsy", object_type = the API's resource name). Custom-field values
sit in a record's `_cf` property ({"<field id>": value}); the company an activity belongs to sits in
`sbx_company` (for SQL filtering); both are left out of the JSON the API answers. Seek offsets are base64 of
the JSON list of the last row's sort values, as Sellsy's ("WyIxMSJd" is `["11"]`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import SandboxAssociation, SandboxRecord

CRM = "sellsy"
DEFAULT_ACCOUNT = "41235"
DEFAULT_USER = "camille.admin@demo-saas.test"
ACCESS_TOKEN_SECONDS = 3600  # the doc's example; its text says 24 h (crm-apis.md §5.1)
MAX_LIMIT = 100
NUMERIC_CAP = 100_000
HIDDEN = ("_cf", "sbx_company")
ORDERS = {"id": "pk", "updated_at": "updated_at", "created_at": "created_at", "created": "created_at",
          "name": "properties__name"}  # fmt: skip
COMPANY_TYPES = ("prospect", "client", "supplier")
OPPORTUNITY_STATUSES = ("open", "won", "lost", "cancelled", "closed", "late")


class ApiError(Exception):
    """An answer in Sellsy's error shape: {"error": {"code", "message", "context", "details"}}."""

    def __init__(self, status: int, message: str, context: str = "", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {"code": status, "message": message, "context": context, "details": details or {}}
        }


def iso(moment: dt.datetime) -> str:
    """Sellsy writes times with the account's offset: 2025-01-01T10:00:00+01:00 (the sandbox: UTC)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def parse_when(value: Any, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an ISO 8601 date", "validation", {name: str(value)}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    return timezone.now().replace(microsecond=0)


def records(object_type: str) -> QuerySet[SandboxRecord]:
    return SandboxRecord.objects.filter(crm=CRM, object_type=object_type, archived=False)


def get_record(object_type: str, external_id: str) -> SandboxRecord:
    record = records(object_type).filter(external_id=str(external_id)).first()
    if record is None:
        raise ApiError(404, f"The requested {object_type[:-1].replace('-', ' ')} does not exist", "not_found")
    return record


def new_record(object_type: str, external_id: int | str, properties: dict[str, Any], *,
               created: dt.datetime, modified: dt.datetime) -> SandboxRecord:  # fmt: skip
    return SandboxRecord(crm=CRM, object_type=object_type, external_id=str(external_id), properties=properties,
                         created_at=created, updated_at=modified)  # fmt: skip


def next_id(object_type: str) -> int:
    ids = SandboxRecord.objects.filter(crm=CRM, object_type=object_type).values_list("external_id", flat=True)
    return max((int(i) for i in ids if i.isdigit()), default=1000) + 1


def record_json(record: SandboxRecord, embeds: list[str] | None = None, fields: list[str] | None = None
                ) -> dict[str, Any]:  # fmt: skip
    props = record.properties
    body: dict[str, Any] = {"id": int(record.external_id)}
    body.update({key: value for key, value in props.items() if key not in HIDDEN})
    if record.object_type == "companies":
        body["created"], body["updated_at"] = iso(record.created_at), iso(record.updated_at)
    elif record.object_type in ("contacts", "comments", "opportunities", "phone-calls", "calendar-events"):
        body.setdefault("created", iso(record.created_at))
        body["updated"] = iso(record.updated_at)
    wanted_cf = [e.removeprefix("cf.") for e in embeds or [] if e.startswith("cf.")]
    if wanted_cf:
        definitions = custom_fields_by_id()
        values = props.get("_cf") or {}
        body["_embed"] = {"custom_fields": [
            custom_field_value(definitions[cf], values.get(cf)) for cf in wanted_cf if cf in definitions
        ]}  # fmt: skip
    if fields:
        body = {key: value for key, value in body.items() if key in fields or key == "_embed"}
    return body


# -- custom fields --------------------------------------------------------------------------------------------
def custom_fields() -> QuerySet[SandboxRecord]:
    return records("custom-fields").order_by("pk")


def custom_fields_by_id() -> dict[str, dict[str, Any]]:
    return {r.external_id: {"id": int(r.external_id), **r.properties} for r in custom_fields()}


def custom_field_value(definition: dict[str, Any], value: Any) -> dict[str, Any]:
    keys = ("id", "name", "code", "type", "mandatory", "description", "rank", "group")
    return {**{k: definition.get(k) for k in keys}, "value": value}


def check_custom_value(definition: dict[str, Any], value: Any) -> Any:
    """Numbers come as strings ("87"); numeric fields keep their bounds; select takes a choice id."""
    name = str(definition["id"])
    if value in (None, ""):
        return None
    if definition["type"] in ("numeric", "amount"):
        try:
            number = float(str(value))
        except ValueError:
            raise ApiError(400, "The value must be numeric", "validation", {name: str(value)}) from None
        params = definition.get("parameters") or {}
        low, high = params.get("min"), params.get("max")
        if (low is not None and number < low) or (high is not None and number > high):
            raise ApiError(
                400, f"The value must be between {low} and {high}", "validation", {name: str(value)}
            )
        return str(value)
    if definition["type"] in ("select", "radio"):
        choices = {str(i["id"]) for i in (definition.get("parameters") or {}).get("items") or []}
        if str(value) not in choices:
            raise ApiError(400, "Unknown choice", "validation", {name: str(value)})
        return int(value)
    return value


# -- links ----------------------------------------------------------------------------------------------------
def linked_contacts(company_id: str) -> list[str]:
    return list(SandboxAssociation.objects.filter(
        crm=CRM, from_type="companies", from_id=company_id, to_type="contacts").values_list("to_id", flat=True))  # fmt: skip


# -- paging ---------------------------------------------------------------------------------------------------
def as_limit(value: Any) -> int:
    try:
        limit = int(value if value not in (None, "") else 25)
    except (TypeError, ValueError):
        raise ApiError(400, "limit must be an integer", "validation", {"limit": str(value)}) from None
    if not 0 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 0 and {MAX_LIMIT}", "validation", {"limit": str(limit)})
    return limit


def encode(values: list[Any]) -> str:
    return base64.b64encode(json.dumps(values).encode()).decode()


def page(rows: QuerySet[SandboxRecord], params: Any, *, default_order: str = "id"
         ) -> tuple[list[SandboxRecord], dict[str, Any]]:  # fmt: skip
    """Order, then seek (default) or numeric offset; returns (rows, the `pagination` object)."""
    limit = as_limit(params.get("limit"))
    order = params.get("order") or default_order
    if order not in ORDERS:
        raise ApiError(400, f"order must be one of {', '.join(ORDERS)}", "validation", {"order": order})
    descending = params.get("direction", "asc") == "desc"
    column = ORDERS[order]
    total = rows.count()
    ordered = rows.order_by(*(f"-{c}" if descending else c for c in dict.fromkeys((column, "pk"))))
    offset = params.get("offset")
    if offset not in (None, "") and str(offset).isdigit():
        start = int(offset)
        if start >= NUMERIC_CAP:
            raise ApiError(
                400, f"The numeric offset is limited to the first {NUMERIC_CAP} results", "validation"
            )
        chosen = list(ordered[start : min(start + limit, NUMERIC_CAP)])
        return chosen, {"limit": limit, "count": len(chosen), "total": total, "offset": start}
    if offset not in (None, ""):
        try:
            last_value, last_pk = json.loads(base64.b64decode(str(offset), validate=True))
        except (ValueError, binascii.Error, TypeError):
            raise ApiError(400, "Invalid offset", "validation", {"offset": str(offset)}) from None
        if column in ("updated_at", "created_at"):
            last_value = parse_when(last_value, "offset")
        op = "lt" if descending else "gt"
        after = (
            Q(**{f"pk__{op}": last_pk})
            if column == "pk"
            else (Q(**{f"{column}__{op}": last_value}) | Q(**{column: last_value, f"pk__{op}": last_pk}))
        )
        ordered = ordered.filter(after)
    chosen = list(ordered[:limit])
    following = None
    if chosen:
        last = chosen[-1]
        value: Any = {"pk": last.pk, "updated_at": last.updated_at.isoformat(), "created_at": last.created_at.isoformat(),
                      "properties__name": last.properties.get("name")}[column]  # fmt: skip
        following = encode([value, last.pk])
    return chosen, {"limit": limit, "count": len(chosen), "total": total, "offset": following}


# -- search filters ---------------------------------------------------------------------------------------------
def _range(column: str, value: Any, name: str) -> Q:
    if not isinstance(value, dict) or not set(value) <= {"start", "end"}:
        raise ApiError(
            400, f"{name} must be an object with start and/or end", "validation", {name: str(value)}
        )
    q = Q()
    if value.get("start"):
        q &= Q(**{f"{column}__gte": parse_when(value["start"], name)})
    if value.get("end"):
        q &= Q(**{f"{column}__lte": parse_when(value["end"], name)})
    return q


def _list(value: Any, name: str) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str | int) for i in items):
        raise ApiError(400, f"{name} must be a list of values", "validation", {name: str(value)})
    return items


def company_filter(filters: dict[str, Any]) -> Q:
    q = Q()
    for key, value in filters.items():
        if key == "type":
            types = _list(value, key)
            if set(types) - set(COMPANY_TYPES):
                raise ApiError(
                    400, "type must be prospect, client or supplier", "validation", {key: str(value)}
                )
            q &= Q(properties__type__in=types)
        elif key == "is_archived":
            q &= Q(properties__is_archived=bool(value))
        elif key == "updated_at":
            q &= _range("updated_at", value, key)
        elif key == "created":
            q &= _range("created_at", value, key)
        elif key == "id":
            q &= Q(external_id__in=[str(i) for i in _list(value, key)])
        elif key == "name":
            q &= Q(properties__name__icontains=str(value))
        elif key == "email":
            q &= Q(properties__email__iexact=str(value))
        else:
            raise ApiError(400, f"Unknown filter {key}", "validation", {key: "This filter does not exist"})
    return q


def opportunity_filter(filters: dict[str, Any]) -> Q:
    q = Q()
    for key, value in filters.items():
        if key == "statuses":
            statuses = _list(value, key)
            if set(statuses) - set(OPPORTUNITY_STATUSES):
                raise ApiError(400, "Unknown status", "validation", {key: str(value)})
            q &= Q(properties__status__in=statuses)
        elif key == "pipeline":
            q &= Q(properties__pipeline__id__in=[int(i) for i in _list(value, key)])
        elif key == "related_objects":
            ids = [str(o.get("id")) for o in value if isinstance(o, dict) and o.get("type") == "company"]
            q &= Q(properties__sbx_company__in=ids)
        elif key == "created":
            q &= _range("created_at", value, key)
        else:
            raise ApiError(400, f"Unknown filter {key}", "validation", {key: "This filter does not exist"})
    return q


def activity_filter(object_type: str, filters: dict[str, Any]) -> Q:
    """comments / phone-calls / calendar-events: `companies` [ids]; crm-activities: companies {match},
    events [...], date {start, end}."""
    q = Q()
    for key, value in filters.items():
        if key == "companies":
            ids = value.get("match") if object_type == "crm-activities" and isinstance(value, dict) else value
            q &= Q(properties__sbx_company__in=[str(i) for i in _list(ids or [], key)])
        elif key == "events" and object_type == "crm-activities":
            q &= Q(properties__event__in=_list(value, key))
        elif key == "date" and object_type == "crm-activities" or key == "created":
            q &= _range("created_at", value, key)
        else:
            raise ApiError(400, f"Unknown filter {key}", "validation", {key: "This filter does not exist"})
    return q
