import pytest

from integrations.models import Connection, FieldMapping, ObjectSetting, ObjectType, SyncMode
from tests.integrations.fake_crm import FakeCrm


@pytest.fixture
def crm():
    return FakeCrm()


@pytest.fixture
def connection(workspace, admin_membership):
    connection = Connection.objects.create(
        workspace=workspace,
        crm="hubspot",
        status=Connection.Status.ACTIVE,
        remote_account_id="portal-1",
        owns_customer_id=True,
    )
    setting = ObjectSetting.objects.create(
        connection=connection, object_type=ObjectType.CUSTOMERS, mode=SyncMode.INPUT
    )
    FieldMapping.objects.bulk_create(
        FieldMapping(object_setting=setting, local_field=local, remote_field=remote)
        for local, remote in [("name", "name"), ("domain", "domain"), ("ref_id", "@id")]
    )
    return connection


def block(connection, object_type, mode=SyncMode.INPUT, options=None, mappings=()):
    setting, _ = ObjectSetting.objects.update_or_create(
        connection=connection, object_type=object_type, defaults={"mode": mode, "options": options or {}}
    )
    for row in mappings:
        FieldMapping.objects.update_or_create(
            object_setting=setting,
            local_field=row[0],
            defaults={"remote_field": row[1], **(row[2] if len(row) > 2 else {})},
        )
    return setting
