"""List filters: the subset of AIP-160 that AutoML and Vertex list calls accept, parsed into a tree and
then either compiled to SQL (registry lists) or evaluated in Python (filter splits over data items).
Nothing is ever passed to ``eval``; every value reaches SQL as a bound parameter.

Grammar (``OR`` binds tighter than ``AND``, as in AIP-160; juxtaposition means ``AND``)::

    filter     := expression
    expression := sequence { "AND" sequence }
    sequence   := factor { factor }
    factor     := term { "OR" term }
    term       := [ "NOT" ] simple
    simple     := "(" expression ")"
                | "regex" "(" field "," "pattern" ")"       RE2/Python syntax, unanchored search
                | field OP value
    OP         := "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
    field      := name | "labels." key                     snake_case or camelCase names
    value      := "quoted string" | bare-word

``=`` / ``!=`` compare strings (``!=`` also matches a missing value); ``<``, ``<=``, ``>``, ``>=`` compare
timestamps (``create_time>"2024-05-01T00:00:00Z"``); ``field:*`` tests presence, ``labels:key`` tests
that a label key exists, ``field:"*.avi"`` matches a ``*`` wildcard pattern. Examples::

    display_name="run 3" AND labels.team=vision
    regex(display_name, "^exp-") AND NOT state=JOB_STATE_FAILED
    labels.env=prod OR labels.env=staging
"""

import datetime as dt
import enum
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=", ":")
_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
ORDERING_OPS = tuple(_ORDERING)
LABELS = "labels"
PRESENT = "*"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
      | (?P<op><=|>=|!=|=|<|>|:)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<word>[^\s()=!<>:,"']+)
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


@dataclass(frozen=True)
class Comparison:
    field: str
    key: str | None
    op: str
    value: str


@dataclass(frozen=True)
class Regex:
    field: str
    key: str | None
    pattern: str


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]


Node = Comparison | Regex | Not | And | Or


class FieldKind(enum.Enum):
    STRING = "string"
    TIME = "time"
    LABELS = "labels"


@dataclass(frozen=True)
class Field:
    """A filterable field: its kind, its SQL expression (registry lists) and allowed values (enums)."""

    kind: FieldKind
    column: Any = None
    allowed: tuple[str, ...] | None = None


def snake_case(name: str) -> str:
    """``displayName`` → ``display_name`` (filters and order_by accept both spellings)."""
    return _CAMEL_HUMP.sub(r"_\1", name).lower()


# -- parsing ---------------------------------------------------------------------------------------


@dataclass
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.lastgroup is None:
            snippet = text[position:].lstrip()[:1]
            reason = "unterminated string" if snippet in "\"'" else f"unexpected character {snippet!r}"
            raise ValueError(f"filter {text!r}: {reason} at position {len(text) - len(text[position:].lstrip())}")
        start = match.start(match.lastgroup)
        tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), start))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def error(self, reason: str, token: _Token | None = None) -> ValueError:
        where = f"at position {token.position}" if token else "at the end"
        return ValueError(f"filter {self.text!r}: {reason} {where}")

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind:
            raise self.error(f"expected {what}", token)
        self.index += 1
        return token

    def at_keyword(self, keyword: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text == keyword

    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek().text!r}", self.peek())
        return node

    def expression(self) -> Node:
        operands = [self.sequence()]
        while self.at_keyword("AND"):
            self.index += 1
            operands.append(self.sequence())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def sequence(self) -> Node:
        operands = [self.factor()]
        while self.peek() is not None and self.peek().kind in ("word", "lparen") and not self.at_keyword("AND"):
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def factor(self) -> Node:
        operands = [self.term()]
        while self.at_keyword("OR"):
            self.index += 1
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def term(self) -> Node:
        if self.at_keyword("NOT"):
            self.index += 1
            return Not(self.simple())
        return self.simple()

    def simple(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "lparen":
            self.index += 1
            node = self.expression()
            self.take("rparen", "')'")
            return node
        next_token = self.peek(1)
        if self.at_keyword("regex") and next_token is not None and next_token.kind == "lparen":
            self.index += 2
            field, key = self.field()
            self.take("comma", "','")
            pattern = _unquote(self.take("string", "a quoted regular expression").text)
            self.take("rparen", "')'")
            try:
                re.compile(pattern)
            except re.error as e:
                raise self.error(f"invalid regular expression {pattern!r} ({e})", token) from None
            return Regex(field, key, pattern)
        field, key = self.field()
        op = self.take("op", f"an operator ({' '.join(COMPARISON_OPS)})").text
        value_token = self.peek()
        if value_token is None or value_token.kind not in ("word", "string"):
            raise self.error(f"expected a value after {op!r}", value_token)
        self.index += 1
        value = _unquote(value_token.text) if value_token.kind == "string" else value_token.text
        return Comparison(field, key, op, value)

    def field(self) -> tuple[str, str | None]:
        token = self.take("word", "a field name")
        if token.text in ("AND", "OR", "NOT"):
            raise self.error(f"expected a field name, found {token.text!r}", token)
        head, _, key = token.text.partition(".")
        head = snake_case(head)
        if head == LABELS and _:
            if not key:
                raise self.error("expected a label key after 'labels.'", token)
            return head, key
        if _:
            raise self.error(f"unknown field {token.text!r} (only labels.KEY has a dotted form)", token)
        return head, None


def _unquote(text: str) -> str:
    return _ESCAPE.sub(r"\1", text[1:-1])


def parse(text: str | None) -> Node | None:
    """Parse a filter string; None or blank means no filter. ValueError points at the position."""
    if text is None or not text.strip():
        return None
    if not isinstance(text, str):
        raise ValueError(f"filter must be a string, got {type(text).__name__}")
    return _Parser(text).parse()


# -- checks shared by both back ends ----------------------------------------------------------------


def _field(fields: Mapping[str, Field], name: str) -> Field:
    if name not in fields:
        raise ValueError(f"filter: unknown field {name!r}; filterable fields: {', '.join(sorted(fields))}")
    return fields[name]


def _check_node(node: Comparison | Regex, field: Field) -> None:
    if isinstance(node, Regex):
        if field.kind is not FieldKind.STRING and node.key is None:
            raise ValueError(f"filter: regex() applies to text fields and labels.KEY, not {node.field}")
        return
    if field.kind is FieldKind.LABELS and node.key is None and node.op != ":":
        raise ValueError(f"filter: use labels.KEY{node.op}VALUE or labels:KEY, not labels{node.op}{node.value}")
    if node.op in ORDERING_OPS and field.kind is not FieldKind.TIME:
        raise ValueError(f"filter: {node.op!r} compares timestamps only; {node.field} is not a timestamp")
    if field.allowed is not None and node.op in ("=", "!=") and node.value not in field.allowed:
        raise ValueError(f"filter: {node.field} {node.value!r} is not one of {', '.join(field.allowed)}")


def parse_time(value: str) -> dt.datetime:
    """An RFC 3339 timestamp as a naive UTC datetime (how the registry stores times)."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"filter: {value!r} is not an RFC 3339 timestamp like 2024-05-01T00:00:00Z") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def wildcard_regex(pattern: str) -> str:
    """A ``*`` wildcard pattern as an anchored regular expression (same result in Python, SQLite, PostgreSQL)."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


# -- SQL back end -----------------------------------------------------------------------------------


def to_sql(node: Node | None, fields: Mapping[str, Field]) -> sa.ColumnElement[bool]:
    """Compile a parsed filter to a SQLAlchemy condition over ``fields`` columns."""
    if node is None:
        return sa.true()
    if isinstance(node, And):
        return sa.and_(*(to_sql(n, fields) for n in node.operands))
    if isinstance(node, Or):
        return sa.or_(*(to_sql(n, fields) for n in node.operands))
    if isinstance(node, Not):
        return sa.not_(to_sql(node.operand, fields))
    field = _field(fields, node.field)
    _check_node(node, field)
    if isinstance(node, Regex):
        column = _sql_column(field, node.key)
        return sa.and_(column.is_not(None), column.regexp_match(node.pattern))
    if field.kind is FieldKind.LABELS and node.key is None:  # labels:KEY
        return _sql_column(field, node.value).is_not(None)
    column = _sql_column(field, node.key)
    if node.op == ":":
        if node.value == PRESENT:
            return column.is_not(None) if field.kind is FieldKind.LABELS else sa.and_(column.is_not(None), column != "")
        return sa.and_(column.is_not(None), column.regexp_match(wildcard_regex(node.value)))
    value: Any = parse_time(node.value) if field.kind is FieldKind.TIME else node.value
    if node.op == "=":
        return sa.and_(column.is_not(None), column == value)
    if node.op == "!=":
        return sa.or_(column.is_(None), column != value)
    return sa.and_(column.is_not(None), _ORDERING[node.op](column, value))


def _sql_column(field: Field, key: str | None) -> Any:
    if field.kind is FieldKind.LABELS:
        return field.column[key].as_string()
    return field.column


# -- Python back end --------------------------------------------------------------------------------

# A data item as the Python back end sees it: each field is a string, a list of strings (matches when
# any element does), a label dict, or None (missing).
ItemValue = str | list[str] | dict[str, str] | None


def check_fields(node: Node | None, fields: Mapping[str, Field]) -> None:
    """Validate every field and operator of ``node`` up front, so a bad filter fails before any work."""
    if node is None:
        return
    if isinstance(node, (And, Or)):
        for operand in node.operands:
            check_fields(operand, fields)
    elif isinstance(node, Not):
        check_fields(node.operand, fields)
    else:
        _check_node(node, _field(fields, node.field))


def matches(node: Node | None, item: Mapping[str, ItemValue]) -> bool:
    """Whether ``item`` satisfies the filter (call :func:`check_fields` first for clear errors)."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(n, item) for n in node.operands)
    if isinstance(node, Or):
        return any(matches(n, item) for n in node.operands)
    if isinstance(node, Not):
        return not matches(node.operand, item)
    raw = item.get(node.field)
    if isinstance(raw, dict):
        if isinstance(node, Comparison) and node.key is None:  # labels:KEY
            return node.value in raw
        raw = raw.get(node.key)
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    if isinstance(node, Regex):
        return any(re.search(node.pattern, v) for v in values)
    if node.op == "!=":
        return node.value not in values
    if node.op == "=":
        return node.value in values
    if node.op == ":":
        if node.value == PRESENT:
            return any(v != "" or node.key is not None for v in values)
        regex = re.compile(wildcard_regex(node.value), re.DOTALL)
        return any(regex.match(v) for v in values)
    bound = parse_time(node.value)
    return any(_ORDERING[node.op](parse_time(v), bound) for v in values)
