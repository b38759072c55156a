"""A small SOQL engine for the fake Salesforce: the part of the language connectors send, strictly.

Supported (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm):

    SELECT field [, toLabel(field)...] FROM Object [USING SCOPE everything|mine]
    [WHERE condition] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

    condition := term { AND term } | term { OR term }      -- mixing AND and OR needs parentheses, as in SOQL
    term      := NOT term | ( condition ) | field op value | field [NOT] IN (value, ...) | field LIKE 'pattern'
    value     := 'string' | number | true | false | null | 2024-01-31 | 2024-01-31T10:00:00Z

What it does not understand (relationship paths, subqueries, date literals such as TODAY, aggregates) is a
MALFORMED_QUERY or INVALID_FIELD, the error codes a real org answers with, so a connector that relies on
them fails here first. Values are compared as Salesforce does: text case-insensitively, datetimes and dates
only against unquoted literals of their own type."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .schema import FieldDef, parse_datetime


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


# -- tokens ---------------------------------------------------------------------------------------------
TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE | re.DOTALL,
)
# Quoted-string escapes:
# https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "name" and self.text.upper() in words


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise malformed(f"unexpected token: '{text[position : position + 10]}'")
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup or "", match.group(), position))
        position = match.end()
    return tokens


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, bool, date, datetime, null
    value: Any
    like: re.Pattern[str] | None = None


def string_literal(quoted: str) -> Literal:
    """Unescape a quoted string; also build its LIKE pattern, where \\% and \\_ stay literal."""
    plain, pattern = [], []
    body, index = quoted[1:-1], 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            nxt = body[index + 1]
            if nxt in "%_":
                plain.append("\\" + nxt)
                pattern.append(re.escape(nxt))
            elif nxt.lower() in ESCAPES:
                plain.append(ESCAPES[nxt.lower()])
                pattern.append(re.escape(ESCAPES[nxt.lower()]))
            else:
                raise malformed(f"Invalid string literal {quoted}. Illegal character sequence '\\{nxt}'")
            index += 2
            continue
        plain.append(char)
        pattern.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return Literal("string", "".join(plain), re.compile("".join(pattern), re.IGNORECASE | re.DOTALL))


# -- syntax tree ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Literal


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    field: str
    pattern: Literal


@dataclass(frozen=True)
class Junction:
    conjunction: str  # AND / OR
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | In | Like | Junction | Not


@dataclass
class Query:
    fields: list[str]
    sobject: str
    scope: str = ""
    where: Condition | None = None
    order_by: list[tuple[str, bool, bool]] = field(default_factory=list)  # (field, descending, nulls first)
    limit: int | None = None
    offset: int = 0


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # helpers
    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed("unexpected end of query")
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def expect_word(self, word: str) -> None:
        token = self.take()
        if not token.is_word(word):
            raise malformed(f"unexpected token: '{token.text}', expecting {word}")

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.text != char:
            raise malformed(f"unexpected token: '{token.text}', expecting '{char}'")

    def name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise malformed(f"unexpected token: '{token.text}'")
        return token.text

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise malformed(f"unexpected token: '{token.text}', expecting a number")
        return int(token.text)

    # grammar
    def query(self) -> Query:
        self.expect_word("SELECT")
        fields = [self.select_item()]
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.take()
            fields.append(self.select_item())
        self.expect_word("FROM")
        query = Query(fields=fields, sobject=self.name())
        if self.at_word("USING"):
            self.take()
            self.expect_word("SCOPE")
            query.scope = self.name().lower()
            if query.scope not in ("everything", "mine"):
                raise malformed(f"unsupported scope: {query.scope}")
        if self.at_word("WHERE"):
            self.take()
            query.where = self.condition()
        if self.at_word("ORDER"):
            self.take()
            self.expect_word("BY")
            query.order_by.append(self.order_item())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                query.order_by.append(self.order_item())
        if self.at_word("LIMIT"):
            self.take()
            query.limit = self.integer()
        if self.at_word("OFFSET"):
            self.take()
            query.offset = self.integer()
        token = self.peek()
        if token is not None:
            raise malformed(f"unexpected token: '{token.text}'")
        return query

    def select_item(self) -> str:
        token = self.peek()
        if token is not None and token.text == "(":
            raise malformed("subqueries are not supported by the sandbox")
        name = self.name()
        if self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
            if name.lower() != "tolabel":
                raise malformed(f"unsupported function: {name}()")
            self.take()
            name = self.name()
            self.expect_punct(")")
        return name

    def order_item(self) -> tuple[str, bool, bool]:
        name = self.name()
        descending = False
        if self.at_word("ASC", "DESC"):
            descending = self.take().text.upper() == "DESC"
        nulls_first = not descending
        if self.at_word("NULLS"):
            self.take()
            word = self.take()
            if not word.is_word("FIRST", "LAST"):
                raise malformed(f"unexpected token: '{word.text}', expecting FIRST or LAST")
            nulls_first = word.is_word("FIRST")
        return name, descending, nulls_first

    def condition(self) -> Condition:
        items = [self.term()]
        conjunction = ""
        while self.at_word("AND", "OR"):
            word = self.take().text.upper()
            if conjunction and word != conjunction:
                raise malformed(f"unexpected token: '{word}' (mixing AND and OR needs parentheses)")
            conjunction = word
            items.append(self.term())
        return items[0] if len(items) == 1 else Junction(conjunction, tuple(items))

    def term(self) -> Condition:
        if self.at_word("NOT"):
            self.take()
            return Not(self.term())
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            if self.at_word("SELECT"):
                raise malformed("semi-joins are not supported by the sandbox")
            inner = self.condition()
            self.expect_punct(")")
            return inner
        name = self.name()
        if self.at_word("NOT"):
            self.take()
            self.expect_word("IN")
            return In(name, self.value_list(), negated=True)
        if self.at_word("IN"):
            self.take()
            return In(name, self.value_list())
        if self.at_word("LIKE"):
            self.take()
            pattern = self.value()
            if pattern.kind != "string":
                raise malformed("LIKE needs a quoted string")
            return Like(name, pattern)
        op = self.take()
        if op.kind != "op":
            raise malformed(f"unexpected token: '{op.text}'")
        return Compare(name, "!=" if op.text == "<>" else op.text, self.value())

    def value_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.at_word("SELECT"):
            raise malformed("semi-joins are not supported by the sandbox")
        values = [self.value()]
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.take()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return string_literal(token.text)
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind == "date":
            try:
                return Literal("date", dt.date.fromisoformat(token.text))
            except ValueError as bad:
                raise malformed(f"invalid date: {token.text}") from bad
        if token.kind == "datetime":
            try:
                return Literal("datetime", parse_datetime(token.text))
            except ValueError as bad:
                raise malformed(f"invalid datetime: {token.text}") from bad
        if token.is_word("NULL"):
            return Literal("null", None)
        if token.is_word("TRUE", "FALSE"):
            return Literal("bool", token.is_word("TRUE"))
        raise malformed(f"unexpected token: '{token.text}'")


def parse(text: str) -> Query:
    return Parser(text).query()


# -- evaluation --------------------------------------------------------------------------------------------
Row = dict[str, Any]
Getter = Callable[[Row], Any]
Predicate = Callable[[Row], bool]


def resolve(name: str, sobject: str, fields: dict[str, FieldDef]) -> FieldDef:
    if "." in name:
        raise SoqlError(
            "INVALID_FIELD", f"Didn't understand relationship '{name.split('.')[0]}' in field path."
        )
    fdef = fields.get(name.lower())
    if fdef is None:
        raise SoqlError(
            "INVALID_FIELD",
            f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a custom field, be "
            "sure to append the '__c' after the custom field name. Please reference your WSDL or the describe "
            "call for the appropriate names.",
        )
    return fdef


def getter(fdef: FieldDef) -> Getter:
    """Read a stored value as a comparable Python value (text case-folded)."""
    name, kind = fdef.name, fdef.kind

    def get(row: Row) -> Any:
        value = row.get(name)
        if value is None:
            return False if kind == "bool" else None
        if kind == "string":
            return str(value).casefold()
        if kind == "number":
            return float(value)
        if kind == "bool":
            return bool(value)
        if kind == "date":
            return dt.date.fromisoformat(str(value)[:10])
        if kind == "datetime":
            return parse_datetime(str(value))
        return value

    return get


TYPE_NAMES = {
    "datetime": "dateTime",
    "date": "date",
    "number": "double",
    "bool": "boolean",
    "string": "string",
}


def literal_value(literal: Literal, fdef: FieldDef, op: str) -> Any:
    if literal.kind == "null":
        if op not in ("=", "!=", "IN"):
            raise malformed(f"null can only be compared with = or != (field {fdef.name})")
        return None
    if literal.kind != fdef.kind:
        quoted = " and should not be enclosed in quotes" if literal.kind == "string" else ""
        raise SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{fdef.name}' must be of type {TYPE_NAMES[fdef.kind]}{quoted}",
        )
    return literal.value.casefold() if literal.kind == "string" else literal.value


def compile_condition(node: Condition, sobject: str, fields: dict[str, FieldDef]) -> Predicate:
    if isinstance(node, Junction):
        parts = [compile_condition(item, sobject, fields) for item in node.items]
        if node.conjunction == "AND":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    if isinstance(node, Not):
        inner = compile_condition(node.item, sobject, fields)
        return lambda row: not inner(row)
    fdef = resolve(node.field, sobject, fields)
    get = getter(fdef)
    if isinstance(node, Like):
        if fdef.kind != "string":
            raise SoqlError("INVALID_FIELD", f"invalid operator on field '{fdef.name}': LIKE")
        regex = node.pattern.like
        assert regex is not None
        return lambda row: row.get(fdef.name) is not None and regex.fullmatch(str(row[fdef.name])) is not None
    if isinstance(node, In):
        wanted = {literal_value(literal, fdef, "IN") for literal in node.values}
        if node.negated:
            return lambda row: get(row) not in wanted
        return lambda row: get(row) in wanted
    value = literal_value(node.value, fdef, node.op)
    op = node.op
    if op == "=":
        return lambda row: get(row) == value
    if op == "!=":
        return lambda row: get(row) != value
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[op]

    def ordered(row: Row) -> bool:
        current = get(row)
        return current is not None and check(current, value)

    return ordered


@dataclass
class Plan:
    """A parsed query checked against the object's describe: what to select, filter and sort by."""

    query: Query
    select: list[FieldDef]
    predicate: Predicate
    order: list[tuple[Getter, bool, bool]]
    # Top-level AND conditions the database can apply first: (field, op, raw values).
    indexable: list[tuple[str, str, list[Any]]]


def plan(query: Query, fields: dict[str, FieldDef]) -> Plan:
    select = [resolve(name, query.sobject, fields) for name in query.fields]
    seen: set[str] = set()
    for fdef in select:
        if fdef.name in seen:
            raise malformed(f"duplicate field selected: {fdef.name}")
        seen.add(fdef.name)
    predicate = compile_condition(query.where, query.sobject, fields) if query.where else (lambda row: True)
    order = [
        (getter(resolve(name, query.sobject, fields)), descending, nulls_first)
        for name, descending, nulls_first in query.order_by
    ]
    return Plan(query, select, predicate, order, indexable(query.where, query.sobject, fields))


def indexable(
    where: Condition | None, sobject: str, fields: dict[str, FieldDef]
) -> list[tuple[str, str, list]]:
    """Conditions every matching row must meet that SQL can check: ids and stamps, never case-folded text."""
    if where is None:
        return []
    conjuncts = where.items if isinstance(where, Junction) and where.conjunction == "AND" else (where,)
    found: list[tuple[str, str, list]] = []
    for node in conjuncts:
        if isinstance(node, In | Compare) and not (isinstance(node, In) and node.negated):
            fdef = resolve(node.field, sobject, fields)
            values = node.values if isinstance(node, In) else (node.value,)
            op = "in" if isinstance(node, In) else node.op
            if (
                fdef.type in ("id", "reference")
                and op in ("in", "=")
                and all(v.kind == "string" for v in values)
            ):
                found.append((fdef.name, "in", [v.value for v in values]))
            elif (
                fdef.name == "SystemModstamp"
                and op in ("<", "<=", ">", ">=")
                and values[0].kind == "datetime"
            ):
                found.append((fdef.name, op, [values[0].value]))
    return found


def sort_rows(rows: list[Row], order: list[tuple[Getter, bool, bool]]) -> list[Row]:
    """ORDER BY with SOQL's null placement (ASC: nulls first, DESC: nulls last, unless told), stable."""
    for get, descending, nulls_first in reversed(order):
        present = [row for row in rows if get(row) is not None]
        missing = [row for row in rows if get(row) is None]
        present.sort(key=get, reverse=descending)
        rows = missing + present if nulls_first else present + missing
    return rows
