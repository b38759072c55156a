"""Reads of agreements for the pages; access checks stay in workspaces.access."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer
from workspaces.access import get_editable_or_404
from workspaces.models import Membership

from .models import Agreement, SkippedAgreement


def agreement_editable_or_404(*, membership: Membership | None, pk: int) -> Agreement:
    """An agreement of this workspace the user may change: 404 elsewhere, 403 on a customer they do not own."""
    return get_editable_or_404(
        membership, Agreement.objects.select_related("customer", "customer__workspace"), pk=pk
    )


def customer_agreements(*, customer: Customer) -> QuerySet[Agreement]:
    """The customer's agreements, newest start first (the model's ordering)."""
    return customer.agreements.all()


def customer_skipped_agreements(*, customer: Customer) -> QuerySet[SkippedAgreement]:
    """Contracts a source sent without a required field, with what was missing (FAQ: "Why are some MRR
    not present")."""
    return customer.skipped_agreements.all()
