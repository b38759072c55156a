"""Building the search index: a pass (beat, every 15 minutes) re-reads the rows changed since the last one.

A pass claims the state row with a conditional UPDATE (never two at once; a claim older than
STALE_CLAIM is taken over, since a killed worker cannot release it). It indexes customers, contacts and
agreements whose `updated_at` is at or after the previous pass's start minus OVERLAP (a transaction that
committed late is still seen; indexing a row twice costs a read: an entry equal to the stored one is not
written again), then drops entries whose row is gone. It also keeps the dictionary of typo corrections
(`SearchWord`): words are added as entries are written, and dropped by full passes.
Once a day, and on an Admin's "Reindex now" for their workspace, it rebuilds in full: a change written with
`QuerySet.update()` does not move `updated_at`, and the daily full pass catches it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.utils import timezone

from agreements.models import Agreement
from customers.models import Contact, Customer

from .models import Kind, ReindexRequest, SearchEntry, SearchIndexState, SearchWord
from .text import dictionary_words, words_of

OVERLAP = dt.timedelta(minutes=5)
STALE_CLAIM = dt.timedelta(minutes=30)
FULL_EVERY = dt.timedelta(hours=24)
BATCH = 2000
STATE_PK = 1
UPDATE_FIELDS = [
    "workspace",
    "customer_id",
    "title",
    "subtitle",
    "search_text",
    "source_updated_at",
    "indexed_at",
]
SOURCES: dict[str, type[Model]] = {Kind.CUSTOMER: Customer, Kind.CONTACT: Contact, Kind.AGREEMENT: Agreement}


@dataclass
class PassResult:
    full: bool
    indexed: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in SOURCES})
    # Entries new or different from the stored ones: the others are not written again.
    written: int = 0
    removed: int = 0
    workspaces_rebuilt: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- rows -> entries ----------------------------------------------------------------------------------


def _customer_entry(customer: Customer, now: dt.datetime) -> SearchEntry:
    subtitle = " · ".join(part for part in (customer.domain, customer.ref_id) if part)
    return SearchEntry(
        workspace_id=customer.workspace_id,
        kind=Kind.CUSTOMER,
        object_id=customer.pk,
        customer_id=customer.pk,
        title=customer.name[:300],
        subtitle=subtitle[:500],
        search_text=words_of([customer.name, customer.domain, customer.ref_id]),
        source_updated_at=customer.updated_at,
        indexed_at=now,
    )


def _email_parts(email: str) -> list[str]:
    # "jane@acme.com" is also found by "acme.com".
    return [email, email.partition("@")[2]] if "@" in email else [email]


def _contact_entry(contact: Contact, now: dt.datetime) -> SearchEntry:
    emails = [contact.email, *[e for e in (contact.secondary_emails or []) if isinstance(e, str)]]
    title = contact.full_name or contact.email or f"Contact {contact.pk}"
    subtitle = " · ".join(part for part in (contact.email, contact.title, contact.customer.name) if part)
    return SearchEntry(
        workspace_id=contact.workspace_id,
        kind=Kind.CONTACT,
        object_id=contact.pk,
        customer_id=contact.customer_id,
        title=title[:300],
        subtitle=subtitle[:500],
        search_text=words_of(
            [
                contact.full_name,
                *[part for email in emails if email for part in _email_parts(email)],
                contact.phone,
            ]
        ),
        source_updated_at=contact.updated_at,
        indexed_at=now,
    )


def _agreement_entry(agreement: Agreement, now: dt.datetime) -> SearchEntry:
    title = agreement.plan_name or "Agreement"
    subtitle = (
        f"{agreement.customer.name} · {agreement.get_status_display()} · "
        f"{agreement.mrr} {agreement.currency}/month · {agreement.start_date:%Y-%m-%d} to {agreement.ends_on:%Y-%m-%d}"
    )
    return SearchEntry(
        workspace_id=agreement.workspace_id,
        kind=Kind.AGREEMENT,
        object_id=agreement.pk,
        customer_id=agreement.customer_id,
        title=title[:300],
        subtitle=subtitle[:500],
        search_text=words_of([agreement.plan_name, agreement.customer.name]),
        source_updated_at=agreement.updated_at,
        indexed_at=now,
    )


def _source_rows(
    kind: str, *, since: dt.datetime | None, workspace_ids: Iterable[int] | None
) -> QuerySet[Any]:
    if kind == Kind.CUSTOMER:
        rows: QuerySet[Any] = Customer.objects.only(
            "id", "workspace_id", "name", "domain", "ref_id", "updated_at"
        ).order_by("pk")
        changed = Q(updated_at__gte=since) if since else Q()
    elif kind == Kind.CONTACT:
        rows = (
            Contact.objects.select_related("customer")
            .only(
                "id",
                "workspace_id",
                "customer_id",
                "first_name",
                "last_name",
                "email",
                "secondary_emails",
                "phone",
                "title",
                "updated_at",
                "customer__name",
            )
            .order_by("pk")
        )
        # A contact's subtitle shows its customer's name: a renamed customer re-indexes its contacts.
        changed = Q(updated_at__gte=since) | Q(customer__updated_at__gte=since) if since else Q()
    else:
        rows = (
            Agreement.objects.select_related("customer")
            .only(
                "id",
                "workspace_id",
                "customer_id",
                "plan_name",
                "status",
                "mrr",
                "currency",
                "start_date",
                "ends_on",
                "updated_at",
                "customer__name",
            )
            .order_by("pk")
        )
        changed = Q(updated_at__gte=since) | Q(customer__updated_at__gte=since) if since else Q()
    if workspace_ids is not None:
        rows = rows.filter(workspace_id__in=list(workspace_ids))
    return rows.filter(changed)


BUILDERS = {Kind.CUSTOMER: _customer_entry, Kind.CONTACT: _contact_entry, Kind.AGREEMENT: _agreement_entry}


def _chunks(rows: QuerySet[Any]) -> Iterator[list[Any]]:
    """Keyset pages by primary key: constant memory, and no server-side cursor held across writes."""
    last = 0
    while True:
        page = list(rows.filter(pk__gt=last)[:BATCH])
        if not page:
            return
        yield page
        last = page[-1].pk


def _index(
    *,
    since: dt.datetime | None,
    workspace_ids: Iterable[int] | None,
    result: PassResult,
    words: dict[int, set[str]],
) -> None:
    """Writes the entries of the rows changed since `since` (all rows when None), and adds their words to
    the dictionary of typo corrections; `words` collects, per workspace, every word seen by the pass."""
    for kind, build in BUILDERS.items():
        for page in _chunks(_source_rows(kind, since=since, workspace_ids=workspace_ids)):
            now = timezone.now()
            entries = [build(row, now) for row in page]  # type: ignore[operator]
            changed = _changed(kind, entries)
            SearchEntry.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=["kind", "object_id"],
                update_fields=UPDATE_FIELDS,
            )
            result.written += len(changed)
            result.indexed[kind] += len(entries)
            _add_words(entries, words)


# What an entry shows and matches: an entry whose values are all the same is not written again, so that
# the daily full pass does not rewrite (and bloat) the whole table and its GIN indexes.
COMPARED_FIELDS = ["workspace_id", "customer_id", "title", "subtitle", "search_text"]


def _changed(kind: str, entries: list[SearchEntry]) -> list[SearchEntry]:
    stored = {
        values[0]: values[1:]
        for values in SearchEntry.objects.filter(
            kind=kind, object_id__in=[entry.object_id for entry in entries]
        ).values_list("object_id", *COMPARED_FIELDS)
    }
    return [
        entry
        for entry in entries
        if stored.get(entry.object_id) != tuple(getattr(entry, name) for name in COMPARED_FIELDS)
    ]


def _add_words(entries: list[SearchEntry], words: dict[int, set[str]]) -> None:
    new = []
    for entry in entries:
        known = words.setdefault(entry.workspace_id, set())
        for word in dictionary_words(entry.search_text) - known:
            known.add(word)
            new.append(SearchWord(workspace_id=entry.workspace_id, word=word))
    SearchWord.objects.bulk_create(new, ignore_conflicts=True, batch_size=BATCH)


def _prune_words(words: dict[int, set[str]], workspace_ids: Iterable[int] | None) -> None:
    """After a pass that indexed every row (of some workspaces): drop the words no entry holds any more.
    Incremental passes only add words: a word left by a renamed or deleted row can only be suggested as
    a correction that then finds nothing, until the daily full pass drops it."""
    rows = SearchWord.objects.all()
    if workspace_ids is not None:
        rows = rows.filter(workspace_id__in=list(workspace_ids))
    stale = [
        pk
        for pk, workspace_id, word in rows.values_list("pk", "workspace_id", "word").iterator(
            chunk_size=BATCH
        )
        if word not in words.get(workspace_id, ())
    ]
    for start in range(0, len(stale), BATCH):
        SearchWord.objects.filter(pk__in=stale[start : start + BATCH]).delete()


def _remove_deleted() -> int:
    removed = 0
    for kind, model in SOURCES.items():
        gone = SearchEntry.objects.filter(kind=kind).filter(
            ~Exists(model._default_manager.filter(pk=OuterRef("object_id")))
        )
        removed += gone.delete()[0]
    return removed


# ---- the pass -----------------------------------------------------------------------------------------


def _claim(now: dt.datetime) -> bool:
    SearchIndexState.objects.get_or_create(pk=STATE_PK)
    free = Q(running_since__isnull=True) | Q(running_since__lt=now - STALE_CLAIM)
    return bool(
        SearchIndexState.objects.filter(free, pk=STATE_PK).update(running_since=now, last_started_at=now)
    )


def search_index_pass(*, full: bool = False, now: dt.datetime | None = None) -> PassResult | None:
    """One pass over what changed (or everything). None when another pass holds the claim."""
    now = now or timezone.now()
    if not _claim(now):
        return None
    started = time.monotonic()
    try:
        state = SearchIndexState.objects.get(pk=STATE_PK)
        full = (
            full
            or state.watermark is None
            or state.last_full_at is None
            or state.last_full_at < now - FULL_EVERY
        )
        requests = list(ReindexRequest.objects.filter(done_at__isnull=True, requested_at__lte=now))
        result = PassResult(full=full)
        since = None if full or state.watermark is None else state.watermark - OVERLAP
        words: dict[int, set[str]] = {}
        _index(since=since, workspace_ids=None, result=result, words=words)
        rebuild = sorted({request.workspace_id for request in requests})
        if rebuild and not full:
            _index(since=None, workspace_ids=rebuild, result=result, words=words)
        if full or rebuild:
            _prune_words(words, None if full else rebuild)
        result.workspaces_rebuilt = rebuild
        result.removed = _remove_deleted()
        result.seconds = round(time.monotonic() - started, 3)
        ReindexRequest.objects.filter(pk__in=[request.pk for request in requests]).update(
            done_at=timezone.now()
        )
        done: dict[str, Any] = {
            "running_since": None,
            "watermark": now,
            "last_finished_at": timezone.now(),
            "last_result": result.as_dict(),
            "last_error": "",
        }
        if full:
            done["last_full_at"] = now
        SearchIndexState.objects.filter(pk=STATE_PK).update(**done)
    except Exception as exc:
        SearchIndexState.objects.filter(pk=STATE_PK).update(running_since=None, last_error=repr(exc)[:2000])
        raise
    return result


def search_reindex_request(*, workspace_id: int, user_id: int | None) -> ReindexRequest:
    """An Admin's "Reindex now": recorded, then a pass is queued once the request is committed. A pass
    already running leaves it for the next one, which picks it up (at the latest at the next beat)."""
    from .tasks import reindex_search

    request = ReindexRequest.objects.create(workspace_id=workspace_id, requested_by_id=user_id)
    transaction.on_commit(lambda: reindex_search.delay())
    return request


def search_index_state() -> SearchIndexState | None:
    return SearchIndexState.objects.filter(pk=STATE_PK).first()


def search_pending_request(*, workspace_id: int) -> ReindexRequest | None:
    return ReindexRequest.objects.filter(workspace_id=workspace_id, done_at__isnull=True).first()
