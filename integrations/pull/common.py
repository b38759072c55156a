"""What every object's pull shares: mappings, raw values and the links to CRM records."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from ..base import Record
from ..mapping import remote_value
from ..models import ExternalRef, FieldDirection, FieldMapping, ObjectSetting, ObjectType
from ..sync import RunContext

User = get_user_model()
DEFAULT_MERGE_KEYS = ("ref_id", "name", "domain")
ID_FIELD = "@id"  # a mapping's source field meaning "the record's own CRM id"


def input_mappings(setting: ObjectSetting) -> list[FieldMapping]:
    return [
        m for m in setting.mappings.all() if m.direction in (FieldDirection.INPUT, FieldDirection.TWO_WAYS)
    ]


def raw(record: Record, mapping: FieldMapping) -> Any:
    return (
        record.external_id
        if mapping.remote_field == ID_FIELD
        else remote_value(record.fields, mapping.remote_field)
    )


def requested_fields(mappings: list[FieldMapping]) -> list[str]:
    return sorted({m.remote_field for m in mappings if m.remote_field != ID_FIELD})


class Refs:
    """This connection's links for one object type, loaded once per run and kept in step."""

    def __init__(self, ctx: RunContext, object_type: str) -> None:
        self.ctx, self.object_type = ctx, object_type
        self.by_external: dict[str, ExternalRef] = {
            ref.external_id: ref
            for ref in ExternalRef.objects.filter(connection=ctx.connection, object_type=object_type)
        }
        self.by_local: dict[int, str] = {ref.local_id: ext for ext, ref in self.by_external.items()}

    def link(self, record: Record, local_id: int, received: dict[str, Any]) -> ExternalRef:
        ref = self.by_external.get(record.external_id)
        if ref is None:
            ref = ExternalRef(
                connection=self.ctx.connection, object_type=self.object_type, external_id=record.external_id
            )
        ref.local_id = local_id
        ref.in_selection = True
        ref.remote_modified_at = record.modified_at
        ref.received_values = {**ref.received_values, **received}
        ref.last_seen_run = self.ctx.run
        ref.save()
        self.by_external[record.external_id] = ref
        self.by_local[local_id] = record.external_id
        return ref


def synced_customers(ctx: RunContext) -> dict[str, int]:
    return dict(
        ExternalRef.objects.filter(
            connection=ctx.connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("external_id", "local_id")
    )
