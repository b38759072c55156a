import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skalin.settings")

app = Celery("skalin")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit list, no autodiscovery by import order.
app.autodiscover_tasks(
    lambda: ["agreements", "interactions", "integrations", "healthscore", "playbooks", "search", "reports"]
)
