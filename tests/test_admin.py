"""Every model is in the Django admin, and its list page opens."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

OWN_APPS = {
    "workspaces", "customers", "agreements", "interactions", "integrations", "sandbox", "playbooks", "search",
    "reports", "healthscore", "crm_migration",
}


def test_every_model_of_ours_is_registered_in_the_admin():
    missing = [
        f"{model._meta.app_label}.{model.__name__}"
        for model in apps.get_models()
        if model._meta.app_label in OWN_APPS and model not in admin.site._registry
    ]
    assert missing == []


@pytest.mark.django_db
def test_every_admin_list_page_opens_for_a_superuser(client):
    user = UserFactory(email="root@skalin.test", is_staff=True, is_superuser=True)
    client.force_login(user)
    for model in admin.site._registry:
        if model._meta.app_label in OWN_APPS:
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            assert client.get(url).status_code == 200, url
