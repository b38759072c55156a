import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.changes import Actor
from interactions.models import Direction, Interaction, InteractionKind
from interactions.services import (
    customer_last_contact,
    customer_refresh_last_contact,
    interaction_create,
    interaction_delete,
    interaction_update,
    last_contacts_refresh_recent,
)
from tests.factories import ContactFactory, CustomerFactory, InteractionFactory

ACTOR = Actor.system("tests")


def ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("fields", "counts"),
    [
        ({"kind": InteractionKind.EMAIL, "direction": Direction.INCOMING}, True),
        ({"kind": InteractionKind.EMAIL, "direction": Direction.OUTGOING}, False),
        ({"kind": InteractionKind.EMAIL, "direction": Direction.OUTGOING, "customer_replied": True}, True),
        ({"kind": InteractionKind.MEETING, "direction": "", "attended": True}, True),
        ({"kind": InteractionKind.MEETING, "direction": "", "attended": False}, False),
        ({"kind": InteractionKind.CALL, "direction": Direction.OUTGOING}, True),
        ({"kind": InteractionKind.CALL, "direction": ""}, True),
        ({"kind": InteractionKind.NOTE, "direction": ""}, False),
    ],
    ids=[
        "incoming email",
        "outgoing email without reply",
        "outgoing email with reply",
        "attended meeting",
        "missed meeting",
        "outgoing call",
        "call",
        "note",
    ],
)
def test_last_contact_counts_only_moments_the_customer_took_part_in(customer, fields, counts):
    when = ago(2)
    interaction_create(customer=customer, actor=ACTOR, occurred_at=when, **fields)
    customer.refresh_from_db()
    assert customer.last_contact_at == (when if counts else None)


def test_an_outgoing_email_yesterday_does_not_hide_an_older_incoming_one(customer):
    incoming = ago(15)
    interaction_create(
        customer=customer,
        actor=ACTOR,
        kind=InteractionKind.EMAIL,
        direction=Direction.INCOMING,
        occurred_at=incoming,
    )
    interaction_create(
        customer=customer,
        actor=ACTOR,
        kind=InteractionKind.EMAIL,
        direction=Direction.OUTGOING,
        occurred_at=ago(1),
    )
    customer.refresh_from_db()
    assert customer.last_contact_at == incoming


def test_a_future_meeting_is_not_a_contact_yet(customer):
    past_call = ago(3)
    interaction_create(customer=customer, actor=ACTOR, kind=InteractionKind.CALL, occurred_at=past_call)
    interaction_create(
        customer=customer,
        actor=ACTOR,
        kind=InteractionKind.MEETING,
        attended=True,
        occurred_at=timezone.now() + dt.timedelta(days=2),
    )
    customer.refresh_from_db()
    assert customer.last_contact_at == past_call
    # Once its time has come, it counts.
    later = customer_last_contact(customer=customer, now=timezone.now() + dt.timedelta(days=3))
    assert later is not None and later > past_call


def test_last_contact_follows_an_update_and_a_delete(customer):
    call = interaction_create(customer=customer, actor=ACTOR, kind=InteractionKind.CALL, occurred_at=ago(10))
    email = interaction_create(
        customer=customer,
        actor=ACTOR,
        kind=InteractionKind.EMAIL,
        direction=Direction.OUTGOING,
        occurred_at=ago(1),
    )
    customer.refresh_from_db()
    assert customer.last_contact_at == call.occurred_at

    interaction_update(interaction=email, actor=ACTOR, customer_replied=True)
    customer.refresh_from_db()
    assert customer.last_contact_at == email.occurred_at

    interaction_update(interaction=email, actor=ACTOR, occurred_at=ago(20))
    customer.refresh_from_db()
    assert customer.last_contact_at == call.occurred_at

    interaction_delete(interaction=call, actor=ACTOR)
    customer.refresh_from_db()
    assert customer.last_contact_at == email.occurred_at

    interaction_delete(interaction=email, actor=ACTOR)
    customer.refresh_from_db()
    assert customer.last_contact_at is None


def test_another_customers_interactions_do_not_count(customer, workspace):
    InteractionFactory.create(customer=CustomerFactory.create(workspace=workspace), occurred_at=ago(1))
    interaction_create(
        customer=customer, actor=ACTOR, kind=InteractionKind.NOTE, occurred_at=ago(1), body="x"
    )
    customer.refresh_from_db()
    assert customer.last_contact_at is None


def test_contacts_of_another_customer_are_refused(customer, workspace):
    stranger = ContactFactory.create(customer=CustomerFactory.create(workspace=workspace))
    own = ContactFactory.create(customer=customer)
    with pytest.raises(ValidationError) as error:
        interaction_create(
            customer=customer,
            actor=ACTOR,
            kind=InteractionKind.CALL,
            occurred_at=ago(1),
            contacts=[own, stranger],
        )
    assert "contacts" in error.value.message_dict
    assert not customer.interactions.exists()

    call = interaction_create(
        customer=customer, actor=ACTOR, kind=InteractionKind.CALL, occurred_at=ago(1), contacts=[own]
    )
    with pytest.raises(ValidationError):
        interaction_update(interaction=call, actor=ACTOR, contacts=[stranger])
    assert list(call.contacts.all()) == [own]


def test_an_email_needs_a_direction(customer):
    with pytest.raises(ValidationError) as error:
        interaction_create(customer=customer, actor=ACTOR, kind=InteractionKind.EMAIL, occurred_at=ago(1))
    assert "direction" in error.value.message_dict


def test_a_manual_interaction_is_authored_by_the_user_who_logged_it(customer, csm_membership):
    interaction = interaction_create(
        customer=customer,
        actor=Actor.for_user(csm_membership.user),
        kind=InteractionKind.CALL,
        occurred_at=ago(1),
    )
    assert interaction.author == csm_membership.user
    assert interaction.source == "manual"


def test_a_meeting_planned_ahead_becomes_last_contact_once_it_has_happened(customer):
    meeting = InteractionFactory(
        customer=customer, kind="meeting", direction="", occurred_at=timezone.now() + dt.timedelta(hours=1)
    )
    customer_refresh_last_contact(customer=customer)
    assert customer.last_contact_at is None

    Interaction.objects.filter(pk=meeting.pk).update(occurred_at=timezone.now() - dt.timedelta(hours=1))
    assert last_contacts_refresh_recent() == 1

    customer.refresh_from_db()
    assert customer.last_contact_at is not None


def test_refreshing_many_customers_at_once_gives_each_its_own_last_contact(workspace):
    from interactions.services import customers_refresh_last_contact

    talkative, silent, future_only = (CustomerFactory(workspace=workspace) for _ in range(3))
    InteractionFactory(
        customer=talkative, kind=InteractionKind.EMAIL, direction=Direction.INCOMING, occurred_at=ago(9)
    )
    InteractionFactory(customer=talkative, kind=InteractionKind.CALL, direction="", occurred_at=ago(3))
    InteractionFactory(
        customer=talkative, kind=InteractionKind.EMAIL, direction=Direction.OUTGOING, occurred_at=ago(1)
    )
    InteractionFactory(customer=silent, kind=InteractionKind.NOTE, direction="", occurred_at=ago(2))
    InteractionFactory(customer=future_only, kind=InteractionKind.MEETING, direction="", attended=True,
                       occurred_at=ago(-3))  # fmt: skip
    customers = [talkative, silent, future_only]
    for customer in customers:
        customer.last_contact_at = ago(100)  # stale

    customers_refresh_last_contact(customers=customers)
    for customer in customers:
        expected = customer_last_contact(customer=customer)
        assert customer.last_contact_at == expected
        customer.refresh_from_db()
        assert customer.last_contact_at == expected
    assert talkative.last_contact_at is not None and silent.last_contact_at is None
    assert future_only.last_contact_at is None
