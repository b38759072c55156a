from django.urls import path

from . import views

app_name = "workspaces"
urlpatterns = [
    path("workspaces/switch/", views.switch, name="switch"),
    path("workspaces/none/", views.no_workspace, name="no_workspace"),
    path("settings/", views.settings_home, name="settings"),
    path("settings/users/", views.users, name="users"),
    path("settings/users/<int:membership_id>/role/", views.user_change_role, name="user_change_role"),
    path("settings/users/<int:membership_id>/remove/", views.user_remove, name="user_remove"),
    path("settings/general/", views.general, name="general"),
]
