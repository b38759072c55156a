import datetime as dt

from django.utils import timezone


def later(minutes: int = 5) -> dt.datetime:
    """A pass run a few minutes after now, once the changes just logged have settled."""
    return timezone.now() + dt.timedelta(minutes=minutes)
