"""The fake portal's data: records shaped as HubSpot returns them, and search evaluated as HubSpot does.

Each portal is its own data, as in HubSpot: records, associations and custom properties carry the portal id
(`account_id`), every function here takes it, and the API serves the portal of the access token. Record ids
are unique across portals, as HubSpot's are, so an id of another portal is simply not found.

Records are SandboxRecord rows (crm="hubspot", object_type = the vendor's object name). The modification
stamp, creation date and record id live in indexed columns, so the common filters and sorts
(hs_lastmodifieddate, createdate, hs_object_id, enumeration IN/EQ) run in SQL; other operators are
evaluated in Python over the rows SQL already narrowed."""

from __future__ import annotations

import datetime as dt
import operator
import re
import uuid
from collections.abc import Callable
from functools import reduce
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, Value
from django.utils import timezone

from ..models import SandboxAssociation, SandboxProperty, SandboxRecord
from . import schema

SEARCH_CAP = 10_000  # https://developers.hubspot.com/docs/api-reference/search/guide#limitations
SEARCH_MAX_LIMIT = 200
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}  # fmt: skip
NEGATIONS = {"NEQ": "EQ", "NOT_IN": "IN", "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN"}
# Properties stored as columns: every write keeps them equal to the JSON values.
COLUMNS = {
    "hs_lastmodifieddate": "updated_at",
    "lastmodifieddate": "updated_at",
    "createdate": "created_at",
    "hs_object_id": "external_id",
}
PROPERTY_NAME = re.compile(r"^[a-z0-9_]{1,100}$")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ApiError(Exception):
    """An answer in HubSpot's error shape: {status, message, correlationId, category, ...}."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        }


# -- times: HubSpot sends ISO strings with milliseconds and accepts epoch milliseconds ---------------------
def now_ms() -> dt.datetime:
    moment = timezone.now()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: dt.datetime) -> str:
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_when(value: Any) -> dt.datetime | None:
    text = str(value).strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return EPOCH + dt.timedelta(milliseconds=int(text))
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# -- records ------------------------------------------------------------------------------------------------
def object_name(raw: str) -> str:
    name = schema.ALIASES.get(raw.lower(), raw.lower())
    if name not in schema.OBJECTS:
        raise ApiError(400, f"Unable to infer object type from: {raw}", "VALIDATION_ERROR")
    return name


def all_records(portal: str, object_type: str) -> QuerySet[SandboxRecord]:
    """The portal's records of one type, archived ones included."""
    return SandboxRecord.objects.filter(crm=schema.CRM, account_id=portal, object_type=object_type)


def records(portal: str, object_type: str) -> QuerySet[SandboxRecord]:
    return all_records(portal, object_type).filter(archived=False)


def get_record(portal: str, object_type: str, external_id: str) -> SandboxRecord:
    record = records(portal, object_type).filter(external_id=external_id).first()
    if record is None:
        raise ApiError(404, "resource not found", "OBJECT_NOT_FOUND")
    return record


def record_json(record: SandboxRecord, wanted: list[str] | None = None) -> dict[str, Any]:
    """SimplePublicObject: the asked properties (null when unset) plus id, creation and modification stamps."""
    names = wanted or schema.DEFAULT_PROPERTIES[record.object_type]
    always = ["createdate", schema.MODIFIED[record.object_type], "hs_object_id"]
    body: dict[str, Any] = {
        "id": record.external_id,
        "properties": {name: record.properties.get(name) for name in dict.fromkeys([*names, *always])},
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived,
    }
    if record.archived and record.archived_at:
        body["archivedAt"] = iso(record.archived_at)
    return body


def wanted_properties(value: Any) -> list[str]:
    """`properties` as a comma list (query string) or a JSON list (batch and search bodies)."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()]


def next_ids(object_type: str, count: int, *, excluding_portal: str = "") -> list[str]:
    """HubSpot ids are numeric strings, unique across portals; ours are all of one length, so the largest
    sorts last. `excluding_portal`: a portal about to be replaced, whose ids are free again."""
    taken = SandboxRecord.objects.filter(crm=schema.CRM, object_type=object_type)
    if excluding_portal:
        taken = taken.exclude(account_id=excluding_portal)
    last = (
        taken.order_by("-external_id")
        .values_list("external_id", flat=True)
        .first()
    )
    start = int(last) + 1 if last and last.isdigit() else schema.ID_BASE[object_type] + 1
    return [str(start + n) for n in range(count)]


def new_record(portal: str, object_type: str, external_id: str, properties: dict[str, Any], *,
               created: dt.datetime, modified: dt.datetime) -> SandboxRecord:  # fmt: skip
    """An unsaved record whose stamp properties agree with its columns (bulk_create friendly)."""
    props = {key: _stored(value) for key, value in properties.items()}
    props.update(
        {"hs_object_id": external_id, "createdate": iso(created), schema.MODIFIED[object_type]: iso(modified)}
    )
    return SandboxRecord(
        crm=schema.CRM, account_id=portal, object_type=object_type, external_id=external_id, properties=props,
        created_at=created, updated_at=modified,
    )  # fmt: skip


def _stored(value: Any) -> Any:
    """HubSpot keeps every property value as a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def update_properties(record: SandboxRecord, changes: dict[str, Any]) -> None:
    """PATCH semantics: known, writable properties only; the modification stamp moves."""
    known = property_definitions(record.account_id, record.object_type)
    errors: list[dict[str, Any]] = []
    for name in changes:
        if name not in known:
            errors.append({"message": f'Property "{name}" does not exist', "code": "PROPERTY_DOESNT_EXIST",
                           "context": {"propertyName": [name]}})  # fmt: skip
        elif known[name]["modificationMetadata"]["readOnlyValue"]:
            errors.append({"message": f'"{name}" is a read only property; its value cannot be set.',
                           "code": "READ_ONLY_VALUE", "context": {"propertyName": [name]}})  # fmt: skip
    if errors:
        raise ApiError(400, "Property values were not valid: " + "; ".join(e["message"] for e in errors),
                       errors=errors)  # fmt: skip
    moment = now_ms()
    record.properties = {**record.properties, **{k: _stored(v) for k, v in changes.items()}}
    if record.object_type == "deals" and "dealstage" in changes:
        record.properties["hs_is_closed_won"] = _stored(record.properties["dealstage"] in schema.WON_STAGES)
    record.properties[schema.MODIFIED[record.object_type]] = iso(moment)
    record.updated_at = moment
    record.save(update_fields=["properties", "updated_at"])


# -- properties ---------------------------------------------------------------------------------------------
def property_json(object_type: str, name: str, label: str, kind: str, field_type: str, *,
                  options: list[dict[str, Any]] | None = None, read_only: bool = False,
                  hubspot_defined: bool = True, group: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "updatedAt": "2020-05-12T08:00:00.000Z", "createdAt": "2020-05-12T08:00:00.000Z",
        "name": name, "label": label, "type": kind, "fieldType": field_type, "description": "",
        "groupName": group or schema.GROUPS.get(object_type, f"{object_type[:-1]}information"),
        "options": options or [], "displayOrder": -1, "calculated": False, "externalOptions": False,
        "hasUniqueValue": name == "hs_object_id", "hidden": False, "hubspotDefined": hubspot_defined,
        "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": read_only},
        "formField": not read_only,
    }  # fmt: skip


def property_definitions(portal: str, object_type: str) -> dict[str, dict[str, Any]]:
    """HubSpot's built-in properties, then the portal's own (made by its admins or through the API)."""
    defined = {
        name: property_json(object_type, name, label, kind, field, options=options, read_only=read_only)
        for name, (label, kind, field, read_only, options) in schema.BUILT_IN[object_type].items()
    }
    for prop in SandboxProperty.objects.filter(crm=schema.CRM, account_id=portal, object_type=object_type):
        defined[prop.name] = property_json(
            object_type, prop.name, prop.label, prop.type, prop.field_type or "text",
            options=prop.options, hubspot_defined=False,
        )  # fmt: skip
    return defined


# -- associations -------------------------------------------------------------------------------------------
def association_pair(portal: str, from_type: str, from_id: str, to_id: str, type_id: int
                     ) -> list[SandboxAssociation]:  # fmt: skip
    """Both directions of one association (HubSpot answers from either side)."""
    to_type = schema.TYPE_ENDS[type_id][1]
    return [
        SandboxAssociation(crm=schema.CRM, account_id=portal, from_type=from_type, from_id=from_id,
                           to_type=to_type, to_id=to_id, type_id=type_id),
        SandboxAssociation(crm=schema.CRM, account_id=portal, from_type=to_type, from_id=to_id,
                           to_type=from_type, to_id=from_id, type_id=schema.INVERSE[type_id]),
    ]  # fmt: skip


def associations_of(portal: str, from_type: str, from_ids: list[str], to_type: str
                    ) -> dict[str, dict[str, list[int]]]:  # fmt: skip
    """{from id: {to id: [type ids]}}, to ids in HubSpot's order."""
    found: dict[str, dict[str, list[int]]] = {}
    rows = (
        SandboxAssociation.objects.filter(
            crm=schema.CRM, account_id=portal, from_type=from_type, from_id__in=from_ids, to_type=to_type
        )
        .order_by("from_id", "to_id", "type_id")
        .values_list("from_id", "to_id", "type_id")
    )
    for from_id, to_id, type_id in rows:
        found.setdefault(from_id, {}).setdefault(to_id, []).append(type_id)
    return found


def association_json(to_id: str, type_ids: list[int]) -> dict[str, Any]:
    return {
        "toObjectId": int(to_id) if to_id.isdigit() else to_id,
        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in type_ids],
    }


# -- search -------------------------------------------------------------------------------------------------
Predicate = Callable[[dict[str, Any]], bool]


def search(portal: str, object_type: str, body: dict[str, Any]) -> tuple[list[SandboxRecord], int, int]:
    """POST /crm/v3/objects/{type}/search -> (page rows, total, after)."""
    limit, after = as_int(body.get("limit", 10), "limit"), as_int(body.get("after") or 0, "after")
    if not 0 < limit <= SEARCH_MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {SEARCH_MAX_LIMIT}, got {limit}.")
    if after + limit > SEARCH_CAP:
        # The 10,000-result cap: paging past it is refused (crm-apis.md §7).
        raise ApiError(400, f"Search results are limited to {SEARCH_CAP:,}; after + limit may not exceed it.",
                       context={"after": [str(after)]})  # fmt: skip
    kinds = {name: d["type"] for name, d in property_definitions(portal, object_type).items()}
    groups = [_compile_group(group, kinds) for group in _groups(body)]
    queryset = records(portal, object_type)
    checks: list[list[Predicate]] = [preds for _, preds in groups]
    query = str(body.get("query") or "").strip().casefold()
    sort_column, sort_property, descending = _sort(body)
    if groups and all(q for q, _ in groups):  # an empty Q would match everything, and OR must keep that
        queryset = queryset.filter(reduce(operator.or_, (q for q, _ in groups)))
    order = [f"{'-' if descending else ''}{sort_column or 'id'}", "id"]
    in_sql = not query and not any(checks) and (sort_column or not sort_property)
    if in_sql:
        return list(queryset.order_by(*order)[after : after + limit]), queryset.count(), after
    # Some of it needs Python: mark which group each row matched in SQL, finish the match here.
    marks = {
        f"_g{n}": ExpressionWrapper(q, output_field=BooleanField()) if q else Value(True)
        for n, (q, _) in enumerate(groups)
    }
    rows = []
    for row in queryset.annotate(**marks).order_by(*order).iterator(chunk_size=2000):
        props = row.properties
        if groups and not any(
            getattr(row, f"_g{n}") and all(p(props) for p in checks[n]) for n in range(len(groups))
        ):
            continue
        if query and not any(
            query in str(props.get(n) or "").casefold() for n in schema.DEFAULT_PROPERTIES[object_type]
        ):
            continue
        rows.append(row)
    if sort_property and not sort_column:
        kind = kinds.get(sort_property, "string")
        rows.sort(key=lambda r: _sort_key(r.properties.get(sort_property), kind), reverse=descending)
    return rows[after : after + limit], len(rows), after


def as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"{name} must be an integer, got {value!r}.") from None


def _groups(body: dict[str, Any]) -> list[list[dict[str, Any]]]:
    groups = [g.get("filters") or [] for g in body.get("filterGroups") or []]
    if (
        len(groups) > MAX_GROUPS
        or any(len(g) > MAX_FILTERS_PER_GROUP for g in groups)
        or sum(map(len, groups)) > MAX_FILTERS
    ):
        raise ApiError(400, f"Too many filters: at most {MAX_GROUPS} filterGroups of {MAX_FILTERS_PER_GROUP} "
                            f"filters, {MAX_FILTERS} in all.")  # fmt: skip
    return [g for g in groups if g]


def _sort(body: dict[str, Any]) -> tuple[str, str, bool]:
    sorts = body.get("sorts") or []
    if not sorts:
        return "", "", False
    first = sorts[0]
    if isinstance(first, str):  # "-createdate" is accepted too
        name, descending = first.lstrip("-"), first.startswith("-")
    else:
        name, descending = str(first.get("propertyName", "")), first.get("direction") == "DESCENDING"
    return COLUMNS.get(name, ""), name, descending


def _compile_group(filters: list[dict[str, Any]], kinds: dict[str, str]) -> tuple[Q, list[Predicate]]:
    q, checks = Q(), []
    for item in filters:
        name, op = str(item.get("propertyName", "")), str(item.get("operator", "EQ"))
        if not PROPERTY_NAME.match(name) or op not in OPERATORS:
            raise ApiError(400, f"Invalid filter: {name!r} {op!r}.")
        in_sql = _column_q(name, op, item) if name in COLUMNS else _json_q(name, op, item, kinds.get(name))
        if in_sql is None:
            checks.append(_predicate(name, op, item, kinds.get(name, "string")))
        else:
            q &= in_sql
    return q, checks


def _column_q(name: str, op: str, item: dict[str, Any]) -> Q | None:
    column = COLUMNS[name]

    def value(raw: Any) -> Any:
        if column == "external_id":
            return str(raw)
        moment = parse_when(raw)
        if moment is None:
            raise ApiError(
                400, f"{raw!r} is not a valid value for {name}: use epoch milliseconds or ISO 8601."
            )
        return moment

    if op in ("EQ", "NEQ"):
        match = Q(**{column: value(item.get("value"))})
        return match if op == "EQ" else ~match
    if op in ("GT", "GTE", "LT", "LTE"):
        return Q(**{f"{column}__{op.lower()}": value(item.get("value"))})
    if op == "BETWEEN":
        return Q(
            **{f"{column}__gte": value(item.get("value")), f"{column}__lte": value(item.get("highValue"))}
        )
    if op in ("IN", "NOT_IN"):
        match = Q(**{f"{column}__in": [value(v) for v in item.get("values") or []]})
        return match if op == "IN" else ~match
    if op == "HAS_PROPERTY":
        return Q()
    if op == "NOT_HAS_PROPERTY":
        return Q(pk__isnull=True)  # columns are always set
    return None


def _json_q(name: str, op: str, item: dict[str, Any], kind: str | None) -> Q | None:
    """Single-valued enumerations (lifecycle stage, deal stage...) match exactly: SQL can do it."""
    if kind != "enumeration" or name == "hs_buying_role":
        return None
    if op == "EQ":
        return Q(**{f"properties__{name}": str(item.get("value"))})
    if op == "IN":
        return Q(**{f"properties__{name}__in": [str(v) for v in item.get("values") or []]})
    return None


def _predicate(name: str, op: str, item: dict[str, Any], kind: str) -> Predicate:
    def has(props: dict[str, Any]) -> bool:
        return props.get(name) not in (None, "")

    if op == "HAS_PROPERTY":
        return has
    if op == "NOT_HAS_PROPERTY":
        return lambda props: not has(props)
    if op in NEGATIONS:
        positive = _predicate(name, NEGATIONS[op], item, kind)
        return lambda props: not positive(props)
    if op == "CONTAINS_TOKEN":
        token = str(item.get("value", "")).strip("*").casefold()
        return lambda props: has(props) and token in str(props[name]).casefold()

    def values(props: dict[str, Any]) -> list[Any]:
        # Multiple checkboxes hold "A;B": a filter matches any of them.
        raw = str(props[name])
        return [_sort_key(v, kind) for v in (raw.split(";") if kind == "enumeration" else [raw])]

    wanted = [_sort_key(v, kind) for v in item.get("values") or []] if op == "IN" else []
    low, high = _sort_key(item.get("value"), kind), _sort_key(item.get("highValue"), kind)
    test: Callable[[Any], bool] = {
        "EQ": lambda v: v == low, "IN": lambda v: v in wanted, "GT": lambda v: v > low, "GTE": lambda v: v >= low,
        "LT": lambda v: v < low, "LTE": lambda v: v <= low, "BETWEEN": lambda v: low <= v <= high,
    }[op]  # fmt: skip

    def check(props: dict[str, Any]) -> bool:
        try:
            return has(props) and any(test(v) for v in values(props))
        except TypeError:  # a number compared with text: no match, as HubSpot
            return False

    return check


def _sort_key(value: Any, kind: str) -> Any:
    """Numbers compare as numbers, dates as instants, the rest as case-folded text; unset sorts last."""
    if value in (None, ""):
        return (1, "")
    if kind == "number":
        try:
            return (0, float(value))
        except (TypeError, ValueError):
            pass
    if kind in ("datetime", "date"):
        moment = parse_when(value)
        if moment is not None:
            return (0, moment.timestamp())
    return (0, str(value).casefold())
