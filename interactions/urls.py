from django.urls import path

from . import views

app_name = "interactions"
urlpatterns = [
    path("customers/<int:customer_pk>/new/", views.interaction_create, name="create"),
    path("<int:pk>/edit/", views.interaction_edit, name="edit"),
    path("<int:pk>/delete/", views.interaction_delete, name="delete"),
]
