from django.urls import path

from . import api, views

app_name = "healthscore"
urlpatterns = [
    path("events/", api.events_endpoint, name="events"),
    path("dropping/", views.dropping, name="dropping"),
    path("customers/<int:pk>/", views.customer_section, name="customer_section"),
    path("settings/", views.profiles, name="profiles"),
    path("settings/weights/<str:profile>/", views.weights_edit, name="weights_edit"),
    path("settings/profiles/new/", views.profile_create, name="profile_create"),
    path("settings/profiles/<int:pk>/rename/", views.profile_rename, name="profile_rename"),
    path("settings/profiles/<int:pk>/delete/", views.profile_delete, name="profile_delete"),
    path("settings/compute/", views.compute_now, name="compute"),
    path("settings/usage/", views.credentials, name="credentials"),
    path("settings/usage/<int:pk>/revoke/", views.credential_revoke, name="credential_revoke"),
]
