"""Agreement pages: add, change and remove a customer's contracts."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from customers.changes import Actor
from customers.models import Customer
from skalin.forms import apply_validation_error
from workspaces.access import get_editable_or_404, workspace_view

from . import services
from .forms import AgreementForm
from .models import Agreement
from .selectors import agreement_editable_or_404


def _label(agreement: Agreement) -> str:
    return agreement.plan_name or "The agreement"


@workspace_view
def agreement_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = get_editable_or_404(request.membership, Customer, pk=customer_pk)  # type: ignore[attr-defined]
    currency = customer.workspace.currency
    form = AgreementForm(request.POST if request.method == "POST" else None, currency=currency)
    if form.is_bound and form.is_valid():
        try:
            agreement = services.agreement_create(
                customer=customer, actor=Actor.for_user(request.user), **form.agreement_fields()
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{_label(agreement)} was added ({agreement.get_status_display()}).")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request,
        "agreements/form.html",
        {"form": form, "customer": customer, "agreement": None},
    )


@workspace_view
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = agreement_editable_or_404(membership=request.membership, pk=pk)  # type: ignore[attr-defined]
    form = AgreementForm(
        request.POST if request.method == "POST" else None,
        initial=AgreementForm.initial_for(agreement),
        currency=agreement.currency,
    )
    if form.is_bound and form.is_valid():
        try:
            services.agreement_update(
                agreement=agreement, actor=Actor.for_user(request.user), **form.agreement_fields()
            )
        except ValidationError as error:
            apply_validation_error(form, error)
            # The failed update may have left new values on the instance; show the stored ones.
            agreement.refresh_from_db()
        else:
            messages.success(request, f"{_label(agreement)} was saved ({agreement.get_status_display()}).")
            return redirect("customers:detail", pk=agreement.customer_id)
    return render(
        request,
        "agreements/form.html",
        {
            "form": form,
            "customer": agreement.customer,
            "agreement": agreement,
        },
    )


@workspace_view
@require_POST
def agreement_delete(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = agreement_editable_or_404(membership=request.membership, pk=pk)  # type: ignore[attr-defined]
    customer_id, label = agreement.customer_id, _label(agreement)
    services.agreement_delete(agreement=agreement, actor=Actor.for_user(request.user))
    messages.success(request, f"{label} was deleted.")
    return redirect("customers:detail", pk=customer_id)
