"""(Stub: being written.)"""

from django.http import HttpRequest, HttpResponse

from workspaces.access import workspace_view


@workspace_view
def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("todo")


agreement_create = agreement_edit = agreement_delete = _todo
