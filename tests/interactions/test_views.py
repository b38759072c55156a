import datetime as dt

import pytest
from django.urls import reverse

from interactions.models import Direction, Interaction, InteractionKind
from tests.factories import ContactFactory, CustomerFactory, InteractionFactory


def valid_data(**overrides):
    data = {
        "kind": InteractionKind.EMAIL,
        "direction": Direction.INCOMING,
        "occurred_at": "2024-03-05T10:30",
        "subject": "Renewal question",
        "body": "They asked about the price.",
    }
    data.update(overrides)
    return data


@pytest.fixture
def owner_client(client_for, csm_membership):
    return client_for(csm_membership)


@pytest.fixture
def interaction(customer):
    return InteractionFactory.create(
        customer=customer, subject="Kick-off", kind=InteractionKind.CALL, direction=""
    )


def create_url(customer):
    return reverse("interactions:create", kwargs={"customer_pk": customer.pk})


# --- Create ---------------------------------------------------------------------------------------------


def test_the_new_interaction_page_offers_only_this_customers_contacts(owner_client, customer, workspace):
    own = ContactFactory.create(customer=customer, first_name="Ada", last_name="Own")
    ContactFactory.create(
        customer=CustomerFactory.create(workspace=workspace), first_name="Bob", last_name="Elsewhere"
    )
    response = owner_client.get(create_url(customer))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'type="datetime-local"' in content
    assert "Ada Own" in content and f'value="{own.pk}"' in content
    assert "Elsewhere" not in content


def test_an_interaction_is_created_in_the_servers_time_zone_and_stored_in_utc(
    owner_client, customer, csm_membership, settings
):
    settings.TIME_ZONE = "Europe/Paris"
    contact = ContactFactory.create(customer=customer)
    response = owner_client.post(create_url(customer), valid_data(contacts=[contact.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", kwargs={"pk": customer.pk})
    interaction = Interaction.objects.get(customer=customer)
    assert interaction.occurred_at == dt.datetime(2024, 3, 5, 9, 30, tzinfo=dt.UTC)
    assert list(interaction.contacts.all()) == [contact]
    assert interaction.author == csm_membership.user
    customer.refresh_from_db()
    assert customer.last_contact_at == interaction.occurred_at


def test_the_edit_page_shows_the_time_in_the_servers_time_zone(owner_client, customer, settings):
    settings.TIME_ZONE = "Europe/Paris"
    stored = InteractionFactory.create(
        customer=customer, occurred_at=dt.datetime(2024, 7, 1, 8, 0, tzinfo=dt.UTC)
    )
    response = owner_client.get(reverse("interactions:edit", kwargs={"pk": stored.pk}))
    assert 'value="2024-07-01T10:00"' in response.content.decode()


def test_an_unanswered_outgoing_email_is_saved_but_is_not_a_contact(owner_client, customer):
    response = owner_client.post(create_url(customer), valid_data(direction=Direction.OUTGOING))
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.last_contact_at is None


def test_flags_that_do_not_apply_to_the_kind_are_ignored(owner_client, customer):
    data = valid_data(kind=InteractionKind.NOTE, direction="", customer_replied="on")
    assert owner_client.post(create_url(customer), data).status_code == 302
    note = Interaction.objects.get(customer=customer)
    assert note.customer_replied is False


def test_a_meeting_left_unattended_is_saved_as_such(owner_client, customer):
    data = valid_data(kind=InteractionKind.MEETING, direction="")
    assert owner_client.post(create_url(customer), data).status_code == 302
    meeting = Interaction.objects.get(customer=customer)
    assert meeting.attended is False
    customer.refresh_from_db()
    assert customer.last_contact_at is None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"direction": ""}, "direction", "Say whether the email was received (incoming) or sent (outgoing)."),
        ({"kind": ""}, "kind", "Choose email, meeting, call or note."),
        ({"kind": "fax"}, "kind", "Select a valid choice."),
        ({"occurred_at": ""}, "occurred_at", "When did it happen?"),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date and time."),
        (
            {"kind": InteractionKind.NOTE, "subject": "", "body": ""},
            "body",
            "Write a subject or a body for the note.",
        ),
    ],
)
def test_a_bad_input_is_shown_on_its_field_and_nothing_typed_is_lost(
    owner_client, customer, overrides, field, message
):
    data = valid_data(**overrides)
    response = owner_client.post(create_url(customer), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message in response.content.decode()
    if data["subject"]:
        assert f'value="{data["subject"]}"' in response.content.decode()
    assert not Interaction.objects.exists()


def test_a_contact_of_another_customer_is_refused(owner_client, customer, workspace):
    stranger = ContactFactory.create(customer=CustomerFactory.create(workspace=workspace))
    response = owner_client.post(create_url(customer), valid_data(contacts=[stranger.pk]))
    assert response.status_code == 200
    assert "Only contacts of this customer can take part." in response.context["form"].errors["contacts"]
    assert not Interaction.objects.exists()


# --- Edit and delete --------------------------------------------------------------------------------------


def test_an_interaction_is_edited_and_last_contact_follows(owner_client, customer, interaction):
    url = reverse("interactions:edit", kwargs={"pk": interaction.pk})
    response = owner_client.get(url)
    assert response.status_code == 200
    assert 'value="Kick-off"' in response.content.decode()

    data = valid_data(kind=InteractionKind.NOTE, direction="", subject="Kick-off notes")
    assert owner_client.post(url, data).status_code == 302
    interaction.refresh_from_db()
    assert (interaction.kind, interaction.subject) == (InteractionKind.NOTE, "Kick-off notes")
    customer.refresh_from_db()
    assert customer.last_contact_at is None


def test_an_invalid_edit_changes_nothing_and_keeps_the_typed_values(owner_client, interaction):
    url = reverse("interactions:edit", kwargs={"pk": interaction.pk})
    response = owner_client.post(url, valid_data(subject="Typed subject", direction=""))
    assert response.status_code == 200
    assert 'value="Typed subject"' in response.content.decode()
    interaction.refresh_from_db()
    assert interaction.subject == "Kick-off"


def test_an_interaction_is_deleted_by_post_only(owner_client, customer, interaction):
    url = reverse("interactions:delete", kwargs={"pk": interaction.pk})
    assert owner_client.get(url).status_code == 405
    response = owner_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", kwargs={"pk": customer.pk})
    assert not Interaction.objects.filter(pk=interaction.pk).exists()
    customer.refresh_from_db()
    assert customer.last_contact_at is None


# --- Access ---------------------------------------------------------------------------------------------------

ACCESS = [
    ("csm_membership", True, None),
    ("manager_membership", True, None),
    ("admin_membership", True, None),
    ("other_csm_membership", False, 403),
    ("stranger_membership", False, 404),
]


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_log_an_interaction(request, client_for, customer, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    assert client.get(create_url(customer)).status_code == (200 if allowed else refused_with)
    assert client.post(create_url(customer), valid_data()).status_code == (302 if allowed else refused_with)
    assert Interaction.objects.filter(customer=customer).exists() is allowed


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_edit_an_interaction(request, client_for, interaction, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    url = reverse("interactions:edit", kwargs={"pk": interaction.pk})
    assert client.get(url).status_code == (200 if allowed else refused_with)
    assert client.post(url, valid_data(subject="Changed")).status_code == (302 if allowed else refused_with)
    interaction.refresh_from_db()
    assert (interaction.subject == "Changed") is allowed


@pytest.mark.parametrize(("who", "allowed", "refused_with"), ACCESS)
def test_who_may_delete_an_interaction(request, client_for, interaction, who, allowed, refused_with):
    client = client_for(request.getfixturevalue(who))
    response = client.post(reverse("interactions:delete", kwargs={"pk": interaction.pk}))
    assert response.status_code == (302 if allowed else refused_with)
    assert Interaction.objects.filter(pk=interaction.pk).exists() is not allowed
