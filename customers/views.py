"""The customer pages CSMs live in: the list, the quick preview, the customer page, its history and forms."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from integrations.tasks import push_customer_scores
from skalin.forms import apply_validation_error
from workspaces.access import can_edit, get_editable_or_404, get_visible_or_404, workspace_view
from workspaces.models import Membership, Role

from . import selectors, services
from .changes import Actor
from .forms import ContactForm, CustomerFilterForm, CustomerForm, PulseForm
from .models import Contact, Customer, CustomField

PAGE_SIZE = 50
INTERACTIONS_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 50

# (sort key, heading, css class, first direction when clicked): money reads best largest first.
LIST_COLUMNS = [
    ("name", "Name", "", ""),
    ("owner", "Owner", "", ""),
    ("stage", "Stage", "", ""),
    ("mrr", None, "num", "-"),
    ("renewal", "Renewal", "", ""),
    ("last_contact", "Last contact", "", ""),
]


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _wants_partial(request: HttpRequest) -> bool:
    """An htmx swap gets the fragment; a history restore (back button, cache miss) needs the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


def _sort_columns(sort: str, amount_heading: str) -> list[dict[str, Any]]:
    columns = []
    for key, heading, css, first in LIST_COLUMNS:
        direction = "ascending" if sort == key else "descending" if sort == f"-{key}" else ""
        next_sort = {"ascending": f"-{key}", "descending": key}.get(direction, f"{first}{key}")
        columns.append(
            {
                "key": key,
                "heading": heading or amount_heading,
                "css": css,
                "aria_sort": direction,
                "next": next_sort,
            }
        )
    return columns


@workspace_view
def customer_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    filter_form = CustomerFilterForm(request.GET, membership=membership)
    sort = filter_form.sort_order()
    customers = selectors.customer_list(
        membership=membership, search=filter_form.search_text(), filters=filter_form.filters(), sort=sort
    )
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    amount_heading = f"Active {'ARR' if membership.workspace.amount_display == 'arr' else 'MRR'}"
    context = {
        "filter_form": filter_form,
        "page_obj": page,
        "customers": page.object_list,
        "columns": _sort_columns(sort, amount_heading),
        "sort": sort,
        "nav": "customers",
    }
    template = "customers/list.html#results" if _wants_partial(request) else "customers/list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@workspace_view
def customer_preview(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_visible_or_404(membership, selectors.customer_for_page(membership), pk=pk)
    if not _wants_partial(request):
        return redirect("customers:detail", pk=customer.pk)
    response = render(
        request,
        "customers/preview.html",
        {"customer": customer, "sources": selectors.customer_sources(customer)},
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _custom_value_rows(membership: Membership, target: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(field.label, values.get(field.key)) for field in selectors.custom_fields(membership, target)]


def _detail_context(request: HttpRequest, customer: Customer, *, pulse_form: PulseForm | None = None) -> dict:
    membership = _membership(request)
    editable = can_edit(membership, customer)
    interactions = Paginator(selectors.customer_interactions(customer), INTERACTIONS_PAGE_SIZE).get_page(
        request.GET.get("interactions")
    )
    return {
        "customer": customer,
        "can_edit": editable,
        "tags": list(customer.tags.all()),
        "team_members": list(customer.team_members.all()),
        "children": selectors.customer_children(customer),
        "custom_values": _custom_value_rows(membership, CustomField.Target.CUSTOMER, customer.custom_values),
        "contacts": selectors.customer_contacts(customer),
        "agreements": selectors.customer_agreements(customer),
        "skipped_agreements": selectors.customer_skipped_agreements(customer),
        "interactions": interactions,
        "sources": selectors.customer_sources(customer),
        "pulse_form": pulse_form
        or (
            PulseForm(initial={"pulse": customer.csm_pulse, "note": customer.csm_pulse_note})
            if editable
            else None
        ),
        "nav": "customers",
    }


@workspace_view
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_visible_or_404(membership, selectors.customer_for_page(membership), pk=pk)
    context = _detail_context(request, customer)
    if _wants_partial(request) and "interactions" in request.GET:
        response = render(request, "customers/detail.html#interaction_items", context)
    else:
        response = render(request, "customers/detail.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@workspace_view
@require_POST
def customer_pulse(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_editable_or_404(membership, selectors.customer_for_page(membership), pk=pk)
    form = PulseForm(request.POST)
    if form.is_valid():
        try:
            services.customer_set_pulse(
                customer=customer,
                actor=Actor.for_user(request.user),
                pulse=form.cleaned_data["pulse"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            # The CRM gets the new Pulse now, not at the next hourly run.
            transaction.on_commit(lambda: push_customer_scores.delay(customer.pk))
            messages.success(request, f"CSM Pulse of {customer} set to {customer.csm_pulse}.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "customers/detail.html", _detail_context(request, customer, pulse_form=form), status=400
    )


@workspace_view
def customer_history(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_visible_or_404(membership, Customer, pk=pk)
    page = Paginator(selectors.customer_history(customer), HISTORY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "customers/history.html",
        {
            "customer": customer,
            "page_obj": page,
            "changes": page.object_list,
            "provenance": selectors.customer_provenance(customer),
            "nav": "customers",
        },
    )


def _customer_fields(form: CustomerForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "domain": data["domain"],
        "ref_id": data["ref_id"],
        "owner": data["owner"],
        "phase": data["phase"],
        "health_profile": data["health_profile"],
        "parent": data["parent"],
        "team_members": list(data["team_members"]),
    }


@workspace_view
def customer_create(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    workspace = membership.workspace
    default_phase = services.phase_default(workspace=workspace)
    initial = {
        # A CSM creates customers for their own book; Admins and Managers assign them.
        "owner": request.user.pk if membership.role == Role.CSM else None,
        "phase": default_phase.pk if default_phase else None,
    }
    form = CustomerForm(request.POST or None, membership=membership, initial=initial)
    if request.method == "POST" and form.is_valid():
        custom_values = {k: v for k, v in form.cleaned_data["custom_values"].items() if v is not None}
        try:
            with transaction.atomic():
                tags = services.tags_get_or_create(workspace=workspace, names=form.cleaned_data["tags"])
                customer = services.customer_create(
                    workspace=workspace,
                    actor=Actor.for_user(request.user),
                    tags=tags,
                    custom_values=custom_values,
                    **_customer_fields(form),
                )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{customer} was created.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "customers/customer_form.html", {"form": form, "customer": None, "nav": "customers"}
    )


@workspace_view
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_editable_or_404(
        membership,
        selectors.customer_for_page(membership).prefetch_related("tags", "team_members"),
        pk=pk,
    )
    form = CustomerForm(request.POST or None, membership=membership, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                tags = services.tags_get_or_create(
                    workspace=customer.workspace, names=form.cleaned_data["tags"]
                )
                services.customer_update(
                    customer=customer,
                    actor=Actor.for_user(request.user),
                    tags=tags,
                    custom_values=form.cleaned_data["custom_values"],
                    **_customer_fields(form),
                )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{customer} was saved.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "customers/customer_form.html", {"form": form, "customer": customer, "nav": "customers"}
    )


def _contact_fields(form: ContactForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        key: data[key]
        for key in (
            "first_name",
            "last_name",
            "email",
            "secondary_emails",
            "phone",
            "title",
            "ref_id",
            "role_tags",
        )
    }


@workspace_view
def contact_create(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    customer = get_editable_or_404(membership, Customer, pk=pk)
    form = ContactForm(request.POST or None, membership=membership)
    if request.method == "POST" and form.is_valid():
        custom_values = {k: v for k, v in form.cleaned_data["custom_values"].items() if v is not None}
        try:
            contact = services.contact_create(
                customer=customer,
                actor=Actor.for_user(request.user),
                custom_values=custom_values,
                **_contact_fields(form),
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{contact} was added to {customer}.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request,
        "customers/contact_form.html",
        {"form": form, "customer": customer, "contact": None, "nav": "customers"},
    )


def _merged_custom_values(stored: dict[str, Any], edited: dict[str, Any]) -> dict[str, Any]:
    """The form's values over the stored ones: keys of removed custom fields are kept, blanked ones go."""
    return {key: value for key, value in {**stored, **edited}.items() if value is not None}


@workspace_view
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    contact = get_editable_or_404(membership, Contact.objects.select_related("customer"), pk=pk)
    form = ContactForm(request.POST or None, membership=membership, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                contact=contact,
                actor=Actor.for_user(request.user),
                custom_values=_merged_custom_values(
                    contact.custom_values, form.cleaned_data["custom_values"]
                ),
                **_contact_fields(form),
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{contact} was saved.")
            return redirect("customers:detail", pk=contact.customer_id)
    return render(
        request,
        "customers/contact_form.html",
        {"form": form, "customer": contact.customer, "contact": contact, "nav": "customers"},
    )


@workspace_view
@require_POST
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    contact = get_editable_or_404(membership, Contact.objects.select_related("customer"), pk=pk)
    customer_id, name = contact.customer_id, str(contact)
    services.contact_delete(contact=contact, actor=Actor.for_user(request.user))
    messages.success(request, f"{name} was removed.")
    return redirect("customers:detail", pk=customer_id)
