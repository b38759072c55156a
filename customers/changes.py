"""Who or what made a change, and the change history it leaves behind."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .models import ChangeLog, Customer


@dataclass(frozen=True)
class Actor:
    kind: str
    user: Any = None
    label: str = ""
    ref: str = ""

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(
            kind=ChangeLog.ActorKind.USER, user=user, label=user.get_full_name() or user.email or str(user)
        )

    @classmethod
    def for_sync_run(cls, run_id: int, crm_label: str) -> Actor:
        return cls(
            kind=ChangeLog.ActorKind.SYNC_RUN, label=f"Sync run #{run_id} ({crm_label})", ref=str(run_id)
        )

    @classmethod
    def for_playbook_run(cls, run_id: int, playbook_name: str) -> Actor:
        return cls(
            kind=ChangeLog.ActorKind.PLAYBOOK_RUN,
            label=f"Playbook '{playbook_name}' run #{run_id}",
            ref=str(run_id),
        )

    @classmethod
    def for_import(cls, user: Any, filename: str) -> Actor:
        return cls(kind=ChangeLog.ActorKind.IMPORT, user=user, label=f"CSV import {filename}".strip())

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(kind=ChangeLog.ActorKind.SYSTEM, label=label)


def display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(sorted(display_value(item) for item in value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def changelog_record(
    *,
    customer: Customer,
    actor: Actor,
    changes: Iterable[tuple[str, Any, Any]],
    object_type: str = "customer",
    object_id: int | None = None,
) -> list[ChangeLog]:
    rows = [
        ChangeLog(
            workspace_id=customer.workspace_id,
            customer=customer,
            object_type=object_type,
            object_id=object_id if object_id is not None else customer.pk,
            field=field,
            old_value=display_value(old),
            new_value=display_value(new),
            actor_kind=actor.kind,
            actor_user=actor.user,
            actor_label=actor.label,
            actor_ref=actor.ref,
        )
        for field, old, new in changes
        if display_value(old) != display_value(new)
    ]
    return ChangeLog.objects.bulk_create(rows)
