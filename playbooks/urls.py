from django.urls import path

from . import views

app_name = "playbooks"
urlpatterns = [
    path("", views.playbook_list, name="list"),
    path("new/", views.playbook_create, name="create"),
    path("<int:pk>/", views.playbook_detail, name="detail"),
    path("<int:pk>/edit/", views.playbook_edit, name="edit"),
    path("<int:pk>/enabled/", views.playbook_toggle, name="toggle"),
    path("<int:pk>/delete/", views.playbook_delete, name="delete"),
    path("<int:pk>/run/<int:customer_pk>/", views.playbook_run, name="run_manual"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("actions/", views.my_actions, name="my_actions"),
    path("tasks/new/<int:customer_pk>/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("tasks/<int:pk>/reopen/", views.task_reopen, name="task_reopen"),
]
