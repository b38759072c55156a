"""The migration's steps, in the guide's order, each gated on the previous one's check."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm_migration import selectors, services
from crm_migration.models import Migration
from customers.models import Contact, Customer, CustomField
from integrations.models import Connection, ExternalRef, FieldMapping, ObjectSetting, ObjectType
from integrations.sync import sync_connection
from interactions.models import Interaction
from tests.factories import CustomerFactory

from . import scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(admin_membership):
    return admin_membership.user


def test_starting_takes_a_snapshot_of_key_data_and_keeps_the_old_connection_facts(
    workspace, old_connection, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    assert (migration.old_crm, migration.old_crm_label, migration.old_account_id) == (
        "salesforce",
        "Salesforce",
        "00Dorg",
    )
    totals = migration.before["totals"]
    assert totals == {"customers": 3, "mrr": "600.00", "contacts": 3, "interactions": 6}
    acme = synced["001A"]
    assert migration.before["customers"][str(acme.pk)]["mrr"] == "100.00"
    assert migration.before["stripe"] == {str(acme.pk): "cus_A"}


def test_only_one_migration_is_open_per_workspace(workspace, old_connection, synced, admin):
    first = scenario.start(workspace, old_connection, admin)
    with pytest.raises(ValidationError, match="already in progress"):
        scenario.start(workspace, old_connection, admin)
    services.migration_abandon(migration=first)
    assert scenario.start(workspace, old_connection, admin).is_open


def test_a_connection_of_another_workspace_cannot_be_migrated(workspace, other_workspace, admin):
    foreign = Connection.objects.create(workspace=other_workspace, crm="pipedrive", remote_account_id="7")
    with pytest.raises(ValidationError, match="another workspace"):
        scenario.start(workspace, foreign, admin)


def test_a_step_waits_for_the_previous_one_to_pass(workspace, old_connection, synced, admin):
    migration = scenario.start(workspace, old_connection, admin)
    with pytest.raises(ValidationError, match="waits for 'HubSpot preparation'"):
        services.old_id_field_set(migration=migration)
    services.checklist_tick(migration=migration, step="preparation", ticked=["super_admin"])
    check = services.preparation_check(migration=migration, user=admin)
    assert not check["ok"] and len(check["problems"]) == len(services.PREPARATION_ITEMS) - 1
    with pytest.raises(ValidationError):
        services.old_connection_disable(migration=migration)
    assert old_connection.status == Connection.Status.ACTIVE


def test_an_unknown_checklist_item_is_refused(workspace, old_connection, synced, admin):
    migration = scenario.start(workspace, old_connection, admin)
    with pytest.raises(ValidationError, match="Unknown checklist item"):
        services.checklist_tick(migration=migration, step="preparation", ticked=["made_up"])


def test_the_old_crm_id_field_is_created_and_mapped_from_the_record_id(
    workspace, old_connection, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    field = services.old_id_field_set(migration=migration)
    assert (field.key, field.label, field.target) == ("old_crm_id", "Old CRM ID", "customer")
    mapping = FieldMapping.objects.get(
        object_setting__connection=old_connection, local_field="custom:old_crm_id"
    )
    assert (mapping.remote_field, mapping.direction) == ("@id", "input")
    # The existing mappings are kept.
    assert FieldMapping.objects.filter(object_setting__connection=old_connection).count() == 4
    # No block was switched on or added by the way.
    assert dict(
        ObjectSetting.objects.filter(connection=old_connection).values_list("object_type", "mode")
    ) == {
        "customers": "input",
        "contacts": "input",
    }


def test_an_existing_field_can_be_picked_instead(workspace, old_connection, synced, admin):
    existing = CustomField.objects.create(workspace=workspace, target="customer", key="sf_id", label="SF id")
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    services.old_id_field_set(migration=migration, field=existing)
    migration.refresh_from_db()
    assert migration.old_id_field_key == "sf_id"


def test_the_fill_rate_says_why_a_customer_has_no_old_id_until_a_sync_fills_them_all(
    workspace, old_connection, old_crm, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    services.old_id_field_set(migration=migration)
    rate = selectors.old_id_fill_rate(migration)
    assert (rate.filled, rate.total, rate.percent) == (0, 3, 0)
    assert all("let a sync run" in row.why for row in rate.missing)
    check = services.old_id_check(migration=migration, user=admin)
    assert not check["ok"] and "3 of 3 customers have no Old CRM ID" in check["problems"][0]

    sync_connection(connection_id=old_connection.pk, connector=old_crm)
    rate = selectors.old_id_fill_rate(migration)
    assert (rate.filled, rate.total, rate.percent) == (3, 3, 100)
    assert sorted(value for _, _, value in rate.sample) == ["001A", "001B", "001C"]
    assert services.old_id_check(migration=migration, user=admin)["ok"]
    migration.refresh_from_db()
    assert migration.step == "old_connection"


def test_a_value_that_is_not_the_record_id_does_not_count_as_filled(
    workspace, old_connection, old_crm, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    services.old_id_field_set(migration=migration)
    sync_connection(connection_id=old_connection.pk, connector=old_crm)
    Customer.objects.filter(pk=synced["001C"].pk).update(custom_values={"old_crm_id": "typo"})
    rate = selectors.old_id_fill_rate(migration)
    assert rate.filled == 2 and rate.percent == 67
    assert rate.missing[0].name == "Initech" and "holds 'typo'" in rate.missing[0].why


def test_the_old_connection_is_disabled_then_deleted_and_its_customers_stay(
    workspace, old_connection, old_crm, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_old_id(migration, admin, old_crm)
    with pytest.raises(ValidationError, match="Disable every block"):
        services.old_connection_delete(migration=migration)
    assert not services.old_connection_check(migration=migration, user=admin)["ok"]
    services.old_connection_disable(migration=migration)
    old_connection.refresh_from_db()
    assert old_connection.status == Connection.Status.DISABLED
    assert set(ObjectSetting.objects.filter(connection=old_connection).values_list("mode", flat=True)) == {
        "disabled"
    }
    services.old_connection_delete(migration=migration)
    assert not Connection.objects.filter(pk=old_connection.pk).exists()
    assert Customer.objects.filter(workspace=workspace).count() == 3
    migration.refresh_from_db()
    assert migration.old_links == {str(c.pk): old_id for old_id, c in synced.items()}
    assert migration.old_crm_label == "Salesforce" and migration.old_connection is None
    assert services.old_connection_check(migration=migration, user=admin)["ok"]


def test_the_new_connection_takes_over_the_customer_id(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    hubspot_connection.refresh_from_db()
    assert hubspot_connection.owns_customer_id
    migration.refresh_from_db()
    assert migration.new_connection == hubspot_connection and migration.step == "step_a"


def test_without_a_hubspot_connection_the_connect_step_says_so(
    workspace, old_connection, old_crm, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_old_connection(migration, admin, old_crm)
    with pytest.raises(ValidationError, match="connect HubSpot first"):
        services.new_connection_attach(migration=migration)
    assert not services.connect_check(migration=migration, user=admin)["ok"]


def test_step_a_configures_input_only_minimal_fields_and_the_old_id_merge_key(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    with pytest.raises(ValidationError):
        services.step_a_apply(migration=migration, old_id_property="  ")
    services.step_a_apply(migration=migration, old_id_property="salesforce_id", lifecycle_stages=["customer"])
    customers = ObjectSetting.objects.get(connection=hubspot_connection, object_type=ObjectType.CUSTOMERS)
    assert customers.mode == "input"
    assert customers.options["merge_keys"] == ["custom:old_crm_id", "name", "domain"]
    assert customers.options["selection"]["lifecycle_stages"] == ["customer"]
    assert {(m.local_field, m.remote_field, m.direction) for m in customers.mappings.all()} == {
        ("name", "name", "input"),
        ("domain", "domain", "input"),
        ("ref_id", "hs_object_id", "input"),
        ("custom:old_crm_id", "salesforce_id", "input"),
    }
    contacts = ObjectSetting.objects.get(connection=hubspot_connection, object_type=ObjectType.CONTACTS)
    assert contacts.mode == "input"
    assert {(m.local_field, m.remote_field) for m in contacts.mappings.all()} == {
        ("email", "email"),
        ("ref_id", "hs_object_id"),
    }
    for object_type in (ObjectType.AGREEMENTS, ObjectType.INTERACTIONS):
        assert (
            ObjectSetting.objects.get(connection=hubspot_connection, object_type=object_type).mode
            == "disabled"
        )


def test_step_a_switches_every_customer_id_without_duplicates_or_lost_data(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    report = selectors.validation_report(migration, "step_a")
    assert report.run is None and "No sync has finished" in report.problems()[0]

    scenario.hubspot_sync(migration, hubspot_crm)
    assert Customer.objects.filter(workspace=workspace).count() == 3
    assert sorted(Customer.objects.values_list("ref_id", flat=True)) == ["9001", "9002", "9003"]
    report = selectors.validation_report(migration, "step_a")
    assert (report.expected, report.synced, report.switched, report.without_hubspot_id_count) == (3, 3, 3, 0)
    assert report.duplicates == [] and report.lost == [] and report.problems() == []
    # Acme's contact was matched on its email and now carries its HubSpot contact id.
    assert (report.contacts_linked, report.contacts_switched) == (1, 1)
    assert Contact.objects.get(email="boss@acme.com").ref_id == "501"
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin)
    assert check["ok"] and check["switched"] == 3
    migration.refresh_from_db()
    assert migration.step == "step_b"


def test_a_hubspot_company_without_the_old_id_and_a_new_name_is_reported_not_silently_passed(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    hubspot_crm.change("customers", "9003", salesforce_id="", name="Initech Europe", domain="initech.eu")
    hubspot_crm.put("customers", "9004", name="Newco", domain="newco.com", hs_object_id="9004")
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    scenario.hubspot_sync(migration, hubspot_crm)
    report = selectors.validation_report(migration, "step_a")
    # Initech was created again under its new name; the old Initech is not under a HubSpot id.
    assert (report.expected_old, report.new_from_hubspot, report.synced) == (3, 2, 4)
    assert [row.name for row in report.missing] == ["Initech"]
    assert report.missing_count == 1 and report.without_hubspot_id_count == 1
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin)
    assert not check["ok"] and "not found in HubSpot" in check["problems"][0]
    # The Admin confirms they are left out on purpose: the step passes, and the check says so.
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin, accept_missing=True)
    assert check["ok"] and check["accepted_missing"] == 1


def test_a_name_merge_that_creates_a_duplicate_fails_the_validation(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    # Created by hand meanwhile, with the same name as a customer HubSpot will bring.
    CustomerFactory(workspace=workspace, name="GLOBEX ", domain="")
    scenario.hubspot_sync(migration, hubspot_crm)
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin)
    assert not check["ok"]
    assert any("duplicate" in problem for problem in check["problems"])


def test_step_b_merges_on_the_hubspot_id_only_and_pushes_the_chosen_fields_output_only(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_step_a(migration, admin, old_crm, hubspot_connection, hubspot_crm)
    with pytest.raises(ValidationError, match="at least one"):
        services.step_b_apply(migration=migration, fields={})
    with pytest.raises(ValidationError, match="cannot be pushed"):
        services.step_b_apply(migration=migration, fields={"ref_id": "x"})
    with pytest.raises(ValidationError, match="already mapped"):
        services.step_b_apply(migration=migration, fields={"phase": "salesforce_id"})
    services.step_b_apply(migration=migration, fields={"phase": "skalin_stage", "owner": "hubspot_owner_id"})
    customers = ObjectSetting.objects.get(connection=hubspot_connection, object_type=ObjectType.CUSTOMERS)
    assert customers.options["merge_keys"] == ["ref_id"]
    directions = {m.local_field: m.direction for m in customers.mappings.all()}
    assert directions == {
        "name": "input",
        "domain": "input",
        "ref_id": "input",
        "custom:old_crm_id": "input",
        "phase": "output",
        "owner": "output",
    }
    run = scenario.hubspot_sync(migration, hubspot_crm)
    assert run.by_object["customers"].get("created", 0) == 0
    acme = Customer.objects.get(pk=synced["001A"].pk)
    assert hubspot_crm.data["customers"]["9001"].fields["skalin_stage"] == acme.phase.technical_name
    check = services.hubspot_step_check(migration=migration, step="step_b", user=admin)
    assert check["ok"], check["problems"]


def test_step_c_switches_only_the_chosen_fields_to_two_ways(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_step_a(migration, admin, old_crm, hubspot_connection, hubspot_crm)
    services.step_b_apply(migration=migration, fields={"phase": "skalin_stage", "owner": "hubspot_owner_id"})
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_b", user=admin)["ok"]
    with pytest.raises(ValidationError, match="Only fields pushed in step B"):
        services.step_c_apply(migration=migration, two_way=["tags"])
    services.step_c_apply(migration=migration, two_way=["phase"])
    directions = {
        m.local_field: m.direction
        for m in FieldMapping.objects.filter(object_setting__connection=hubspot_connection).filter(
            object_setting__object_type="customers"
        )
    }
    assert directions["phase"] == "two_ways" and directions["owner"] == "output"
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_c", user=admin)["ok"]
    migration.refresh_from_db()
    assert migration.step == "third_party"


def test_redoing_a_step_clears_its_check_and_the_later_ones(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_step_a(migration, admin, old_crm, hubspot_connection, hubspot_crm)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    migration.refresh_from_db()
    assert migration.step == "step_a" and not migration.passed("step_a")
    with pytest.raises(ValidationError, match="waits for 'Step A"):
        services.step_b_apply(migration=migration, fields={"phase": "skalin_stage"})


def test_lost_key_data_fails_the_validation_and_names_the_customer(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    scenario.hubspot_sync(migration, hubspot_crm)
    globex = synced["001B"]
    Interaction.objects.filter(customer=globex).first().delete()
    Customer.objects.filter(pk=globex.pk).update(active_mrr=Decimal("150.00"))
    lost, gained, totals = selectors.key_data_diff(migration)
    assert {(d.name, d.field, str(d.before), str(d.after)) for d in lost} == {
        ("Globex", "Interactions", "2", "1"),
        ("Globex", "MRR", "200.00", "150.00"),
    }
    assert totals["interactions"] == 5
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin)
    assert not check["ok"] and "2 key figure(s) lower" in " ".join(check["problems"])


def test_contacts_brought_by_hubspot_are_gained_not_lost(workspace, old_connection, synced, admin):
    migration = scenario.start(workspace, old_connection, admin)
    Contact.objects.create(workspace=workspace, customer=synced["001C"], email="new@initech.fr")
    lost, gained, _ = selectors.key_data_diff(migration)
    assert lost == [] and [(d.name, d.field) for d in gained] == [("Initech", "Contacts")]


def test_a_deleted_customer_is_lost_data(workspace, old_connection, synced, admin):
    migration = scenario.start(workspace, old_connection, admin)
    synced["001A"].delete()
    lost, _, _ = selectors.key_data_diff(migration)
    assert [(d.name, d.field) for d in lost] == [("Acme Corp", "customer")]


def test_third_party_keys_stripe_untouched_and_intercom_keys_on_the_old_id_counted(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_step_a(migration, admin, old_crm, hubspot_connection, hubspot_crm)
    services.step_b_apply(migration=migration, fields={"phase": "skalin_stage"})
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_b", user=admin)["ok"]
    services.step_c_apply(migration=migration, two_way=["phase"])
    scenario.hubspot_sync(migration, hubspot_crm)
    assert services.hubspot_step_check(migration=migration, step="step_c", user=admin)["ok"]

    report = selectors.third_party_report(migration)
    assert (report.stripe_before, report.stripe_after, report.stripe_unchanged) == (1, 1, True)
    [intercom] = report.sources
    assert (intercom.source, intercom.total, intercom.on_old_id, intercom.no_longer_matching) == (
        "intercom",
        1,
        1,
        1,
    )
    assert "old Salesforce id 001B" in intercom.sample[0].detail
    check = services.third_party_check(migration=migration, user=admin)
    assert not check["ok"] and check["no_longer_matching"] == {"intercom": 1}
    items = [key for key, _ in services.checklist_items("third_party", migration)]
    assert items == ["intercom:customer_id", "intercom:contact_id", "other_tools"]
    services.checklist_tick(migration=migration, step="third_party", ticked=items)
    assert services.third_party_check(migration=migration, user=admin)["ok"]
    migration.refresh_from_db()
    assert migration.status == Migration.Status.COMPLETED and migration.step == "done"


def test_a_changed_stripe_id_fails_the_third_party_check(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    from customers.models import CustomerSource

    migration = scenario.start(workspace, old_connection, admin)
    CustomerSource.objects.filter(source="stripe").update(external_id="cus_other")
    report = selectors.third_party_report(migration)
    assert not report.stripe_unchanged
    assert report.stripe_changed[0].detail == "cus_A → cus_other"


def test_an_intercom_key_equal_to_the_new_customer_id_still_matches(workspace, old_connection, synced, admin):
    from customers.models import CustomerSource

    migration = scenario.start(workspace, old_connection, admin)
    CustomerSource.objects.filter(source="intercom").update(external_id=synced["001B"].ref_id)
    [intercom] = selectors.third_party_report(migration).sources
    assert (intercom.on_new_id, intercom.no_longer_matching) == (1, 0)


def test_refs_of_the_new_connection_count_as_synced(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_step_a(migration, admin, old_crm, hubspot_connection, hubspot_crm)
    assert ExternalRef.objects.filter(connection=hubspot_connection, object_type="customers").count() == 3


def test_a_setup_saved_elsewhere_that_drops_the_old_id_merge_key_fails_the_check(
    workspace, old_connection, old_crm, synced, admin, hubspot_connection, hubspot_crm
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_connect(migration, admin, old_crm, hubspot_connection)
    services.step_a_apply(migration=migration, old_id_property="salesforce_id")
    scenario.hubspot_sync(migration, hubspot_crm)
    setting = ObjectSetting.objects.get(connection=hubspot_connection, object_type=ObjectType.CUSTOMERS)
    setting.options = {**setting.options, "merge_keys": ["ref_id", "name", "domain"]}
    setting.save()
    check = services.hubspot_step_check(migration=migration, step="step_a", user=admin)
    assert not check["ok"] and "merge fields changed" in check["problems"][0]


def test_the_old_customers_are_known_from_the_start(workspace, old_connection, synced, admin):
    migration = scenario.start(workspace, old_connection, admin)
    assert migration.old_links == {str(c.pk): old_id for old_id, c in synced.items()}


def test_another_connection_left_in_the_workspace_is_on_the_third_party_checklist(
    workspace, old_connection, synced, admin
):
    zoho = Connection.objects.create(workspace=workspace, crm="zoho", remote_account_id="zz")
    migration = scenario.start(workspace, old_connection, admin)
    keys = [key for key, _ in services.checklist_items("third_party", migration)]
    assert f"connection:{zoho.pk}" in keys and f"connection:{old_connection.pk}" not in keys


def test_one_old_connection_sync_is_queued_only_while_it_is_active(
    workspace, old_connection, synced, admin, django_capture_on_commit_callbacks
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    with pytest.raises(ValidationError, match="Create or pick the Old CRM ID field first"):
        services.old_connection_sync(migration=migration)
    services.old_id_field_set(migration=migration)
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.old_connection_sync(migration=migration)
    assert (run.connection_id, run.status, run.dry_run) == (old_connection.pk, "queued", False)
    assert len(callbacks) == 1
    Connection.objects.filter(pk=old_connection.pk).update(status="disabled")
    migration.refresh_from_db()
    with pytest.raises(ValidationError, match="must be active"):
        services.old_connection_sync(migration=migration)


def test_a_disabled_customers_block_cannot_fill_the_old_id(workspace, old_connection, synced, admin):
    ObjectSetting.objects.filter(connection=old_connection, object_type="customers").update(mode="disabled")
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_preparation(migration, admin)
    with pytest.raises(ValidationError, match="Customers block of the Salesforce connection is Disabled"):
        services.old_id_field_set(migration=migration)
    assert not CustomField.objects.filter(workspace=workspace).exists()


def test_after_the_deletion_the_steps_before_it_cannot_be_redone(
    workspace, old_connection, old_crm, synced, admin
):
    migration = scenario.start(workspace, old_connection, admin)
    scenario.through_old_connection(migration, admin, old_crm)
    for redo in (
        lambda: services.checklist_tick(migration=migration, step="preparation", ticked=[]),
        lambda: services.preparation_check(migration=migration, user=admin),
        lambda: services.old_id_check(migration=migration, user=admin),
        lambda: services.old_connection_check(migration=migration, user=admin),
    ):
        with pytest.raises(ValidationError, match="is deleted: .* cannot be redone"):
            redo()
    migration.refresh_from_db()
    assert migration.step == "connect" and migration.passed("old_connection")
