from __future__ import annotations

from typing import Any

from celery import shared_task

from .models import ReindexRequest
from .services import search_index_pass


@shared_task
def reindex_search(full: bool = False) -> dict[str, Any] | None:
    """Beat, every 15 minutes: the rows changed since the last pass. Returns None when a pass was running
    (the running pass, or the next beat, picks up whatever this one was for)."""
    result = search_index_pass(full=full)
    if result is not None and ReindexRequest.objects.filter(done_at__isnull=True).exists():
        # An Admin asked for a reindex while this pass ran: serve it now rather than in 15 minutes.
        reindex_search.delay()
    return result.as_dict() if result else None
