"""An in-memory CRM behind the Connector interface, for engine tests: no HTTP, full control."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from integrations.base import (
    Connector,
    ConnectorError,
    Identity,
    OAuthSpec,
    ObjectSpec,
    Page,
    ReadRequest,
    Record,
)
from integrations.models import ObjectType, SyncMode

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Row:
    fields: dict[str, Any]
    modified: dt.datetime
    links: dict[str, list[str]] = field(default_factory=dict)
    selected: bool = True
    kind: str = ""
    # Read by the listing but dropped by the connector (an open deal when only won ones sync): the page
    # reports its modification time in `Page.seen`.
    dropped: bool = False


class FakeHttp:
    calls = 0


class FakeCrm(Connector):
    key = "hubspot"
    label = "FakeCRM"
    oauth = OAuthSpec("auth_url", "/authorize", "api_url", "/token", ("all",))
    objects = {
        ObjectType.CUSTOMERS: ObjectSpec(
            ObjectType.CUSTOMERS, "companies", (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.DISABLED)
        ),
        ObjectType.CONTACTS: ObjectSpec(
            ObjectType.CONTACTS, "contacts", (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.DISABLED)
        ),
        ObjectType.AGREEMENTS: ObjectSpec(
            ObjectType.AGREEMENTS, "deals", (SyncMode.INPUT, SyncMode.DISABLED)
        ),
        ObjectType.INTERACTIONS: ObjectSpec(
            ObjectType.INTERACTIONS,
            "engagements",
            (SyncMode.INPUT, SyncMode.TWO_WAYS, SyncMode.OUTPUT, SyncMode.DISABLED),
        ),
    }
    creates_output_fields = True
    page_size = 2

    def __init__(self) -> None:
        self.http = FakeHttp()  # type: ignore[assignment]
        self.data: dict[str, dict[str, Row]] = {object_type: {} for object_type in ObjectType.values}
        self.writes: list[tuple[str, str | None, dict[str, Any]]] = []
        self.reads: list[ReadRequest] = []
        # Raise after serving this many pages (across all reads), to simulate a crash or a truncated listing.
        self.fail_after_pages: int | None = None
        self.fail_ids_only = False
        self.ignore_score_writes = False
        self.pages_served = 0
        self.clock = T0
        self.next_id = 1000
        self.deleted: dict[str, dict[str, dt.datetime]] = {}

    # -- test helpers ----------------------------------------------------------------------------------
    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=10)
        return self.clock

    def put(self, object_type: str, external_id: str, kind: str = "", **kwargs: Any) -> Row:
        links = kwargs.pop("links", {})
        selected = kwargs.pop("selected", True)
        dropped = kwargs.pop("dropped", False)
        row = Row(
            fields=dict(kwargs),
            modified=self.tick(),
            links=links,
            selected=selected,
            kind=kind,
            dropped=dropped,
        )
        self.data[object_type][external_id] = row
        return row

    def change(self, object_type: str, external_id: str, **kwargs: Any) -> None:
        row = self.data[object_type][external_id]
        for key in ("selected",):
            if key in kwargs:
                setattr(row, key, kwargs.pop(key))
        if "links" in kwargs:
            row.links = kwargs.pop("links")
        row.fields.update(kwargs)
        row.modified = self.tick()

    # -- the connector hooks ---------------------------------------------------------------------------
    def identity(self) -> Identity:
        return Identity(account_id="portal-1", user_email="admin@crm.test")

    def read_page(self, request: ReadRequest) -> Page:
        self.reads.append(request)
        if self.fail_after_pages is not None and self.pages_served >= self.fail_after_pages:
            raise ConnectorError("The CRM is down (simulated).")
        if request.ids_only and self.fail_ids_only:
            raise ConnectorError("Listing interrupted (simulated).")
        rows = [
            (ext, row)
            for ext, row in self.data[request.object_type].items()
            if (request.object_type != ObjectType.CUSTOMERS or row.selected)
            and (request.ids_only or request.since is None or row.modified >= request.since)
            and (request.scope_ids is None or set(row.links.get("customers", [])) & set(request.scope_ids))
        ]
        rows.sort(key=lambda item: (item[1].modified, item[0]))
        offset = int(request.cursor or 0)
        chunk = rows[offset : offset + self.page_size]
        self.pages_served += 1
        records = [
            Record(
                external_id=ext,
                fields={} if request.ids_only else dict(row.fields),
                modified_at=row.modified,
                links=row.links,
                kind=row.kind,
            )
            for ext, row in chunk
            if not row.dropped
        ]
        more = offset + self.page_size < len(rows)
        return Page(
            records=records,
            next_cursor=str(offset + self.page_size) if more else None,
            seen=max((row.modified for _, row in chunk), default=None),
        )

    def write(
        self,
        object_type: ObjectType,
        external_id: str | None,
        fields: dict[str, Any],
        links: dict[str, list[str]] | None = None,
    ) -> str:
        self.writes.append((object_type, external_id, dict(fields)))
        if external_id is None:
            self.next_id += 1
            external_id = str(self.next_id)
            self.data[object_type][external_id] = Row(
                fields=dict(fields), modified=self.tick(), links=links or {}, kind=fields.get("kind", "")
            )
            return external_id
        row = self.data[object_type][external_id]
        score_fields = {"skalin_healthscore", "skalin_csm_pulse"}
        for key, value in fields.items():
            if self.ignore_score_writes and key in score_fields:
                continue
            row.fields[key] = value
        row.modified = self.tick()
        return external_id

    def read_back(self, object_type: ObjectType, external_id: str, fields: Any) -> dict[str, Any]:
        row = self.data[object_type][external_id]
        return {name: row.fields.get(name) for name in fields}

    users: dict[str, str] = {}

    def delete(self, object_type: str, external_id: str) -> None:
        self.data[object_type].pop(external_id)
        self.deleted.setdefault(object_type, {})[external_id] = self.tick()

    def deleted_ids(self, object_type: Any, since: dt.datetime | None) -> list[str]:
        gone = getattr(self, "deleted", {}).get(str(object_type), {})
        return [ext for ext, when in gone.items() if since is None or when >= since]

    def find_customers(self, text: str, limit: int = 20) -> list[Record]:
        rows = self.data["customers"]
        return [
            Record(external_id=ext, fields=dict(row.fields), modified_at=row.modified, links=row.links)
            for ext, row in rows.items()
            if ext == text or text.casefold() in str(row.fields.get("name", "")).casefold()
        ][:limit]

    def selection_excludes(self, record: Record, options: dict[str, Any]) -> str | None:
        return None if self.data["customers"][record.external_id].selected else "Its stage is not selected."

    def user_emails(self, user_ids: Any) -> dict[str, str]:
        self.user_lookups = getattr(self, "user_lookups", 0) + 1
        return {i: self.users[i] for i in user_ids if i in self.users}

    def ensure_output_fields(self) -> dict[str, str]:
        return {"health_score": "skalin_healthscore", "csm_pulse": "skalin_csm_pulse"}
