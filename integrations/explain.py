""" "Why isn't this customer in Skalin?": look a CRM record up by id or name and say what the sync made of
it, or which rule keeps it out. The answers come from the code that decides: the connector's selection
filters and the engine's merge-key search."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from customers.models import ChangeLog, Customer

from .base import Connector, ConnectorError, Record
from .mapping import normalise_name
from .models import Connection, ExternalRef, ObjectType, QuarantinedRecord, SyncRun
from .services import connector_for
from .sync import RecordRejected, RunContext


@dataclass
class Explanation:
    external_id: str
    label: str
    verdict: str  # synced, churned, quarantined, not_selected, would_merge, would_create, ambiguous
    message: str
    customer: Customer | None = None

    LABELS = {
        "synced": "Synced", "churned": "Churned", "deleted": "Deleted in Skalin", "quarantined": "Put aside",
        "not_selected": "Not selected", "would_merge": "Will merge", "would_create": "Not synced yet",
        "ambiguous": "Ambiguous", "not_found": "Not in the CRM",
    }  # fmt: skip

    @property
    def verdict_label(self) -> str:
        return self.LABELS.get(self.verdict, self.verdict)


def explain(*, connection: Connection, query: str, connector: Connector | None = None) -> list[Explanation]:
    query = query.strip()
    if len(query) < 2:
        raise ValidationError("Type at least two characters of the CRM id or the company name.")
    answers: dict[str, Explanation] = {}
    refs = ExternalRef.objects.filter(connection=connection, object_type=ObjectType.CUSTOMERS)
    for ref in refs.filter(external_id=query):
        answers[ref.external_id] = _from_ref(ref)
    connector = connector or connector_for(connection)
    try:
        found = connector.find_customers(query)
    except ConnectorError as error:
        raise ValidationError(
            f"{connection.get_crm_display()} could not be searched: {error.message}"
        ) from error
    for record in found:
        if record.external_id in answers:
            continue
        linked = refs.filter(external_id=record.external_id).first()
        answers[record.external_id] = (
            _from_ref(linked) if linked else _from_crm(connection, connector, record)
        )
    if not answers:
        wanted = normalise_name(query)
        local = [c for c in Customer.objects.filter(workspace=connection.workspace, name__icontains=query[:60])
                 if wanted in normalise_name(c.name)]  # fmt: skip
        message = f"{connection.get_crm_display()} has no company with that id or name."
        if local:
            message += f" Skalin has {', '.join(c.name for c in local[:3])}, not linked to this CRM."
        return [Explanation(query, query, "not_found", message)]
    return list(answers.values())


def _from_ref(ref: ExternalRef) -> Explanation:
    customer = Customer.objects.filter(pk=ref.local_id).first()
    label = customer.name if customer else ref.external_id
    if customer is None:
        return Explanation(
            ref.external_id, label, "deleted", "It was synced, then deleted in Skalin by hand."
        )
    if ref.in_selection:
        return Explanation(ref.external_id, label, "synced", f"It is in Skalin as {customer.name}.", customer)
    churn = (
        ChangeLog.objects.filter(customer=customer, field="phase", actor_kind=ChangeLog.ActorKind.SYNC_RUN)
        .order_by("-created_at")
        .first()
    )
    when = f" on {churn.created_at:%Y-%m-%d} by {churn.actor_label}" if churn else ""
    return Explanation(
        ref.external_id, label, "churned",
        f"It left the CRM selection and was churned{when}. It stays in Skalin as {customer.name}.", customer,
    )  # fmt: skip


def _from_crm(connection: Connection, connector: Connector, record: Record) -> Explanation:
    from .pull.customers import CustomerPull

    label = str(record.fields.get("name") or record.fields.get("Name") or record.external_id)
    quarantined = QuarantinedRecord.objects.filter(
        connection=connection, object_type=ObjectType.CUSTOMERS, external_id=record.external_id,
        resolved_at__isnull=True,
    ).first()  # fmt: skip
    if quarantined:
        return Explanation(
            record.external_id, label, "quarantined", f"It was put aside: {quarantined.reason}"
        )
    setting = (
        connection.object_settings.filter(object_type=ObjectType.CUSTOMERS)
        .prefetch_related("mappings")
        .first()
    )
    options = setting.options if setting else {}
    reason = connector.selection_excludes(record, options)
    if reason:
        return Explanation(record.external_id, label, "not_selected", f"Not synced: {reason}")
    if setting is None:
        return Explanation(
            record.external_id, label, "not_selected", "Customers are not synced by this connection."
        )
    # The engine's own decision, on a run that is never saved.
    ctx = RunContext(connection=connection, run=SyncRun(connection=connection), connector=connector,
                     settings={ObjectType.CUSTOMERS: setting})  # fmt: skip
    pull = CustomerPull(ctx, setting)
    try:
        values = pull.values(record)[0]
        customer = pull.find(record, values)
    except (RecordRejected, ValidationError) as rejected:
        return Explanation(record.external_id, label, "ambiguous", f"It would be put aside: {rejected}")
    if customer is not None:
        return Explanation(
            record.external_id, label, "would_merge",
            f"It is in the selection and will be merged into {customer.name} (same {pull.key_label(pull.matched_by)}) at the next run.",
            customer,
        )  # fmt: skip
    return Explanation(
        record.external_id, label, "would_create",
        "It is in the selection but not synced yet: the next run creates it (or Sync now).",
    )  # fmt: skip
