"""Each sandbox HubSpot portal is its own data, as in HubSpot: a token reads, searches, links and defines
properties in its own portal only, another portal's record is not found, and the consent page lets the
person choose the portal the token is for."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.common import issue_pair
from sandbox.hubspot import schema, store
from sandbox.models import (
    DEFAULT_ACCOUNTS,
    SandboxAccount,
    SandboxAssociation,
    SandboxProperty,
    SandboxRecord,
)

pytestmark = pytest.mark.django_db

API = "/sandbox/hubspot"
APP = "/sandbox/hubspot-app"
REDIRECT = "http://testserver/integrations/hubspot/callback"
DEMO, OTHER = schema.DEFAULT_ACCOUNT, "87654321"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def sandbox(settings):
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_BASE_URL = "http://testserver"
    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "hubspot": {**settings.CRM_SETTINGS["hubspot"], "client_id": "hs-client", "client_secret": "hs-secret"},
    }
    return settings


def token_of(portal: str) -> str:
    access, _ = issue_pair(crm="hubspot", account_id=portal, user_email="admin@portal.test", ttl_seconds=1800)
    return access.value


def call(client, token: str, method: str, path: str, body: Any = None):
    return client.generic(
        method,
        f"{API}{path}",
        json.dumps(body) if body is not None else "",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def portals(sandbox) -> dict[str, dict[str, str]]:
    """Two portals, each with a company, a contact linked to it and a custom company property; ids are
    unique across portals, as HubSpot's are."""
    made: dict[str, dict[str, str]] = {}
    for portal, name in ((DEMO, "Acme Demo"), (OTHER, "Northwind Only")):
        company_id, contact_id = (store.next_ids(kind, 1)[0] for kind in ("companies", "contacts"))
        SandboxRecord.objects.bulk_create([
            store.new_record(portal, "companies", company_id, {"name": name, "lifecyclestage": "customer"},
                             created=T0, modified=T0),
            store.new_record(portal, "contacts", contact_id, {"email": f"boss@{portal}.test"}, created=T0,
                             modified=T0),
        ])  # fmt: skip
        SandboxAssociation.objects.bulk_create(
            store.association_pair(portal, "contacts", contact_id, company_id, 279)
        )
        SandboxProperty.objects.create(
            crm="hubspot", account_id=portal, object_type="companies", name=f"only_in_{portal}",
            label=f"Only in {portal}", type="string", field_type="text",
        )  # fmt: skip
        made[portal] = {"company": company_id, "contact": contact_id, "token": token_of(portal)}
    return made


def test_a_search_and_a_listing_find_the_portals_own_companies_only(client, portals):
    for portal, other in ((DEMO, OTHER), (OTHER, DEMO)):
        token = portals[portal]["token"]
        found = call(client, token, "POST", "/crm/v3/objects/companies/search", {"limit": 100}).json()
        assert [r["id"] for r in found["results"]] == [portals[portal]["company"]] and found["total"] == 1
        by_query = call(client, token, "POST", "/crm/v3/objects/companies/search", {"query": "northwind"}).json()
        assert by_query["total"] == (1 if portal == OTHER else 0)
        listed = call(client, token, "GET", "/crm/v3/objects/companies?limit=100").json()
        assert [r["id"] for r in listed["results"]] == [portals[portal]["company"]]
        assert portals[other]["company"] not in {r["id"] for r in listed["results"]}


def test_a_batch_read_reports_the_other_portals_ids_as_not_found(client, portals):
    ids = [portals[DEMO]["company"], portals[OTHER]["company"]]
    answer = call(client, portals[DEMO]["token"], "POST", "/crm/v3/objects/companies/batch/read",
                  {"inputs": [{"id": i} for i in ids], "properties": ["name"]})  # fmt: skip
    assert answer.status_code == 207
    body = answer.json()
    assert [r["properties"]["name"] for r in body["results"]] == ["Acme Demo"]
    assert body["errors"][0]["context"]["ids"] == [portals[OTHER]["company"]]


def test_associations_are_read_within_the_portal(client, portals):
    both = {"inputs": [{"id": portals[DEMO]["company"]}, {"id": portals[OTHER]["company"]}]}
    answer = call(client, portals[OTHER]["token"], "POST", "/crm/v4/associations/companies/contacts/batch/read", both)
    assert answer.status_code == 207
    assert [r["from"]["id"] for r in answer.json()["results"]] == [portals[OTHER]["company"]]
    assert answer.json()["results"][0]["to"][0]["toObjectId"] == int(portals[OTHER]["contact"])
    one = call(client, portals[OTHER]["token"], "GET",
               f"/crm/v4/objects/companies/{portals[OTHER]['company']}/associations/contacts")  # fmt: skip
    assert [r["toObjectId"] for r in one.json()["results"]] == [int(portals[OTHER]["contact"])]


def test_properties_are_the_portals_own_and_one_created_stays_in_its_portal(client, portals):
    def names(portal: str) -> set[str]:
        answer = call(client, portals[portal]["token"], "GET", "/crm/v3/properties/companies")
        return {row["name"] for row in answer.json()["results"]}

    assert f"only_in_{DEMO}" in names(DEMO) and f"only_in_{OTHER}" not in names(DEMO)
    assert f"only_in_{OTHER}" in names(OTHER) and f"only_in_{DEMO}" not in names(OTHER)
    created = call(client, portals[OTHER]["token"], "POST", "/crm/v3/properties/companies",
                   {"name": "skalin_pulse", "label": "Skalin Pulse", "type": "number", "fieldType": "number",
                    "groupName": "companyinformation"})  # fmt: skip
    assert created.status_code == 201
    assert "skalin_pulse" in names(OTHER) and "skalin_pulse" not in names(DEMO)
    # The same name can be made in the other portal: it is another portal's property.
    again = call(client, portals[DEMO]["token"], "POST", "/crm/v3/properties/companies",
                 {"name": "skalin_pulse", "label": "Skalin Pulse", "type": "number", "fieldType": "number",
                  "groupName": "companyinformation"})  # fmt: skip
    assert again.status_code == 201
    assert call(client, portals[DEMO]["token"], "GET", f"/crm/v3/properties/companies/only_in_{OTHER}").status_code == 404
    # A property of the other portal cannot be written either.
    patch = call(client, portals[DEMO]["token"], "PATCH", f"/crm/v3/objects/companies/{portals[DEMO]['company']}",
                 {"properties": {f"only_in_{OTHER}": "x"}})  # fmt: skip
    assert patch.status_code == 400 and "PROPERTY_DOESNT_EXIST" in patch.content.decode()


def test_a_token_cannot_read_change_or_archive_another_portals_record(client, portals):
    theirs = portals[OTHER]["company"]
    token = portals[DEMO]["token"]
    for method, body in (("GET", None), ("PATCH", {"properties": {"name": "Taken over"}}), ("DELETE", None)):
        answer = call(client, token, method, f"/crm/v3/objects/companies/{theirs}", body)
        assert answer.status_code == 404, method
        assert answer.json()["category"] == "OBJECT_NOT_FOUND"
    assert call(client, token, "GET", f"/crm/v4/objects/companies/{theirs}/associations/contacts").status_code == 404
    record = SandboxRecord.objects.get(account_id=OTHER, object_type="companies", external_id=theirs)
    assert record.properties["name"] == "Northwind Only" and not record.archived
    # Nor link a new record to it.
    linked = call(client, token, "POST", "/crm/v3/objects/contacts",
                  {"properties": {"email": "new@x.test"},
                   "associations": [{"to": {"id": theirs}, "types": [{"associationTypeId": 279}]}]})  # fmt: skip
    assert linked.status_code == 400 and linked.json()["category"] == "OBJECT_NOT_FOUND"


def test_a_record_created_through_the_api_belongs_to_the_tokens_portal(client, portals):
    created = call(client, portals[OTHER]["token"], "POST", "/crm/v3/objects/companies",
                   {"properties": {"name": "Made in Northwind"}})  # fmt: skip
    assert created.status_code == 201
    new_id = created.json()["id"]
    assert SandboxRecord.objects.get(object_type="companies", external_id=new_id).account_id == OTHER
    assert new_id not in {portals[DEMO]["company"], portals[OTHER]["company"]}
    assert call(client, portals[DEMO]["token"], "GET", f"/crm/v3/objects/companies/{new_id}").status_code == 404


# -- the consent page's account chooser ----------------------------------------------------------------------
def authorize_url(**params: str) -> str:
    query = {"client_id": "hs-client", "redirect_uri": REDIRECT, "state": "s1", "scope": "oauth"} | params
    return f"{APP}/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in query.items())


def hub_id_of_the_token_bought_with(client, allowed) -> int:
    assert allowed.status_code == 302, allowed.content
    code = parse_qs(urlsplit(allowed["Location"]).query)["code"][0]
    tokens = client.post(f"{API}/oauth/v1/token", {
        "grant_type": "authorization_code", "client_id": "hs-client", "client_secret": "hs-secret",
        "redirect_uri": REDIRECT, "code": code,
    }).json()  # fmt: skip
    return client.get(f"{API}/oauth/v1/access-tokens/{tokens['access_token']}").json()["hub_id"]


def test_the_consent_page_offers_every_portal_and_the_demo_one_first(client, sandbox):
    SandboxAccount.objects.create(crm="hubspot", account_id=OTHER, name="Northwind")
    SandboxAccount.objects.create(crm="salesforce", account_id="00D000000000009")  # not a HubSpot portal

    page = client.get(authorize_url()).content.decode()

    assert page.index(f"value='{DEMO}' checked> Demo SaaS") < page.index(f"value='{OTHER}'> Northwind")
    assert "00D000000000009" not in page
    assert page.count("type='radio' name='account'") == 2


def test_allow_issues_a_token_for_the_portal_chosen(client, sandbox):
    SandboxAccount.objects.create(crm="hubspot", account_id=OTHER, name="Northwind")

    chosen = client.post(authorize_url(), {"decision": "allow", "account": OTHER})
    assert hub_id_of_the_token_bought_with(client, chosen) == int(OTHER)
    default = client.post(authorize_url(), {"decision": "allow"})
    assert hub_id_of_the_token_bought_with(client, default) == int(DEMO)


def test_the_account_in_the_address_is_preselected_and_an_unknown_choice_is_refused(client, sandbox):
    page = client.get(authorize_url(account=OTHER)).content.decode()
    assert f"value='{OTHER}' checked>" in page and f"value='{DEMO}'>" in page
    assert hub_id_of_the_token_bought_with(client, client.post(authorize_url(account=OTHER), {"decision": "allow"})) == int(OTHER)

    refused = client.post(authorize_url(), {"decision": "allow", "account": "99999999"})
    assert refused.status_code == 400 and b"no sandbox HubSpot portal '99999999'" in refused.content
    assert not SandboxAccount.objects.filter(crm="hubspot", account_id="99999999").exists()


# -- the shared tables -----------------------------------------------------------------------------------------
def test_each_crms_default_account_is_the_one_its_module_names():
    from sandbox.pipedrive.store import DEFAULT_ACCOUNT as PIPEDRIVE
    from sandbox.salesforce.schema import DEFAULT_ORG as SALESFORCE
    from sandbox.sellsy.store import DEFAULT_ACCOUNT as SELLSY
    from sandbox.zoho.store import DEFAULT_ORG as ZOHO

    assert DEFAULT_ACCOUNTS == {
        "hubspot": schema.DEFAULT_ACCOUNT, "salesforce": SALESFORCE, "pipedrive": PIPEDRIVE, "zoho": ZOHO,
        "sellsy": SELLSY,
    }  # fmt: skip


def test_a_row_written_without_an_account_belongs_to_its_crms_default_account():
    one = SandboxRecord.objects.create(crm="pipedrive", object_type="deals", external_id="1", created_at=T0,
                                       updated_at=T0)  # fmt: skip
    bulk = SandboxRecord.objects.bulk_create([
        SandboxRecord(crm="sellsy", object_type="companies", external_id="2", created_at=T0, updated_at=T0),
    ])  # fmt: skip
    prop = SandboxProperty.objects.create(crm="hubspot", object_type="companies", name="x", label="X")

    assert one.account_id == DEFAULT_ACCOUNTS["pipedrive"]
    assert SandboxRecord.objects.get(pk=bulk[0].pk).account_id == DEFAULT_ACCOUNTS["sellsy"]
    assert prop.account_id == schema.DEFAULT_ACCOUNT
    assert "x" in store.property_definitions(schema.DEFAULT_ACCOUNT, "companies")


@pytest.mark.django_db(transaction=True)
def test_the_migration_puts_existing_rows_on_their_crms_default_account_or_their_org():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("sandbox", "0001_initial")], [("sandbox", "0002_records_belong_to_an_account")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    record, association = old.get_model("sandbox", "SandboxRecord"), old.get_model("sandbox", "SandboxAssociation")
    for crm, external_id, properties in (
        ("hubspot", "1000000001", {"name": "Acme"}),
        ("salesforce", "001A", {"_org": "00D000000000001"}),
        ("salesforce", "001B", {"_org": "00D000000000777"}),
        ("zoho", "z1", {"_org": "20079999999"}),
        ("pipedrive", "7", {}),
    ):
        record.objects.create(crm=crm, object_type="x", external_id=external_id, properties=properties,
                              created_at=T0, updated_at=T0)  # fmt: skip
    association.objects.create(crm="hubspot", from_type="contacts", from_id="2", to_type="companies", to_id="1")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    accounts = dict(SandboxRecord.objects.values_list("external_id", "account_id"))
    assert accounts == {
        "1000000001": DEMO, "001A": "00D000000000001", "001B": "00D000000000777", "z1": "20079999999",
        "7": DEFAULT_ACCOUNTS["pipedrive"],
    }  # fmt: skip
    assert SandboxAssociation.objects.get().account_id == DEMO
