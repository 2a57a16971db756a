"""``order_by`` parsing and page tokens for list calls.

Pages use keyset pagination: the token carries the sort key of the last row returned, so deleting or
adding resources between two calls neither repeats nor skips the others. A token is only valid with
the same parent, filter and order_by it was issued for.
"""

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from automl_video.registry.filters import snake_case

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a list call; an empty ``next_page_token`` means it was the last."""

    items: list[T]
    next_page_token: str = ""


def every_item(list_page: Callable[[str | None], Page[T]]) -> list[T]:
    """The items of every page of a list call, ``list_page(page_token)`` fetching one page."""
    items: list[T] = []
    token = None
    while True:
        page = list_page(token)
        items += page.items
        token = page.next_page_token
        if not token:
            return items


@dataclass(frozen=True)
class SortKey:
    column: Any
    descending: bool = False


def parse_order_by(
    order_by: str | None, fields: Mapping[str, Any], default: str = "create_time"
) -> list[tuple[str, bool]]:
    """``"display_name, create_time desc"`` → ``[("display_name", False), ("create_time", True)]``.

    Raises:
        ValueError: an unknown field, a repeated field, or a direction other than ``asc``/``desc``.
    """
    text = order_by if order_by and order_by.strip() else default
    result: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ValueError(f"order_by {order_by!r}: {part.strip()!r} is not 'FIELD' or 'FIELD desc'")
        name = snake_case(words[0])
        if name not in fields:
            raise ValueError(
                f"order_by {order_by!r}: unknown field {words[0]!r}; sortable fields: {', '.join(sorted(fields))}"
            )
        if name in (n for n, _ in result):
            raise ValueError(f"order_by {order_by!r}: {name} appears twice")
        result.append((name, len(words) == 2 and words[1].lower() == "desc"))
    return result


def page_size_or_default(page_size: int | None) -> int:
    if page_size is None or page_size == 0:
        return DEFAULT_PAGE_SIZE
    if not isinstance(page_size, int) or page_size < 0:
        raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
    return min(page_size, MAX_PAGE_SIZE)


def query_fingerprint(*parts: str | None) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def encode_token(fingerprint: str, values: Sequence[Any]) -> str:
    encoded = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps({"q": fingerprint, "k": encoded}).encode()).decode().rstrip("=")


def decode_token(token: str, fingerprint: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort key a token resumes after. ValueError if it is malformed or from another query."""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        values = doc["k"]
        valid = doc["q"] == fingerprint and len(values) == len(keys)
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"page_token {token!r} is not a token this registry issued") from None
    if not valid:
        raise ValueError("page_token was issued for a different parent, filter or order_by; start again without it")
    return [
        dt.datetime.fromisoformat(v) if isinstance(key.column.type, sa.DateTime) and v is not None else v
        for key, v in zip(keys, values)
    ]


def after(keys: Sequence[SortKey], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the order ``keys`` (every sort column is NOT NULL)."""
    alternatives = []
    for i, key in enumerate(keys):
        equal = [k.column == v for k, v in zip(keys[:i], values[:i])]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)
