from django.urls import path

from .views import connections, oauth, run_undo, safety, wizard

app_name = "integrations"
urlpatterns = [
    path("", connections.integrations, name="list"),
    path("<str:crm>/connect/", oauth.connect, name="connect"),
    path("oauth/<str:crm>/callback/", oauth.oauth_callback, name="oauth_callback"),
    path("connections/<int:pk>/", connections.connection_detail, name="connection"),
    path("connections/<int:pk>/setup/", wizard.setup, name="setup"),
    path("connections/<int:pk>/setup/all/", wizard.setup_blocks, name="setup_blocks"),
    path("connections/<int:pk>/setup/<str:block>/", wizard.setup_block, name="setup_block"),
    path("connections/<int:pk>/sync/", connections.sync_now, name="sync_now"),
    path("connections/<int:pk>/push/", connections.push_now, name="push_now"),
    path("connections/<int:pk>/runs/<int:run_id>/", connections.run_detail, name="run"),
    path("connections/<int:pk>/why/", safety.why, name="why"),
    path("connections/<int:pk>/runs/<int:run_id>/apply/", connections.run_apply, name="run_apply"),
    path("connections/<int:pk>/runs/<int:run_id>/undo/", run_undo.run_undo, name="run_undo"),
    path(
        "connections/<int:pk>/runs/<int:run_id>/<str:decision>/",
        safety.decide,
        name="decide",
    ),
    path(
        "connections/<int:pk>/quarantine/<int:record_id>/retry/",
        connections.quarantine_retry,
        name="quarantine_retry",
    ),
    path("connections/<int:pk>/<str:action>/", connections.set_status, name="set_status"),
]
