"""Playbook pages (everyone reads, Managers and Admins edit), runs, manual runs, and "My actions"."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from customers.models import Customer
from skalin.forms import apply_validation_error
from workspaces.access import can_edit, get_editable_or_404, get_visible_or_404, workspace_view
from workspaces.models import Membership

from . import selectors, services
from .forms import PlaybookForm, TaskForm, build_formsets
from .models import Playbook, PlaybookRun, Task

RUNS_PAGE_SIZE = 50
EDIT_REFUSED = "Only Managers and Admins can change playbooks; ask one of them to make the change."


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _require_editor(membership: Membership) -> None:
    if not membership.is_manager_or_admin:
        raise PermissionDenied(EDIT_REFUSED)


def _wants_partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


@workspace_view
def playbook_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    return render(
        request,
        "playbooks/list.html",
        {
            "playbooks": selectors.playbook_list(membership),
            "can_manage": membership.is_manager_or_admin,
            "nav": "playbooks",
        },
    )


@workspace_view
def playbook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    playbook = get_visible_or_404(membership, selectors.playbook_for_page(membership), pk=pk)
    runs = Paginator(selectors.playbook_runs(playbook), RUNS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "playbooks/detail.html",
        {
            "playbook": playbook,
            **selectors.playbook_rows(playbook),
            "preview": selectors.playbook_preview(playbook=playbook),
            "runs": runs,
            "can_manage": membership.is_manager_or_admin,
            "nav": "playbooks",
        },
    )


def _save(request: HttpRequest, playbook: Playbook | None) -> HttpResponse:
    membership = _membership(request)
    _require_editor(membership)
    workspace = membership.workspace
    data = request.POST if request.method == "POST" else None
    form = PlaybookForm(data, instance=playbook)
    conditions, actions = build_formsets(data=data, workspace=workspace, playbook=playbook)
    row_errors: dict[str, list[str]] = {"conditions": [], "actions": []}
    if data is not None:
        valid = form.is_valid() & conditions.is_valid() & actions.is_valid()
        if valid:
            try:
                result = services.playbook_save(
                    workspace=workspace,
                    user=request.user,
                    playbook=playbook,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    trigger=form.cleaned_data["trigger"],
                    trigger_days=form.cleaned_data["trigger_days"],
                    trigger_score=form.cleaned_data["trigger_score"],
                    conditions=[row.spec for row in conditions if row.spec is not None],
                    actions=[row.spec for row in actions if row.spec is not None],
                )
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for key in row_errors:
                        row_errors[key] = [str(m) for e in error.error_dict.pop(key, []) for m in e.messages]
                    if error.error_dict:
                        apply_validation_error(form, error)
                else:
                    apply_validation_error(form, error)
            else:
                saved = result.playbook
                if result.disabled_for_review:
                    messages.warning(
                        request,
                        f"“{saved}” was saved and disabled, since its trigger or conditions changed: "
                        "check who would enter it now, then enable it again.",
                    )
                elif saved.enabled:
                    messages.success(request, f"“{saved}” was saved.")
                else:
                    messages.success(
                        request,
                        f"“{saved}” was saved. It is disabled: check who would enter it, then enable it.",
                    )
                return redirect("playbooks:detail", pk=saved.pk)
    status = 400 if data is not None else 200
    return render(
        request,
        "playbooks/form.html",
        {
            "form": form,
            "conditions": conditions,
            "actions": actions,
            "row_errors": row_errors,
            "playbook": playbook,
            "nav": "playbooks",
        },
        status=status,
    )


@workspace_view
def playbook_create(request: HttpRequest) -> HttpResponse:
    return _save(request, None)


@workspace_view
def playbook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    playbook = get_visible_or_404(_membership(request), Playbook, pk=pk)
    return _save(request, playbook)


@workspace_view
@require_POST
def playbook_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    playbook = get_visible_or_404(membership, Playbook, pk=pk)
    _require_editor(membership)
    enable = request.POST.get("enabled") == "1"
    try:
        services.playbook_set_enabled(playbook=playbook, enabled=enable)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{playbook}” is {'enabled' if enable else 'disabled'}.")
    return redirect("playbooks:detail", pk=playbook.pk)


@workspace_view
@require_POST
def playbook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    playbook = get_visible_or_404(membership, Playbook, pk=pk)
    _require_editor(membership)
    name = playbook.name
    services.playbook_delete(playbook=playbook)
    messages.success(request, f"“{name}” was deleted. The change history still names its runs.")
    return redirect("playbooks:list")


@workspace_view
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    run = get_visible_or_404(membership, selectors.run_for_page(membership), pk=pk)
    return render(
        request,
        "playbooks/run.html",
        {"run": run, "tasks": list(run.tasks.select_related("assignee")), "nav": "playbooks"},
    )


def _back_to_customer(request: HttpRequest, customer: Customer) -> HttpResponse:
    return redirect("customers:detail", pk=customer.pk)


@workspace_view
@require_POST
def playbook_run(request: HttpRequest, pk: int, customer_pk: int) -> HttpResponse:
    """Run a manual playbook on a customer: its owner CSM, a Manager or an Admin."""
    membership = _membership(request)
    playbook = get_visible_or_404(membership, Playbook, pk=pk)
    customer = get_visible_or_404(membership, Customer, pk=customer_pk)
    if not can_edit(membership, customer):
        raise PermissionDenied(
            "A CSM runs playbooks on the customers they own; ask the owner, a Manager or an Admin."
        )
    try:
        outcome = services.playbook_run_manual(
            playbook=playbook, customer=customer, user=request.user, token=request.POST.get("token", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _back_to_customer(request, customer)
    run = outcome.run
    if not outcome.created:
        messages.info(request, f"“{playbook}” already ran on {customer} for this click (run #{run.pk}).")
    elif run.status == "done":
        messages.success(request, f"“{playbook}” ran on {customer}: {_summary(run)}")
    else:
        messages.warning(request, f"“{playbook}” ran on {customer} with problems: {_summary(run)}")
    return _back_to_customer(request, customer)


def _summary(run: PlaybookRun) -> str:
    return " ".join(result["detail"] for result in run.results) or "nothing to do."


# ---- My actions ---------------------------------------------------------------------------------------


@workspace_view
def my_actions(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    return render(
        request,
        "playbooks/my_actions.html",
        {
            "tasks": list(selectors.my_open_tasks(membership)),
            "done_tasks": list(selectors.my_recently_done_tasks(membership)[:50]),
            "nav": "actions",
        },
    )


def _task_for_change(request: HttpRequest, pk: int) -> Task:
    """A task is changed by its assignee, or by whoever may edit its customer."""
    membership = _membership(request)
    task = get_visible_or_404(membership, Task.objects.select_related("customer"), pk=pk)
    if task.assignee_id != request.user.pk and not can_edit(membership, task):
        raise PermissionDenied(
            "Only the task's assignee, the customer's owner, a Manager or an Admin can change it."
        )
    return task


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@workspace_view
@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_for_change(request, pk)
    services.task_complete(task=task, user=request.user)
    if _wants_partial(request):
        return render(request, "playbooks/my_actions.html#task_done_row", {"task": task})
    messages.success(request, f"“{task.title}” is done.")
    return redirect(_safe_next(request, reverse("playbooks:my_actions")))


@workspace_view
@require_POST
def task_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_for_change(request, pk)
    services.task_reopen(task=task)
    messages.success(request, f"“{task.title}” is open again.")
    return redirect(_safe_next(request, reverse("playbooks:my_actions")))


@workspace_view
def task_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    """A task a user gives themselves on a customer they may edit."""
    membership = _membership(request)
    customer = get_editable_or_404(membership, Customer, pk=customer_pk)
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_create(
                customer=customer,
                user=request.user,
                title=form.cleaned_data["title"],
                due_on=form.cleaned_data["due_on"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"Task added on {customer}; it is on your “My actions” page.")
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request,
        "playbooks/task_form.html",
        {"form": form, "customer": customer, "nav": "actions"},
        status=400 if request.method == "POST" else 200,
    )


def new_run_token() -> str:
    return secrets.token_urlsafe(16)
