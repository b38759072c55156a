"""CSV import pages. (Stub: being written.)"""

from django.http import HttpRequest, HttpResponse

from workspaces.access import workspace_view


@workspace_view
def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("todo")


import_page = import_sample = _todo
