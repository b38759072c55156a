"""The CSV import page and its sample files. The work is done by customers.imports."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from workspaces.access import workspace_view

from .imports import KINDS, ImportFileError, expected_columns, import_csv, sample_csv
from .settings_forms import ImportForm

IMPORT_REFUSED = "Only an Admin or a Manager can import files; ask one of them to run this import."


@workspace_view
def import_page(request: HttpRequest) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    can_import = membership.is_manager_or_admin
    if request.method == "POST" and not can_import:
        raise PermissionDenied(IMPORT_REFUSED)
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = import_csv(
                workspace=request.workspace,  # type: ignore[attr-defined]
                user=request.user,
                kind=form.cleaned_data["kind"],
                filename=upload.name,
                data=upload.read(),
            )
        except ImportFileError as error:
            form.add_error("file", str(error))
    return render(
        request,
        "customers/import.html",
        {
            "form": form,
            "result": result,
            "can_import": can_import,
            "refused": IMPORT_REFUSED,
            "columns": {
                kind: expected_columns(workspace=request.workspace, kind=kind)  # type: ignore[attr-defined]
                for kind in KINDS
            },
            "nav": "import",
        },
    )


@workspace_view
def import_sample(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in KINDS:
        raise Http404("No sample file of that kind.")
    body = sample_csv(
        workspace=request.workspace,  # type: ignore[attr-defined]
        kind=kind,
        owner_email=request.user.email,  # type: ignore[union-attr]
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="skalin-{kind}-sample.csv"'
    return response
