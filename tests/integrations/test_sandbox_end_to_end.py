"""Connect me, the first sync, a change in the CRM and a Pulse pushed back: the whole path over real HTTP,
against the sandbox CRMs served by a live server."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer, CustomerSource
from integrations.models import ObjectType, SyncRun
from integrations.services import object_setting_update
from integrations.sync import sync_connection
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.sandbox_settings import connect_through_the_browser_flow
from workspaces.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client():
    workspace = WorkspaceFactory(name="E2E SaaS")
    membership = MembershipFactory(
        workspace=workspace, role=Role.ADMIN, user=UserFactory(email="admin@e2e.test")
    )
    client = Client()
    client.force_login(membership.user)
    return client, workspace


def test_salesforce_connect_sync_change_and_push_back(sandbox, admin_client):
    from sandbox.salesforce.schema import DEFAULT_ORG
    from sandbox.salesforce.seed import seed
    from sandbox.salesforce.store import records

    seed(companies=25, random_seed=3)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "salesforce")
    assert connection.remote_account_id == DEFAULT_ORG
    assert connection.base_url == f"{sandbox.url}/sandbox/salesforce"

    views = {label: view_id for view_id, label in _connector(connection).list_choices("account_list_views")}
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={
            "selection": {"list_view_id": views["Customers"]},
            "churn_on_absence": True,
            "data_back": {
                "enabled": True,
                "health_score": "Skalin_Healthscore__c",
                "csm_pulse": "Skalin_CSM_Pulse__c",
            },
        },
        mappings=[
            {"local_field": "name", "remote_field": "Name"},
            {"local_field": "domain", "remote_field": "Website"},
            {"local_field": "ref_id", "remote_field": "@id"},
        ],
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))

    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    customers = [a for a in records(DEFAULT_ORG, "Account") if a.properties.get("Type") == "Customer"]
    counted = first.by_object["customers"]
    assert counted.get("created", 0) + counted.get("quarantined", 0) == len(customers)
    assert Customer.objects.filter(workspace=workspace).count() == counted["created"]
    assert CustomerSource.objects.filter(source="salesforce").count() == counted["created"]

    # A change in Salesforce shows up at the next run.
    account = customers[0]
    _patch(connection, "Account", account.properties["Id"], {"Name": "Renamed in Salesforce"})
    second = sync_connection(connection_id=connection.pk)
    assert second.by_object["customers"].get("updated") == 1, second.errors
    assert Customer.objects.filter(workspace=workspace, name="Renamed in Salesforce").exists()

    # A Pulse set in Skalin lands on the Salesforce account.
    customer = Customer.objects.get(workspace=workspace, name="Renamed in Salesforce")
    Customer.objects.filter(pk=customer.pk).update(csm_pulse=4)
    third = sync_connection(connection_id=connection.pk)
    assert third.status == SyncRun.Status.SUCCEEDED, third.errors
    account.refresh_from_db()
    assert float(account.properties["Skalin_CSM_Pulse__c"]) == 4


def _connector(connection):
    from integrations.services import connector_for

    return connector_for(connection)


def _patch(connection, sobject, record_id, fields):
    connector = _connector(connection)
    connector.http.patch(f"/services/data/v60.0/sobjects/{sobject}/{record_id}", json=fields)


def test_hubspot_connect_sync_change_and_push_back(sandbox, admin_client):
    from sandbox.hubspot.schema import DEFAULT_ACCOUNT
    from sandbox.hubspot.seed import seed
    from sandbox.models import SandboxRecord

    seed(companies=30, random_seed=5)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "hubspot")
    assert connection.remote_account_id == DEFAULT_ACCOUNT
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={"churn_on_absence": True, "parent_child": True, "data_back": {"enabled": True}},
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))

    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    selected = [
        r
        for r in SandboxRecord.objects.filter(crm="hubspot", object_type="companies", archived=False)
        if r.properties.get("lifecyclestage") in ("customer", "evangelist")
    ]
    counted = first.by_object["customers"]
    assert counted.get("created", 0) + counted.get("quarantined", 0) == len(selected)
    assert first.by_object["contacts"].get("created", 0) > 0

    company = selected[0]
    _connector(connection).http.patch(
        f"/crm/v3/objects/companies/{company.external_id}",
        json={"properties": {"name": "Renamed in HubSpot"}},
    )
    second = sync_connection(connection_id=connection.pk)
    assert second.by_object["customers"].get("updated") == 1, second.errors
    customer = Customer.objects.get(workspace=workspace, name="Renamed in HubSpot")

    # Leaving the lifecycle selection churns the customer.
    _connector(connection).http.patch(
        f"/crm/v3/objects/companies/{company.external_id}", json={"properties": {"lifecyclestage": "other"}}
    )
    third = sync_connection(connection_id=connection.pk)
    assert third.churned == 1, third.errors
    customer.refresh_from_db()
    assert customer.is_churned

    # The Pulse goes to the auto-created "Skalin CSM Pulse" property.
    other = Customer.objects.filter(workspace=workspace).exclude(pk=customer.pk).first()
    Customer.objects.filter(pk=other.pk).update(csm_pulse=5)
    fourth = sync_connection(connection_id=connection.pk)
    assert fourth.status == SyncRun.Status.SUCCEEDED, fourth.errors
    ref = connection.refs.get(object_type="customers", local_id=other.pk)
    pushed = SandboxRecord.objects.get(crm="hubspot", object_type="companies", external_id=ref.external_id)
    assert str(pushed.properties["skalin_csm_pulse"]) in ("5", "5.0")


def test_sellsy_connect_sync_change_and_pulse_into_the_created_field(sandbox, admin_client, settings):
    """Sellsy's token endpoint takes a JSON body and PKCE: Connect me goes through the same browser flow."""
    from sandbox.models import SandboxRecord
    from sandbox.sellsy.seed import seed
    from sandbox.sellsy.store import DEFAULT_ACCOUNT

    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "sellsy": {"api_url": f"{sandbox.url}/sandbox/sellsy", "auth_url": f"{sandbox.url}/sandbox/sellsy-login",
                   "client_id": "sl-client", "client_secret": "sl-secret"},
    }  # fmt: skip
    seed(companies=40, random_seed=8)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "sellsy")
    assert connection.remote_account_id == DEFAULT_ACCOUNT
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={"churn_on_absence": True, "data_back": {"enabled": True}},
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))

    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    clients = [
        r
        for r in SandboxRecord.objects.filter(crm="sellsy", object_type="companies")
        if r.properties["type"] == "client" and not r.properties["is_archived"]
    ]
    counted = first.by_object["customers"]
    assert counted.get("created", 0) + counted.get("quarantined", 0) == len(clients)

    # A change in Sellsy shows up at the next run; a client turned prospect churns.
    _connector(connection).http.put(
        f"/v2/companies/{clients[0].external_id}", json={"name": "Renamed in Sellsy"}
    )
    second = sync_connection(connection_id=connection.pk)
    assert second.by_object["customers"].get("updated") == 1, second.errors
    renamed = Customer.objects.get(workspace=workspace, name="Renamed in Sellsy")
    _connector(connection).http.put(f"/v2/companies/{clients[0].external_id}", json={"type": "prospect"})
    third = sync_connection(connection_id=connection.pk)
    assert third.churned == 1, third.errors
    renamed.refresh_from_db()
    assert renamed.is_churned

    # The Pulse lands in the "Skalin CSM Pulse" custom field Sellsy created for us.
    other = Customer.objects.filter(workspace=workspace).exclude(pk=renamed.pk).first()
    Customer.objects.filter(pk=other.pk).update(csm_pulse=5)
    fourth = sync_connection(connection_id=connection.pk)
    assert fourth.status == SyncRun.Status.SUCCEEDED, fourth.errors
    pulse = SandboxRecord.objects.get(
        crm="sellsy", object_type="custom-fields", properties__name="Skalin CSM Pulse"
    )
    ref = connection.refs.get(object_type="customers", local_id=other.pk)
    company = SandboxRecord.objects.get(crm="sellsy", object_type="companies", external_id=ref.external_id)
    assert company.properties["_cf"][pulse.external_id] == "5"


def test_zoho_connect_sync_change_and_pulse_into_the_created_field(sandbox, admin_client, settings):
    """Connect me through Zoho's consent page (the callback names the data centre's accounts server), a
    first sync of the Customer accounts, a change seen through If-Modified-Since, and the Pulse pushed into
    the "Skalin CSM Pulse" field created through /settings/fields."""
    from sandbox.models import SandboxProperty, SandboxRecord
    from sandbox.zoho.seed import seed
    from sandbox.zoho.store import DEFAULT_ORG

    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "zoho": {"accounts_url": f"{sandbox.url}/sandbox/zoho-accounts", "client_id": "zc-client",
                 "client_secret": "zc-secret"},
    }  # fmt: skip
    seed(companies=40, random_seed=11)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "zoho")
    assert connection.remote_account_id == DEFAULT_ORG
    assert connection.base_url == f"{sandbox.url}/sandbox/zoho"
    assert connection.tokens["refresh_token"]
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={
            "selection": {"account_types": ["Customer"]},
            "churn_on_absence": True,
            "parent_child": True,
            "data_back": {"enabled": True},
        },
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))

    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    selected = [
        r
        for r in SandboxRecord.objects.filter(crm="zoho", object_type="Accounts", archived=False)
        if r.properties.get("Account_Type") == "Customer"
    ]
    counted = first.by_object["customers"]
    assert counted.get("created", 0) + counted.get("quarantined", 0) == len(selected)
    assert first.by_object["contacts"].get("created", 0) > 0

    # A change in Zoho shows up at the next run; an account moved out of the types churns.
    renamed, leaving = selected[0], selected[1]
    api = _connector(connection).http
    api.put(f"/crm/v8/Accounts/{renamed.external_id}", json={"data": [{"Account_Name": "Renamed in Zoho"}]})
    second = sync_connection(connection_id=connection.pk)
    assert second.by_object["customers"].get("updated") == 1, second.errors
    assert Customer.objects.filter(workspace=workspace, name="Renamed in Zoho").exists()
    api.put(f"/crm/v8/Accounts/{leaving.external_id}", json={"data": [{"Account_Type": "Prospect"}]})
    third = sync_connection(connection_id=connection.pk)
    assert third.churned == 1, third.errors

    # The Pulse lands in the field Zoho created for us.
    customer = Customer.objects.get(workspace=workspace, name="Renamed in Zoho")
    Customer.objects.filter(pk=customer.pk).update(csm_pulse=4)
    fourth = sync_connection(connection_id=connection.pk)
    assert fourth.status == SyncRun.Status.SUCCEEDED, fourth.errors
    field = SandboxProperty.objects.get(crm="zoho", object_type="Accounts", label="Skalin CSM Pulse")
    renamed.refresh_from_db()
    assert renamed.properties[field.name] == 4


def test_pipedrive_connect_sync_change_churn_pulse_and_budget(sandbox, admin_client, settings):
    """Pipedrive: Basic-auth token exchange and `api_domain`; customers through won deals, parents through
    relationships; losing the last won deal churns; the Pulse lands in the created field; a spent daily
    budget ends the run as rate limited until the reset."""
    from sandbox.models import SandboxAccount, SandboxRecord
    from sandbox.pipedrive.seed import seed
    from sandbox.pipedrive.store import DEFAULT_ACCOUNT

    settings.CRM_SETTINGS = {
        **settings.CRM_SETTINGS,
        "pipedrive": {"auth_url": f"{sandbox.url}/sandbox/pipedrive-oauth", "client_id": "pd-client",
                      "client_secret": "pd-secret"},
    }  # fmt: skip
    seed(companies=40, random_seed=9)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "pipedrive")
    assert connection.remote_account_id == DEFAULT_ACCOUNT
    assert connection.base_url == f"{sandbox.url}/sandbox/pipedrive"
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={"churn_on_absence": True, "parent_child": True, "data_back": {"enabled": True}},
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))

    def won_deals(org_id=None):
        deals = SandboxRecord.objects.filter(crm="pipedrive", object_type="deals", archived=False)
        return [
            d for d in deals if d.properties["status"] == "won" and org_id in (None, d.properties["org_id"])
        ]

    first = sync_connection(connection_id=connection.pk)
    assert first.status == SyncRun.Status.SUCCEEDED, first.errors
    customers = {d.properties["org_id"] for d in won_deals()}
    counted = first.by_object["customers"]
    assert counted.get("created", 0) + counted.get("quarantined", 0) == len(customers)
    assert first.by_object["contacts"].get("created", 0) > 0
    local = {r.external_id: r.local_id for r in connection.refs.filter(object_type="customers")}
    assert Customer.objects.get(pk=local["2"]).parent_id == local["1"]
    assert Customer.objects.get(pk=local["3"]).parent_id == local["1"]  # three levels: the top-most parent

    # A change in Pipedrive shows up at the next run; an organization whose won deals are lost churns.
    target = sorted(customers)[5]
    http = _connector(connection).http
    http.patch(f"/api/v2/organizations/{target}", json={"name": "Renamed in Pipedrive"})
    second = sync_connection(connection_id=connection.pk)
    assert second.by_object["customers"].get("updated") == 1, second.errors
    renamed = Customer.objects.get(workspace=workspace, name="Renamed in Pipedrive")
    for deal in won_deals(target):
        http.patch(f"/api/v2/deals/{deal.external_id}", json={"status": "lost"})
    third = sync_connection(connection_id=connection.pk)
    assert third.churned == 1, third.errors
    renamed.refresh_from_db()
    assert renamed.is_churned

    # The Pulse lands in the "Skalin CSM Pulse" organization field Pipedrive created for us (a hash key).
    other = Customer.objects.filter(workspace=workspace).exclude(pk=renamed.pk).first()
    Customer.objects.filter(pk=other.pk).update(csm_pulse=5)
    fourth = sync_connection(connection_id=connection.pk)
    assert fourth.status == SyncRun.Status.SUCCEEDED, fourth.errors
    field = SandboxRecord.objects.get(
        crm="pipedrive", object_type="organizationFields", properties__name="Skalin CSM Pulse"
    )
    ref = connection.refs.get(object_type="customers", local_id=other.pk)
    org = SandboxRecord.objects.get(crm="pipedrive", object_type="organizations", external_id=ref.external_id)
    assert org.properties["custom_fields"][field.properties["key"]] == 5

    # A spent daily token budget: the run ends rate limited, resuming at the reset, without hammering.
    SandboxAccount.objects.filter(crm="pipedrive").update(daily_limit=5, calls_today=5)
    fifth = sync_connection(connection_id=connection.pk)
    assert fifth.status == SyncRun.Status.RATE_LIMITED, fifth.errors
    assert fifth.resume_at is not None and fifth.resume_at > fifth.finished_at
    assert fifth.api_calls == 1


def test_a_filter_change_dropping_40_percent_of_the_accounts_waits_for_an_admin(sandbox, admin_client):
    from integrations import safety
    from sandbox.hubspot.seed import seed
    from sandbox.models import SandboxRecord

    seed(companies=30, random_seed=5)
    client, workspace = admin_client
    connection = connect_through_the_browser_flow(client, "hubspot")
    object_setting_update(
        connection=connection,
        object_type=ObjectType.CUSTOMERS,
        mode="input",
        options={"churn_on_absence": True},
    )
    client.post(reverse("integrations:set_status", args=[connection.pk, "enable"]))
    assert sync_connection(connection_id=connection.pk).status == SyncRun.Status.SUCCEEDED
    linked = connection.refs.filter(object_type="customers").count()

    # An admin narrows the filter in HubSpot's terms: 40 % of the companies now fall outside it.
    selected = [
        r
        for r in SandboxRecord.objects.filter(crm="hubspot", object_type="companies", archived=False)
        if r.properties.get("lifecyclestage") in ("customer", "evangelist")
    ]
    dropped = selected[: int(len(selected) * 0.4)]
    for record in dropped:
        _connector(connection).http.patch(
            f"/crm/v3/objects/companies/{record.external_id}",
            json={"properties": {"lifecyclestage": "other"}},
        )

    paused = sync_connection(connection_id=connection.pk)
    assert paused.status == SyncRun.Status.PAUSED
    assert f"{len(dropped)} of {linked} customers would be churned" in paused.errors[0]["message"]
    assert not Customer.objects.filter(workspace=workspace, phase__technical_name="churn").exists()

    safety.run_approve(run=paused, user=None)
    approved = sync_connection(connection_id=connection.pk, approved=True)
    assert approved.churned == len(dropped)
