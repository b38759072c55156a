"""Walking a migration to a given step, the way an Admin would, for the tests of later steps."""

from __future__ import annotations

from crm_migration import services
from crm_migration.models import Migration
from integrations.sync import sync_connection


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
