"""Reading import files into annotation rows: AutoML two-level CSVs, Vertex one-level CSVs and Vertex JSONL.

- **AutoML** (v1beta1 ``ImportData``): a top-level CSV of ``ML_USE,CSV_URI`` rows (ML_USE ``TRAIN``,
  ``TEST`` or ``UNASSIGNED``), each listed CSV holding the task's rows (classification:
  ``VIDEO_URI,LABEL,START,END``). Listed CSVs are read once each, in parallel.
- **Vertex CSV** (``importSchemaUri`` ``video_*_io_format_1.0.0.yaml``): one level, each row the task's
  columns after an optional ML_USE (``training`` / ``validation`` / ``test``; absent: UNASSIGNED).
- **Vertex JSONL**: one JSON object per line: ``videoGcsUri``, the task's annotation list
  (classification: ``timeSegmentAnnotations``), and the ML_USE under ``dataItemResourceLabels``
  (``aiplatform.googleapis.com/ml_use`` or ``ml_use``).

``.jsonl`` files are Vertex JSONL. A ``.csv`` file is an AutoML top-level CSV when its first row has two
fields (``ML_USE,CSV_URI``), else a Vertex CSV. A row that does not parse is a failure naming the file,
row (line) and reason; a file that cannot be read or parsed at all refuses the whole import.
"""

import concurrent.futures
import csv
import io
import json
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from automl_video import storage
from automl_video.data.dataset import AUTOML_CSV_ML_USES, DatasetError, MLUse, RowFailure
from automl_video.storage import UriGuard, refused
from automl_video.tasks.base import AnnotationRules

READ_WORKERS = 16
VERTEX_ML_USE_LABELS = ("aiplatform.googleapis.com/ml_use", "ml_use")


class ImportFailed(DatasetError):
    """The import was refused as a whole: nothing was imported.

    ``failures`` holds every failed row (possibly none, e.g. for an unreadable CSV) and
    ``report_uri`` the JSONL report of them when one was written.
    """

    def __init__(self, message: str, failures: list[RowFailure] | None = None, report_uri: str = ""):
        super().__init__(message)
        self.failures = failures or []
        self.report_uri = report_uri


@dataclass
class AnnotationRow:
    """A row that parsed; its annotation is checked against its video later (None: the row names a
    video and no annotation)."""

    source_uri: str
    row: int
    ml_use: MLUse
    video_uri: str
    annotation: Any | None


@dataclass
class ImportRows:
    """Every annotation row of the import files, how many rows were read (failed ones and top-level
    rows included), and notes on how files were read."""

    rows: list[AnnotationRow] = field(default_factory=list)
    row_count: int = 0
    notes: list[str] = field(default_factory=list)


def resolve_uri(reference: str, csv_uri: str) -> str:
    """A URI named inside ``csv_uri``: absolute ones as they are, relative ones from the file's folder."""
    if "://" in reference or os.path.isabs(reference) or "/" not in csv_uri:
        return reference
    scheme, separator, path = csv_uri.rpartition("://")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), reference))
    return f"{scheme}{separator}{resolved}"


def vertex_field(item: dict[str, Any], camel_case: str, default: Any = None) -> Any:
    """A Vertex JSON field by its camelCase name or its snake_case one (Vertex accepts both)."""
    snake_case = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel_case)
    return item.get(camel_case, item.get(snake_case, default))


def read_import_files(
    sources: list[str], rules: AnnotationRules, failures: list[RowFailure], guard: UriGuard | None = None
) -> ImportRows:
    """Parse every import file (and the CSVs AutoML top-level CSVs list); bad rows go to ``failures``,
    and so does a top-level row naming a CSV that ``guard`` refuses (it is never read).

    Raises:
        ImportFailed: a file is missing, not UTF-8 text, or not parseable as CSV.
    """
    found = ImportRows()
    listings: list[tuple[str, int, MLUse, str]] = []  # (top-level CSV, row, ML_USE, listed CSV)
    for source in sources:
        if _extension(source) == ".jsonl":
            _read_vertex_jsonl(source, rules, found, failures)
            continue
        records = _read_csv_rows(source)
        if records and len(records[0][1]) == 2:
            listings += _read_listings(source, records, found, failures, guard)
        else:
            found.notes.append(f"{source}: read as a Vertex CSV ([ML_USE,]{rules.csv_columns})")
            _parse_task_rows(source, records, None, rules, found, failures)
    _read_listed_csvs(listings, rules, found, failures)
    return found


def _extension(uri: str) -> str:
    return os.path.splitext(uri.split("?", 1)[0])[1].lower()


def _read_text(uri: str, what: str, listed_in: str = "") -> str:
    where = f" (listed in {listed_in})" if listed_in else ""
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        raise ImportFailed(f"{uri}: {what} not found{where}; nothing imported") from None
    except OSError as e:
        raise ImportFailed(f"{uri}: cannot read {what}{where}: {e}; nothing imported") from e
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFailed(f"{uri}: not a UTF-8 text {what}{where} (byte {e.start}); nothing imported") from None


def _read_csv_rows(uri: str, listed_in: str = "") -> list[tuple[int, list[str]]]:
    """The non-blank records of a CSV as ``(1-based line number, stripped fields)``."""
    reader = csv.reader(io.StringIO(_read_text(uri, "CSV", listed_in), newline=""), strict=True)
    records = []
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                records.append((reader.line_num, [f.strip() for f in fields]))
    except csv.Error as e:
        where = f" (listed in {listed_in})" if listed_in else ""
        raise ImportFailed(f"{uri}: cannot parse CSV{where} at line {reader.line_num}: {e}; nothing imported") from None
    return records


def _read_listings(
    source: str,
    records: list[tuple[int, list[str]]],
    found: ImportRows,
    failures: list[RowFailure],
    guard: UriGuard | None,
) -> list[tuple[str, int, MLUse, str]]:
    """The ``ML_USE,CSV_URI`` rows of an AutoML top-level CSV; bad or refused rows become failures."""
    listings = []
    for row, fields in records:
        found.row_count += 1
        if len(fields) != 2:
            failures.append(RowFailure(source, row, f"expected 2 columns ML_USE,CSV_URI, got {len(fields)}"))
        elif fields[0] not in AUTOML_CSV_ML_USES:
            message = f"ML_USE {fields[0]!r} must be one of {', '.join(AUTOML_CSV_ML_USES)}"
            failures.append(RowFailure(source, row, message))
        elif not fields[1]:
            failures.append(RowFailure(source, row, "empty CSV_URI"))
        elif (refusal := refused(resolve_uri(fields[1], source), guard)) is not None:
            failures.append(RowFailure(source, row, refusal))
        else:
            listings.append((source, row, MLUse(fields[0]), resolve_uri(fields[1], source)))
    return listings


def _read_listed_csvs(
    listings: list[tuple[str, int, MLUse, str]], rules: AnnotationRules, found: ImportRows, failures: list[RowFailure]
) -> None:
    """Read every CSV the top-level CSVs list (each once, in parallel) and parse their rows."""
    first_listing: dict[str, str] = {}
    for source, row, _, csv_uri in listings:
        first_listing.setdefault(csv_uri, f"{source} row {row}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        read = pool.map(lambda uri: _rows_or_failure(uri, first_listing[uri]), first_listing)
        contents = dict(zip(first_listing, read))
    for _, _, ml_use, csv_uri in listings:
        records = contents[csv_uri]
        if isinstance(records, ImportFailed):
            raise records
        _parse_task_rows(csv_uri, records, ml_use, rules, found, failures)


def _rows_or_failure(uri: str, listed_in: str) -> list[tuple[int, list[str]]] | ImportFailed:
    """The CSV's rows, or the ImportFailed reading it raised (re-raised later in a deterministic order)."""
    try:
        return _read_csv_rows(uri, listed_in)
    except ImportFailed as e:
        return e


def _parse_task_rows(
    csv_uri: str,
    records: list[tuple[int, list[str]]],
    ml_use: MLUse | None,
    rules: AnnotationRules,
    found: ImportRows,
    failures: list[RowFailure],
) -> None:
    """Parse the task's rows of one CSV; ``ml_use`` None: a Vertex CSV, whose rows may start with it."""
    for row, fields in records:
        found.row_count += 1
        row_ml_use = ml_use
        if row_ml_use is None:
            row_ml_use, fields = _vertex_csv_ml_use(fields)
        try:
            parsed = rules.parse_csv_row(fields, csv_uri, row)
        except ValueError as e:
            failures.append(RowFailure(csv_uri, row, str(e)))
            continue
        found.rows.append(
            AnnotationRow(csv_uri, row, row_ml_use, resolve_uri(parsed.video_uri, csv_uri), parsed.annotation)
        )


def _vertex_csv_ml_use(fields: list[str]) -> tuple[MLUse, list[str]]:
    """A Vertex CSV row's ML_USE (its first field when that is one) and the task's fields after it."""
    if fields:
        try:
            return MLUse.from_vertex(fields[0]), fields[1:]
        except ValueError:
            pass
    return MLUse.UNASSIGNED, fields


def _read_vertex_jsonl(source: str, rules: AnnotationRules, found: ImportRows, failures: list[RowFailure]) -> None:
    for line_number, line in enumerate(_read_text(source, "JSONL file").splitlines(), start=1):
        if not line.strip():
            continue
        found.row_count += 1
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("a line must be a JSON object with a 'videoGcsUri'")
            video_uri = item.get("videoGcsUri", item.get("video_gcs_uri"))
            if not isinstance(video_uri, str) or not video_uri.strip():
                raise ValueError("'videoGcsUri' (the video URI) is missing or not a string")
            ml_use = _vertex_jsonl_ml_use(item)
            annotations = rules.parse_jsonl_item(item, source, line_number)
        except json.JSONDecodeError as e:
            failures.append(RowFailure(source, line_number, f"not valid JSON: {e.msg}"))
            continue
        except ValueError as e:
            failures.append(RowFailure(source, line_number, str(e)))
            continue
        video_uri = resolve_uri(video_uri.strip(), source)
        # No annotation: the line still names a video (not yet labelled), imported without one.
        found.rows += [AnnotationRow(source, line_number, ml_use, video_uri, a) for a in annotations or [None]]


def _vertex_jsonl_ml_use(item: dict[str, Any]) -> MLUse:
    labels = item.get("dataItemResourceLabels", item.get("data_item_resource_labels")) or {}
    if not isinstance(labels, dict):
        raise ValueError("'dataItemResourceLabels' must be an object of label: value")
    for key in VERTEX_ML_USE_LABELS:
        if key in labels:
            return MLUse.from_vertex(labels[key])
    return MLUse.UNASSIGNED
