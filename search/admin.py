from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ReindexRequest, SearchEntry, SearchIndexState, SearchWord
from .tasks import reindex_search


@admin.register(SearchEntry)
class SearchEntryAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "subtitle", "workspace", "source_updated_at", "indexed_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["title", "search_text"]
    readonly_fields = [f.name for f in SearchEntry._meta.fields]


@admin.register(SearchWord)
class SearchWordAdmin(admin.ModelAdmin):
    """The dictionary of typo corrections, written by the index pass: read-only here."""

    list_display = ["word", "workspace"]
    list_filter = ["workspace"]
    search_fields = ["word"]
    readonly_fields = ["workspace", "word"]


@admin.register(SearchIndexState)
class SearchIndexStateAdmin(admin.ModelAdmin):
    list_display = ["pk", "running_since", "watermark", "last_finished_at", "last_full_at", "last_error"]
    actions = ["reindex_in_full"]

    @admin.action(description="Reindex everything now (queued)")
    def reindex_in_full(self, request: HttpRequest, queryset: QuerySet[SearchIndexState]) -> None:
        reindex_search.delay(full=True)
        self.message_user(request, "A full reindex is queued.", messages.SUCCESS)


@admin.register(ReindexRequest)
class ReindexRequestAdmin(admin.ModelAdmin):
    list_display = ["workspace", "requested_by", "requested_at", "done_at"]
    raw_id_fields = ["requested_by"]
