from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect("customers:list")


@never_cache
def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"version": settings.APP_VERSION})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """POST only, and the whole session goes (workspace choice included)."""
    logout(request)
    request.session.flush()
    response = redirect("login")
    response.delete_cookie(settings.SESSION_COOKIE_NAME)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form left open too long (or from before a logout): explain, offer a way back, never loop."""
    return render(request, "errors/stale_form.html", {"reason": reason}, status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You do not have access to this."
    return render(request, "errors/403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)
