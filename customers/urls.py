from django.urls import path

from . import import_views, settings_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/preview/", views.customer_preview, name="preview"),
    path("<int:pk>/history/", views.customer_history, name="history"),
    path("<int:pk>/pulse/", views.customer_pulse, name="pulse"),
    path("<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("import/", import_views.import_page, name="import"),
    path("import/sample-<str:kind>.csv", import_views.import_sample, name="import_sample"),
    path("settings/phases/", settings_views.phases, name="phases"),
    path("settings/phases/<int:pk>/<str:action>/", settings_views.phase_action, name="phase_action"),
    path("settings/custom-fields/", settings_views.custom_fields, name="custom_fields"),
    path("settings/custom-fields/<int:pk>/delete/", settings_views.custom_field_delete, name="custom_field_delete"),
]
