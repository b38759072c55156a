from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("version/", views.version, name="version"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            post_reset_login=False, success_url="/accounts/login/?welcome=1"
        ),
        name="password_reset_confirm",
    ),
    path("", include("workspaces.urls")),
    path("customers/", include("customers.urls")),
    path("agreements/", include("agreements.urls")),
    path("interactions/", include("interactions.urls")),
    path("settings/integrations/migrate/", include("crm_migration.urls")),
    path("settings/integrations/", include("integrations.urls")),
    path("health/", include("healthscore.urls")),
    path("playbooks/", include("playbooks.urls")),
    path("search/", include("search.urls")),
    path("reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
]

# Always routed so tests can switch it on; every sandbox view answers 404 unless SANDBOX_ENABLED.
urlpatterns.append(path("sandbox/", include("sandbox.urls")))

handler403 = "skalin.views.permission_denied"
handler404 = "skalin.views.page_not_found"
