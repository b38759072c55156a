from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("import/", views.customer_list, name="import"),
    path("settings/phases/", views.customer_list, name="phases"),
    path("settings/custom-fields/", views.customer_list, name="custom_fields"),
]
