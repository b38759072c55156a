"""The fake Zoho org's records and fields over SandboxRecord / SandboxProperty.

Records keep Zoho's JSON as their properties (lookups as {"name", "id"}, Tag as [{"name", "id"}], stamps
with the org's offset), plus the org in `_org`. Deleting moves a record to the recycle bin (archived)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from ..models import SandboxProperty, SandboxRecord

CRM = "zoho"
DEFAULT_ORG = "20071234567"
DEFAULT_USER_EMAIL = "admin@zoho-sandbox.test"
ORG_KEY = "_org"
ID_BASE = 4876876000000000000
MODULES = ("Accounts", "Contacts", "Deals", "Notes", "Calls", "Events", "users")
# The org's time zone: Zoho writes stamps with it (crm-apis.md §4: "Modified_Time":"...+05:30").
ORG_OFFSET = dt.timezone(dt.timedelta(hours=1))


class ApiError(Exception):
    """A Zoho error body: {"code", "details", "message", "status": "error"}."""

    def __init__(self, code: str, message: str, status: int = 400, details: dict | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.details = code, message, status, details or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def stamp(when: dt.datetime | None = None) -> str:
    return (when or timezone.now()).astimezone(ORG_OFFSET).replace(microsecond=0).isoformat()


def parse_stamp(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def id_block(count: int) -> list[str]:
    """`count` new 19-digit ids like Zoho's, above every id stored (the same length: they sort as text)."""
    last = (
        SandboxRecord.objects.filter(crm=CRM)
        .order_by("-external_id")
        .values_list("external_id", flat=True)
        .first()
    )
    base = max(int(last) if last and last.isdigit() else ID_BASE, ID_BASE)
    return [str(base + 7 * (n + 1)) for n in range(count)]


def new_id() -> str:
    return id_block(1)[0]


def json_key(queryset: QuerySet, key: str, **lookups: Any) -> QuerySet:
    alias = f"k_{len(queryset.query.annotations)}"
    text = Cast(KeyTextTransform(key, "properties"), output_field=TextField())
    return queryset.alias(**{alias: text}).filter(**{f"{alias}__{lk}": v for lk, v in lookups.items()})


def records(org: str, module: str, *, deleted: bool = False) -> QuerySet[SandboxRecord]:
    queryset = json_key(SandboxRecord.objects.filter(crm=CRM, object_type=module), ORG_KEY, exact=org)
    return queryset.filter(archived=deleted)


def public(properties: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    """A record as Zoho shows it: no private keys; only `fields` (and id) when asked for."""
    shown = {k: v for k, v in properties.items() if not k.startswith("_")}
    if fields is not None:
        shown = {k: v for k, v in shown.items() if k in fields or k == "id"}
    return shown


def field_defs(module: str) -> dict[str, SandboxProperty]:
    return {p.name: p for p in SandboxProperty.objects.filter(crm=CRM, object_type=module)}


def field_meta(prop: SandboxProperty) -> dict[str, Any]:
    """One field as GET /settings/fields describes it."""
    meta: dict[str, Any] = {
        "api_name": prop.name,
        "field_label": prop.label,
        "display_label": prop.label,
        "data_type": prop.type,
        "custom_field": prop.created_by_api or prop.field_type == "custom",
        "read_only": prop.name in ("id", "Modified_Time", "Created_Time"),
        "id": str(ID_BASE + 500_000 + prop.pk),
    }
    if prop.type in ("picklist", "multiselectpicklist"):
        values = [{"display_value": "-None-", "actual_value": "-None-"}] if prop.type == "picklist" else []
        meta["pick_list_values"] = values + [{"display_value": v, "actual_value": v} for v in prop.options]
    if prop.type in ("lookup", "ownerlookup"):
        meta["lookup"] = {"module": {"api_name": prop.field_type or "users"}}
    return meta


def define(module: str, name: str, label: str, data_type: str, options: list | None = None, *,
           custom: bool = False, by_api: bool = False) -> SandboxProperty:  # fmt: skip
    prop, _ = SandboxProperty.objects.update_or_create(
        crm=CRM,
        object_type=module,
        name=name,
        defaults={
            "label": label,
            "type": data_type,
            "field_type": "custom" if custom else ("" if data_type not in ("lookup",) else "Accounts"),
            "options": options or [],
            "created_by_api": by_api,
        },
    )
    return prop


def create(org: str, module: str, properties: dict[str, Any], *, when: dt.datetime | None = None,
           owner: dict | None = None) -> SandboxRecord:  # fmt: skip
    when = when or timezone.now()
    record_id = new_id()
    props = {
        "id": record_id,
        **properties,
        "Created_Time": stamp(when),
        "Modified_Time": stamp(when),
        ORG_KEY: org,
    }
    if owner and module != "users":
        props.setdefault("Owner", owner)
    return SandboxRecord.objects.create(
        crm=CRM,
        account_id=org,
        object_type=module,
        external_id=record_id,
        properties=props,
        created_at=when,
        updated_at=when,
    )


def touch(record: SandboxRecord, changes: dict[str, Any]) -> SandboxRecord:
    now = timezone.now()
    if now <= record.updated_at:  # two writes in one clock tick still order
        now = record.updated_at + dt.timedelta(seconds=1)
    record.properties = {**record.properties, **changes, "Modified_Time": stamp(now)}
    record.updated_at = now
    record.save(update_fields=["properties", "updated_at"])
    return record


def delete(record: SandboxRecord, by: dict | None = None) -> None:
    now = timezone.now()
    record.archived, record.archived_at = True, now
    record.properties = {**record.properties, "_deleted_by": by or {}}
    record.save(update_fields=["archived", "archived_at", "properties"])
