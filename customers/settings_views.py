"""Settings > Phases and Settings > General > Custom fields. (Stub: being written.)"""

from django.http import HttpRequest, HttpResponse

from workspaces.access import settings_view


@settings_view
def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("todo")


phases = phase_action = custom_fields = custom_field_delete = _todo
