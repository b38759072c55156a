"""Issue 9's end-to-end proof: a workspace synced from the sandbox Salesforce migrates to the sandbox HubSpot
portal whose companies carry the Salesforce Account ID, following the guide through the migration assistant,
over real HTTP against a live server. Zero duplicates, zero lost MRR, contacts or interactions, every
Customer ID switched to the HubSpot id, the HubSpot-only customers created, the Stripe ids untouched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from crm_migration import selectors as migration_selectors
from crm_migration import services as migration
from crm_migration.models import Migration, Step
from customers.models import Contact, Customer, CustomerSource
from integrations.models import Connection, ExternalRef, ObjectType, SyncRun
from integrations.run_undo import run_undo, run_undo_entries, run_undo_preview
from integrations.sync import sync_connection
from interactions.models import Interaction
from sandbox.migration import (
    HUBSPOT_ONLY,
    MIGRATION_PORTAL,
    OLD_ID_PROPERTY,
    PARTNER,
    STAGE_PROPERTY,
    SYNC_FLAG_PROPERTY,
    MigrationPortal,
    attach_stripe_ids,
    configure_salesforce_source,
    migrated_companies,
    seed_migration_portal,
)
from sandbox.models import SandboxRecord
from tests.factories import InteractionFactory, MembershipFactory, UserFactory, WorkspaceFactory
from tests.sandbox_settings import connect_through_the_browser_flow
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin():
    workspace = WorkspaceFactory(name="Northwind")
    membership = MembershipFactory(
        workspace=workspace, role=Role.ADMIN, user=UserFactory(email="admin@northwind.test")
    )
    client = Client()
    client.force_login(membership.user)
    return client, workspace, membership.user


def synced(connection: Connection) -> SyncRun:
    run = sync_connection(connection_id=connection.pk)
    assert run.status == SyncRun.Status.SUCCEEDED, (run.errors, run.warnings[:5])
    return run


def key_data(workspace) -> dict[int, tuple[Decimal, int, int]]:
    """Per customer: active MRR, contacts, interactions."""
    contacts = Counter(Contact.objects.filter(workspace=workspace).values_list("customer_id", flat=True))
    interactions = Counter(
        Interaction.objects.filter(workspace=workspace).values_list("customer_id", flat=True)
    )
    return {
        pk: (mrr, contacts[pk], interactions[pk])
        for pk, mrr in Customer.objects.filter(workspace=workspace).values_list("pk", "active_mrr")
    }


@dataclass
class Migrating:
    """The workspace after the guide's steps 1 to 4, and what it was before HubSpot."""

    run: Migration
    hubspot: Connection
    old_id_key: str
    salesforce_ids: dict[int, str]
    names: dict[int, str]
    stripe: dict[int, str]
    key_data: dict[int, tuple[Decimal, int, int]]
    noted: Customer
    portal: MigrationPortal


def lived_on_salesforce_then_connected_hubspot(client: Client, workspace, user) -> Migrating:
    from sandbox.salesforce.seed import seed as seed_salesforce

    seed_salesforce(companies=25, random_seed=3)
    portal = seed_migration_portal()

    # The workspace as it lived on Salesforce: synced customers, a Stripe id on some, a note typed in Skalin.
    salesforce = connect_through_the_browser_flow(client, "salesforce")
    configure_salesforce_source(connection=salesforce)
    client.post(reverse("integrations:set_status", args=[salesforce.pk, "enable"]))
    synced(salesforce)
    assert Customer.objects.filter(workspace=workspace).count() == portal.migrated_customers
    assert attach_stripe_ids(workspace=workspace) > 0
    noted = Customer.objects.filter(workspace=workspace).latest("pk")
    InteractionFactory(customer=noted, source="manual", subject="Call notes typed in Skalin")
    salesforce_ids = dict(Customer.objects.filter(workspace=workspace).values_list("pk", "ref_id"))
    assert all(ref_id.startswith("001") for ref_id in salesforce_ids.values())

    # 1. HubSpot preparation: done outside Skalin (the seeded portal); ticked in the assistant.
    run = migration.migration_start(workspace=workspace, old_connection=salesforce, user=user)
    migration.checklist_tick(
        migration=run, step=Step.PREPARATION, ticked=[k for k, _ in migration.PREPARATION_ITEMS]
    )
    assert migration.preparation_check(migration=run, user=user)["ok"]

    # 2. The Old CRM ID field, filled by one last Salesforce sync.
    field = migration.old_id_field_set(migration=run)
    synced(salesforce)
    assert migration.old_id_check(migration=run, user=user)["ok"]
    assert {c.custom_values.get(field.key) for c in Customer.objects.filter(workspace=workspace)} == set(
        salesforce_ids.values()
    )

    # 3. Disable, then delete the Salesforce connection.
    migration.old_connection_disable(migration=run)
    migration.old_connection_delete(migration=run)
    assert migration.old_connection_check(migration=run, user=user)["ok"]

    # 4. Connect the migration portal and attach it.
    hubspot = connect_through_the_browser_flow(client, "hubspot", account=MIGRATION_PORTAL)
    assert hubspot.remote_account_id == MIGRATION_PORTAL
    migration.new_connection_attach(migration=run, connection=hubspot)
    assert migration.connect_check(migration=run, user=user)["ok"]
    client.post(reverse("integrations:set_status", args=[hubspot.pk, "enable"]))
    return Migrating(
        run=run,
        hubspot=hubspot,
        old_id_key=field.key,
        salesforce_ids=salesforce_ids,
        names=dict(Customer.objects.filter(workspace=workspace).values_list("pk", "name")),
        stripe=dict(CustomerSource.objects.filter(source="stripe").values_list("customer_id", "external_id")),
        key_data=key_data(workspace),
        noted=noted,
        portal=portal,
    )


def test_a_salesforce_workspace_migrates_to_hubspot_without_duplicates_or_losses(sandbox, admin):
    client, workspace, user = admin
    state = lived_on_salesforce_then_connected_hubspot(client, workspace, user)
    run, hubspot, salesforce_ids, before = state.run, state.hubspot, state.salesforce_ids, state.key_data

    # Step A: input only, minimal fields, the old id + name + domain as merge keys, the guide's filter field.
    migration.step_a_apply(
        migration=run,
        old_id_property=OLD_ID_PROPERTY,
        filter_property=SYNC_FLAG_PROPERTY,
        filter_values=["true"],
    )
    first = synced(hubspot)
    check = migration.hubspot_step_check(migration=run, step=Step.STEP_A, user=user)
    assert check["ok"], check["problems"]

    customers = Customer.objects.filter(workspace=workspace)
    # Zero duplicates: every old customer was found (renamed ones by their Salesforce id), only the
    # HubSpot-only customers are new, and the partner without the checkbox stayed out.
    assert migration_selectors.duplicates(workspace=workspace, old_id_key=state.old_id_key) == []
    assert first.by_object["customers"]["created"] == len(HUBSPOT_ONLY)
    assert customers.count() == len(salesforce_ids) + len(HUBSPOT_ONLY)
    assert set(customers.exclude(pk__in=salesforce_ids).values_list("name", flat=True)) == {
        name for name, *_ in HUBSPOT_ONLY
    }
    assert not customers.filter(name=PARTNER[0]).exists()
    assert first.by_object["customers"].get("quarantined", 0) == 0
    # The customers renamed in HubSpot were found by their Salesforce id, and now bear the HubSpot name.
    renamed = [
        pk
        for pk, name in customers.values_list("pk", "name")
        if pk in state.names and name != state.names[pk]
    ]
    assert len(renamed) == state.portal.renamed > 0
    # Every Customer ID switched from the Salesforce id to the HubSpot company id carrying it.
    hubspot_id_of = {row.properties[OLD_ID_PROPERTY]: row.external_id for row in migrated_companies()}
    for pk, salesforce_id in salesforce_ids.items():
        assert Customer.objects.get(pk=pk).ref_id == hubspot_id_of[salesforce_id]
    assert set(
        ExternalRef.objects.filter(connection=hubspot, object_type=ObjectType.CUSTOMERS).values_list(
            "local_id", flat=True
        )
    ) == set(customers.values_list("pk", flat=True))
    # Zero lost MRR, contacts or interactions, customer by customer and in total.
    after = key_data(workspace)
    assert {pk: after[pk] for pk in before} == before
    assert sum(before[pk][0] for pk in before) == sum(after[pk][0] for pk in before) > 0
    assert Interaction.objects.filter(customer=state.noted, source="manual").count() == 1
    # The Stripe ids did not move.
    assert (
        dict(CustomerSource.objects.filter(source="stripe").values_list("customer_id", "external_id"))
        == state.stripe
    )
    assert (
        Counter(
            CustomerSource.objects.filter(customer__workspace=workspace).values_list("source", flat=True)
        )["hubspot"]
        == customers.count()
    )

    # Step B: what Skalin qualified goes to HubSpot (Output only), merging now on the HubSpot id only.
    migration.step_b_apply(migration=run, fields={"phase": STAGE_PROPERTY})
    synced(hubspot)
    check = migration.hubspot_step_check(migration=run, step=Step.STEP_B, user=user)
    assert check["ok"], check["problems"]
    pushed = {
        row.external_id: row.properties.get(STAGE_PROPERTY)
        for row in SandboxRecord.objects.filter(
            crm="hubspot", account_id=MIGRATION_PORTAL, object_type="companies"
        )
    }
    for customer in customers.select_related("phase"):
        assert pushed[customer.ref_id] == customer.phase.technical_name

    # Step C: the pushed field becomes Two-ways; one more sync changes nothing.
    migration.step_c_apply(migration=run, two_way=["phase"])
    last = synced(hubspot)
    check = migration.hubspot_step_check(migration=run, step=Step.STEP_C, user=user)
    assert check["ok"], check["problems"]
    assert last.by_object["customers"].get("created", 0) == 0
    assert key_data(workspace) == after

    # Third-party keys: the Stripe ids are what they were; the checklist closes the migration.
    report = migration_selectors.third_party_report(run)
    assert report.stripe_unchanged
    migration.checklist_tick(
        migration=run,
        step=Step.THIRD_PARTY,
        ticked=[k for k, _ in migration.checklist_items(Step.THIRD_PARTY, run)],
    )
    assert migration.third_party_check(migration=run, user=user)["ok"]
    run.refresh_from_db()
    assert run.status == "completed"


def test_a_bad_first_hubspot_sync_is_undone_and_the_migration_goes_on(sandbox, admin):
    """The guide's last resort ("too many accounts were created: a bulk deletion, and start fresh"), done by
    the Admin: a step A without the filter brings the partner in; undoing the run deletes only what it
    created, the merged customers keep their data and links, and the corrected step A finishes the job."""
    client, workspace, user = admin
    state = lived_on_salesforce_then_connected_hubspot(client, workspace, user)
    new_names = sorted(name for name, *_ in HUBSPOT_ONLY)

    migration.step_a_apply(migration=state.run, old_id_property=OLD_ID_PROPERTY)  # no filter field
    bad = synced(state.hubspot)
    assert bad.by_object["customers"]["created"] == len(HUBSPOT_ONLY) + 1
    assert Customer.objects.filter(workspace=workspace, name=PARTNER[0]).exists()

    preview = run_undo_preview(run=bad)
    assert sorted(customer.name for customer in preview.deletable) == sorted([*new_names, PARTNER[0]])
    assert preview.kept == []
    assert {customer.pk for customer in preview.merged} == set(state.salesforce_ids)
    result = run_undo(run=bad, user=user, confirmation=preview.confirmation_phrase)
    assert result.customers == len(HUBSPOT_ONLY) + 1
    customers = Customer.objects.filter(workspace=workspace)
    assert set(customers.values_list("pk", flat=True)) == set(state.salesforce_ids)
    assert key_data(workspace) == state.key_data
    linked = ExternalRef.objects.filter(connection=state.hubspot, object_type=ObjectType.CUSTOMERS)
    assert set(linked.values_list("local_id", flat=True)) == set(state.salesforce_ids)

    migration.step_a_apply(
        migration=state.run,
        old_id_property=OLD_ID_PROPERTY,
        filter_property=SYNC_FLAG_PROPERTY,
        filter_values=["true"],
    )
    fixed = synced(state.hubspot)
    assert fixed.by_object["customers"]["created"] == len(HUBSPOT_ONLY)
    check = migration.hubspot_step_check(migration=state.run, step=Step.STEP_A, user=user)
    assert check["ok"], check["problems"]
    assert sorted(customers.exclude(pk__in=state.salesforce_ids).values_list("name", flat=True)) == new_names
    assert migration_selectors.duplicates(workspace=workspace, old_id_key=state.old_id_key) == []
    [entry] = run_undo_entries(run=bad)
    assert PARTNER[0] in entry.old_value
