"""Undo a bad first sync: only what the run created goes, what a person touched stays, and the Admin's
typed confirmation, the links, the cursors and the audit entry behave as the page says."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from agreements.models import Agreement
from customers.changes import Actor
from customers.models import ChangeLog, Contact, Customer, CustomerSource
from customers.services import customer_update
from healthscore.models import UsageEvent
from integrations.models import Connection, ExternalRef, ObjectType, SyncRun, SyncState
from integrations.run_undo import (
    run_created_customers_remaining,
    run_undo,
    run_undo_entries,
    run_undo_preview,
)
from integrations.sync import sync_connection
from interactions.models import Interaction
from search.models import SearchEntry
from search.services import search_index_pass
from tests.factories import AgreementFactory, ContactFactory, CustomerFactory, InteractionFactory
from tests.integrations.conftest import block

pytestmark = pytest.mark.django_db


def sync(connection, crm):
    run = sync_connection(connection_id=connection.pk, connector=crm)
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    return run


@pytest.fixture
def first_run(connection, crm, workspace):
    """Globex was in Skalin before; the run merges it and creates Acme, Hooli and Initech, with contacts
    and interactions, and agreements arrive on them afterwards."""
    CustomerFactory(workspace=workspace, name="Globex", domain="globex.com")
    block(connection, ObjectType.CONTACTS, mappings=[("email", "email"), ("first_name", "firstname")])
    block(connection, ObjectType.INTERACTIONS, options={"kinds": ["email"]})
    for external_id, name in (("c1", "Acme"), ("c2", "Initech"), ("c3", "Hooli"), ("c4", "Globex")):
        crm.put("customers", external_id, name=name, domain=f"{name.lower()}.com")
    for n, company in enumerate(("c1", "c1", "c2", "c3", "c4")):
        crm.put(
            "contacts",
            f"p{n}",
            email=f"person{n}@x{n}.com",
            firstname=f"P{n}",
            links={"customers": [company]},
        )
    for n, company in enumerate(("c1", "c2", "c2", "c4")):
        crm.put("interactions", f"e{n}", kind="email", subject=f"Mail {n}", occurred_at="2026-01-05T10:00:00Z",
                direction="incoming", links={"customers": [company]})  # fmt: skip
    run = sync(connection, crm)
    for name in ("Acme", "Initech"):
        AgreementFactory(customer=Customer.objects.get(workspace=workspace, name=name), source="hubspot")
    return run


def names(rows):
    return sorted(row.name for row in rows)


def test_the_preview_lists_only_the_customers_the_run_created_with_what_cascades(first_run, workspace, crm,
                                                                                  connection):  # fmt: skip
    crm.put("customers", "c5", name="Umbrella")
    sync(connection, crm)  # a later run's creation is not this run's

    preview = run_undo_preview(run=first_run)

    assert names(preview.deletable) == ["Acme", "Hooli", "Initech"]
    assert preview.kept == []
    assert names(preview.merged) == ["Globex"]
    assert (preview.contacts, preview.interactions, preview.agreements) == (4, 3, 2)
    assert preview.confirmation_phrase == "DELETE 3 CUSTOMERS"
    assert run_created_customers_remaining(run=first_run) == 3


def test_customers_changed_by_a_person_or_linked_to_stripe_are_kept_and_listed_with_the_reason(
    first_run, workspace, admin_membership
):
    hooli = Customer.objects.get(workspace=workspace, name="Hooli")
    customer_update(customer=hooli, actor=Actor.for_user(admin_membership.user), domain="hooli.io")
    acme = Customer.objects.get(workspace=workspace, name="Acme")
    CustomerSource.objects.create(customer=acme, source="stripe", external_id="cus_123")

    preview = run_undo_preview(run=first_run)

    assert names(preview.deletable) == ["Initech"]
    kept = {row.customer.name: " ".join(row.reasons) for row in preview.kept}
    assert set(kept) == {"Acme", "Hooli"}
    assert "changed by" in kept["Hooli"] and "domain" in kept["Hooli"]
    assert "Stripe (cus_123)" in kept["Acme"]
    assert preview.confirmation_phrase == "DELETE 1 CUSTOMER"


def test_a_customer_holding_a_contact_that_existed_before_the_run_is_kept(first_run, workspace):
    globex = Customer.objects.get(workspace=workspace, name="Globex")
    older = ContactFactory(customer=globex)
    Contact.objects.filter(pk=older.pk).update(
        customer=Customer.objects.get(workspace=workspace, name="Initech"),
        created_at=first_run.started_at - dt.timedelta(days=3),
    )

    preview = run_undo_preview(run=first_run)

    assert [row.customer.name for row in preview.kept] == ["Initech"]
    assert "before this run" in preview.kept[0].reasons[0]


def test_manual_interactions_keep_their_customer_with_the_reason_said_once(first_run, workspace):
    acme = Customer.objects.get(workspace=workspace, name="Acme")
    InteractionFactory(customer=acme, source="manual")
    InteractionFactory(customer=acme, source="manual")

    [kept] = run_undo_preview(run=first_run).kept
    assert (kept.customer.name, kept.reasons) == ("Acme", ["has interactions entered in Skalin"])


def test_a_wrong_confirmation_deletes_nothing_and_says_why(first_run, workspace, admin_membership):
    before = (Customer.objects.count(), Contact.objects.count(), ExternalRef.objects.count())

    for typed, says in (
        ("", "type DELETE 3 CUSTOMERS"),
        ("delete them", "is not the confirmation"),
        ("DELETE 4 CUSTOMERS", "you confirmed 4 customers, but 3 can be deleted now"),
    ):
        with pytest.raises(ValidationError) as problem:
            run_undo(run=first_run, user=admin_membership.user, confirmation=typed)
        assert "Nothing was deleted" in problem.value.messages[0] or "Nothing" in problem.value.messages[0]
        assert says in problem.value.messages[0]

    assert (Customer.objects.count(), Contact.objects.count(), ExternalRef.objects.count()) == before
    assert run_undo_entries(run=first_run) == []


def test_the_undo_deletes_the_created_customers_their_data_and_links_and_leaves_an_audit_entry(
    first_run, workspace, admin_membership, connection, crm
):
    hooli = Customer.objects.get(workspace=workspace, name="Hooli")
    customer_update(customer=hooli, actor=Actor.for_user(admin_membership.user), domain="hooli.io")
    globex_before = Customer.objects.get(workspace=workspace, name="Globex")
    globex_contacts = globex_before.contacts.count()
    doomed = list(Customer.objects.filter(workspace=workspace, name__in=["Acme", "Initech"]))
    event = UsageEvent.objects.create(
        workspace=workspace, event_id="ev-1", name="login", occurred_at=timezone.now(),
        received_at=timezone.now(), customer=doomed[0], aggregated_at=timezone.now(),
    )  # fmt: skip

    search_pass = search_index_pass(full=True)
    assert search_pass is not None
    assert SearchEntry.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()

    result = run_undo(
        run=first_run,
        user=admin_membership.user,
        confirmation=" delete 2  customers ",
        disable_connection=True,
    )

    assert (result.customers, result.contacts, result.agreements, result.interactions, result.kept) == (
        2, 3, 2, 3, 1,
    )  # fmt: skip
    assert names(Customer.objects.filter(workspace=workspace)) == ["Globex", "Hooli"]
    assert not Contact.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()
    assert not Agreement.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()
    assert not Interaction.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()
    assert Customer.objects.get(pk=globex_before.pk).contacts.count() == globex_contacts
    # The links of what was deleted are gone; the others stay.
    kept_refs = set(
        ExternalRef.objects.filter(object_type=ObjectType.CUSTOMERS).values_list("external_id", flat=True)
    )
    assert kept_refs == {"c3", "c4"}
    assert set(ExternalRef.objects.filter(object_type=ObjectType.CONTACTS).values_list("external_id", flat=True)) == {
        "p3", "p4",
    }  # fmt: skip
    assert set(Interaction.objects.values_list("external_id", flat=True)) == {"e3"}
    assert not SearchEntry.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()
    assert SearchEntry.objects.filter(customer_id=globex_before.pk).exists()
    event.refresh_from_db()
    assert (event.customer_id, event.aggregated_at) == (None, None)
    # The audit entry outlives the customers' own history.
    [entry] = run_undo_entries(run=first_run)
    assert entry.customer_id is None and entry.actor_user == admin_membership.user
    assert entry.old_value == "Acme; Initech"
    assert entry.new_value.startswith(
        "2 customers, 3 contacts, 2 agreements and 3 interactions deleted; 1 kept"
    )
    assert f"run #{first_run.pk}" in entry.new_value
    assert not ChangeLog.objects.filter(customer_id__in=[c.pk for c in doomed]).exists()
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISABLED
    assert set(SyncState.objects.filter(connection=connection).values_list("cursor", flat=True)) == {""}

    # Enabled again, the next sync reads everything and creates them again, cleanly linked.
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.ACTIVE)
    again = sync(connection, crm)
    assert again.by_object["customers"]["created"] == 2
    assert names(Customer.objects.filter(workspace=workspace)) == ["Acme", "Globex", "Hooli", "Initech"]
    assert ExternalRef.objects.filter(object_type=ObjectType.CUSTOMERS).count() == 4


def test_nothing_is_deleted_while_a_sync_of_the_connection_runs(first_run, connection, admin_membership):
    SyncRun.objects.create(connection=connection, status=SyncRun.Status.RUNNING)

    assert "running now" in run_undo_preview(run=first_run).blocker
    with pytest.raises(ValidationError, match="Nothing was deleted"):
        run_undo(run=first_run, user=admin_membership.user, confirmation="DELETE 3 CUSTOMERS")
    assert Customer.objects.count() == 4


# ---- the pages -------------------------------------------------------------------------------------------


def undo_url(run):
    return reverse("integrations:run_undo", args=[run.connection_id, run.pk])


def run_url(run):
    return reverse("integrations:run", args=[run.connection_id, run.pk])


def test_the_admin_sees_the_preview_with_names_counts_and_the_phrase(first_run, admin_membership, client_for,
                                                                      workspace):  # fmt: skip
    customer_update(
        customer=Customer.objects.get(workspace=workspace, name="Hooli"),
        actor=Actor.for_user(admin_membership.user),
        domain="hooli.io",
    )
    page = client_for(admin_membership).get(undo_url(first_run))
    assert page.status_code == 200
    text = page.content.decode()
    assert "DELETE 2 CUSTOMERS" in text
    assert "Acme" in text and "Initech" in text
    assert "Kept: 1 customer" in text and "Hooli" in text
    assert "Not touched: 1 customer already in Skalin" in text and "Globex" in text


def test_a_wrong_confirmation_in_the_form_deletes_nothing(first_run, admin_membership, client_for):
    page = client_for(admin_membership).post(undo_url(first_run), {"confirmation": "DELETE ALL"})
    assert page.status_code == 400
    assert "Nothing was deleted" in page.content.decode()
    assert Customer.objects.count() == 4


def test_the_confirmed_form_deletes_and_the_run_page_shows_the_audit_entry(first_run, admin_membership,
                                                                            client_for):  # fmt: skip
    client = client_for(admin_membership)
    done = client.post(undo_url(first_run), {"confirmation": "DELETE 3 CUSTOMERS"})
    assert done.status_code == 302 and done["Location"] == run_url(first_run)
    assert Customer.objects.count() == 1
    page = client.get(run_url(first_run)).content.decode()
    assert "Undone" in page and "3 customers, 4 contacts, 2 agreements and 3 interactions deleted" in page
    assert "run-undo-link" not in page  # nothing left to undo


def test_managers_are_refused_and_csms_and_other_workspaces_do_not_find_it(
    first_run, manager_membership, csm_membership, stranger_membership, client_for
):
    assert client_for(manager_membership).get(undo_url(first_run)).status_code == 403
    assert (
        client_for(manager_membership)
        .post(undo_url(first_run), {"confirmation": "DELETE 3 CUSTOMERS"})
        .status_code
        == 403
    )
    assert client_for(csm_membership).get(undo_url(first_run)).status_code == 404
    assert client_for(stranger_membership).get(undo_url(first_run)).status_code == 404
    assert (
        client_for(stranger_membership)
        .post(undo_url(first_run), {"confirmation": "DELETE 3 CUSTOMERS"})
        .status_code
        == 404
    )
    assert Customer.objects.count() == 4


def test_the_run_page_offers_the_undo_to_admins_only_and_only_for_a_run_that_created_customers(
    first_run, connection, crm, admin_membership, manager_membership, client_for
):
    assert "run-undo-link" in client_for(admin_membership).get(run_url(first_run)).content.decode()
    assert "run-undo-link" not in client_for(manager_membership).get(run_url(first_run)).content.decode()

    quiet = sync(connection, crm)
    assert quiet.created == 0
    assert "run-undo-link" not in client_for(admin_membership).get(run_url(quiet)).content.decode()
    assert run_created_customers_remaining(run=quiet) == 0
