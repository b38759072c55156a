"""Issue 9's end-to-end proof: a workspace synced from the sandbox Salesforce migrates to the sandbox HubSpot
portal whose companies carry the Salesforce Account ID, following the guide through the migration assistant,
over real HTTP against a live server. Zero duplicates, zero lost MRR, contacts or interactions, every
Customer ID switched to the HubSpot id, the HubSpot-only customers created, the Stripe ids untouched."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from crm_migration import selectors as migration_selectors
from crm_migration import services as migration
from crm_migration.models import Step
from customers.models import Contact, Customer, CustomerSource
from integrations.models import Connection, ExternalRef, ObjectType, SyncRun
from integrations.sync import sync_connection
from interactions.models import Interaction
from sandbox.migration import (
    HUBSPOT_ONLY,
    MIGRATION_PORTAL,
    OLD_ID_PROPERTY,
    PARTNER,
    STAGE_PROPERTY,
    SYNC_FLAG_PROPERTY,
    attach_stripe_ids,
    configure_salesforce_source,
    migrated_companies,
    seed_migration_portal,
)
from sandbox.models import SandboxRecord
from tests.factories import InteractionFactory, MembershipFactory, UserFactory, WorkspaceFactory
from tests.sandbox_settings import point_crms_at_sandbox
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(settings, live_server):
    point_crms_at_sandbox(settings, live_server.url)
    return live_server


@pytest.fixture
def admin():
    workspace = WorkspaceFactory(name="Northwind")
    membership = MembershipFactory(
        workspace=workspace, role=Role.ADMIN, user=UserFactory(email="admin@northwind.test")
    )
    client = Client()
    client.force_login(membership.user)
    return client, workspace, membership.user


def connect(client: Client, crm: str, account: str = "") -> Connection:
    """Connect me, Allow on the CRM's consent page (for a chosen HubSpot portal), back to Skalin."""
    start = client.post(reverse("integrations:connect", args=[crm]))
    assert start.status_code == 302, start.content
    authorize_url = start["Location"]
    if account:
        authorize_url += "&" + urlencode({"account": account})
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=10)
        assert page.status_code == 200 and "Allow" in page.text
        if account:
            assert account in page.text
        query = {key: values[0] for key, values in parse_qs(urlsplit(authorize_url).query).items()}
        allowed = browser.post(
            authorize_url, data={**query, "decision": "allow"}, allow_redirects=False, timeout=10
        )
    assert allowed.status_code in (302, 303), allowed.text[:300]
    callback = urlsplit(allowed.headers["Location"])
    done = client.get(callback.path, {k: v[0] for k, v in parse_qs(callback.query).items()})
    assert done.status_code == 302, done.content.decode()[:500]
    return Connection.objects.filter(crm=crm).order_by("-pk").first()


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


def test_a_salesforce_workspace_migrates_to_hubspot_without_duplicates_or_losses(sandbox, admin):
    from sandbox.salesforce.seed import seed as seed_salesforce

    client, workspace, user = admin
    seed_salesforce(companies=25, random_seed=3)
    portal = seed_migration_portal()

    # The workspace as it lived on Salesforce: synced customers, a Stripe id on some, a note typed in Skalin.
    salesforce = connect(client, "salesforce")
    configure_salesforce_source(connection=salesforce)
    client.post(reverse("integrations:set_status", args=[salesforce.pk, "enable"]))
    synced(salesforce)
    assert Customer.objects.filter(workspace=workspace).count() == portal.migrated_customers
    assert attach_stripe_ids(workspace=workspace) > 0
    noted = Customer.objects.filter(workspace=workspace).order_by("pk").last()
    InteractionFactory(customer=noted, source="manual", subject="Call notes typed in Skalin")
    salesforce_ids = dict(Customer.objects.filter(workspace=workspace).values_list("pk", "ref_id"))
    names_before = dict(Customer.objects.filter(workspace=workspace).values_list("pk", "name"))
    assert all(ref_id.startswith("001") for ref_id in salesforce_ids.values())
    stripe_before = dict(
        CustomerSource.objects.filter(source="stripe").values_list("customer_id", "external_id")
    )

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
    before = key_data(workspace)

    # 4. Connect the migration portal and attach it.
    hubspot = connect(client, "hubspot", account=MIGRATION_PORTAL)
    assert hubspot.remote_account_id == MIGRATION_PORTAL
    migration.new_connection_attach(migration=run, connection=hubspot)
    assert migration.connect_check(migration=run, user=user)["ok"]

    # Step A: input only, minimal fields, the old id + name + domain as merge keys, the guide's filter field.
    migration.step_a_apply(
        migration=run,
        old_id_property=OLD_ID_PROPERTY,
        filter_property=SYNC_FLAG_PROPERTY,
        filter_values=["true"],
    )
    client.post(reverse("integrations:set_status", args=[hubspot.pk, "enable"]))
    first = synced(hubspot)
    check = migration.hubspot_step_check(migration=run, step=Step.STEP_A, user=user)
    assert check["ok"], check["problems"]

    customers = Customer.objects.filter(workspace=workspace)
    # Zero duplicates: every old customer was found (renamed ones by their Salesforce id), only the
    # HubSpot-only customers are new, and the partner without the checkbox stayed out.
    assert migration_selectors.duplicates(workspace=workspace, old_id_key=field.key) == []
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
        if pk in names_before and name != names_before[pk]
    ]
    assert len(renamed) == portal.renamed > 0
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
    assert Interaction.objects.filter(customer=noted, source="manual").count() == 1
    # The Stripe ids did not move.
    assert dict(CustomerSource.objects.filter(source="stripe").values_list("customer_id", "external_id")) == (
        stripe_before
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
        for row in SandboxRecord.objects.filter(crm="hubspot", object_type="companies")
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
