import pytest
from django.core.exceptions import ValidationError

from customers.changes import Actor
from customers.models import ChangeLog, CustomField, Phase, RoleTag
from customers.services import (
    contact_create,
    contact_update,
    custom_value_parse,
    customer_create,
    customer_set_pulse,
    customer_update,
    normalise_domain,
    phase_create,
    phase_delete,
    phase_move,
    phase_set_default,
    tags_get_or_create,
)
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(admin_membership):
    return Actor.for_user(admin_membership.user)


def test_a_new_customer_gets_the_default_phase_and_a_history_entry(workspace, actor):
    customer = customer_create(
        workspace=workspace, actor=actor, name="  Initech ", domain="https://www.initech.com/"
    )

    assert customer.name == "Initech"
    assert customer.domain == "initech.com"
    assert customer.phase == Phase.objects.get(workspace=workspace, is_default=True)
    assert customer.changes.get().field == "created"


def test_a_customer_id_is_unique_within_a_workspace_only(workspace, other_workspace, actor):
    customer_create(workspace=workspace, actor=actor, name="A", ref_id="C-1")
    customer_create(workspace=other_workspace, actor=actor, name="A elsewhere", ref_id="C-1")

    with pytest.raises(ValidationError) as error:
        customer_create(workspace=workspace, actor=actor, name="B", ref_id="C-1")
    assert "ref_id" in error.value.message_dict


def test_a_customer_needs_a_name(workspace, actor):
    with pytest.raises(ValidationError):
        customer_create(workspace=workspace, actor=actor, name="   ")


def test_a_child_account_cannot_itself_be_a_parent(workspace, actor):
    parent = CustomerFactory(workspace=workspace)
    child = CustomerFactory(workspace=workspace, parent=parent)

    with pytest.raises(ValidationError) as error:
        customer_create(workspace=workspace, actor=actor, name="Grandchild", parent=child)
    assert "two levels" in str(error.value)


def test_a_parent_account_cannot_become_a_child(workspace, actor):
    parent = CustomerFactory(workspace=workspace)
    CustomerFactory(workspace=workspace, parent=parent)
    other = CustomerFactory(workspace=workspace)

    with pytest.raises(ValidationError):
        customer_update(customer=parent, actor=actor, parent=other)


def test_a_customer_cannot_be_its_own_parent_nor_have_one_from_another_workspace(
    workspace, other_workspace, actor
):
    customer = CustomerFactory(workspace=workspace)
    foreign = CustomerFactory(workspace=other_workspace)

    with pytest.raises(ValidationError):
        customer_update(customer=customer, actor=actor, parent=customer)
    with pytest.raises(ValidationError):
        customer_update(customer=customer, actor=actor, parent=foreign)


def test_each_changed_field_is_logged_with_its_actor_and_values(workspace, actor, csm_membership):
    customer = CustomerFactory(workspace=workspace, name="Old name")
    churn = Phase.objects.get(workspace=workspace, technical_name="churn")

    customer_update(customer=customer, actor=actor, name="New name", phase=churn, owner=csm_membership.user)

    rows = {row.field: row for row in ChangeLog.objects.filter(customer=customer)}
    assert rows["name"].old_value == "Old name"
    assert rows["name"].new_value == "New name"
    assert rows["phase"].new_value == "Churn"
    assert rows["owner"].actor_user == actor.user
    assert rows["owner"].actor_kind == ChangeLog.ActorKind.USER
    assert customer.is_churned


def test_an_unchanged_value_leaves_no_history(workspace, actor):
    customer = CustomerFactory(workspace=workspace, name="Same")

    customer_update(customer=customer, actor=actor, name="Same")

    assert not ChangeLog.objects.filter(customer=customer).exists()


def test_a_sync_run_is_named_in_the_history(workspace):
    customer = CustomerFactory(workspace=workspace, domain="old.example")

    customer_update(customer=customer, actor=Actor.for_sync_run(12, "HubSpot"), domain="new.example")

    row = ChangeLog.objects.get(customer=customer)
    assert row.actor_kind == ChangeLog.ActorKind.SYNC_RUN
    assert row.actor_label == "Sync run #12 (HubSpot)"


def test_tag_changes_are_logged_as_sets(workspace, actor):
    customer = CustomerFactory(workspace=workspace)
    customer_update(
        customer=customer, actor=actor, tags=tags_get_or_create(workspace=workspace, names=["VIP", "EU"])
    )

    customer_update(
        customer=customer, actor=actor, tags=tags_get_or_create(workspace=workspace, names=["vip"])
    )

    assert sorted(t.name for t in customer.tags.all()) == ["VIP"]
    last = ChangeLog.objects.filter(customer=customer, field="tags").first()
    assert last.old_value == "EU, VIP"
    assert last.new_value == "VIP"


def test_custom_values_are_merged_and_none_removes_one(workspace, actor):
    customer = CustomerFactory(workspace=workspace, custom_values={"plan": "Gold", "seats": "10"})

    customer_update(customer=customer, actor=actor, custom_values={"plan": None, "region": "EU"})

    customer.refresh_from_db()
    assert customer.custom_values == {"seats": "10", "region": "EU"}


def test_an_unknown_field_is_a_programming_error(workspace, actor):
    customer = CustomerFactory(workspace=workspace)
    with pytest.raises(TypeError):
        customer_update(customer=customer, actor=actor, active_mrr=3)


@pytest.mark.parametrize(
    ("field_type", "raw", "expected"),
    [
        (CustomField.Type.NUMBER, "12,5", "12.5"),
        (CustomField.Type.DATE, "2026-01-31", "2026-01-31"),
        (CustomField.Type.BOOLEAN, "Yes", True),
        (CustomField.Type.BOOLEAN, "0", False),
        (CustomField.Type.TEXT, "  hello ", "hello"),
        (CustomField.Type.TEXT, "", None),
    ],
)
def test_custom_values_are_parsed_by_type(workspace, field_type, raw, expected):
    field = CustomField(workspace=workspace, target="customer", key="k", label="K", type=field_type)
    assert custom_value_parse(field=field, raw=raw) == expected


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [
        (CustomField.Type.NUMBER, "twelve"),
        (CustomField.Type.DATE, "31/01"),
        (CustomField.Type.BOOLEAN, "maybe"),
    ],
)
def test_a_bad_custom_value_names_the_field(workspace, field_type, raw):
    field = CustomField(
        workspace=workspace, target="customer", key="k", label="Renewal owner", type=field_type
    )
    with pytest.raises(ValidationError) as error:
        custom_value_parse(field=field, raw=raw)
    assert "Renewal owner" in str(error.value)


def test_a_choice_value_must_be_one_of_the_choices(workspace):
    field = CustomField(
        workspace=workspace, target="customer", key="k", label="Tier", type="choice", choices=["A"]
    )
    assert custom_value_parse(field=field, raw="A") == "A"
    with pytest.raises(ValidationError):
        custom_value_parse(field=field, raw="B")


def test_the_pulse_is_a_rating_from_one_to_five_and_is_logged(workspace, actor):
    customer = CustomerFactory(workspace=workspace)
    with pytest.raises(ValidationError):
        customer_set_pulse(customer=customer, actor=actor, pulse=6)

    customer_set_pulse(customer=customer, actor=actor, pulse=4, note=" Happy ")

    customer.refresh_from_db()
    assert (customer.csm_pulse, customer.csm_pulse_note) == (4, "Happy")
    assert customer.csm_pulse_at is not None
    assert ChangeLog.objects.get(customer=customer, field="csm_pulse").new_value == "4"


def test_domains_are_normalised():
    assert normalise_domain(" HTTPS://www.Acme.io/pricing ") == "acme.io"
    assert normalise_domain("") == ""


def test_contacts_are_matched_on_a_unique_lowercased_email(workspace, actor):
    customer = CustomerFactory(workspace=workspace)
    contact = contact_create(
        customer=customer,
        actor=actor,
        first_name="Ann",
        email=" Ann@Client.example ",
        secondary_emails=["ann@client.example", "ANN.B@client.example", ""],
        role_tags=[RoleTag.CHAMPION, RoleTag.CHAMPION],
    )

    assert contact.email == "ann@client.example"
    assert contact.secondary_emails == ["ann.b@client.example"]
    assert contact.role_tags == ["champion"]
    with pytest.raises(ValidationError) as error:
        contact_create(customer=CustomerFactory(workspace=workspace), actor=actor, email="ANN@client.example")
    assert "email" in error.value.message_dict


def test_a_contact_needs_a_name_or_an_email_and_known_role_tags(workspace, actor):
    customer = CustomerFactory(workspace=workspace)
    with pytest.raises(ValidationError):
        contact_create(customer=customer, actor=actor)
    with pytest.raises(ValidationError):
        contact_create(customer=customer, actor=actor, first_name="Bob", role_tags=["boss"])


def test_a_contact_update_is_logged_on_its_customer(workspace, actor):
    contact = ContactFactory(customer=CustomerFactory(workspace=workspace), title="CTO")

    contact_update(contact=contact, actor=actor, title="CEO")

    row = ChangeLog.objects.get(customer=contact.customer, field="contact title")
    assert (row.old_value, row.new_value, row.object_type) == ("CTO", "CEO", "contact")


def test_phases_keep_one_default_and_an_order(workspace):
    trial = Phase.objects.get(workspace=workspace, technical_name="trial")
    phase_set_default(phase=trial)
    assert list(Phase.objects.filter(workspace=workspace, is_default=True)) == [trial]

    added = phase_create(workspace=workspace, technical_name="Expansion", label="Expansion")
    assert added.technical_name == "expansion"
    phase_move(phase=added, offset=-1)
    names = list(Phase.objects.filter(workspace=workspace).values_list("technical_name", flat=True))
    assert names == ["trial", "onboarding", "run", "expansion", "churn"]

    with pytest.raises(ValidationError):
        phase_create(workspace=workspace, technical_name="trial", label="Trial again")


def test_a_phase_in_use_the_default_or_churn_cannot_be_removed(workspace):
    run = Phase.objects.get(workspace=workspace, technical_name="run")
    CustomerFactory(workspace=workspace, phase=run)
    for phase in (
        run,
        Phase.objects.get(workspace=workspace, is_default=True),
        Phase.objects.get(workspace=workspace, technical_name="churn"),
    ):
        with pytest.raises(ValidationError):
            phase_delete(phase=phase)
    trial = Phase.objects.get(workspace=workspace, technical_name="trial")
    phase_delete(phase=trial)
    assert not Phase.objects.filter(pk=trial.pk).exists()
