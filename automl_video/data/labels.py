"""The rule AutoML puts on label (annotation spec) names, shared by every prediction type."""

import re

LABEL_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")


def check_label(label: str, also: str = "") -> None:
    """ValueError unless ``label`` is 1-32 characters of A-Z, a-z, 0-9 and _ (``also``: what else a
    task accepts, for the message)."""
    if not LABEL_PATTERN.fullmatch(label):
        extra = f", {also}" if also else ""
        raise ValueError(f"label {label!r} must be 1-32 characters of A-Z, a-z, 0-9 and _{extra}")
