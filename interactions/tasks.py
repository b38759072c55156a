from celery import shared_task

from .services import last_contacts_refresh_recent


@shared_task
def refresh_recent_last_contacts() -> int:
    return last_contacts_refresh_recent()
