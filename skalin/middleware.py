from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

VERSION_HEADER = "X-Skalin-Version"


class AppVersionMiddleware:
    """Stamps every response with the running version; static/app.js compares it with the version the
    tab was loaded with and offers a Reload (to that tab only) after a deploy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response[VERSION_HEADER] = settings.APP_VERSION
        return response
