"""Interaction pages: log an email, meeting, call or note on a customer, change or remove it."""

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
from .forms import InteractionForm
from .models import Interaction


def _editable_interaction(request: HttpRequest, pk: int) -> Interaction:
    """404 outside the workspace, 403 on a customer the user does not own (see workspaces.access)."""
    return get_editable_or_404(
        request.membership,  # type: ignore[attr-defined]
        Interaction.objects.select_related("customer"),
        pk=pk,
    )


@workspace_view
def interaction_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = get_editable_or_404(request.membership, Customer, pk=customer_pk)  # type: ignore[attr-defined]
    form = InteractionForm(request.POST if request.method == "POST" else None, customer=customer)
    if form.is_bound and form.is_valid():
        try:
            interaction = services.interaction_create(
                customer=customer, actor=Actor.for_user(request.user), **form.interaction_fields()
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{interaction.get_kind_display()} added.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "interactions/form.html", {"form": form, "customer": customer, "interaction": None}
    )


@workspace_view
def interaction_edit(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _editable_interaction(request, pk)
    form = InteractionForm(
        request.POST if request.method == "POST" else None,
        customer=interaction.customer,
        initial=InteractionForm.initial_for(interaction),
    )
    if form.is_bound and form.is_valid():
        try:
            services.interaction_update(
                interaction=interaction, actor=Actor.for_user(request.user), **form.interaction_fields()
            )
        except ValidationError as error:
            apply_validation_error(form, error)
            interaction.refresh_from_db()
        else:
            messages.success(request, f"{interaction.get_kind_display()} saved.")
            return redirect("customers:detail", pk=interaction.customer_id)
    return render(
        request,
        "interactions/form.html",
        {"form": form, "customer": interaction.customer, "interaction": interaction},
    )


@workspace_view
@require_POST
def interaction_delete(request: HttpRequest, pk: int) -> HttpResponse:
    interaction = _editable_interaction(request, pk)
    customer_id, kind = interaction.customer_id, interaction.get_kind_display()
    services.interaction_delete(interaction=interaction, actor=Actor.for_user(request.user))
    messages.success(request, f"{kind} deleted.")
    return redirect("customers:detail", pk=customer_id)
