"""User labels on resources, validated with the Vertex AI rules.

Label keys and values are at most 64 characters (Unicode code points) of lowercase letters, digits,
underscores and dashes; international (non-Latin) lowercase or uncased letters are allowed. A key is
required and starts with a letter; a value may be empty. A resource has at most 64 labels.
"""

from collections.abc import Mapping

MAX_LABELS = 64
MAX_LENGTH = 64


def _is_lowercase_letter(ch: str) -> bool:
    # Lowercase Latin/Greek/Cyrillic… and uncased scripts (CJK, Arabic…) pass; uppercase and titlecase fail.
    return ch.isalpha() and ch == ch.lower()


def _is_allowed(ch: str) -> bool:
    return _is_lowercase_letter(ch) or ch.isdecimal() or ch in "_-"


def _check_text(text: object, part: str, key: object) -> None:
    if not isinstance(text, str):
        raise ValueError(f"label {key!r}: the {part} must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"label {key!r}: the {part} is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    bad = [ch for ch in text if not _is_allowed(ch)]
    if bad:
        raise ValueError(
            f"label {key!r}: the {part} contains {bad[0]!r}; only lowercase letters, digits, '_' and '-' "
            "are allowed (international letters included)"
        )


def validate_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    """Return ``labels`` as a plain dict, or raise ValueError naming the first invalid label.

    Args:
        labels: user labels, or None for none.

    Returns:
        A new dict with the same items.
    """
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise ValueError(f"labels must be a mapping of strings to strings, got {type(labels).__name__}")
    if len(labels) > MAX_LABELS:
        raise ValueError(f"{len(labels)} labels given; a resource can have at most {MAX_LABELS}")
    for key, value in labels.items():
        _check_text(key, "key", key)
        if not key:
            raise ValueError("label '': the key must not be empty")
        if not _is_lowercase_letter(key[0]):
            raise ValueError(f"label {key!r}: the key must start with a lowercase letter")
        _check_text(value, "value", key)
    return dict(labels)
