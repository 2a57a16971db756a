"""Model version aliases and the ``default`` alias rules (Vertex AI Model Registry).

* Version IDs are ``"1"``, ``"2"``, … per model, never reused after a version is deleted.
* An alias matches ``[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]``, so it can never look like a version ID, and
  names at most one version of its model: giving it to another version moves it.
* Exactly one version holds ``default``; the first version always does. A new version takes it only
  with ``is_default_version=True``; it can be moved, never removed.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_ALIAS = "default"
ALIAS_PATTERN = re.compile(r"[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]")
_REMOVE_PREFIX = "-"


def validate_alias(alias: object) -> str:
    if not isinstance(alias, str):
        raise ValueError(f"version alias {alias!r} must be a string")
    if alias.isdecimal():
        raise ValueError(f"version alias {alias!r} looks like a version ID; an alias must start with a letter")
    if not ALIAS_PATTERN.fullmatch(alias):
        raise ValueError(
            f"version alias {alias!r} is not valid: it must match [a-z][a-zA-Z0-9-]{{0,126}}[a-z0-9] "
            "(2 to 128 characters, starting with a lowercase letter, ending with a lowercase letter or digit)"
        )
    return alias


def aliases_for_new_version(
    aliases: Sequence[str] | None, is_default_version: bool, is_first_version: bool
) -> list[str]:
    """The aliases a new version gets: the user's, plus ``default`` when it becomes the default.

    Raises:
        ValueError: an invalid or repeated alias, or ``default`` asked for with ``is_default_version=False``.
    """
    if isinstance(aliases, str):
        raise ValueError(f"version aliases must be a list of strings, got the string {aliases!r}")
    requested = [validate_alias(a) for a in aliases or ()]
    repeated = sorted({a for a in requested if requested.count(a) > 1})
    if repeated:
        raise ValueError(f"version alias {repeated[0]!r} is given more than once")
    if DEFAULT_ALIAS in requested and not is_default_version and not is_first_version:
        raise ValueError(f"version alias {DEFAULT_ALIAS!r} contradicts is_default_version=False")
    if (is_default_version or is_first_version) and DEFAULT_ALIAS not in requested:
        requested.append(DEFAULT_ALIAS)
    return requested


@dataclass(frozen=True)
class AliasMerge:
    """A Vertex ``MergeVersionAliases`` request: ``golden`` adds, ``-golden`` removes."""

    add: tuple[str, ...]
    remove: tuple[str, ...]


def parse_alias_merge(aliases: Sequence[str]) -> AliasMerge:
    """Parse a merge request; ValueError for invalid aliases, both adding and removing one, or ``-default``."""
    if isinstance(aliases, str) or not aliases:
        raise ValueError("give a non-empty list of version aliases to add ('name') or remove ('-name')")
    add = [validate_alias(a) for a in aliases if not (isinstance(a, str) and a.startswith(_REMOVE_PREFIX))]
    remove = [
        validate_alias(a[len(_REMOVE_PREFIX) :]) for a in aliases if isinstance(a, str) and a.startswith(_REMOVE_PREFIX)
    ]
    both = sorted(set(add) & set(remove))
    if both:
        raise ValueError(f"version alias {both[0]!r} is both added and removed")
    if DEFAULT_ALIAS in remove:
        raise ValueError(
            f"the {DEFAULT_ALIAS!r} alias cannot be removed, only moved: add it to the version that should be the default"
        )
    return AliasMerge(add=tuple(dict.fromkeys(add)), remove=tuple(dict.fromkeys(remove)))
