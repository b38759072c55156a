"""Zoho's JSON as the engine wants it: raw values by API name, lookups as ids, the selection rule, COQL text."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def parse_time(value: Any) -> dt.datetime | None:
    """Zoho stamps carry the org's offset: 2026-01-04T14:00:00+05:30."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def iso(value: Any) -> str:
    parsed = parse_time(value)
    return parsed.isoformat().replace("+00:00", "Z") if parsed else ""


def zoho_time(when: dt.datetime) -> str:
    """For If-Modified-Since and COQL: ISO 8601 with an offset, no fraction."""
    return when.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def coql_string(value: Any) -> str:
    """A quoted COQL literal (single quotes, backslash escapes):
    https://www.zoho.com/crm/developer/docs/api/v8/COQL-Overview.html"""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def field_name(name: str) -> str:
    """The top-level API name of a (possibly dotted: Owner.email) field, checked."""
    top = name.split(".", 1)[0]
    if not FIELD_NAME.fullmatch(top):
        from ...base import ConnectorError

        raise ConnectorError(f"{name!r} is not a Zoho field name.", permanent=True)
    return top


def label(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or "")
    return "" if value is None else str(value).strip()


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Raw values by API name. A lookup ({"name", "id"}) becomes its id, its parts stay reachable as
    `Owner.email`, `Parent_Account.name`; the Tag field becomes its names joined by ';' (sorted, as the
    engine sends tags back); Zoho's `$` bookkeeping keys are dropped except `$se_module`."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name.startswith("$") and name != "$se_module":
            continue
        if name == "Tag":
            out[name] = ";".join(sorted(label(tag) for tag in value or () if label(tag)))
        elif isinstance(value, dict):
            out[name] = str(value["id"]) if value.get("id") is not None else None
            for key, part in value.items():
                if not isinstance(part, dict | list):
                    out[f"{name}.{key}"] = part
        else:
            out[name] = value
    return out


def lookup_id(value: Any) -> str:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return ""


def selection_excludes(row: dict[str, Any], selection: dict[str, Any]) -> str | None:
    """Why an account (raw Zoho row) is outside the selection, or None. Account types: none chosen = all.
    Filter values: a single-value field matches one of them; a multi-value field (multi-select picklist,
    Tag) must hold every listed value (crm-integrations.txt, Zoho, "Filter synchronized customers")."""
    types = [str(t) for t in selection.get("account_types") or () if str(t).strip()]
    if types and label(row.get("Account_Type")) not in types:
        shown = label(row.get("Account_Type")) or "none"
        return f"Its account type ({shown}) is not among the synced types ({', '.join(types)})."
    field = str(selection.get("filter_field") or "")
    wanted = [str(v).strip() for v in selection.get("filter_values") or () if str(v).strip()]
    if not field or not wanted:
        return None
    value = row.get(field)
    if isinstance(value, list):
        present = {label(item).casefold() for item in value}
        missing = [v for v in wanted if v.casefold() not in present]
        if missing:
            return f"Its {field} lacks {', '.join(missing)} (every listed value is required)."
        return None
    if label(value).casefold() not in {v.casefold() for v in wanted}:
        return f"Its {field} ({label(value) or 'empty'}) is not one of {', '.join(wanted)}."
    return None


def type_condition(types: Sequence[str]) -> str:
    if not types:
        return "id is not null"
    return f"Account_Type in ({', '.join(coql_string(t) for t in types)})"


def normal(subject: Any, body: Any, occurred_at: str, direction: str, author: Any) -> dict[str, Any]:
    return {
        "subject": subject or "",
        "body": body or "",
        "occurred_at": occurred_at,
        "direction": direction,
        "author_email": author or "",
    }
