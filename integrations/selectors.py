from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from workspaces.access import visible
from workspaces.models import Membership

from .base import Connector
from .models import Connection, CrmKind, QuarantinedRecord, SyncRun
from .oauth import client_configured
from .registry import CONNECTORS, connector_class


@dataclass
class CrmCard:
    crm: str
    label: str
    available: bool
    configured: bool
    requirements: str
    connections: list[Connection]


def crm_cards(*, membership: Membership) -> list[CrmCard]:
    """The five CRMs with their connections in this workspace; those without a connector say so."""
    connections = list(visible(membership, Connection).order_by("crm", "pk"))
    # The last finished run of each, for its result on the card: one query.
    latest: dict[int, SyncRun] = {}
    for run in (
        SyncRun.objects.filter(connection__in=connections, dry_run=False)
        .exclude(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING, SyncRun.Status.SKIPPED])
        .order_by("connection_id", "-started_at", "-id")
    ):
        latest.setdefault(run.connection_id, run)
    for connection in connections:
        connection.last_run = latest.get(connection.pk)  # type: ignore[attr-defined]
    cards = []
    for crm, label in CrmKind.choices:
        cls: type[Connector] | None = connector_class(crm) if crm in CONNECTORS else None
        cards.append(
            CrmCard(
                crm=crm,
                label=label,
                available=cls is not None,
                configured=cls is not None and client_configured(crm),
                requirements=cls.requirements if cls else "",
                connections=[c for c in connections if c.crm == crm],
            )
        )
    return cards


def connection_runs(*, connection: Connection, limit: int = 20) -> QuerySet[SyncRun]:
    return connection.runs.all()[:limit]


def connection_quarantine(*, connection: Connection) -> QuerySet[QuarantinedRecord]:
    return connection.quarantine.filter(resolved_at__isnull=True)
