from django.urls import path

from . import views

app_name = "agreements"
urlpatterns = [
    path("customers/<int:customer_pk>/new/", views.agreement_create, name="create"),
    path("<int:pk>/edit/", views.agreement_edit, name="edit"),
    path("<int:pk>/delete/", views.agreement_delete, name="delete"),
]
