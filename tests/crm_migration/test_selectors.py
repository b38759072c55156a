"""Duplicates, by each rule; free-mail domains never make two customers duplicates."""

import pytest

from crm_migration.selectors import duplicates
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def groups(workspace, **kwargs):
    return [(g.rule, g.value, len(g.customers)) for g in duplicates(workspace=workspace, **kwargs)]


def test_the_same_old_crm_id_is_a_duplicate(workspace):
    CustomerFactory(workspace=workspace, name="A", domain="", custom_values={"old_crm_id": "001X"})
    CustomerFactory(workspace=workspace, name="B", domain="", custom_values={"old_crm_id": " 001X"})
    CustomerFactory(workspace=workspace, name="C", domain="", custom_values={"old_crm_id": "001Y"})
    assert groups(workspace, old_id_key="old_crm_id") == [("Old CRM ID", "001X", 2)]
    assert groups(workspace) == []


def test_the_same_domain_is_a_duplicate_however_it_is_written(workspace):
    CustomerFactory(workspace=workspace, name="A", domain="acme.com")
    CustomerFactory(workspace=workspace, name="B", domain="https://www.ACME.com/about")
    assert groups(workspace) == [("Domain", "acme.com", 2)]


def test_a_free_mail_domain_is_never_a_duplicate(workspace):
    CustomerFactory(workspace=workspace, name="Freelancer A", domain="gmail.com")
    CustomerFactory(workspace=workspace, name="Freelancer B", domain="gmail.com")
    CustomerFactory(workspace=workspace, name="Freelancer C", domain="outlook.com")
    assert groups(workspace) == []


def test_names_compare_as_merge_keys_do(workspace):
    CustomerFactory(workspace=workspace, name="Café  Crème", domain="")
    CustomerFactory(workspace=workspace, name=" CAFÉ CRÈME", domain="")
    CustomerFactory(workspace=workspace, name="Cafe Creme", domain="")
    assert groups(workspace) == [("Name", "café crème", 2)]


def test_customers_of_another_workspace_are_never_duplicates(workspace, other_workspace):
    CustomerFactory(workspace=workspace, name="Acme", domain="acme.com")
    CustomerFactory(workspace=other_workspace, name="Acme", domain="acme.com")
    assert groups(workspace) == []
