"""Batch prediction results and output files in the exact formats AutoML Video and Vertex AI use.

Every row's result is a :class:`RowResult`: the task's predictions, or an error. Outputs are the
legacy index CSV (``video_classification.csv`` for classification) plus one JSON list of
``AnnotationPayload`` (proto3 JSON mapping of ``google.cloud.automl.v1beta1``) per row, or Vertex
``predictions_NNNNN.jsonl`` and ``errors_NNNNN.jsonl`` files. What a prediction looks like inside them
is the task's (:class:`automl_video.tasks.base.PredictionRecipe`).
"""

import csv
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from automl_video import storage
from automl_video.prediction.inputs import PredictionInput
from automl_video.tasks.base import PredictionRecipe

VERTEX_PREDICTIONS_PREFIX = "predictions_"
VERTEX_ERRORS_PREFIX = "errors_"
# A new Vertex output file is started past either limit, so no single file (nor the bytes held to
# write it atomically) grows without bound on inputs with many long videos.
VERTEX_FILE_MAX_INSTANCES = 10_000
VERTEX_FILE_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class RowResult:
    """What one row produced: the task's predictions, or an error (message and google.rpc code).

    ``run_id`` identifies the process that computed it, so a resumed run can show it recomputed nothing.
    """

    index: int
    predictions: list[Any] = field(default_factory=list)
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
            "error_code": int(self.error_code),
            "video_seconds": self.video_seconds,
            "run_id": self.run_id,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], prediction_from_json: Callable[[dict[str, Any]], Any]) -> "RowResult":
        return cls(**{**doc, "predictions": [prediction_from_json(p) for p in doc["predictions"]]})


def legacy_json_file_name(row: PredictionInput) -> str:
    """Per-row JSON name: the row number (unique) and the video's file name (readable)."""
    stem = os.path.splitext(row.video_uri.rstrip("/").rsplit("/", 1)[-1])[0]
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:80] or "video"
    return f"{row.index + 1:05d}_{safe_stem}.json"


def write_legacy_output(
    output_dir: str, results: Iterable[tuple[PredictionInput, RowResult]], recipe: PredictionRecipe
) -> list[str]:
    """Write one JSON file per successful row, then the index CSV (last: it indexes them).

    Args:
        output_dir: the ``prediction-<model>-<timestamp>`` folder.
        results: every input row with its result, in row order.
        recipe: the task's prediction formats.

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
            url = storage.join(output_dir, name)
            storage.write_json(url, recipe.annotation_payloads(result.predictions))
            written.append(url)
            writer.writerow(fields + [name, "OK"])
        else:
            writer.writerow(fields + ["", result.error])
    index_url = storage.join(output_dir, recipe.legacy_index_file)
    storage.write_text(index_url, index_rows.getvalue())
    return written + [index_url]


def write_vertex_output(
    output_dir: str, results: Iterable[tuple[PredictionInput, RowResult]], recipe: PredictionRecipe
) -> list[str]:
    """Write ``predictions_00001.jsonl``… and, when any instance failed, ``errors_00001.jsonl``….

    Args:
        output_dir: the ``prediction-<model>-<timestamp>`` folder.
        results: every input row with its result, in row order.
        recipe: the task's prediction formats.

    Returns:
        The URLs written.
    """
    predictions = _NumberedJsonlWriter(output_dir, VERTEX_PREDICTIONS_PREFIX)
    errors = _NumberedJsonlWriter(output_dir, VERTEX_ERRORS_PREFIX)
    for row, result in results:
        if result.ok:
            predictions.add({"instance": row.original, "prediction": recipe.vertex_predictions(result.predictions)})
        else:
            errors.add({"instance": row.original, "error": {"code": int(result.error_code), "message": result.error}})
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
