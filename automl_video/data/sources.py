"""Import sources resolved when an import runs, so a scheduled run picks up CSVs dropped since the last one."""

import re

from automl_video import storage


def expand_sources(sources: list[str]) -> list[str]:
    """Resolve import sources at run time.

    A source ending in ``/`` is a prefix: every top-level import CSV under it (``ML_USE,CSV_URI``
    rows; the second-level CSVs they list are skipped). A source with ``*``, ``?`` or ``[`` is a glob.
    Anything else is one CSV, taken as given.

    Args:
        sources: CSV URIs, globs or prefixes.

    Returns:
        The CSV URIs in a stable order, without duplicates.

    Raises:
        FileNotFoundError: a prefix or glob matches no CSV.
    """
    expanded: list[str] = []
    for source in sources:
        if source.endswith("/"):
            found = [uri for uri in storage.glob(storage.join(source, "**", "*.csv")) if _is_import_csv(uri)]
            if not found:
                raise FileNotFoundError(f"{source}: no import CSV (rows ML_USE,CSV_URI) under this prefix")
        elif any(c in source for c in "*?["):
            found = storage.glob(source)
            if not found:
                raise FileNotFoundError(f"{source}: no file matches this pattern")
        else:
            found = [source]
        expanded.extend(uri for uri in found if uri not in expanded)
    return expanded


_ML_USE_ROW = re.compile(r"^\s*(TRAIN|TEST|UNASSIGNED)\s*,[^,]+$", re.IGNORECASE)


def _is_import_csv(uri: str) -> bool:
    """Whether the first non-blank line of a CSV is an ``ML_USE,CSV_URI`` row."""
    with storage.open_read(uri, "rb") as f:
        head = f.read(4096).decode("utf-8-sig", errors="replace")
    first = next((line for line in head.splitlines() if line.strip()), "")
    return bool(_ML_USE_ROW.match(first))
