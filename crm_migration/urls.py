from django.urls import path

from . import views

app_name = "crm_migration"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/old-id/", views.old_id_status, name="old_id_status"),
    path("<int:pk>/validation/<str:step>/", views.validation, name="validation"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
]
