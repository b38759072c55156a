from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from skalin.forms import apply_validation_error

from . import services
from .access import get_visible_or_404, settings_view, visible
from .forms import GeneralForm, InviteForm, RoleForm
from .middleware import SESSION_KEY
from .models import Membership


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("workspace", "")
    membership = (
        Membership.objects.filter(user_id=int(request.user.pk or 0), workspace_id=int(wanted)).first()
        if wanted.isdigit()
        else None
    )
    if membership is None:
        messages.error(request, "You are not a member of that workspace.")
    else:
        request.session[SESSION_KEY] = membership.workspace_id
        messages.success(request, f"Now in {membership.workspace}.")
    return redirect("home")


@login_required
def no_workspace(request: HttpRequest) -> HttpResponse:
    return render(request, "workspaces/no_workspace.html")


@settings_view
def settings_home(request: HttpRequest) -> HttpResponse:
    return redirect("workspaces:general")


@settings_view
def users(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = InviteForm(request.POST or None)
    invite_link = None
    if request.method == "POST" and form.is_valid():
        try:
            membership, link = services.membership_invite(workspace=workspace, **form.cleaned_data)
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(
                request, f"{membership.user.email} joined {workspace} as {membership.get_role_display()}."
            )
            if link:
                invite_link = request.build_absolute_uri(link)
            form = InviteForm()
    members = visible(request.membership, Membership).select_related("user")  # type: ignore[attr-defined]
    return render(
        request,
        "workspaces/users.html",
        {
            "form": form,
            "members": members,
            "invite_link": invite_link,
            "role_form": RoleForm(),
            "nav": "settings",
            "settings_tab": "users",
        },
    )


@settings_view
@require_POST
def user_change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_visible_or_404(request.membership, Membership, pk=membership_id)  # type: ignore[attr-defined]
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"])
            messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    else:
        messages.error(request, "Choose Admin, Manager or CSM.")
    return redirect("workspaces:users")


@settings_view
@require_POST
def user_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_visible_or_404(request.membership, Membership, pk=membership_id)  # type: ignore[attr-defined]
    try:
        services.membership_remove(membership=membership)
        messages.success(request, f"{membership.user.email} was removed from the workspace.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("workspaces:users")


@settings_view
def general(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    initial = {
        "email_domains": ", ".join(services.workspace_default_domains(workspace=workspace)),
        "currency": workspace.currency,
        "amount_display": workspace.amount_display,
    }
    form = GeneralForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update_general(
                workspace=workspace,
                email_domains=form.cleaned_data["email_domains"].split(","),
                currency=form.cleaned_data["currency"],
                amount_display=form.cleaned_data["amount_display"],
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("workspaces:general")
    return render(
        request, "workspaces/general.html", {"form": form, "nav": "settings", "settings_tab": "general"}
    )
