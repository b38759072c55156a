"""A workspace synced from an old CRM (an in-memory CRM standing for Salesforce), ready to migrate to HubSpot
(another in-memory CRM whose companies carry the old id in a property)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Customer, CustomerSource
from integrations.models import Connection, FieldMapping, ObjectSetting, ObjectType, SyncMode
from integrations.sync import sync_connection
from tests.factories import AgreementFactory, ContactFactory, InteractionFactory
from tests.integrations.fake_crm import FakeCrm

OLD_IDS = ("001A", "001B", "001C")
COMPANIES = {
    "001A": ("Acme Corp", "acme.com"),
    "001B": ("Globex", "globex.io"),
    "001C": ("Initech", "initech.fr"),
}


@pytest.fixture
def old_connection(workspace, admin_membership):
    connection = Connection.objects.create(
        workspace=workspace,
        crm="salesforce",
        status=Connection.Status.ACTIVE,
        remote_account_id="00Dorg",
        owns_customer_id=True,
    )
    setting = ObjectSetting.objects.create(
        connection=connection, object_type=ObjectType.CUSTOMERS, mode=SyncMode.INPUT
    )
    FieldMapping.objects.bulk_create(
        FieldMapping(object_setting=setting, local_field=local, remote_field=remote)
        for local, remote in [("name", "Name"), ("domain", "Website"), ("ref_id", "@id")]
    )
    ObjectSetting.objects.create(connection=connection, object_type=ObjectType.CONTACTS, mode=SyncMode.INPUT)
    return connection


@pytest.fixture
def old_crm():
    crm = FakeCrm()
    for old_id, (name, domain) in COMPANIES.items():
        crm.put("customers", old_id, Name=name, Website=f"https://www.{domain}")
    return crm


@pytest.fixture
def synced(workspace, old_connection, old_crm):
    """The old connection's first sync, then key data a CSM team has built over time."""
    run = sync_connection(connection_id=old_connection.pk, connector=old_crm)
    assert run.status == "succeeded", run.errors
    customers = {c.ref_id: c for c in Customer.objects.filter(workspace=workspace)}
    for position, old_id in enumerate(OLD_IDS):
        customer = customers[old_id]
        AgreementFactory(customer=customer, amount=Decimal("1200.00") * (position + 1))
        ContactFactory(customer=customer, email=f"boss@{COMPANIES[old_id][1]}")
        InteractionFactory(customer=customer)
        InteractionFactory(customer=customer)
        Customer.objects.filter(pk=customer.pk).update(active_mrr=Decimal("100.00") * (position + 1))
    CustomerSource.objects.create(customer=customers["001A"], source="stripe", external_id="cus_A")
    CustomerSource.objects.create(customer=customers["001B"], source="intercom", external_id="001B")
    return customers


@pytest.fixture
def hubspot_crm():
    """HubSpot after the data transfer: each company keeps its old id in `salesforce_id`."""
    crm = FakeCrm()
    for number, (old_id, (name, domain)) in enumerate(COMPANIES.items(), start=1):
        hs_id = str(9000 + number)
        crm.put("customers", hs_id, name=name, domain=domain, hs_object_id=hs_id, salesforce_id=old_id)
    crm.put("contacts", "501", email="boss@acme.com", hs_object_id="501", links={"customers": ["9001"]})
    return crm


@pytest.fixture
def hubspot_connection(workspace):
    return Connection.objects.create(
        workspace=workspace,
        crm="hubspot",
        status=Connection.Status.DRAFT,
        remote_account_id="portal-9",
        encrypted_tokens="x",
    )
