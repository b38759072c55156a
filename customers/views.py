from django.http import HttpRequest, HttpResponse

from workspaces.access import workspace_view


@workspace_view
def customer_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("customers")
