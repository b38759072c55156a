"""The header search's queries, always from `visible()`.

PostgreSQL: every word must match as a word prefix in the GIN-indexed tsvector of the unaccented text
(`'acme':* & 'corp':*`); when nothing matches, trigram word similarity on the same text finds the typos
("globx" -> "Globex"). SQLite: every word must match the start of a word of the normalised text with
LIKE. Words in scripts written without spaces (CJK) match anywhere in the text, on both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import QuerySet

from workspaces.access import visible
from workspaces.models import Membership

from .models import Kind, SearchEntry
from .text import matches_anywhere, query_tokens

# Trigram word similarity a typo must reach (pg_trgm's default, 0.6, misses one wrong letter in 6).
TYPO_THRESHOLD = 0.45
MIN_QUERY_LENGTH = 2


@dataclass
class KindResults:
    kind: str
    label: str
    entries: list[SearchEntry]
    more: bool


@dataclass
class SearchResults:
    query: str
    tokens: list[str]
    groups: list[KindResults] = field(default_factory=list)
    typo_matches: bool = False  # nothing matched as typed; these are close spellings

    @property
    def total(self) -> int:
        return sum(len(group.entries) for group in self.groups)

    @property
    def too_short(self) -> bool:
        return not self.tokens or sum(len(token) for token in self.tokens) < MIN_QUERY_LENGTH


def _like_escape(token: str) -> str:
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _word_prefix_sql(token: str) -> tuple[str, list[str]]:
    return "(' ' || search_text) LIKE %s ESCAPE '\\'", [f"% {_like_escape(token)}%"]


def _match(rows: QuerySet[SearchEntry], tokens: list[str]) -> QuerySet[SearchEntry]:
    words = [token for token in tokens if not matches_anywhere(token)]
    for token in tokens:
        if matches_anywhere(token):
            rows = rows.filter(search_text__contains=token)
    if not words:
        return rows
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"'{word}':*" for word in words)
        return rows.extra(where=["vector @@ to_tsquery('simple', skalin_unaccent(%s))"], params=[tsquery])
    for word in words:
        sql, params = _word_prefix_sql(word)
        rows = rows.extra(where=[sql], params=params)
    return rows


def _typo_match(rows: QuerySet[SearchEntry], tokens: list[str]) -> QuerySet[SearchEntry]:
    phrase = " ".join(tokens)
    return rows.extra(
        where=["%s <%% search_text"],
        params=[phrase],
        select={"similarity": "word_similarity(%s, search_text)"},
        select_params=[phrase],
        order_by=["-similarity", "title", "object_id"],
    )


def search(*, membership: Membership | None, query: str, per_kind: int = 8) -> SearchResults:
    tokens = query_tokens(query)
    results = SearchResults(query=query, tokens=tokens)
    if results.too_short:
        return results
    base = visible(membership, SearchEntry).only("kind", "object_id", "customer_id", "title", "subtitle")
    groups = _grouped(
        lambda kind: _match(base.filter(kind=kind), tokens).order_by("title", "object_id"), per_kind
    )
    if not any(group.entries for group in groups) and connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(TYPO_THRESHOLD)]
                )
            groups = _grouped(lambda kind: _typo_match(base.filter(kind=kind), tokens), per_kind)
        results.typo_matches = any(group.entries for group in groups)
    results.groups = groups
    return results


def _grouped(rows_for: Callable[[str], QuerySet[SearchEntry]], per_kind: int) -> list[KindResults]:
    groups = []
    for kind, label in Kind.choices:
        rows = list(rows_for(kind)[: per_kind + 1])
        groups.append(KindResults(kind=kind, label=label, entries=rows[:per_kind], more=len(rows) > per_kind))
    return groups
