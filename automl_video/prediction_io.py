"""Batch prediction inputs and outputs in the exact formats AutoML Video and Vertex AI use.

Inputs are legacy AutoML CSV rows ``VIDEO_URI,START,END`` or Vertex JSONL instances
``{"content", "mimeType", "timeSegmentStart", "timeSegmentEnd"}``, chosen by the file extension.
A row that cannot be parsed is kept (with its error) so the output reports it instead of losing it.

Outputs are the legacy ``video_classification.csv`` plus one JSON list of ``AnnotationPayload``
(proto3 JSON mapping of ``google.cloud.automl.v1beta1``) per row, or Vertex ``predictions_NNNNN.jsonl``
and ``errors_NNNNN.jsonl`` files.
"""

import csv
import enum
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from google.protobuf import duration_pb2

from automl_video import storage

LEGACY_CSV = "automl_csv"
VERTEX_JSONL = "vertex_jsonl"
FORMAT_BY_EXTENSION = {".csv": LEGACY_CSV, ".jsonl": VERTEX_JSONL}

LEGACY_INDEX_FILE = "video_classification.csv"
VERTEX_PREDICTIONS_PREFIX = "predictions_"
VERTEX_ERRORS_PREFIX = "errors_"
# A new Vertex output file is started past either limit, so no single file (nor the bytes held to
# write it atomically) grows without bound on inputs with many long videos.
VERTEX_FILE_MAX_INSTANCES = 10_000
VERTEX_FILE_MAX_BYTES = 64 * 1024 * 1024

_INFINITY_WORDS = {"inf", "infinity", "+inf", "+infinity"}


class ClassificationType(str, enum.Enum):
    """The three kinds of video classification; values are the AutoML ``videoClassification.type``."""

    ONE_SEC_INTERVAL = "1s_interval"
    SEGMENT = "segment"
    SHOT = "shot"

    @property
    def vertex_name(self) -> str:
        return _VERTEX_TYPE_NAMES[self]


_VERTEX_TYPE_NAMES = {
    ClassificationType.SEGMENT: "segment-classification",
    ClassificationType.SHOT: "shot-classification",
    ClassificationType.ONE_SEC_INTERVAL: "one-sec-interval-classification",
}


@dataclass
class PredictionParams:
    """What to predict: AutoML ``BatchPredictRequest.params`` / Vertex ``model_parameters``.

    ``max_predictions`` caps the labels kept per (type, time segment), highest scores first.
    """

    score_threshold: float = 0.0
    segment_classification: bool = True
    shot_classification: bool = False
    one_sec_interval_classification: bool = False
    max_predictions: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be between 0 and 1, got {self.score_threshold}")
        if self.max_predictions is not None and self.max_predictions < 1:
            raise ValueError(f"max_predictions must be at least 1, got {self.max_predictions}")
        if not self.types:
            raise ValueError("no classification type requested: enable segment, shot or 1-second classification")

    @property
    def types(self) -> list[ClassificationType]:
        wanted = {
            ClassificationType.SEGMENT: self.segment_classification,
            ClassificationType.SHOT: self.shot_classification,
            ClassificationType.ONE_SEC_INTERVAL: self.one_sec_interval_classification,
        }
        return [t for t, on in wanted.items() if on]

    @classmethod
    def from_mapping(cls, params: dict[str, Any]) -> "PredictionParams":
        """Parse AutoML ``params`` (string map) or Vertex ``model_parameters`` (camelCase) keys.

        Args:
            params: e.g. ``{"score_threshold": "0.2", "1s_interval_classification": "true"}`` or
                ``{"confidenceThreshold": 0.2, "oneSecIntervalClassification": True}``.

        Returns:
            The parameters; unknown keys and unparseable values raise ValueError naming the key.
        """
        values: dict[str, Any] = {}
        for key, raw in params.items():
            if key not in _PARAM_KEYS:
                raise ValueError(f"unknown prediction parameter {key!r}; known: {', '.join(sorted(_PARAM_KEYS))}")
            name = _PARAM_KEYS[key]
            values[name] = _parse_param(key, raw, _PARAM_TYPES[name])
        return cls(**values)


_PARAM_KEYS = {
    "score_threshold": "score_threshold",
    "confidenceThreshold": "score_threshold",
    "segment_classification": "segment_classification",
    "segmentClassification": "segment_classification",
    "shot_classification": "shot_classification",
    "shotClassification": "shot_classification",
    "1s_interval_classification": "one_sec_interval_classification",
    "oneSecIntervalClassification": "one_sec_interval_classification",
    "max_predictions": "max_predictions",
    "maxPredictions": "max_predictions",
}
_PARAM_TYPES = {
    "score_threshold": float,
    "segment_classification": bool,
    "shot_classification": bool,
    "one_sec_interval_classification": bool,
    "max_predictions": int,
}


def _parse_param(key: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).strip().lower() in ("true", "false"):
            return str(raw).strip().lower() == "true"
        raise ValueError(f"prediction parameter {key}: expected true or false, got {raw!r}")
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"prediction parameter {key}: expected a {kind.__name__}, got {raw!r}") from None
    if kind is int and value != float(raw):
        raise ValueError(f"prediction parameter {key}: expected an integer, got {raw!r}")
    return value


# -- time values -------------------------------------------------------------------------------------


def parse_seconds(text: str) -> float:
    """A legacy CSV time: seconds as a decimal number, or ``inf`` for the end of the video."""
    cleaned = text.strip()
    if cleaned.lower() in _INFINITY_WORDS:
        return math.inf
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds or 'inf'") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a number of seconds or 'inf'")
    return value


def parse_duration(value: Any) -> float:
    """A Vertex time offset: a proto Duration string (``"10s"``, ``"1.5s"``), ``"Infinity"`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
    if isinstance(value, (int, float)):
        if math.isnan(value):
            raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration like '10s' or 'Infinity'")
    if value.strip().lower() in _INFINITY_WORDS:
        return math.inf
    duration = duration_pb2.Duration()
    try:
        duration.FromJsonString(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a duration like '10s', '1.5s' or 'Infinity'") from None
    return duration.ToNanoseconds() / 1e9


def format_duration(seconds: float) -> str:
    """Seconds as a proto3 JSON Duration (``"1.500s"``, ``"10s"``), rounded to the microsecond."""
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e6) * 1000)
    return duration.ToJsonString()


# -- inputs ------------------------------------------------------------------------------------------


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


# -- results -----------------------------------------------------------------------------------------


@dataclass
class Prediction:
    """One label's score over one time span of one classification type."""

    type: ClassificationType
    annotation_spec_id: str
    display_name: str
    start: float
    end: float
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "annotation_spec_id": self.annotation_spec_id,
            "display_name": self.display_name,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Prediction":
        return cls(**{**doc, "type": ClassificationType(doc["type"])})


@dataclass
class RowResult:
    """What one row produced: predictions, or an error (message and google.rpc code).

    ``run_id`` identifies the process that computed it, so a resumed run can show it recomputed nothing.
    """

    index: int
    predictions: list[Prediction] = field(default_factory=list)
    error: str = ""
    error_code: int = 0
    video_seconds: float = 0.0
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "predictions": [p.to_json() for p in self.predictions],
            "error": self.error,
            "error_code": self.error_code,
            "video_seconds": self.video_seconds,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "RowResult":
        return cls(**{**doc, "predictions": [Prediction.from_json(p) for p in doc["predictions"]]})


def sorted_predictions(predictions: Iterable[Prediction]) -> list[Prediction]:
    """Order AutoML uses: by type, then time, then highest score first."""
    return sorted(predictions, key=lambda p: (p.type.value, p.start, p.end, -p.score, p.annotation_spec_id))


def _score(value: float) -> float:
    return round(float(value), 6)


def annotation_payload_json(prediction: Prediction) -> dict[str, Any]:
    """The proto3 JSON of a ``google.cloud.automl.v1beta1.AnnotationPayload``."""
    return {
        "annotationSpecId": prediction.annotation_spec_id,
        "displayName": prediction.display_name,
        "videoClassification": {
            "type": prediction.type.value,
            "classificationAnnotation": {"score": _score(prediction.score)},
            "timeSegment": {
                "startTimeOffset": format_duration(prediction.start),
                "endTimeOffset": format_duration(prediction.end),
            },
        },
    }


def vertex_prediction_json(prediction: Prediction) -> dict[str, Any]:
    """One element of a Vertex video classification ``prediction`` list."""
    return {
        "id": prediction.annotation_spec_id,
        "displayName": prediction.display_name,
        "type": prediction.type.vertex_name,
        "timeSegmentStart": format_duration(prediction.start),
        "timeSegmentEnd": format_duration(prediction.end),
        "confidence": _score(prediction.score),
    }


# -- output writers ----------------------------------------------------------------------------------


def legacy_json_file_name(row: PredictionInput) -> str:
    """Per-row JSON name: the row number (unique) and the video's file name (readable)."""
    stem = os.path.splitext(row.video_uri.rstrip("/").rsplit("/", 1)[-1])[0]
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "video"
    return f"{row.index + 1:05d}_{safe_stem}.json"


def write_legacy_output(output_dir: str, results: Iterable[tuple[PredictionInput, RowResult]]) -> list[str]:
    """Write one JSON file per successful row, then ``video_classification.csv`` (last: it indexes them).

    Args:
        output_dir: the ``prediction-<model>-<timestamp>`` folder.
        results: every input row with its result, in row order.

    Returns:
        The URLs written.
    """
    written = []
    index_rows = io.StringIO()
    writer = csv.writer(index_rows, lineterminator="\n")
    for row, result in results:
        fields = (list(row.original) + ["", "", ""])[:3] if isinstance(row.original, list) else [row.video_uri, "", ""]
        if result.ok:
            name = legacy_json_file_name(row)
            payloads = [annotation_payload_json(p) for p in sorted_predictions(result.predictions)]
            url = storage.join(output_dir, name)
            storage.write_json(url, payloads)
            written.append(url)
            writer.writerow(fields + [name, "OK"])
        else:
            writer.writerow(fields + ["", result.error])
    index_url = storage.join(output_dir, LEGACY_INDEX_FILE)
    storage.write_text(index_url, index_rows.getvalue())
    return written + [index_url]


def write_vertex_output(output_dir: str, results: Iterable[tuple[PredictionInput, RowResult]]) -> list[str]:
    """Write ``predictions_00001.jsonl``… and, when any instance failed, ``errors_00001.jsonl``….

    Args:
        output_dir: the ``prediction-<model>-<timestamp>`` folder.
        results: every input row with its result, in row order.

    Returns:
        The URLs written.
    """
    predictions = _NumberedJsonlWriter(output_dir, VERTEX_PREDICTIONS_PREFIX)
    errors = _NumberedJsonlWriter(output_dir, VERTEX_ERRORS_PREFIX)
    for row, result in results:
        if result.ok:
            lines = [vertex_prediction_json(p) for p in sorted_predictions(result.predictions)]
            predictions.add({"instance": row.original, "prediction": lines})
        else:
            errors.add({"instance": row.original, "error": {"code": result.error_code, "message": result.error}})
    predictions.close(write_empty=True)
    errors.close(write_empty=False)
    return predictions.written + errors.written


class _NumberedJsonlWriter:
    """JSONL lines into ``<prefix>00001.jsonl``, ``<prefix>00002.jsonl``…, each file written atomically."""

    def __init__(self, output_dir: str, prefix: str):
        self.output_dir = output_dir
        self.prefix = prefix
        self.written: list[str] = []
        self._lines: list[bytes] = []
        self._bytes = 0

    def add(self, doc: dict[str, Any]) -> None:
        line = (json.dumps(doc) + "\n").encode("utf-8")
        if self._lines and (
            len(self._lines) >= VERTEX_FILE_MAX_INSTANCES or self._bytes + len(line) > VERTEX_FILE_MAX_BYTES
        ):
            self._flush()
        self._lines.append(line)
        self._bytes += len(line)

    def close(self, write_empty: bool) -> None:
        if self._lines or (write_empty and not self.written):
            self._flush()

    def _flush(self) -> None:
        url = storage.join(self.output_dir, f"{self.prefix}{len(self.written) + 1:05d}.jsonl")
        storage.write_bytes(url, b"".join(self._lines))
        self.written.append(url)
        self._lines = []
        self._bytes = 0
