"""Batch prediction inputs in the exact formats AutoML Video and Vertex AI use, for every prediction type.

Inputs are legacy AutoML CSV rows ``VIDEO_URI,START,END`` or Vertex JSONL instances
``{"content", "mimeType", "timeSegmentStart", "timeSegmentEnd"}``, chosen by the file extension.
A row that cannot be parsed is kept (with its error) so the output reports it instead of losing it.
"""

import csv
import hashlib
import io
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from automl_video import storage
from automl_video.times import parse_duration, parse_seconds

LEGACY_CSV = "automl_csv"
VERTEX_JSONL = "vertex_jsonl"
FORMAT_BY_EXTENSION = {".csv": LEGACY_CSV, ".jsonl": VERTEX_JSONL}


@dataclass
class PredictionInput:
    """One row (CSV line or JSONL instance) to predict.

    ``index`` numbers rows over all input files in order; sharding, resume and output order use it.
    ``original`` is echoed into the output: the CSV fields, the JSON instance, or the raw line when it
    was not valid JSON. ``error`` is set when the row itself is invalid (it then fails alone).
    """

    index: int
    input_uri: str
    line: int
    video_uri: str
    start: float
    end: float
    original: Any
    error: str = ""

    @property
    def source(self) -> str:
        return f"{self.input_uri} line {self.line}"


@dataclass
class InputSet:
    """The rows of all input files; ``digest`` (sha256 of their URIs and bytes) keys resumable work."""

    format: str
    uris: list[str]
    rows: list[PredictionInput]
    digest: str


def input_format(uri: str) -> str:
    extension = os.path.splitext(uri.split("?", 1)[0])[1].lower()
    if extension not in FORMAT_BY_EXTENSION:
        raise ValueError(
            f"{uri}: cannot tell the input format from the extension {extension or '(none)'!r}; "
            "use .csv (AutoML VIDEO_URI,START,END rows) or .jsonl (Vertex instances)"
        )
    return FORMAT_BY_EXTENSION[extension]


def read_inputs(uris: list[str]) -> InputSet:
    """Read every input file into rows numbered in order; all inputs must share one format.

    Args:
        uris: CSV or JSONL files (any storage URL).

    Returns:
        The format and the rows; bad rows carry their error instead of raising.
    """
    if not uris:
        raise ValueError("no input given: pass at least one --input CSV or JSONL file")
    formats = {uri: input_format(uri) for uri in uris}
    if len(set(formats.values())) > 1:
        listing = ", ".join(f"{u} ({f})" for u, f in formats.items())
        raise ValueError(f"inputs mix AutoML CSV and Vertex JSONL files: {listing}; predict one format at a time")
    rows: list[PredictionInput] = []
    digest = hashlib.sha256()
    for uri in uris:
        if not storage.exists(uri):
            raise FileNotFoundError(f"{uri}: input file not found")
        data = storage.read_bytes(uri)
        digest.update(f"{uri}\n{len(data)}\n".encode() + data)
        parse = _parse_csv if formats[uri] == LEGACY_CSV else _parse_jsonl
        rows.extend(parse(uri, data.decode("utf-8-sig"), first_index=len(rows)))
    if not rows:
        raise ValueError(f"{', '.join(uris)}: no rows to predict")
    return InputSet(format=formats[uris[0]], uris=list(uris), rows=rows, digest=digest.hexdigest())


def _parse_csv(uri: str, text: str, first_index: int) -> Iterator[PredictionInput]:
    index = first_index
    for line_number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not any(f.strip() for f in fields):
            continue
        fields = [f.strip() for f in fields]
        row = PredictionInput(index, uri, line_number, fields[0], 0.0, 0.0, fields)
        try:
            if len(fields) != 3:
                raise ValueError(f"expected 3 columns VIDEO_URI,START,END, got {len(fields)}")
            if not fields[0]:
                raise ValueError("VIDEO_URI is empty")
            row.start = _checked_time("START", parse_seconds, fields[1])
            row.end = _checked_time("END", parse_seconds, fields[2])
            _check_order(row)
        except ValueError as e:
            row.error = f"{row.source}: {e}"
        yield row
        index += 1


def _parse_jsonl(uri: str, text: str, first_index: int) -> Iterator[PredictionInput]:
    index = first_index
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = PredictionInput(index, uri, line_number, "", 0.0, 0.0, line)
        try:
            instance = json.loads(line)
        except json.JSONDecodeError as e:
            row.error = f"{row.source}: not valid JSON: {e.msg}"
            yield row
            index += 1
            continue
        row.original = instance
        try:
            if not isinstance(instance, dict):
                raise ValueError("an instance must be a JSON object with a 'content' URI")
            content = instance.get("content")
            if not isinstance(content, str) or not content.strip():
                raise ValueError("'content' (the video URI) is missing or not a string")
            row.video_uri = content.strip()
            mime_type = instance.get("mimeType", "video/mp4")
            if not isinstance(mime_type, str) or not mime_type.startswith("video/"):
                raise ValueError(f"'mimeType' {mime_type!r} is not a video type")
            row.start = _checked_time("timeSegmentStart", parse_duration, instance.get("timeSegmentStart", "0s"))
            row.end = _checked_time("timeSegmentEnd", parse_duration, instance.get("timeSegmentEnd", "Infinity"))
            _check_order(row)
        except ValueError as e:
            row.error = f"{row.source}: {e}"
        yield row
        index += 1


def _checked_time(name: str, parse, raw: Any) -> float:
    try:
        return parse(raw)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _check_order(row: PredictionInput) -> None:
    if row.start < 0 or math.isinf(row.start):
        raise ValueError(f"START {row.start:g} must be a finite time >= 0")
    if row.end <= row.start:
        raise ValueError(f"END {row.end:g} must be after START {row.start:g}")
