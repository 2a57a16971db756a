"""Action recognition batch prediction: the moments of actions in each row's span.

Clips of :data:`CLIP_SECONDS` centred every :data:`STRIDE_SECONDS` are cut from one streaming decode of
the span (a :class:`FixedSpanCollector`: only the frames at their sample times are converted), scored in
fixed-size batches, and read as moments (:func:`pick_moments`: per-label peaks, temporal NMS). Every
moment at or above ``confidenceThreshold`` is kept, best first, at most ``maxPredictions`` per row.

Vertex JSONL: each moment is ``{"id", "displayName", "timeSegmentStart", "timeSegmentEnd", "confidence"}``
with start == end. AutoML v1beta1 has no action recognition message, so AutoML CSV rows get the closest
``AnnotationPayload``: ``videoClassification`` of type ``moment`` whose ``timeSegment`` starts and ends at
the moment, in ``video_action_recognition.csv``.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.modeling.loading import TrainedModel
from automl_video.prediction.clips import ClipSpan, FixedSpanCollector, collect_clips
from automl_video.tasks.action_recognition.timeline import Moment, clip_spans, pick_moments
from automl_video.tasks.base import PredictionRecipe, RowPlan
from automl_video.times import format_duration
from automl_video.video import VideoReader

LEGACY_INDEX_FILE = "video_action_recognition.csv"
LEGACY_TYPE = "moment"
CLIP_KIND = "clip"
DEFAULT_MAX_PREDICTIONS = 50


@dataclass
class PredictionParams:
    """Vertex ``model_parameters`` (``confidenceThreshold``, ``maxPredictions``) or their AutoML-style
    ``params`` names (``score_threshold``, ``max_predictions``). ``max_predictions`` None keeps every
    moment (evaluation)."""

    confidence_threshold: float = 0.0
    max_predictions: int | None = DEFAULT_MAX_PREDICTIONS

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence_threshold <= 1.0:
            raise ValueError(f"confidenceThreshold must be between 0 and 1, got {self.confidence_threshold}")
        if self.max_predictions is not None and self.max_predictions < 1:
            raise ValueError(f"maxPredictions must be at least 1, got {self.max_predictions}")

    @classmethod
    def from_mapping(cls, params: dict[str, Any]) -> "PredictionParams":
        """Parse either naming; unknown keys and unparseable values raise ValueError naming the key."""
        values: dict[str, Any] = {}
        for key, raw in params.items():
            if key not in _PARAM_KEYS:
                raise ValueError(f"unknown prediction parameter {key!r}; known: {', '.join(sorted(_PARAM_KEYS))}")
            name, kind = _PARAM_KEYS[key]
            values[name] = _parse_number(key, raw, kind)
        return cls(**values)


_PARAM_KEYS = {
    "confidenceThreshold": ("confidence_threshold", float),
    "score_threshold": ("confidence_threshold", float),
    "maxPredictions": ("max_predictions", int),
    "max_predictions": ("max_predictions", int),
}


def _parse_number(key: str, raw: Any, kind: type) -> float | int:
    if isinstance(raw, bool):
        raise ValueError(f"prediction parameter {key}: expected a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"prediction parameter {key}: expected a {kind.__name__}, got {raw!r}") from None
    if not math.isfinite(value) or (kind is int and value != int(value)):
        raise ValueError(
            f"prediction parameter {key}: expected a {'whole number' if kind is int else 'number'}, got {raw!r}"
        )
    return kind(value)


@dataclass
class Prediction:
    """One predicted action: a label at a moment, with its confidence."""

    annotation_spec_id: str
    display_name: str
    time: float
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {
            "annotation_spec_id": self.annotation_spec_id,
            "display_name": self.display_name,
            "time": self.time,
            "confidence": self.confidence,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Prediction":
        return cls(**doc)


def _confidence(value: float) -> float:
    return round(float(value), 6)


def vertex_prediction_json(prediction: Prediction) -> dict[str, Any]:
    """One element of a Vertex ``VideoActionRecognitionPredictionResult`` list."""
    moment = format_duration(prediction.time)
    return {
        "id": prediction.annotation_spec_id,
        "displayName": prediction.display_name,
        "timeSegmentStart": moment,
        "timeSegmentEnd": moment,
        "confidence": _confidence(prediction.confidence),
    }


def annotation_payload_json(prediction: Prediction) -> dict[str, Any]:
    """The closest ``google.cloud.automl.v1beta1.AnnotationPayload`` (proto3 JSON) of a moment."""
    moment = format_duration(prediction.time)
    return {
        "annotationSpecId": prediction.annotation_spec_id,
        "displayName": prediction.display_name,
        "videoClassification": {
            "type": LEGACY_TYPE,
            "classificationAnnotation": {"score": _confidence(prediction.confidence)},
            "timeSegment": {"startTimeOffset": moment, "endTimeOffset": moment},
        },
    }


class ActionRows(RowPlan):
    """The clips of a row and the moments their scores give, for one model and parameters."""

    fixed_batch = True  # a stream of clips: padded batches of one shape, no TF retracing

    def __init__(self, model: TrainedModel, params: PredictionParams):
        self.params = params
        self.spec = model.metadata.input_spec
        self.specs = model.metadata.annotation_specs

    def clips(self, reader: VideoReader, start: float, end: float) -> Iterator[tuple[ClipSpan, np.ndarray]]:
        collector = FixedSpanCollector(CLIP_KIND, clip_spans(start, end), self.spec)
        return collect_clips(reader, start, end, [collector], (self.spec.width, self.spec.height))

    def moments(self, scored: list[tuple[ClipSpan, np.ndarray]]) -> list[Moment]:
        """The moments of a row's scored clips at or above the threshold, at most ``max_predictions``
        (the best), inside the row's clips, in time order."""
        if not scored:
            return []
        ordered = sorted(scored, key=lambda item: item[0].start)
        centres = np.array([(span.start + span.end) / 2 for span, _ in ordered])
        moments = pick_moments(centres, np.stack([output for _, output in ordered]), self.params.confidence_threshold)
        kept = sorted(moments, key=lambda m: (-m.confidence, m.time))[: self.params.max_predictions]
        first, last = ordered[0][0].start, ordered[-1][0].end
        inside = [Moment(m.label, min(max(m.time, first), last), m.confidence) for m in kept]
        return sorted(inside, key=lambda m: (m.time, -m.confidence, m.label))

    def predictions(self, scored: list[tuple[ClipSpan, np.ndarray]]) -> list[Prediction]:
        return [
            Prediction(self.specs[m.label].id, self.specs[m.label].display_name, m.time, m.confidence)
            for m in self.moments(scored)
        ]


class ActionPrediction(PredictionRecipe):
    legacy_index_file = LEGACY_INDEX_FILE

    def parse_params(self, mapping: dict[str, Any]) -> PredictionParams:
        return PredictionParams.from_mapping(mapping)

    def default_params(self) -> PredictionParams:
        return PredictionParams()

    def rows(self, model: TrainedModel, params: PredictionParams) -> ActionRows:
        return ActionRows(model, params)

    def prediction_from_json(self, doc: dict[str, Any]) -> Prediction:
        return Prediction.from_json(doc)

    def annotation_payloads(self, predictions: list[Prediction]) -> list[dict[str, Any]]:
        return [annotation_payload_json(p) for p in predictions]

    def vertex_predictions(self, predictions: list[Prediction]) -> list[dict[str, Any]]:
        return [vertex_prediction_json(p) for p in predictions]
