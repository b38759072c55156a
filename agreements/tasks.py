from celery import shared_task

from .services import agreements_refresh_all


@shared_task
def refresh_agreement_statuses() -> int:
    return agreements_refresh_all()
