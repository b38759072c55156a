"""Settings > Health (profile weights, computing now, usage credentials), the customer section's chart
swap and the list of dropping customers."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from customers.models import Customer, HealthProfile
from skalin.forms import apply_validation_error
from workspaces.access import get_visible_or_404, settings_view, workspace_view
from workspaces.models import Membership

from . import selectors, services
from .forms import CredentialForm, ProfileForm, ProfileRenameForm, WeightsForm
from .models import FACTORS, HealthRun, UsageCredential
from .tasks import compute_health_run


def _membership(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _profiles_page(
    request: HttpRequest,
    *,
    status: int = 200,
    bad: tuple[str, WeightsForm] | None = None,
    new_form: ProfileForm | None = None,
) -> HttpResponse:
    membership = _membership(request)
    rows = []
    for row in selectors.profile_rows(membership):
        key = str(row.profile.pk) if row.profile else "default"
        form = bad[1] if bad and bad[0] == key else WeightsForm(initial=row.weights, prefix=f"w{key}")
        rows.append({"row": row, "key": key, "form": form})
    runs = selectors.recent_runs(membership)
    return render(
        request,
        "healthscore/profiles.html",
        {
            "rows": rows,
            "factors": FACTORS,
            "runs": runs,
            "new_form": new_form
            or ProfileForm(initial=services.weights_default(workspace_id=membership.workspace_id)),
            "running": next((run for run in runs if run.status == HealthRun.Status.RUNNING), None),
            "nav": "settings",
            "settings_tab": "health",
            "health_tab": "profiles",
        },
        status=status,
    )


@settings_view
def profiles(request: HttpRequest) -> HttpResponse:
    return _profiles_page(request)


@settings_view
@require_POST
def weights_edit(request: HttpRequest, profile: str) -> HttpResponse:
    membership = _membership(request)
    target: HealthProfile | None = None
    if profile != "default":
        target = get_visible_or_404(membership, HealthProfile, pk=int(profile) if profile.isdigit() else 0)
    name = f"profile '{target.name}'" if target else "the default weighting"
    if target is not None and request.POST.get("action") == "reset":
        services.weights_reset(workspace_id=membership.workspace_id, profile=target)
        messages.success(request, f"The {name} now uses the default weighting.")
        return redirect("healthscore:profiles")
    form = WeightsForm(request.POST, prefix=f"w{profile}")
    if form.is_valid():
        try:
            services.weights_set(
                workspace_id=membership.workspace_id,
                profile=target,
                values={f: form.cleaned_data[f] for f in FACTORS},
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(
                request,
                f"Weights of {name} saved; they apply from the next computation (Sunday night or Compute now).",
            )
            return redirect("healthscore:profiles")
    return _profiles_page(request, status=400, bad=(profile, form))


@settings_view
@require_POST
def profile_create(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            profile = services.profile_create(
                workspace_id=membership.workspace_id,
                name=form.cleaned_data["name"],
                values={f: form.cleaned_data[f] for f in FACTORS},
            )
        except ValidationError as error:
            apply_validation_error(form, error)
        else:
            messages.success(request, f"Profile '{profile.name}' added; give it to customers on their page.")
            return redirect("healthscore:profiles")
    return _profiles_page(request, status=400, new_form=form)


@settings_view
@require_POST
def profile_rename(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_visible_or_404(_membership(request), HealthProfile, pk=pk)
    form = ProfileRenameForm(request.POST)
    old = profile.name
    try:
        if not form.is_valid():
            raise ValidationError("A profile needs a name (80 characters at most).")
        services.profile_rename(profile=profile, name=form.cleaned_data["name"])
    except ValidationError as error:
        messages.error(request, f"'{old}' was not renamed: {' '.join(error.messages)}")
    else:
        messages.success(request, f"'{old}' is now '{profile.name}'.")
    return redirect("healthscore:profiles")


@settings_view
@require_POST
def profile_delete(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_visible_or_404(_membership(request), HealthProfile, pk=pk)
    try:
        services.profile_delete(profile=profile)
    except ValidationError as error:
        messages.error(request, f"'{profile.name}' was not removed: {' '.join(error.messages)}")
    else:
        messages.success(request, f"Profile '{profile.name}' removed.")
    return redirect("healthscore:profiles")


@settings_view
@require_POST
def compute_now(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    try:
        run = services.health_run_claim(
            workspace_id=membership.workspace_id, trigger=HealthRun.Trigger.MANUAL, user=request.user
        )
    except services.RunAlreadyGoing as going:
        messages.info(request, f"{going} Its results will show here when it ends.")
    else:
        transaction.on_commit(lambda: compute_health_run.delay(run.pk))
        messages.success(
            request, "Health scores are being computed for this week; reload this page in a minute."
        )
    return redirect("healthscore:profiles")


@settings_view
def credentials(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = CredentialForm(request.POST or None)
    token = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            credential, token = services.usage_credential_create(
                workspace_id=membership.workspace_id, name=form.cleaned_data["name"], user=request.user
            )
            form = CredentialForm()
            status = 201
        else:
            status = 400
    return render(
        request,
        "healthscore/credentials.html",
        {
            "form": form,
            "token": token,
            "credentials": selectors.credentials(membership),
            "endpoint": request.build_absolute_uri(reverse("healthscore:events")),
            "nav": "settings",
            "settings_tab": "health",
            "health_tab": "usage",
        },
        status=status,
    )


@settings_view
@require_POST
def credential_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_visible_or_404(_membership(request), UsageCredential, pk=pk)
    services.usage_credential_revoke(credential=credential)
    messages.success(request, f"'{credential.name}' is revoked: events sent with it are now refused (401).")
    return redirect("healthscore:credentials")


@workspace_view
@require_GET
def customer_section(request: HttpRequest, pk: int) -> HttpResponse:
    """The chart swapped between 12 weeks and 12 months (the whole page without htmx)."""
    customer = get_visible_or_404(_membership(request), Customer, pk=pk)
    period = request.GET.get("period", "weeks")
    if not getattr(request, "htmx", False):
        return redirect(f"{reverse('customers:detail', args=[customer.pk])}?health={period}#health")
    response = render(
        request,
        "healthscore/_customer_health.html#health_chart",
        {"health": selectors.customer_health(customer, period=period)},
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@workspace_view
def dropping(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    page = Paginator(selectors.dropping_scores(membership), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "healthscore/dropping.html",
        {"page_obj": page, "week": selectors.latest_week(membership.workspace_id), "nav": "customers"},
    )
