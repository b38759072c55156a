"""The COQL subset the connectors use: select <fields> from <module> where <condition> [order by <field>
[asc|desc]] [limit <n> [offset <m>] | limit <m>, <n>].

Conditions: = != > >= < <= like 'x%' in (...) not in (...) is null / is not null, joined by and / or with
parentheses; dotted lookups (Account_Name.id). https://www.zoho.com/crm/developer/docs/api/v8/COQL-Overview.html
Lookups come back as {"id"} only, as COQL returns them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .store import ApiError

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>>=|<=|!=|=|>|<|\(|\)|,)"
    r"|(?P<word>[A-Za-z_$][A-Za-z0-9_.$]*))"
)
MAX_LIMIT = 2000
MAX_REACH = 100_000


def syntax(message: str) -> ApiError:
    return ApiError("SYNTAX_ERROR", f"error occured while parsing the query: {message}")


@dataclass
class Query:
    fields: list[str]
    module: str
    where: Any
    order: tuple[str, bool] | None
    limit: int
    offset: int


def tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise syntax(f"unexpected text near {text[pos : pos + 20]!r}")
        pos = match.end()
        if match["str"] is not None:
            out.append(("value", re.sub(r"\\(.)", r"\1", match["str"][1:-1])))
        elif match["num"] is not None:
            out.append(("value", match["num"]))
        elif match["op"] is not None:
            out.append(("op", match["op"]))
        else:
            word = match["word"]
            out.append(("kw", word.lower()) if word.lower() in KEYWORDS else ("name", word))
    return out


KEYWORDS = {"select", "from", "where", "and", "or", "order", "by", "asc", "desc", "limit", "offset", "in",
            "not", "like", "is", "null", "true", "false"}  # fmt: skip


class Parser:
    def __init__(self, text: str) -> None:
        self.items = tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, kind: str, value: Any = None) -> Any:
        item = self.peek()
        if item is None or item[0] != kind or (value is not None and item[1] != value):
            raise syntax(f"expected {value or kind}, found {item[1] if item else 'the end'}")
        self.pos += 1
        return item[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        item = self.peek()
        if item is not None and item[0] == kind and (value is None or item[1] == value):
            self.pos += 1
            return True
        return False

    def query(self) -> Query:
        self.take("kw", "select")
        fields = [self.take("name")]
        while self.accept("op", ","):
            fields.append(self.take("name"))
        self.take("kw", "from")
        module = self.take("name")
        where = None
        if self.accept("kw", "where"):
            where = self.disjunction()
        order = None
        if self.accept("kw", "order"):
            self.take("kw", "by")
            name = self.take("name")
            descending = self.accept("kw", "desc")
            if not descending:
                self.accept("kw", "asc")
            order = (name, descending)
        limit, offset = 200, 0
        if self.accept("kw", "limit"):
            limit = int(self.take("value"))
            if self.accept("op", ","):
                offset, limit = limit, int(self.take("value"))
            elif self.accept("kw", "offset"):
                offset = int(self.take("value"))
        if self.peek() is not None:
            raise syntax(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        if where is None:
            raise syntax("the where clause is mandatory")
        if not 0 < limit <= MAX_LIMIT:
            raise ApiError("LIMIT_EXCEEDED", "limit must be between 1 and 2000", details={"limit": MAX_LIMIT})
        if offset + limit > MAX_REACH:
            raise ApiError(
                "LIMIT_EXCEEDED", "offset + limit cannot exceed 100000", details={"limit": MAX_REACH}
            )
        return Query(fields, module, where, order, limit, offset)

    def disjunction(self) -> Any:
        node = self.conjunction()
        while self.accept("kw", "or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.atom()
        while self.accept("kw", "and"):
            node = ("and", node, self.atom())
        return node

    def atom(self) -> Any:
        if self.accept("op", "("):
            node = self.disjunction()
            self.take("op", ")")
            return node
        name = self.take("name")
        if self.accept("kw", "is"):
            negate = self.accept("kw", "not")
            self.take("kw", "null")
            return ("notnull" if negate else "null", name)
        negate = self.accept("kw", "not")
        if self.accept("kw", "in"):
            self.take("op", "(")
            values = [self.take("value")]
            while self.accept("op", ","):
                values.append(self.take("value"))
            self.take("op", ")")
            return ("notin" if negate else "in", name, values)
        if self.accept("kw", "like"):
            return ("notlike" if negate else "like", name, self.take("value"))
        item = self.peek()
        if item is None or item[0] != "op" or item[1] not in ("=", "!=", ">", ">=", "<", "<="):
            raise syntax(f"expected an operator after {name}")
        self.pos += 1
        if self.accept("kw", "true") or self.accept("kw", "false"):
            return (item[1], name, self.items[self.pos - 1][1])
        return (item[1], name, self.take("value"))


def value_of(row: dict[str, Any], name: str) -> Any:
    current: Any = row
    for part in name.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        else:
            return None
    if isinstance(current, dict) and "id" in current and "." not in name:
        return current["id"]
    return current


def _compare(left: Any, right: Any) -> tuple[Any, Any]:
    # Ids are 19 digits: compared as integers, a float would merge neighbours.
    try:
        return int(str(left)), int(str(right))
    except ValueError:
        pass
    try:
        return float(left), float(right)
    except (TypeError, ValueError):
        return str(left), str(right)


def _like(value: Any, pattern: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$"
    items = value if isinstance(value, list) else [value]
    return any(re.match(regex, str(item or ""), re.IGNORECASE | re.DOTALL) for item in items)


def matches(row: dict[str, Any], node: Any) -> bool:
    op = node[0]
    if op == "and":
        return matches(row, node[1]) and matches(row, node[2])
    if op == "or":
        return matches(row, node[1]) or matches(row, node[2])
    value = value_of(row, node[1])
    if op in ("null", "notnull"):
        empty = value in (None, "", [])
        return empty if op == "null" else not empty
    if op in ("in", "notin"):
        items = value if isinstance(value, list) else [value]
        hit = any(str(i) in {str(v) for v in node[2]} for i in items if i is not None)
        return hit if op == "in" else not hit
    if op in ("like", "notlike"):
        return _like(value, node[2]) if op == "like" else not _like(value, node[2])
    if value is None:
        return False
    if isinstance(value, list):  # multi-select picklist: = compares the whole set as 'a;b'
        value = ";".join(map(str, value))
    left, right = _compare(value, node[2])
    return {
        "=": left == right, "!=": left != right, ">": left > right, ">=": left >= right,
        "<": left < right, "<=": left <= right,
    }[op]  # fmt: skip


def sort_key(row: dict[str, Any], name: str) -> tuple[int, Any]:
    value = value_of(row, name)
    if value is None:
        return (1, "")
    try:
        return (0, int(str(value)))
    except ValueError:
        pass
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (0, str(value))


def project(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.get("id")}
    for name in fields:
        value = value_of(row, name) if "." in name else row.get(name)
        if isinstance(value, dict) and "id" in value:
            value = {"id": value["id"]}
        out[name] = value
    return out
