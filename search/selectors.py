"""The header search's queries, always from `visible()`.

PostgreSQL: every word must match as a word prefix in the GIN-indexed tsvector of the unaccented text
(`'acme':* & 'corp':*`). When nothing matches, each word of 3+ letters is corrected against the
workspace's dictionary of words (`SearchWord`, trigram-indexed): "globx" becomes `('globx':* | 'globex')`,
and the same full-text query runs again. Words of one or two letters are tested as a filter when a longer
word can narrow the rows through the index. SQLite: every word must match the start of a word of the
normalised text with LIKE, and typos are not corrected. Words in scripts written without spaces (CJK) and
numbers match anywhere in the text, on both.

Results are ordered by title. On PostgreSQL that order and the match do not share an index, so the plan is
chosen from the number of matches rather than left to estimates the planner gets wrong both ways (see
bench/README.md): up to MATCH_CAP matches are read from the GIN index and sorted, which is exact whenever
they are all there; past it, the first WALK rows of the kind in title order are tested, which is exact when
enough of them match; otherwise the rows found by the walk come first, then the best titles of the capped
set (a common word whose rows sit late in the alphabet: the list says more rows match). When every word is
a one- or two-letter prefix (many matches), the walk is tried first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet

from workspaces.access import visible
from workspaces.models import Membership

from .models import Kind, SearchEntry, SearchWord
from .text import correctable, matches_anywhere, query_tokens, word_parts

# Trigram similarity a correction must reach. A letter dropped from or added to a word of n letters leaves
# (n - 2) / (n + 3) of the trigrams shared: 0.375 at 5 letters, 0.44 at 6 (0.3 is also pg_trgm's default).
TYPO_THRESHOLD = 0.3
# Corrections kept per query word, the closest first.
CORRECTIONS_PER_WORD = 3
# Corrections much further from the typed word than the closest one are dropped ("wilow" is "willow",
# not also "wilson").
CORRECTION_MARGIN = 0.1
# A correction's length may differ from the typed word's by this much (two letters dropped or added).
CORRECTION_LENGTH_SLACK = 2
MIN_QUERY_LENGTH = 2
# Words of at most this many letters are matched as a filter when the query has longer ones.
SHORT_PREFIX = 2
# Matches read from the GIN index and sorted by title; more than this and the title walk is tried.
MATCH_CAP = 500
# Rows of a kind tested in title order (the walk), at most...
WALK = 1000
# ... and no more than this many per row wanted: a match in 20 rows is common enough for the walk, and the
# header panel (9 rows wanted) then tests 180 rows instead of 1,000.
WALK_PER_ROW = 20
ENTRY_COLUMNS = ("id", "kind", "object_id", "customer_id", "title", "subtitle")


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
    # Each misspelt word with the words it was read as, for the page to say so.
    corrections: dict[str, list[str]] = field(default_factory=dict)

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


def _tsquery(tokens: list[str], corrections: dict[str, list[str]]) -> str:
    """`'acme':* & ('globx':* | 'globex':*)`: every word, each also as any of its corrections."""
    terms = []
    for token in tokens:
        # The typed word as a prefix, its corrections as whole words (they are words of the index).
        alternatives = [f"'{token}':*", *[f"'{word}'" for word in corrections.get(token, [])]]
        ored = " | ".join(alternatives)
        terms.append(f"({ored})" if len(alternatives) > 1 else ored)
    return " & ".join(terms)


@dataclass
class Condition:
    clauses: list[str]  # on the unqualified columns `vector` and `search_text`, ANDed
    params: list[str]
    # An index narrows the rows to few: a word longer than SHORT_PREFIX, or a substring (trigrams).
    selective: bool


def _condition(tokens: list[str], corrections: dict[str, list[str]]) -> Condition:
    """The WHERE clauses every match meets."""
    condition = Condition(clauses=[], params=[], selective=False)
    words = []
    postgres = connection.vendor == "postgresql"
    for token in tokens:
        # PostgreSQL's parser reads "s-027485" as the phrase 's':* <-> '-027485':*, and a one-letter prefix
        # makes the GIN index read most of the table: hyphenated words are split here, so that each part is
        # matched (and indexed, or not) on its own. "jane.doe@acme" or "acme.com" stay whole: the parser
        # keeps them as one email or host, a prefix of few rows.
        for part in word_parts(token) if postgres and "-" in token else [token]:
            if matches_anywhere(part):
                condition.clauses.append("search_text LIKE %s ESCAPE '\\'")
                condition.params.append(f"%{_like_escape(part)}%")
                condition.selective = True
            elif part not in words:
                words.append(part)
    if not words:
        return condition
    if not postgres:
        for word in words:
            sql, word_params = _word_prefix_sql(word)
            condition.clauses.append(sql)
            condition.params.extend(word_params)
        return condition
    # A one- or two-letter prefix matches a large share of the rows, and a GIN index reads every one of its
    # matches before anything else: when a longer word can narrow the rows through the index, the short
    # ones are tested on those rows only (through a function call, which no index answers).
    indexed = [word for word in words if len(word) > SHORT_PREFIX]
    condition.selective = condition.selective or bool(indexed)
    if not indexed and not condition.clauses:
        indexed = words
    short = [word for word in words if word not in indexed]
    if indexed:
        condition.clauses.append("vector @@ to_tsquery('simple', skalin_unaccent(%s))")
        condition.params.append(_tsquery(indexed, corrections))
    if short:
        condition.clauses.append("ts_match_vq(vector, to_tsquery('simple', skalin_unaccent(%s)))")
        condition.params.append(_tsquery(short, corrections))
    return condition


def search(*, membership: Membership | None, query: str, per_kind: int = 8) -> SearchResults:
    tokens = query_tokens(query)
    results = SearchResults(query=query, tokens=tokens)
    if results.too_short or membership is None:
        return results
    rows = visible(membership, SearchEntry).only(*ENTRY_COLUMNS)
    if connection.vendor != "postgresql":
        condition = _condition(tokens, {})
        results.groups = _grouped(
            lambda kind: list(
                rows.filter(kind=kind)
                .extra(where=condition.clauses, params=condition.params)
                .order_by("title", "object_id")[: per_kind + 1]
            ),
            per_kind,
        )
        return results
    found = _first_by_title(rows, tokens, {}, per_kind)
    results.groups = _grouped(lambda kind: found[kind], per_kind)
    if not any(group.entries for group in results.groups):
        corrections = _corrections(workspace_id=membership.workspace_id, tokens=tokens)
        if corrections:
            found = _first_by_title(rows, tokens, corrections, per_kind)
            results.groups = _grouped(lambda kind: found[kind], per_kind)
            results.typo_matches = any(group.entries for group in results.groups)
            results.corrections = corrections if results.typo_matches else {}
    return results


def _grouped(rows_for: Callable[[str], list[SearchEntry]], per_kind: int) -> list[KindResults]:
    """`rows_for(kind)` returns up to per_kind + 1 rows: the one past the page says there are more."""
    groups = []
    for kind, label in Kind.choices:
        rows = rows_for(kind)
        groups.append(KindResults(kind=kind, label=label, entries=rows[:per_kind], more=len(rows) > per_kind))
    return groups


# ---- PostgreSQL: typo corrections and the plan by number of matches -----------------------------------


def _corrections(*, workspace_id: int, tokens: list[str]) -> dict[str, list[str]]:
    """The dictionary words each correctable query word may be a typo of, the closest first."""
    corrections: dict[str, list[str]] = {}
    with _local_settings({"pg_trgm.similarity_threshold": str(TYPO_THRESHOLD)}) as cursor:
        for token in tokens:
            if not correctable(token):
                continue
            # `word % token` (similarity above the threshold) is answered by the trigram index on the
            # words; the length bounds and the ordering only look at the few candidates it returns.
            cursor.execute(
                f"""SELECT word, similarity(word, %s) AS closeness FROM {SearchWord._meta.db_table}
                     WHERE workspace_id = %s AND word %% %s AND word <> %s
                       AND length(word) BETWEEN %s AND %s
                     ORDER BY closeness DESC, word
                     LIMIT %s""",
                [
                    token,
                    workspace_id,
                    token,
                    token,
                    len(token) - CORRECTION_LENGTH_SLACK,
                    len(token) + CORRECTION_LENGTH_SLACK,
                    CORRECTIONS_PER_WORD,
                ],
            )
            candidates = cursor.fetchall()
            best = candidates[0][1] if candidates else 0
            words = [word for word, closeness in candidates if closeness >= best - CORRECTION_MARGIN]
            if words:
                corrections[token] = words
    return corrections


@contextmanager
def _local_settings(values: dict[str, str]) -> Iterator[CursorWrapper]:
    """PostgreSQL settings for the queries run inside, given back afterwards: set_config(..., true) lasts
    until the end of the transaction, which may be an outer one. A setting of an extension not loaded yet
    in this session (pg_trgm's, before its first use) has no value to give back: it is reset."""
    names = list(values)
    with transaction.atomic(), connection.cursor() as cursor:
        # One round trip: the select list is evaluated left to right, the current values before the new.
        cursor.execute(
            "SELECT "
            + ", ".join(
                ["current_setting(%s, true)"] * len(names) + ["set_config(%s, %s, true)"] * len(names)
            ),
            [*names, *[item for name in names for item in (name, values[name])]],
        )
        before = dict(zip(names, (cursor.fetchone() or ())[: len(names)], strict=True))
        try:
            yield cursor
        finally:
            known = [(name, value) for name, value in before.items() if value is not None]
            if known:
                cursor.execute(
                    "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(known)),
                    [item for pair in known for item in pair],
                )
            for name in (name for name, value in before.items() if value is None):
                cursor.execute(f"RESET {connection.ops.quote_name(name)}")


# The planner may only read the matching rows through the indexes on what they match (GIN), neither walk
# the title index nor scan the table: how many rows are read is bounded by the query's LIMIT.
BITMAP_SCANS_ONLY = {"enable_seqscan": "off", "enable_indexscan": "off"}


def _sql(rows: QuerySet[SearchEntry]) -> tuple[str, tuple[object, ...]]:
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    return sql, tuple(params)


def _first_by_title(
    rows: QuerySet[SearchEntry], tokens: list[str], corrections: dict[str, list[str]], per_kind: int
) -> dict[str, list[SearchEntry]]:
    """Per kind, the first per_kind + 1 matching rows by title: exact, or as the module docstring says.
    One statement answers every kind at each step (UNION ALL), so that a search is a few round trips."""
    limit = per_kind + 1
    cap = max(MATCH_CAP, limit)  # past the cap the page must still be full, and say there are more
    condition = _condition(tokens, corrections)
    kinds = list(Kind.values)
    if condition.selective:
        result, matched = _capped(rows, condition, kinds, limit, cap)
        many = [kind for kind in kinds if matched[kind] > cap]
        walked = _walked(rows, condition, many, limit)
        for kind in many:
            result[kind] = _merged(walked[kind], result[kind], limit)
        return result
    # Only short prefixes: many rows match, which the GIN index would all read; the walk is cheaper.
    result = _walked(rows, condition, kinds, limit)
    few = [kind for kind in kinds if len(result[kind]) < limit]
    capped, matched = _capped(rows, condition, few, limit, cap)
    for kind in few:
        result[kind] = capped[kind] if matched[kind] <= cap else _merged(result[kind], capped[kind], limit)
    return result


def _merged(walked: list[SearchEntry], capped: list[SearchEntry], limit: int) -> list[SearchEntry]:
    """More than the cap matched: the walk's rows are the exact first ones; when they are too few (the
    matches sit late in the alphabet), the best titles of the capped set fill the page, which says that
    more rows match."""
    seen = {entry.pk for entry in walked}
    return walked + [entry for entry in capped if entry.pk not in seen][: limit - len(walked)]


def _walked(
    rows: QuerySet[SearchEntry], condition: Condition, kinds: list[str], limit: int
) -> dict[str, list[SearchEntry]]:
    """The matches among the first rows of each kind in title order (WALK at most): the exact first ones."""
    walk = min(WALK, WALK_PER_ROW * limit)
    columns = ", ".join(ENTRY_COLUMNS)
    branches: list[str] = []
    params: list[object] = []
    for kind in kinds:
        walked_sql, walked_params = _sql(
            rows.filter(kind=kind)
            .only(*ENTRY_COLUMNS, "search_text")
            .extra(select={"vector": "vector"})
            .order_by("title", "object_id")[:walk]
        )
        branches.append(
            f"(SELECT {columns} FROM ({walked_sql}) AS walked WHERE {' AND '.join(condition.clauses)} "
            "ORDER BY title, object_id LIMIT %s)"
        )
        params += [*walked_params, *condition.params, limit]
    found = _by_kind(SearchEntry.objects.raw(" UNION ALL ".join(branches), params)) if kinds else {}
    return {kind: found.get(kind, []) for kind in kinds}


def _capped(
    rows: QuerySet[SearchEntry], condition: Condition, kinds: list[str], limit: int, cap: int
) -> tuple[dict[str, list[SearchEntry]], dict[str, int]]:
    """Up to cap + 1 matches of each kind read through the indexes on what they match, the best titles
    among them, and how many were read: exact when that is at most the cap."""
    columns = ", ".join(ENTRY_COLUMNS)
    branches: list[str] = []
    params: list[object] = []
    for kind in kinds:
        capped_sql, capped_params = _sql(
            rows.filter(kind=kind)
            .extra(where=condition.clauses, params=condition.params)
            .order_by()[: cap + 1]
        )
        branches.append(
            f"(SELECT {columns}, count(*) OVER () AS matched FROM ({capped_sql}) AS capped "
            "ORDER BY title, object_id LIMIT %s)"
        )
        params += [*capped_params, limit]
    found: dict[str, list[SearchEntry]] = {kind: [] for kind in kinds}
    if kinds:
        with _local_settings(BITMAP_SCANS_ONLY):
            found.update(_by_kind(SearchEntry.objects.raw(" UNION ALL ".join(branches), params)))
    matched = {kind: found[kind][0].matched if found[kind] else 0 for kind in kinds}  # type: ignore[attr-defined]
    return {kind: found[kind] for kind in kinds}, matched


def _by_kind(entries: Iterable[SearchEntry]) -> dict[str, list[SearchEntry]]:
    grouped: dict[str, list[SearchEntry]] = {kind: [] for kind in Kind.values}
    for entry in entries:
        grouped[entry.kind].append(entry)
    return grouped
