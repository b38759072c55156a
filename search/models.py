"""The header search's own index: one denormalised row per customer, contact and agreement.

The rows are rebuilt by `search.services.search_index_pass` (beat, every 15 minutes) from the source rows'
`updated_at`; they are never written by the customer, contact or agreement services. On PostgreSQL the
migrations add a generated `vector` column (tsvector of the unaccented search text) with a GIN index on
(workspace, kind, vector), a trigram index on `search_text` (substring matches: CJK, digits) and one on
`SearchWord.word` (typos); the ORM does not know those columns and indexes, `search.selectors` queries
them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Kind(models.TextChoices):
    CUSTOMER = "customer", "Customers"
    CONTACT = "contact", "Contacts"
    AGREEMENT = "agreement", "Agreements"


class SearchEntry(models.Model):
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_id = models.PositiveBigIntegerField()
    # The customer page every result opens (a contact's or an agreement's customer).
    customer_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=300)
    subtitle = models.CharField(max_length=500, blank=True)
    # Lowercase, accent-free words (see search.text.normalise), each field also split on punctuation so
    # that "acme" finds "jane@acme.com" on every database.
    search_text = models.TextField()
    source_updated_at = models.DateTimeField()
    indexed_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "title", "object_id"]
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="search_entry_unique")]
        indexes = [models.Index(fields=["workspace", "kind", "title"])]
        verbose_name_plural = "search entries"

    def __str__(self) -> str:
        return f"{self.kind} #{self.object_id}: {self.title}"


class SearchWord(models.Model):
    """A distinct word of a workspace's index, letters only: where a misspelt query word is corrected.

    Trigram similarity against these few thousand short words is cheap, where the same comparison
    against every entry's whole text rechecked thousands of rows. The index pass adds the words of the
    entries it writes; the full pass also drops the words no entry holds any more."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    word = models.CharField(max_length=60)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "word"], name="search_word_unique")]

    def __str__(self) -> str:
        return self.word


class SearchIndexState(models.Model):
    """The one row (pk=1) a pass claims with a conditional UPDATE, so two passes never overlap."""

    running_since = models.DateTimeField(null=True, blank=True)
    # Source rows whose updated_at is at or after this are (re)indexed by the next pass.
    watermark = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "search index state"

    def __str__(self) -> str:
        return f"Search index (last pass {self.last_finished_at or 'never'})"


class ReindexRequest(models.Model):
    """An Admin's "Reindex now": the next pass rebuilds this workspace's entries in full."""

    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Reindex of workspace {self.workspace_id} ({'done' if self.done_at else 'pending'})"
