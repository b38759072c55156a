"""Pure text functions shared by the indexer and the query: both sides must normalise alike."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Letters NFKD does not decompose into a base letter + accent.
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_SPLIT = re.compile(r"[^\w]+")
_DIGITS = re.compile(r"\D+")
_PHONE_LIKE = re.compile(r"^[\d\s+().\-/]{4,}$")
# Scripts written without spaces between words: matched as substrings, not word prefixes.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
MAX_QUERY_LENGTH = 200
MAX_TOKENS = 8
# Words shorter than this are too short for trigram similarity to tell a typo from another word.
MIN_CORRECTABLE = 3
MAX_WORD_LENGTH = 60


def normalise(text: str) -> str:
    """Lowercase, accent-free, single-spaced: 'Société Générale' -> 'societe generale'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", stripped).translate(_FOLD).split())


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def matches_anywhere(token: str) -> bool:
    """CJK words (no spaces between words) and numbers of 4+ digits (phones, ids) match as substrings."""
    return has_cjk(token) or (token.isdigit() and len(token) >= 4)


def correctable(word: str) -> bool:
    """A word typos are corrected for, and that is kept in the dictionary of corrections: letters only
    (not an email, a number or an id), not CJK, of a length trigrams can compare."""
    return MIN_CORRECTABLE <= len(word) <= MAX_WORD_LENGTH and word.isalpha() and not has_cjk(word)


def word_parts(token: str) -> list[str]:
    """'s-027485' -> ['s', '027485']: a query word split on punctuation, as its indexed text also is."""
    return [part for part in _SPLIT.split(token) if part] or [token]


def dictionary_words(search_text: str) -> set[str]:
    return {word for word in search_text.split() if correctable(word)}


def words_of(values: Iterable[str]) -> str:
    """The search text of a row: every value normalised, then again split on punctuation, then phone-like
    values as bare digits; duplicates dropped, order kept (the title's words come first)."""
    seen: dict[str, None] = {}
    for value in values:
        raw = str(value) if value else ""
        if not raw:
            continue
        clean = normalise(raw)
        for word in clean.split():
            seen.setdefault(word, None)
        for part in _SPLIT.split(clean):
            if part:
                seen.setdefault(part, None)
        if _PHONE_LIKE.match(raw.strip()):
            digits = _DIGITS.sub("", raw)
            if digits:
                seen.setdefault(digits, None)
    return " ".join(seen)


def query_tokens(query: str) -> list[str]:
    """The words a query must all match (each as a word prefix, or as a substring for CJK).

    A phone-looking query becomes its digits; punctuation-only tokens are dropped; quotes and
    backslashes never reach SQL as syntax."""
    query = query[:MAX_QUERY_LENGTH]
    if _PHONE_LIKE.match(query.strip()) and sum(ch.isdigit() for ch in query) >= 4:
        # A national "01 23 45" finds "+33 1 23 45 67 89": digits matched anywhere, trunk zeros dropped.
        digits = _DIGITS.sub("", query)
        return [digits.lstrip("0") if len(digits.lstrip("0")) >= 4 else digits]
    tokens: list[str] = []
    for word in normalise(query).replace("'", " ").replace("\\", " ").split():
        word = word.strip('.,;:!?()[]{}"<>*&|')
        if word and any(ch.isalnum() for ch in word) and word not in tokens:
            tokens.append(word)
    return tokens[:MAX_TOKENS]
