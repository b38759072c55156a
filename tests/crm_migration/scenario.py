"""A workspace synced from an old CRM (an in-memory CRM standing for Salesforce), ready to migrate to HubSpot
(another in-memory CRM whose companies carry the old id in a property); and the walk through the steps, the
way an Admin would, for the tests of later steps."""

from __future__ import annotations

from decimal import Decimal

from crm_migration import services
from crm_migration.models import Migration
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


def old_connection(workspace) -> Connection:
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


def old_crm() -> FakeCrm:
    crm = FakeCrm()
    for old_id, (name, domain) in COMPANIES.items():
        crm.put("customers", old_id, Name=name, Website=f"https://www.{domain}")
    return crm


def synced(workspace, connection, crm) -> dict[str, Customer]:
    """The old connection's first sync, then key data a CSM team has built over time."""
    run = sync_connection(connection_id=connection.pk, connector=crm)
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


def hubspot_crm() -> FakeCrm:
    """HubSpot after the data transfer: each company keeps its old id in `salesforce_id`."""
    crm = FakeCrm()
    for number, (old_id, (name, domain)) in enumerate(COMPANIES.items(), start=1):
        hs_id = str(9000 + number)
        crm.put("customers", hs_id, name=name, domain=domain, hs_object_id=hs_id, salesforce_id=old_id)
    crm.put("contacts", "501", email="boss@acme.com", hs_object_id="501", links={"customers": ["9001"]})
    return crm


def hubspot_connection(workspace) -> Connection:
    """A HubSpot connection as Connect me leaves it: a draft with its tokens."""
    connection = Connection(
        workspace=workspace, crm="hubspot", status=Connection.Status.DRAFT, remote_account_id="portal-9"
    )
    connection.set_tokens({"access_token": "hs-token", "refresh_token": "hs-refresh"}, expires_at=None)
    connection.save()
    return connection


def start(workspace, old_connection, user) -> Migration:
    return services.migration_start(workspace=workspace, old_connection=old_connection, user=user)


def through_preparation(migration, user):
    services.checklist_tick(
        migration=migration, step="preparation", ticked=[key for key, _ in services.PREPARATION_ITEMS]
    )
    assert services.preparation_check(migration=migration, user=user)["ok"]


def through_old_id(migration, user, old_crm):
    through_preparation(migration, user)
    services.old_id_field_set(migration=migration)
    sync_connection(connection_id=migration.old_connection_pk, connector=old_crm)
    check = services.old_id_check(migration=migration, user=user)
    assert check["ok"], check["problems"]


def through_old_connection(migration, user, old_crm):
    through_old_id(migration, user, old_crm)
    services.old_connection_disable(migration=migration)
    services.old_connection_delete(migration=migration)
    assert services.old_connection_check(migration=migration, user=user)["ok"]


def through_connect(migration, user, old_crm, hubspot_connection):
    through_old_connection(migration, user, old_crm)
    services.new_connection_attach(migration=migration, connection=hubspot_connection)
    assert services.connect_check(migration=migration, user=user)["ok"]


def hubspot_sync(migration, hubspot_crm):
    connection = migration.new_connection
    connection.status = "active"
    connection.save(update_fields=["status"])
    run = sync_connection(connection_id=connection.pk, connector=hubspot_crm)
    assert run.status == "succeeded", run.errors
    return run


def through_step_a(migration, user, old_crm, hubspot_connection, hubspot_crm):
    through_connect(migration, user, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    hubspot_sync(migration, hubspot_crm)
    check = services.hubspot_step_check(migration=migration, step="step_a", user=user)
    assert check["ok"], check["problems"]
