"""The HubSpot portal of a company migrating from Salesforce: every account imported with its Salesforce id in
a real custom property, some names changed, HubSpot-only customers, lifecycle stages and associations; the
migration portal is its own data, apart from the demo portal's; the consent page's account chooser connects it."""

from __future__ import annotations

import json
import unicodedata

import pytest

from sandbox.common import issue_pair
from sandbox.hubspot import schema, store
from sandbox.hubspot.seed import seed as seed_hubspot
from sandbox.migration import (
    HUBSPOT_ONLY,
    MIGRATION_PORTAL,
    OLD_ID_PROPERTY,
    PARTNER,
    SYNC_FLAG_PROPERTY,
    migrated_companies,
    seed_migration_portal,
)
from sandbox.models import SandboxRecord
from sandbox.salesforce.schema import DEFAULT_ORG
from sandbox.salesforce.seed import seed as seed_salesforce
from sandbox.salesforce.store import records as salesforce_records

pytestmark = pytest.mark.django_db


def normalised(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@pytest.fixture
def portal():
    seed_salesforce(companies=25, random_seed=3)
    return seed_migration_portal()


def companies():
    return {
        row.external_id: row.properties
        for row in store.records(MIGRATION_PORTAL, "companies")
    }


def test_every_salesforce_account_becomes_one_company_carrying_its_id(portal):
    accounts = {row.external_id: row.properties for row in salesforce_records(DEFAULT_ORG, "Account")}
    by_old_id = {
        props[OLD_ID_PROPERTY]: props for props in companies().values() if props.get(OLD_ID_PROPERTY)
    }

    assert set(by_old_id) == set(accounts)
    for account_id, account in accounts.items():
        company = by_old_id[account_id]
        is_customer = account["Type"] == "Customer"
        assert company["lifecyclestage"] == ("customer" if is_customer else company["lifecyclestage"])
        assert (company["lifecyclestage"] == "customer") == is_customer
        assert company[SYNC_FLAG_PROPERTY] == ("true" if is_customer else "false")
    assert portal.migrated_customers == sum(1 for a in accounts.values() if a["Type"] == "Customer")


def test_some_customers_were_renamed_so_that_neither_name_nor_domain_finds_them(portal):
    accounts = {row.external_id: row.properties for row in salesforce_records(DEFAULT_ORG, "Account")}
    renamed = [
        props
        for props in companies().values()
        if props.get(OLD_ID_PROPERTY)
        and normalised(props["name"]) != normalised(accounts[props[OLD_ID_PROPERTY]]["Name"])
    ]
    assert len(renamed) == portal.renamed >= 3
    for props in renamed:
        website = str(accounts[props[OLD_ID_PROPERTY]].get("Website") or "")
        assert not props["domain"] or props["domain"] not in website


def test_hubspot_only_customers_and_a_partner_left_out_by_the_checkbox(portal):
    without_old_id = {
        props["name"]: props for props in companies().values() if not props.get(OLD_ID_PROPERTY)
    }
    assert set(without_old_id) == {name for name, *_ in HUBSPOT_ONLY} | {PARTNER[0]}
    assert {props[SYNC_FLAG_PROPERTY] for name, props in without_old_id.items() if name != PARTNER[0]} == {
        "true"
    }
    assert without_old_id[PARTNER[0]][SYNC_FLAG_PROPERTY] == "false"
    assert without_old_id[PARTNER[0]]["lifecyclestage"] == "customer"
    assert portal.hubspot_only == len(HUBSPOT_ONLY)


def test_contacts_deals_and_engagements_are_associated_with_their_company(portal):
    contacts = store.records(MIGRATION_PORTAL, "contacts")
    assert contacts.count() == portal.contacts > 0
    links = store.associations_of(MIGRATION_PORTAL, "contacts", [c.external_id for c in contacts], "companies")
    for contact in contacts:
        assert list(links[contact.external_id]) == [contact.properties["associatedcompanyid"]]
        assert contact.properties["email"]
    sf_contacts = salesforce_records(DEFAULT_ORG, "Contact")
    assert portal.contacts_left_out == sum(1 for c in sf_contacts if not c.properties.get("Email"))

    deals = store.records(MIGRATION_PORTAL, "deals")
    assert deals.count() == portal.deals > 0
    assert {d.properties["dealstage"] for d in deals} == {"closedwon"}
    assert set(store.associations_of(MIGRATION_PORTAL, "deals", [d.external_id for d in deals], "companies")) == {
        d.external_id for d in deals
    }
    engagements = SandboxRecord.objects.filter(
        crm="hubspot", account_id=MIGRATION_PORTAL, object_type__in=["emails", "calls", "notes", "meetings"]
    )
    assert engagements.count() == portal.engagements > 0


def test_the_old_id_property_is_a_real_property_and_seeding_again_adds_nothing(portal):
    definition = store.property_definitions(MIGRATION_PORTAL, "companies")[OLD_ID_PROPERTY]
    assert definition["label"] == "Salesforce Account ID" and definition["hubspotDefined"] is False
    count = SandboxRecord.objects.filter(crm="hubspot").count()

    again = seed_migration_portal()

    assert again.created is False
    assert SandboxRecord.objects.filter(crm="hubspot").count() == count


def company_ids(portal_id: str) -> set[str]:
    return set(store.all_records(portal_id, "companies").values_list("external_id", flat=True))


def test_the_two_portals_hold_their_own_companies_with_ids_unique_across_them():
    seed_hubspot(companies=5, random_seed=1)
    demo = company_ids(schema.DEFAULT_ACCOUNT)
    seed_salesforce(companies=8, random_seed=2)

    seed_migration_portal()

    assert company_ids(schema.DEFAULT_ACCOUNT) == demo
    migration = company_ids(MIGRATION_PORTAL)
    assert migration == set(migrated_companies().values_list("external_id", flat=True)) | {
        row.external_id for row in store.records(MIGRATION_PORTAL, "companies") if OLD_ID_PROPERTY not in row.properties
    }
    assert len(migration) == 8 + len(HUBSPOT_ONLY) + 1  # the partner
    assert min(migration) > max(demo)
    assert not any(OLD_ID_PROPERTY in props for props in (
        r.properties for r in store.records(schema.DEFAULT_ACCOUNT, "companies")
    ))  # fmt: skip
    # The import is dated when it happened: nothing needs back-dating to stay out of the demo portal.
    assert max(r.updated_at for r in store.records(MIGRATION_PORTAL, "companies")) > max(
        r.updated_at for r in store.records(schema.DEFAULT_ACCOUNT, "companies")
    )


def test_reseeding_the_demo_portal_keeps_the_migration_portal():
    seed_salesforce(companies=8, random_seed=2)
    seed_migration_portal()
    migration = company_ids(MIGRATION_PORTAL)
    properties = set(store.property_definitions(MIGRATION_PORTAL, "companies"))

    summary = seed_hubspot(companies=4, random_seed=9)
    demo = company_ids(schema.DEFAULT_ACCOUNT)

    assert "other portals are untouched" in summary
    assert company_ids(MIGRATION_PORTAL) == migration
    assert set(store.property_definitions(MIGRATION_PORTAL, "companies")) == properties
    assert OLD_ID_PROPERTY not in store.property_definitions(schema.DEFAULT_ACCOUNT, "companies")
    assert len(demo) == 4 and not demo & migration
    assert SandboxRecord.objects.filter(crm="hubspot", account_id=schema.DEFAULT_ACCOUNT, object_type="owners").count() == 3


def test_the_consent_page_connects_the_migration_portal(client, settings, portal):
    settings.SANDBOX_ENABLED = True
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "hubspot": {
            **settings.CRM_SETTINGS["hubspot"],
            "client_id": "hs-client",
            "client_secret": "hs-secret",
        },
    }
    url = (
        "/sandbox/hubspot-app/oauth/authorize?client_id=hs-client&state=s"
        f"&redirect_uri=http://testserver/cb&account={MIGRATION_PORTAL}"
    )
    page = client.get(url).content.decode()
    assert f"value='{MIGRATION_PORTAL}' checked> Northwind" in page
    assert f"value='{schema.DEFAULT_ACCOUNT}'> Demo SaaS" in page
    allowed = client.post(url, {"decision": "allow"})
    code = allowed["Location"].split("code=")[1].split("&")[0]
    answer = client.post(
        "/sandbox/hubspot/oauth/v1/token",
        {"grant_type": "authorization_code", "code": code, "client_id": "hs-client", "client_secret": "hs-secret",
         "redirect_uri": "http://testserver/cb"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    info = client.get(f"/sandbox/hubspot/oauth/v1/access-tokens/{answer.json()['access_token']}").json()
    assert str(info["hub_id"]) == MIGRATION_PORTAL

    access, _ = issue_pair(crm="hubspot", account_id=MIGRATION_PORTAL, user_email="x@y.test", ttl_seconds=60)
    listed = client.get(
        "/sandbox/hubspot/crm/v3/properties/companies", HTTP_AUTHORIZATION=f"Bearer {access.value}"
    )
    assert OLD_ID_PROPERTY in {row["name"] for row in json.loads(listed.content)["results"]}
    assert schema.DEFAULT_ACCOUNT != MIGRATION_PORTAL


def test_the_command_seeds_an_empty_org_then_the_portal(settings):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("sandbox_migration", "--companies", "6", stdout=out)

    assert "companies imported from Salesforce org" in out.getvalue()
    assert migrated_companies().count() == 6


def test_the_demo_workspace_is_prepared_once_and_a_deleted_salesforce_connection_stays_deleted(settings):
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from integrations.models import Connection, ObjectSetting
    from sandbox.migration import MIGRATING_SLUG, migration_demo_logins, prepare_migration_demo

    settings.SANDBOX_ENABLED = True
    first = prepare_migration_demo(companies=6)
    assert first.created and first.workspace.slug == MIGRATING_SLUG
    customers = ObjectSetting.objects.get(connection=first.connection, object_type="customers")
    view = SandboxRecord.objects.get(
        crm="salesforce", object_type="ListView", properties__DeveloperName="Customers"
    )
    assert customers.options["selection"]["list_view_id"] == view.external_id
    assert first.connection.owns_customer_id and first.connection.status == Connection.Status.ACTIVE
    for email, password, _ in migration_demo_logins():
        assert authenticate(RequestFactory().post("/"), username=email, password=password) is not None

    first.connection.delete()
    again = prepare_migration_demo(companies=6)
    assert not again.created and again.connection is None
    assert not Connection.objects.filter(workspace=first.workspace).exists()


@pytest.mark.django_db(transaction=True)
def test_the_demo_wiring_syncs_both_workspaces_and_keeps_the_demo_portal_to_itself(settings, live_server):
    """`make demo`'s two calls: connect and prepare, then (server up) the first syncs and the portal; the
    demo workspace's next HubSpot sync does not pick up the migrating company's companies."""
    from io import StringIO

    from django.core.management import call_command

    from customers.models import Customer, CustomerSource
    from integrations.models import Connection, SyncRun, SyncState
    from integrations.sync import sync_connection
    from sandbox.migration import MIGRATING_SLUG
    from tests.factories import WorkspaceFactory
    from tests.sandbox_settings import point_crms_at_sandbox

    point_crms_at_sandbox(settings, live_server.url)
    WorkspaceFactory(slug="demo-saas", name="Demo SaaS")
    out = StringIO()
    call_command("sandbox_demo", "--companies", "12", stdout=out)
    assert "admin@northwind.test" in out.getvalue()
    call_command("sandbox_demo", "--first-sync", "--companies", "12", "--wait", "20", stdout=out)

    northwind = Customer.objects.filter(workspace__slug=MIGRATING_SLUG)
    assert northwind.count() > 0
    assert CustomerSource.objects.filter(customer__workspace__slug=MIGRATING_SLUG, source="stripe").exists()
    assert migrated_companies().count() > 0
    demo = Connection.objects.get(workspace__slug="demo-saas", crm="hubspot")
    demo_customers = Customer.objects.filter(workspace__slug="demo-saas").count()
    # Even a full read (the cursors reset) sees the demo portal only.
    SyncState.objects.filter(connection=demo).update(cursor="", page_cursor="", listing_since="", high_water="")
    again = sync_connection(connection_id=demo.pk)
    assert again.status == SyncRun.Status.SUCCEEDED, again.errors
    assert again.by_object.get("customers", {}).get("created", 0) == 0
    assert Customer.objects.filter(workspace__slug="demo-saas").count() == demo_customers
    assert not Customer.objects.filter(
        workspace__slug="demo-saas", name__in=list(northwind.values_list("name", flat=True))
    ).exists()
