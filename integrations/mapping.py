"""Turning CRM values into Skalin values: pure functions, no ORM, no HTTP.

Vendors send amounts as "€1 234,50", dates as ISO, as "31/12/2026" or as epoch milliseconds in a string,
names with NUL bytes and HTML. Everything here either returns a clean value or raises ValueMappingError
with a sentence a person can act on."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "mail.com",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "qq.com",
        "163.com",
        "web.de",
    }
)

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ValueMappingError(ValueError):
    """A CRM value that cannot become a Skalin value; the message names the value and what was expected."""


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def clean_text(value: Any, *, max_length: int | None = None) -> str:
    """Text as a person would type it: no NUL or control characters, trimmed, bounded."""
    if value is None:
        return ""
    text = CONTROL_CHARS.sub("", str(value)).strip()
    return text[:max_length] if max_length else text


def normalise_name(value: Any) -> str:
    """Names compare after Unicode NFKC, case folding and whitespace collapsing (product.md §3)."""
    return " ".join(unicodedata.normalize("NFKC", clean_text(value)).casefold().split())


def domain_of(value: Any) -> str:
    """A website, URL or email becomes a bare domain: 'https://www.Acme.io/x' -> 'acme.io'."""
    text = clean_text(value).lower()
    if not text:
        return ""
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/")[0].split("?")[0].split("#")[0].split(":")[0]
    return text.removeprefix("www.").strip(".")


def is_free_mail(domain: str) -> bool:
    return domain.lower() in FREE_MAIL_DOMAINS


def parse_amount(value: Any) -> Decimal | None:
    """'€1 234,50', '1,234.50', '1.234,50', '$ 99', 1200 -> Decimal; blank -> None."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueMappingError(f"'{value}' is not an amount.")
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    text = re.sub(r"[^\d,.\-]", "", str(value))
    if not re.search(r"\d", text):
        raise ValueMappingError(f"'{value}' is not an amount.")
    last_comma, last_dot = text.rfind(","), text.rfind(".")
    if last_comma > last_dot:
        # Comma is the decimal mark when followed by 1-2 digits ("1.234,50"); else a thousands separator.
        decimals = text[last_comma + 1 :]
        text = text.replace(".", "").replace(",", "." if len(decimals) <= 2 else "")
    else:
        text = text.replace(",", "")
        if text.count(".") > 1:
            head, _, tail = text.rpartition(".")
            text = head.replace(".", "") + "." + tail
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as bad:
        raise ValueMappingError(f"'{value}' is not an amount.") from bad


def parse_datetime(value: Any) -> dt.datetime | None:
    """ISO 8601 (with or without zone), epoch seconds or milliseconds (numbers or strings) -> aware UTC."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = str(value).strip()
    if re.fullmatch(r"-?\d{9,14}(\.\d+)?", text):
        number = float(text)
        seconds = number / 1000 if abs(number) >= 1e11 else number
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError) as bad:
            raise ValueMappingError(f"'{value}' is not a date.") from bad
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # Salesforce sends "+0000" without the colon.
        match = re.fullmatch(r"(.*[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)", text)
        if not match:
            day = parse_date(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) if day else None
        parsed = dt.datetime.fromisoformat(f"{match[1]}{match[2]}:{match[3]}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_date(value: Any) -> dt.date | None:
    """ISO dates, ISO datetimes, DD/MM/YYYY and DD.MM.YYYY, epoch ms -> date. '31/02/2026' is an error."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return dt.date.fromisoformat(text)
        match = re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", text)
        if match:
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError as bad:
        raise ValueMappingError(f"'{value}' is not a real date.") from bad
    if re.fullmatch(r"-?\d{9,14}(\.\d+)?", text) or "T" in text or " " in text:
        moment = parse_datetime(text)
        return moment.date() if moment else None
    raise ValueMappingError(f"'{value}' is not a date (expected YYYY-MM-DD).")


def parse_int(value: Any) -> int | None:
    if is_blank(value):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as bad:
        raise ValueMappingError(f"'{value}' is not a number.") from bad
    if number != number.to_integral_value():
        raise ValueMappingError(f"'{value}' is not a whole number.")
    return int(number)


def parse_bool(value: Any) -> bool | None:
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "y", "1", "oui", "on"}:
        return True
    if text in {"false", "no", "n", "0", "non", "off"}:
        return False
    raise ValueMappingError(f"'{value}' is not yes or no.")


def split_values(value: Any) -> list[str]:
    """Multi-select values come as lists or as 'a;b' strings (HubSpot, Salesforce, Zoho)."""
    if is_blank(value):
        return []
    if isinstance(value, list | tuple):
        return [clean_text(item) for item in value if not is_blank(item)]
    return [part.strip() for part in re.split(r"[;|]", str(value)) if part.strip()]


def translate(value: Any, table: dict[str, str]) -> str | None:
    """A CRM value through an admin's value table (exact, then case-insensitive); None when unknown."""
    text = clean_text(value)
    if text in table:
        return table[text]
    folded = {key.casefold(): target for key, target in table.items()}
    return folded.get(text.casefold())


def remote_value(fields: dict[str, Any], name: str) -> Any:
    """A field of a record, tolerating dotted paths ('Owner.Email') that some vendors nest."""
    if name in fields:
        return fields[name]
    current: Any = fields
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current
