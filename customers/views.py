"""Customer pages. (Stub: being written.)"""

from django.http import HttpRequest, HttpResponse

from workspaces.access import workspace_view


@workspace_view
def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("todo")


customer_list = customer_create = customer_detail = customer_edit = customer_preview = _todo
customer_history = customer_pulse = contact_create = contact_edit = contact_delete = _todo
