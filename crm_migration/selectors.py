"""What the migration assistant shows and checks: key data snapshots, the Old CRM ID fill rate, duplicates,
the validation after each HubSpot step and the third-party keys. Reads only."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.utils import timezone

from customers.models import Contact, Customer, CustomerSource
from integrations.mapping import clean_text, domain_of, is_free_mail, normalise_name
from integrations.models import Connection, CrmKind, ExternalRef, ObjectType, QuarantinedRecord, SyncRun
from interactions.models import Interaction
from workspaces.models import Workspace

from .models import Migration, Step

STRIPE = "stripe"
SAMPLE_SIZE = 10
LIST_LIMIT = 200
FINISHED_OK = (SyncRun.Status.SUCCEEDED,)
KEY_FIELDS = (("mrr", "MRR"), ("contacts", "Contacts"), ("interactions", "Interactions"))


# ---- key data ---------------------------------------------------------------------------------------------


def key_data(*, workspace: Workspace) -> dict[str, dict[str, Any]]:
    """Per customer (pk as text, as JSON keeps it): name, Customer ID, MRR, contact and interaction counts.
    Three grouped queries, whatever the number of customers."""
    contacts = dict(
        Contact.objects.filter(workspace=workspace)
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    interactions = dict(
        Interaction.objects.filter(workspace=workspace)
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return {
        str(pk): {
            "name": name,
            "ref_id": ref_id,
            "mrr": str(mrr),
            "contacts": contacts.get(pk, 0),
            "interactions": interactions.get(pk, 0),
        }
        for pk, name, ref_id, mrr in Customer.objects.filter(workspace=workspace).values_list(
            "pk", "name", "ref_id", "active_mrr"
        )
    }


def key_totals(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "customers": len(rows),
        "mrr": str(sum((Decimal(row["mrr"]) for row in rows.values()), Decimal("0"))),
        "contacts": sum(row["contacts"] for row in rows.values()),
        "interactions": sum(row["interactions"] for row in rows.values()),
    }


def stripe_ids(*, workspace: Workspace) -> dict[str, str]:
    return {
        str(pk): external_id
        for pk, external_id in CustomerSource.objects.filter(
            customer__workspace=workspace, source=STRIPE
        ).values_list("customer_id", "external_id")
    }


def snapshot(*, workspace: Workspace) -> dict[str, Any]:
    rows = key_data(workspace=workspace)
    return {
        "taken_at": timezone.now().isoformat(),
        "customers": rows,
        "totals": key_totals(rows),
        "stripe": stripe_ids(workspace=workspace),
    }


@dataclass
class KeyDiff:
    customer_id: int
    name: str
    field: str
    before: Any
    after: Any


def key_data_diff(migration: Migration) -> tuple[list[KeyDiff], list[KeyDiff], dict[str, Any]]:
    """(lost, gained, totals now) against the snapshot: a lower MRR or count, or a customer gone, is lost;
    a higher one (contacts HubSpot brought) is gained, shown but not a failure."""
    before: dict[str, dict[str, Any]] = (migration.before or {}).get("customers", {})
    now = key_data(workspace=migration.workspace)
    lost: list[KeyDiff] = []
    gained: list[KeyDiff] = []
    for pk, old in before.items():
        current = now.get(pk)
        if current is None:
            lost.append(KeyDiff(int(pk), old["name"], "customer", "present", "deleted"))
            continue
        for key, label in KEY_FIELDS:
            was, is_now = (
                (Decimal(old[key]), Decimal(current[key])) if key == "mrr" else (old[key], current[key])
            )
            if is_now < was:
                lost.append(KeyDiff(int(pk), current["name"], label, was, is_now))
            elif is_now > was:
                gained.append(KeyDiff(int(pk), current["name"], label, was, is_now))
    return lost, gained, key_totals(now)


# ---- Old CRM ID -------------------------------------------------------------------------------------------


@dataclass
class MissingId:
    customer_id: int
    name: str
    external_id: str
    value: str
    why: str


@dataclass
class FillRate:
    total: int = 0
    filled: int = 0
    missing: list[MissingId] = field(default_factory=list)
    sample: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def percent(self) -> int:
        if not self.total:
            return 0
        # Never round 99.6 % up to a 100 % that the gate would contradict.
        return 100 if self.filled == self.total else min(99, round(100 * self.filled / self.total))

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.filled == self.total


@dataclass(frozen=True)
class OldLink:
    external_id: str
    last_seen_at: dt.datetime | None


def old_customer_refs(connection: Connection) -> dict[int, OldLink]:
    """The old connection's synced customers: local pk -> its id there and when a run last read it."""
    return {
        local_id: OldLink(external_id, seen_at)
        for local_id, external_id, seen_at in ExternalRef.objects.filter(
            connection=connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("local_id", "external_id", "last_seen_run__started_at")
    }


def old_id_fill_rate(migration: Migration) -> FillRate:
    """Customers of the old connection whose Old CRM ID holds their record's id there, and why the others
    do not. The workspace's customers are read once and matched in memory: no IN list of every id."""
    connection, key = migration.old_connection, migration.old_id_field_key
    result = FillRate()
    if connection is None or not key:
        return result
    refs = old_customer_refs(connection)
    mapped_at = _applied_at(migration, Step.OLD_ID)
    quarantined = dict(
        QuarantinedRecord.objects.filter(
            connection=connection, object_type=ObjectType.CUSTOMERS, resolved_at__isnull=True
        ).values_list("external_id", "reason")
    )
    for pk, name, custom in (
        Customer.objects.filter(workspace=migration.workspace)
        .order_by("name", "pk")
        .values_list("pk", "name", "custom_values")
    ):
        ref = refs.get(pk)
        if ref is None:
            continue
        result.total += 1
        value = clean_text((custom or {}).get(key))
        if value and value == ref.external_id:
            result.filled += 1
            if len(result.sample) < SAMPLE_SIZE:
                result.sample.append((pk, name, value))
            continue
        if value:
            why = (
                f"It holds '{value}', but its {migration.old_crm_label} id is '{ref.external_id}': the field "
                "must be filled by the mapping, not by hand or an import."
            )
        elif ref.external_id in quarantined:
            why = f"Quarantined by the last sync: {quarantined[ref.external_id]}"
        elif ref.last_seen_at is None or (mapped_at and ref.last_seen_at < mapped_at):
            why = "Not read since the mapping was saved: let a sync run (it re-reads every customer)."
        else:
            why = "Read after the mapping was saved, yet empty: check the mapping of the field in the setup."
        if len(result.missing) < LIST_LIMIT:
            result.missing.append(MissingId(pk, name, ref.external_id, value, why))
    return result


def _applied_at(migration: Migration, step: str) -> dt.datetime | None:
    text = (migration.applied_at or {}).get(step)
    return dt.datetime.fromisoformat(text) if text else None


# ---- duplicates -------------------------------------------------------------------------------------------


@dataclass
class DuplicateGroup:
    rule: str
    value: str
    customers: list[tuple[int, str]]


def duplicates(*, workspace: Workspace, old_id_key: str = "") -> list[DuplicateGroup]:
    """Customers sharing an old CRM id, a domain (free-mail domains never count: they say nothing about
    the company) or a name as merge keys compare it (NFKC, case folding, spaces)."""
    by_rule: dict[str, dict[str, list[tuple[int, str]]]] = {
        "Old CRM ID": defaultdict(list),
        "Domain": defaultdict(list),
        "Name": defaultdict(list),
    }
    for pk, name, domain, custom in Customer.objects.filter(workspace=workspace).values_list(
        "pk", "name", "domain", "custom_values"
    ):
        if old_id_key:
            old_id = clean_text((custom or {}).get(old_id_key))
            if old_id:
                by_rule["Old CRM ID"][old_id].append((pk, name))
        bare = domain_of(domain)
        if bare and not is_free_mail(bare):
            by_rule["Domain"][bare].append((pk, name))
        normalised = normalise_name(name)
        if normalised:
            by_rule["Name"][normalised].append((pk, name))
    return [
        DuplicateGroup(rule, value, sorted(rows, key=lambda row: row[0]))
        for rule, groups in by_rule.items()
        for value, rows in sorted(groups.items())
        if len(rows) > 1
    ]


# ---- the HubSpot connection -------------------------------------------------------------------------------


def hubspot_candidates(migration: Migration) -> list[Connection]:
    """HubSpot connections of the workspace that could be the new one (the old one excluded)."""
    return list(
        Connection.objects.filter(workspace=migration.workspace, crm=migration.target_crm)
        .exclude(pk=migration.old_connection_pk)
        .order_by("-created_at", "-pk")
    )


# ---- validation after a HubSpot step ------------------------------------------------------------------------


@dataclass
class CustomerRow:
    customer_id: int
    name: str
    ref_id: str
    detail: str = ""


@dataclass
class ValidationReport:
    step: str
    connection: Connection | None
    run: SyncRun | None = None
    applied_at: dt.datetime | None = None
    expected_old: int = 0
    new_from_hubspot: int = 0
    synced: int = 0
    switched: int = 0
    # Old customers HubSpot did not bring (the list is cut at LIST_LIMIT; the count is exact).
    missing: list[CustomerRow] = field(default_factory=list)
    missing_count: int = 0
    without_hubspot_id: list[CustomerRow] = field(default_factory=list)
    without_hubspot_id_count: int = 0
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    quarantined_count: int = 0
    lost: list[KeyDiff] = field(default_factory=list)
    gained: list[KeyDiff] = field(default_factory=list)
    totals_before: dict[str, Any] = field(default_factory=dict)
    totals_after: dict[str, Any] = field(default_factory=dict)
    last_sync_at: dt.datetime | None = None
    # Contacts HubSpot linked, and those whose Contact ID is now their HubSpot id (shown, not gating: a
    # contact without an email in HubSpot is never linked).
    contacts_linked: int = 0
    contacts_switched: int = 0

    @property
    def expected(self) -> int:
        return self.expected_old + self.new_from_hubspot

    def problems(self, *, accept_missing: bool = False) -> list[str]:
        """Why the step does not pass; empty when it does. `accept_missing`: the Admin confirmed that the
        old customers HubSpot did not bring are left out of its selection on purpose."""
        found = []
        if self.connection is None:
            return ["No HubSpot connection is attached to the migration."]
        if self.run is None:
            found.append(
                "No sync has finished since this step's configuration was applied: preview and apply it."
            )
        elif self.run.status not in FINISHED_OK:
            found.append(
                f"The last sync (run #{self.run.pk}) ended {self.run.get_status_display().lower()}: "
                "open its report, fix the cause and sync again."
            )
        if self.duplicates:
            found.append(f"{len(self.duplicates)} group(s) of duplicate customers.")
        if self.quarantined_count:
            found.append(f"{self.quarantined_count} HubSpot record(s) quarantined (not merged, not created).")
        if self.lost:
            found.append(f"{len(self.lost)} key figure(s) lower than before the migration.")
        if self.missing_count and not accept_missing:
            found.append(
                f"{self.missing_count} customer(s) synced from the old CRM were not found in HubSpot: fix their "
                "HubSpot companies (old id property, lifecycle stage, filter) or confirm they are left out on "
                "purpose."
            )
        return found


def _last_run(connection: Connection, since: dt.datetime | None) -> SyncRun | None:
    runs = connection.runs.filter(dry_run=False, finished_at__isnull=False).exclude(
        status__in=[SyncRun.Status.SKIPPED, SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
    )
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return runs.order_by("-finished_at", "-pk").first()


def validation_report(migration: Migration, step: str) -> ValidationReport:
    connection = migration.new_connection
    report = ValidationReport(step=step, connection=connection)
    report.totals_before = (migration.before or {}).get("totals", {})
    report.lost, report.gained, report.totals_after = key_data_diff(migration)
    report.duplicates = duplicates(workspace=migration.workspace, old_id_key=migration.old_id_field_key)
    if connection is None:
        return report
    report.applied_at = _applied_at(migration, step)
    report.run = _last_run(connection, report.applied_at)
    report.last_sync_at = connection.last_synced_at
    links = dict(
        ExternalRef.objects.filter(
            connection=connection, object_type=ObjectType.CUSTOMERS, in_selection=True
        ).values_list("local_id", "external_id")
    )
    report.synced = len(links)
    old_ids = {int(pk) for pk in (migration.old_links or {})}
    report.expected_old = len(old_ids)
    report.new_from_hubspot = len(set(links) - old_ids)
    concerned = old_ids | set(links)
    customers = {
        pk: (name, ref_id)
        for pk, name, ref_id in Customer.objects.filter(workspace=migration.workspace).values_list(
            "pk", "name", "ref_id"
        )
        if pk in concerned
    }
    for pk, (name, ref_id) in sorted(customers.items(), key=lambda item: (item[1][0], item[0])):
        hubspot_id = links.get(pk)
        if hubspot_id is not None and ref_id == hubspot_id:
            report.switched += 1
            continue
        report.without_hubspot_id_count += 1
        if hubspot_id is None:
            old_id = (migration.old_links or {}).get(str(pk), "")
            row = CustomerRow(pk, name, ref_id, f"Not in the HubSpot selection (old id {old_id}).")
            report.missing_count += 1
            if len(report.missing) < LIST_LIMIT:
                report.missing.append(row)
        else:
            row = CustomerRow(pk, name, ref_id, f"Linked to HubSpot record {hubspot_id}.")
        if len(report.without_hubspot_id) < LIST_LIMIT:
            report.without_hubspot_id.append(row)
    contact_links = dict(
        ExternalRef.objects.filter(connection=connection, object_type=ObjectType.CONTACTS).values_list(
            "local_id", "external_id"
        )
    )
    report.contacts_linked = len(contact_links)
    report.contacts_switched = sum(
        1
        for pk, ref_id in Contact.objects.filter(workspace=migration.workspace).values_list("pk", "ref_id")
        if pk in contact_links and ref_id == contact_links[pk]
    )
    quarantine = QuarantinedRecord.objects.filter(
        connection=connection, object_type=ObjectType.CUSTOMERS, resolved_at__isnull=True
    )
    report.quarantined_count = quarantine.count()
    report.quarantined = list(quarantine[:SAMPLE_SIZE])
    return report


def report_summary(report: ValidationReport) -> dict[str, Any]:
    """What a check keeps of a report (the page recomputes the detail)."""
    return {
        "run": report.run.pk if report.run else None,
        "expected": report.expected,
        "synced": report.synced,
        "switched": report.switched,
        "contacts_linked": report.contacts_linked,
        "contacts_switched": report.contacts_switched,
        "missing": report.missing_count,
        "without_hubspot_id": report.without_hubspot_id_count,
        "duplicates": len(report.duplicates),
        "quarantined": report.quarantined_count,
        "lost": len(report.lost),
        "gained": len(report.gained),
        "totals_before": report.totals_before,
        "totals_after": report.totals_after,
    }


# ---- third-party keys -------------------------------------------------------------------------------------


@dataclass
class SourceKeys:
    source: str
    total: int = 0
    on_new_id: int = 0
    on_old_id: int = 0
    other: int = 0
    sample: list[CustomerRow] = field(default_factory=list)

    @property
    def no_longer_matching(self) -> int:
        return self.total - self.on_new_id


@dataclass
class ThirdPartyReport:
    stripe_before: int = 0
    stripe_after: int = 0
    stripe_changed: list[CustomerRow] = field(default_factory=list)
    sources: list[SourceKeys] = field(default_factory=list)

    @property
    def stripe_unchanged(self) -> bool:
        return self.stripe_before == self.stripe_after and not self.stripe_changed


def third_party_report(migration: Migration) -> ThirdPartyReport:
    """Stripe ids before and after (they live on the customer, whatever the CRM), and, for every other
    non-CRM source (Intercom...), how many customers its key would no longer find: their key there is not
    the new Customer ID (often it is still the old CRM's id)."""
    workspace = migration.workspace
    report = ThirdPartyReport()
    before: dict[str, str] = (migration.before or {}).get("stripe", {})
    after = stripe_ids(workspace=workspace)
    report.stripe_before, report.stripe_after = len(before), len(after)
    names = dict(Customer.objects.filter(workspace=workspace).values_list("pk", "name"))
    for key in sorted(set(before) | set(after), key=int):
        if before.get(key) != after.get(key):
            report.stripe_changed.append(
                CustomerRow(
                    int(key),
                    names.get(int(key), "(deleted)"),
                    "",
                    f"{before.get(key) or '(none)'} → {after.get(key) or '(none)'}",
                )
            )
    old_ids: dict[str, str] = dict(migration.old_links or {})
    by_source: dict[str, SourceKeys] = {}
    rows = (
        CustomerSource.objects.filter(customer__workspace=workspace)
        .exclude(source__in=[*CrmKind.values, STRIPE])
        .order_by("source", "customer__name")
        .values_list(
            "source",
            "customer_id",
            "customer__name",
            "customer__ref_id",
            "external_id",
            "customer__custom_values",
        )
    )
    for source, pk, name, ref_id, external_id, custom in rows:
        keys = by_source.setdefault(source, SourceKeys(source))
        keys.total += 1
        old_id = old_ids.get(str(pk)) or clean_text(
            (custom or {}).get(migration.old_id_field_key) if migration.old_id_field_key else ""
        )
        if ref_id and external_id == ref_id:
            keys.on_new_id += 1
            continue
        if old_id and external_id == old_id:
            keys.on_old_id += 1
            detail = f"Its {source} key is the old {migration.old_crm_label} id {old_id}."
        else:
            keys.other += 1
            detail = f"Its {source} key '{external_id}' is not its Customer ID."
        if len(keys.sample) < SAMPLE_SIZE:
            keys.sample.append(CustomerRow(pk, name, ref_id, detail))
    report.sources = list(by_source.values())
    return report


def latest_run(migration: Migration, step: str) -> SyncRun | None:
    """The newest run or preview of the HubSpot connection since the step's configuration was applied."""
    connection, since = migration.new_connection, _applied_at(migration, step)
    if connection is None or since is None:
        return None
    return connection.runs.filter(started_at__gte=since).order_by("-started_at", "-pk").first()
