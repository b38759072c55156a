import pytest
from django.core.exceptions import ValidationError

from integrations.explain import explain
from integrations.sync import sync_connection
from tests.factories import CustomerFactory
from tests.integrations.conftest import block

pytestmark = pytest.mark.django_db


def verdicts(connection, crm, query):
    return {
        e.external_id: (e.verdict, e.message)
        for e in explain(connection=connection, query=query, connector=crm)
    }


def test_each_kind_of_record_gets_the_rule_that_decided_it(connection, crm, workspace):
    block(connection, "customers", options={"churn_on_absence": True})
    crm.put("customers", "c1", name="Acme Synced")
    crm.put("customers", "c2", name="Acme Leaver")
    crm.put("customers", "c3", name="Acme Prospect", selected=False)
    sync_connection(connection_id=connection.pk, connector=crm)
    crm.change("customers", "c2", selected=False)
    churning = sync_connection(connection_id=connection.pk, connector=crm, approved=True)
    crm.put("customers", "c4", name="Acme Newcomer")
    CustomerFactory(workspace=workspace, name="Acme Twin", domain="twin.com")
    CustomerFactory(workspace=workspace, name="Acme Twin 2", domain="twin.com")
    crm.put("customers", "c5", name="Acme Twins", domain="twin.com")

    answers = verdicts(connection, crm, "acme")

    assert answers["c1"][0] == "synced"
    assert answers["c2"][0] == "churned" and f"Sync run #{churning.pk}" in answers["c2"][1]
    assert answers["c3"] == ("not_selected", "Not synced: Its stage is not selected.")
    assert answers["c4"][0] == "would_create"
    assert answers["c5"][0] == "ambiguous" and "share the domain" in answers["c5"][1]


def test_a_record_that_would_merge_names_the_customer_and_the_key(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Globex Corporation", domain="")
    crm.put("customers", "c1", name="GLOBEX  corporation")
    answers = verdicts(connection, crm, "globex")
    assert answers["c1"] == (
        "would_merge",
        "It is in the selection and will be merged into Globex Corporation (same name) at the next run.",
    )


def test_an_unknown_name_says_so_and_mentions_an_unlinked_local_customer(connection, crm, workspace):
    CustomerFactory(workspace=workspace, name="Initech")
    [answer] = explain(connection=connection, query="Initech", connector=crm)
    assert answer.verdict == "not_found"
    assert "Skalin has Initech, not linked to this CRM" in answer.message
    with pytest.raises(ValidationError):
        explain(connection=connection, query=" ", connector=crm)
