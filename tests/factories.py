"""Factories for tests, the demo seed and the benchmark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from agreements.models import Agreement, AmountPeriod
from agreements.services import agreement_end, agreement_renewal, mrr_from_amount
from customers.models import Contact, Customer, Phase
from customers.services import phases_create_defaults
from interactions.models import Direction, Interaction, InteractionKind
from workspaces.models import Membership, Role, Workspace


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"user{n}@vendor.test")
    username = factory.SelfAttribute("email")
    password = factory.django.Password("correct horse battery staple")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    currency = "EUR"

    @factory.post_generation
    def phases(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            phases_create_defaults(workspace=obj)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CSM


def phase(workspace: Workspace, technical_name: str) -> Phase:
    return Phase.objects.get(workspace=workspace, technical_name=technical_name)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Customer {n:05d}")
    domain = factory.LazyAttribute(lambda o: f"{o.name.lower().replace(' ', '-')}.example")
    phase = factory.LazyAttribute(lambda o: phase(o.workspace, "run"))


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.SelfAttribute("customer.workspace")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@client.example")


class AgreementFactory(factory.django.DjangoModelFactory):
    """Builds a consistent agreement (derived dates and MRR) without going through the service."""

    class Meta:
        model = Agreement

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.SelfAttribute("customer.workspace")
    plan_name = "Business"
    amount = Decimal("1200.00")
    amount_period = AmountPeriod.ARR
    start_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    end_date = factory.LazyAttribute(lambda o: o.start_date + dt.timedelta(days=365))
    mrr = factory.LazyAttribute(lambda o: mrr_from_amount(o.amount, o.amount_period))
    ends_on = factory.LazyAttribute(
        lambda o: agreement_end(
            start_date=o.start_date,
            end_date=o.end_date,
            duration_value=o.duration_value,
            duration_unit=o.duration_unit,
        )
    )
    renews_on = factory.LazyAttribute(
        lambda o: agreement_renewal(
            ends_on=o.ends_on,
            tacit_renewal=o.tacit_renewal,
            notice_value=o.notice_value,
            notice_unit=o.notice_unit,
            notice_date=o.notice_date,
        )
    )
    duration_value = None
    duration_unit = ""
    notice_value = None
    notice_unit = ""
    notice_date = None
    tacit_renewal = False


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    workspace = factory.SelfAttribute("customer.workspace")
    kind = InteractionKind.EMAIL
    direction = Direction.INCOMING
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    subject = factory.Sequence(lambda n: f"Subject {n}")
