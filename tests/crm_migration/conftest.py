import pytest

from . import scenario


@pytest.fixture
def old_connection(workspace, admin_membership):
    return scenario.old_connection(workspace)


@pytest.fixture
def old_crm():
    return scenario.old_crm()


@pytest.fixture
def synced(workspace, old_connection, old_crm):
    return scenario.synced(workspace, old_connection, old_crm)


@pytest.fixture
def hubspot_crm():
    return scenario.hubspot_crm()


@pytest.fixture
def hubspot_connection(workspace):
    return scenario.hubspot_connection(workspace)
