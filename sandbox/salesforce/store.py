"""The fake org's records: SOQL over SandboxRecord (SQL prefilter, the rest in Python), query locators for
queryMore, and record reads and writes with the side effects Salesforce has (SystemModstamp, derived fields)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from ..models import SandboxRecord, SandboxToken
from . import soql
from .schema import (
    CRM,
    ORG_KEY,
    FieldDef,
    Org,
    fields_of,
    format_datetime,
    make_id,
    parse_datetime,
    sobject_name,
    stamp,
)

DEFAULT_BATCH = 2000
LOCATOR_TTL = dt.timedelta(minutes=15)  # a query cursor dies after 15 idle minutes
SQL_OPERATORS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields


def not_found() -> ApiError:
    return ApiError("NOT_FOUND", "The requested resource does not exist", status=404)


def _json_key(queryset: QuerySet, key: str, **lookups: Any) -> QuerySet:
    # KeyTextTransform takes the key whole (custom names such as CSM__c contain the lookup separator); the
    # cast makes it plain text, so that = and IN compare text on SQLite as on PostgreSQL.
    alias = f"k_{len(queryset.query.annotations)}"
    text = Cast(KeyTextTransform(key, "properties"), output_field=TextField())
    return queryset.alias(**{alias: text}).filter(
        **{f"{alias}__{lookup}": value for lookup, value in lookups.items()}
    )


def records(org_id: str, object_type: str, *, include_deleted: bool = False) -> QuerySet[SandboxRecord]:
    queryset = _json_key(
        SandboxRecord.objects.filter(crm=CRM, object_type=object_type), ORG_KEY, exact=org_id
    )
    return queryset if include_deleted else queryset.filter(archived=False)


def org_for_token(token: SandboxToken) -> Org:
    user_id = (
        _json_key(records(token.account_id, "User"), "Email", exact=token.user_email)
        .values_list("external_id", flat=True)
        .first()
    )
    return Org(token.account_id, token.user_email, user_id or make_id("User", token.account_id, 1))


def user_record(org: Org) -> dict[str, Any]:
    row = records(org.org_id, "User").filter(external_id=org.user_id).first()
    return row.properties if row else {}


def resolve_sobject(name: str) -> str:
    sobject = sobject_name(name)
    if sobject is None:
        raise ApiError("NOT_FOUND", "The requested resource does not exist", status=404)
    return sobject


# -- SOQL ----------------------------------------------------------------------------------------------
def select_rows(org: Org, text: str, *, include_deleted: bool = False) -> tuple[soql.Plan, list[dict]]:
    query = soql.parse(text)
    sobject = sobject_name(query.sobject)
    if sobject is None:
        raise soql.SoqlError(
            "INVALID_TYPE",
            f"sObject type '{query.sobject}' is not supported. If you are attempting to use a custom object, be "
            "sure to append the '__c' after the entity name.",
        )
    query.sobject = sobject
    plan = soql.plan(query, fields_of(sobject))
    queryset = records(org.org_id, sobject, include_deleted=include_deleted)
    for name, op, values in plan.indexable:
        if name == "Id":
            queryset = queryset.filter(external_id__in=values)
        elif name == "SystemModstamp":
            queryset = queryset.filter(**{f"updated_at__{SQL_OPERATORS[op]}": values[0]})
        else:
            queryset = _json_key(queryset, name, **{"in": values})
    rows = [
        row for row in queryset.order_by("id").values_list("properties", flat=True) if plan.predicate(row)
    ]
    if query.scope == "mine":
        rows = [row for row in rows if row.get("OwnerId") == org.user_id]
    rows = soql.sort_rows(rows, plan.order)[query.offset :]
    return plan, rows[: query.limit] if query.limit is not None else rows


def project(org: Org, sobject: str, select: list[FieldDef], row: dict) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": sobject, "url": f"/services/data/{org.version}/sobjects/{sobject}/{row['Id']}"}
    }
    for fdef in select:
        record[fdef.name] = row.get(fdef.name)
    return record


def run_query(org: Org, text: str, *, batch: int = DEFAULT_BATCH, include_deleted: bool = False) -> dict:
    """The first page of a query; the rest stays behind a locator, as a snapshot of the matching ids."""
    plan, rows = select_rows(org, text, include_deleted=include_deleted)
    sobject = plan.query.sobject
    body: dict[str, Any] = {"totalSize": len(rows), "done": len(rows) <= batch}
    if len(rows) > batch:
        now = timezone.now()
        SandboxRecord.objects.filter(
            crm=CRM, object_type="QueryLocator", updated_at__lt=now - LOCATOR_TTL
        ).delete()
        locator = make_id("QueryLocator", org.org_id, secrets.randbelow(62**9))[:15]
        SandboxRecord.objects.create(
            crm=CRM,
            account_id=org.org_id,
            object_type="QueryLocator",
            external_id=locator,
            properties={
                ORG_KEY: org.org_id,
                "sobject": sobject,
                "fields": [fdef.name for fdef in plan.select],
                "ids": [row["Id"] for row in rows],
                "batch": batch,
            },
            created_at=now,
            updated_at=now,
        )
        body["nextRecordsUrl"] = f"/services/data/{org.version}/query/{locator}-{batch}"
    body["records"] = [project(org, sobject, plan.select, row) for row in rows[:batch]]
    return body


def query_more(org: Org, cursor: str) -> dict:
    locator_id, _, start = cursor.rpartition("-")
    locator = records(org.org_id, "QueryLocator").filter(external_id=locator_id).first()
    now = timezone.now()
    if locator is None or not start.isdigit() or locator.updated_at < now - LOCATOR_TTL:
        raise ApiError("INVALID_QUERY_LOCATOR", "invalid query locator")
    SandboxRecord.objects.filter(pk=locator.pk).update(updated_at=now)
    state, offset = locator.properties, int(start)
    ids: list[str] = state["ids"]
    chunk = ids[offset : offset + state["batch"]]
    fields = fields_of(state["sobject"])
    select = [fields[name.lower()] for name in state["fields"]]
    found = {
        row.external_id: row.properties
        for row in records(org.org_id, state["sobject"], include_deleted=True).filter(external_id__in=chunk)
    }
    body: dict[str, Any] = {"totalSize": len(ids), "done": offset + len(chunk) >= len(ids)}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/{org.version}/query/{locator_id}-{offset + len(chunk)}"
    body["records"] = [project(org, state["sobject"], select, found[i]) for i in chunk if i in found]
    return body


# -- records -------------------------------------------------------------------------------------------
def get_record(org: Org, sobject: str, record_id: str) -> SandboxRecord:
    record = records(org.org_id, sobject).filter(external_id=record_id).first()
    if record is None:
        raise not_found()
    return record


def _coerce(fdef: FieldDef, value: Any) -> Any:
    def wrong() -> ApiError:
        return ApiError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{fdef.label}: value not of required type: {value}",
            fields=(fdef.name,),
        )

    if value is None or (value == "" and fdef.kind != "string"):
        return None
    kind = fdef.kind
    if fdef.type in ("reference", "id"):
        if not isinstance(value, str) or len(value) not in (15, 18) or not value.isalnum():
            raise ApiError(
                "MALFORMED_ID", f"{fdef.label}: id value of incorrect type: {value}", fields=(fdef.name,)
            )
        return value
    if kind == "string":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise wrong()
        return str(value)
    if kind == "number":
        if isinstance(value, bool):
            raise wrong()
        try:
            return float(value) if fdef.type not in ("int", "long") else int(value)
        except (TypeError, ValueError):
            raise wrong() from None
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong()
        return value
    try:
        if kind == "date":
            return dt.date.fromisoformat(str(value)).isoformat()
        return format_datetime(parse_datetime(str(value)))
    except ValueError:
        raise wrong() from None


def _checked(org: Org, sobject: str, body: Any, *, creating: bool) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError("JSON_PARSER_ERROR", "The request body must be a JSON object.")
    fields = fields_of(sobject)
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name == "attributes":
            continue
        fdef = fields.get(name.lower())
        if fdef is None:
            raise ApiError(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", fields=(name,)
            )
        if not (fdef.createable if creating else fdef.updateable):
            raise ApiError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {fdef.name}. Please check the security settings of this field "
                "and verify that it is read/write for your profile or permission set.",
                fields=(fdef.name,),
            )
        values[fdef.name] = _coerce(fdef, value)
    return values


def _derive(org: Org, sobject: str, props: dict[str, Any]) -> None:
    """Fields Salesforce computes: Contact.Name, Opportunity.IsWon, activity AccountId, Event times..."""
    if sobject == "Contact":
        props["Name"] = " ".join(part for part in (props.get("FirstName"), props.get("LastName")) if part)
    elif sobject == "Opportunity":
        stage = props.get("StageName") or ""
        props["IsWon"] = stage == "Closed Won"
        props["IsClosed"] = stage.startswith("Closed")
    elif sobject in ("Task", "Event"):
        what, who = props.get("WhatId") or "", props.get("WhoId") or ""
        account = what if what.startswith("001") else None
        if account is None and who.startswith("003"):
            contact = records(org.org_id, "Contact").filter(external_id=who).first()
            account = contact.properties.get("AccountId") if contact else None
        props["AccountId"] = account
        if sobject == "Event":
            start = props.get("StartDateTime") or props.get("ActivityDateTime")
            if not start:
                raise ApiError(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [StartDateTime]",
                    fields=("StartDateTime",),
                )
            begin = parse_datetime(start)
            if props.get("EndDateTime") and not props.get("DurationInMinutes"):
                props["DurationInMinutes"] = int(
                    (parse_datetime(props["EndDateTime"]) - begin).total_seconds() // 60
                )
            if props.get("DurationInMinutes") is None:
                raise ApiError(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [DurationInMinutes]",
                    fields=("DurationInMinutes",),
                )
            props["StartDateTime"] = props["ActivityDateTime"] = format_datetime(begin)
            props["EndDateTime"] = format_datetime(begin + dt.timedelta(minutes=props["DurationInMinutes"]))
            props["ActivityDate"] = begin.date().isoformat()


def touch(props: dict[str, Any], now: dt.datetime) -> None:
    props["LastModifiedDate"] = props["SystemModstamp"] = format_datetime(now)


def update(org: Org, sobject: str, record: SandboxRecord, body: Any) -> None:
    record.properties.update(_checked(org, sobject, body, creating=False))
    _derive(org, sobject, record.properties)
    now = stamp(timezone.now())
    touch(record.properties, now)
    record.updated_at = now
    record.save(update_fields=["properties", "updated_at"])


def create(org: Org, sobject: str, body: Any) -> str:
    values = _checked(org, sobject, body, creating=True)
    missing = [f.name for f in fields_of(sobject).values() if f.required and values.get(f.name) in (None, "")]
    if missing:
        raise ApiError(
            "REQUIRED_FIELD_MISSING",
            f"Required fields are missing: [{', '.join(missing)}]",
            fields=tuple(missing),
        )
    now = stamp(timezone.now())
    new_id = make_id(sobject, org.org_id, 62**8 + secrets.randbelow(62**9 - 62**8))
    props: dict[str, Any] = {
        ORG_KEY: org.org_id,
        "Id": new_id,
        "IsDeleted": False,
        "CreatedDate": format_datetime(now),
    }
    if "ownerid" in fields_of(sobject):
        props["OwnerId"] = org.user_id
    props.update(
        {"Task": {"Status": "Not Started", "Priority": "Normal", "TaskSubtype": "Task"}}.get(sobject, {})
    )
    props.update(values)
    _derive(org, sobject, props)
    touch(props, now)
    SandboxRecord.objects.create(
        crm=CRM,
        account_id=org.org_id,
        object_type=sobject,
        external_id=new_id,
        properties=props,
        created_at=now,
        updated_at=now,
    )
    return new_id


def delete(record: SandboxRecord) -> None:
    now = stamp(timezone.now())
    record.properties["IsDeleted"] = True
    touch(record.properties, now)
    record.archived, record.archived_at, record.updated_at = True, now, now
    record.save(update_fields=["properties", "archived", "archived_at", "updated_at"])


@dataclass(frozen=True)
class ListView:
    id: str
    sobject: str
    developer_name: str
    label: str
    where: str
    columns: tuple[str, ...]

    @classmethod
    def from_record(cls, record: SandboxRecord) -> ListView:
        props = record.properties
        return cls(
            record.external_id,
            props["SobjectType"],
            props["DeveloperName"],
            props["Label"],
            props.get("Where", ""),
            tuple(props["Columns"]),
        )

    @property
    def query(self) -> str:
        """The SOQL a list view describes into, shaped like Salesforce's own (toLabel, ORDER BY ... NULLS FIRST)."""
        columns = ", ".join(
            f"toLabel({c})" if c in ("Type", "Industry", "Skalin_Role__c") else c for c in self.columns
        )
        where = f" WHERE {self.where}" if self.where else ""
        return (
            f"SELECT {columns} FROM {self.sobject}{where} ORDER BY Name ASC NULLS FIRST, Id ASC NULLS FIRST"
        )


def list_views(org: Org, sobject: str) -> list[ListView]:
    rows = _json_key(records(org.org_id, "ListView"), "SobjectType", exact=sobject)
    return [ListView.from_record(row) for row in rows]


def list_view(org: Org, sobject: str, view_id: str) -> ListView:
    for view in list_views(org, sobject):
        if view.id == view_id or view.developer_name == view_id:
            return view
    raise not_found()
