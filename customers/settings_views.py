"""Settings > Phases and Settings > Custom fields: Admins change them, Managers read them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from skalin.forms import apply_validation_error
from workspaces.access import get_visible_or_404, settings_view, visible

from . import services
from .models import CustomField, Phase
from .settings_forms import CustomFieldForm, PhaseForm, PhaseRenameForm


@settings_view
def phases(request: HttpRequest) -> HttpResponse:
    """The phases in order; a POST adds one."""
    form = PhaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            phase = services.phase_create(
                workspace=request.workspace,  # type: ignore[attr-defined]
                technical_name=form.cleaned_data["technical_name"],
                label=form.cleaned_data["label"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"Phase '{phase.label}' added.")
            return redirect("customers:phases")
    rows = visible(request.membership, Phase).annotate(customer_count=Count("customers"))  # type: ignore[attr-defined]
    return render(
        request,
        "customers/phases.html",
        {"phases": rows, "form": form, "nav": "settings", "settings_tab": "phases"},
    )


def _phase_rename(request: HttpRequest, phase: Phase) -> None:
    form = PhaseRenameForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, f"'{phase.label}' was not renamed: a phase needs a label (80 characters at most)."
        )
        return
    old = phase.label
    services.phase_rename(phase=phase, label=form.cleaned_data["label"])
    messages.success(request, f"'{old}' is now '{phase.label}'.")


def _phase_up(request: HttpRequest, phase: Phase) -> None:
    services.phase_move(phase=phase, offset=-1)


def _phase_down(request: HttpRequest, phase: Phase) -> None:
    services.phase_move(phase=phase, offset=1)


def _phase_default(request: HttpRequest, phase: Phase) -> None:
    services.phase_set_default(phase=phase)
    messages.success(request, f"New customers whose phase is unknown now start in '{phase.label}'.")


def _phase_delete(request: HttpRequest, phase: Phase) -> None:
    label = phase.label
    services.phase_delete(phase=phase)
    messages.success(request, f"Phase '{label}' removed.")


PHASE_ACTIONS = {
    "rename": _phase_rename,
    "up": _phase_up,
    "down": _phase_down,
    "default": _phase_default,
    "delete": _phase_delete,
}


@settings_view
@require_POST
def phase_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    handle = PHASE_ACTIONS.get(action)
    if handle is None:
        raise Http404("No such action.")
    phase = get_visible_or_404(request.membership, Phase, pk=pk)  # type: ignore[attr-defined]
    try:
        handle(request, phase)
    except ValidationError as error:
        messages.error(request, f"'{phase.label}': {' '.join(error.messages)}")
    return redirect("customers:phases")


@settings_view
def custom_fields(request: HttpRequest) -> HttpResponse:
    """The customer and contact custom fields; a POST adds one."""
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            field = services.custom_field_create(
                workspace=request.workspace,  # type: ignore[attr-defined]
                target=form.cleaned_data["target"],
                key=form.cleaned_data["key"],
                label=form.cleaned_data["label"],
                type=form.cleaned_data["type"],
                choices=form.cleaned_data["choices"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"{field.get_target_display()} field '{field.label}' added.")
            return redirect("customers:custom_fields")
    fields = list(visible(request.membership, CustomField))  # type: ignore[attr-defined]
    return render(
        request,
        "customers/custom_fields.html",
        {
            "form": form,
            "groups": [
                (label, [field for field in fields if field.target == target])
                for target, label in CustomField.Target.choices
            ],
            "nav": "settings",
            "settings_tab": "custom_fields",
        },
    )


@settings_view
@require_POST
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_visible_or_404(request.membership, CustomField, pk=pk)  # type: ignore[attr-defined]
    # The values stay in each customer's / contact's custom_values JSON: re-creating the field with the
    # same technical name brings them back.
    field.delete()
    messages.success(
        request,
        f"Field '{field.label}' removed. Values already stored are kept and reappear if a field with the "
        f"technical name '{field.key}' is created again.",
    )
    return redirect("customers:custom_fields")
