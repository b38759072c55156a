"""(Stub: being written.)"""

from django.http import HttpRequest, HttpResponse

from workspaces.access import workspace_view


@workspace_view
def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("todo")


interaction_create = interaction_edit = interaction_delete = _todo
