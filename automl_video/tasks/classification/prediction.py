"""Classification batch prediction: segment, shot and 1-second classification of each row's span.

Shots, 1-second intervals and the segment come from one streaming decode of the span (never the whole
video in memory): clips are cut from the stream as it passes (:mod:`automl_video.prediction.clips`). A
segment-only row only seeks to its few sample times instead of decoding every frame. A segment's score
is the mean over its clips; every label at or above the threshold is kept, best first, at most
``max_predictions`` per type and time span.
"""

import enum
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.modeling.loading import TrainedModel
from automl_video.modeling.metadata import InputSpec
from automl_video.prediction.clips import (
    TIME_EPSILON,
    ClipCollector,
    ClipSpan,
    FixedSpanCollector,
    SegmentCollector,
    collect_clips,
)
from automl_video.tasks.base import PredictionRecipe, RowPlan
from automl_video.tasks.classification.shots import FEATURE_BATCH_FRAMES, ShotDetector, ShotDetectorConfig
from automl_video.times import format_duration
from automl_video.video import VideoReader, sample_times

LEGACY_INDEX_FILE = "video_classification.csv"
# A shot's frames are kept at decreasing density so that at most this many times T frames are held.
_SHOT_BUFFER_CLIPS = 4


class ClassificationType(enum.StrEnum):
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


def one_second_spans(start: float, end: float) -> list[tuple[float, float]]:
    """``[start, end)`` cut into 1-second spans from ``start``; the last one may be shorter."""
    count = math.ceil(round(end - start, 6))
    return [(start + k, min(start + k + 1, end)) for k in range(count)]


class ShotCollector(ClipCollector):
    """Detects shots in the stream and cuts one clip per shot when the shot ends.

    A shot's length is unknown until its end, so its frames are kept at a density that halves each
    time the buffer fills (at most ``_SHOT_BUFFER_CLIPS × T`` frames). When the shot ends, each centre
    sample time takes the last kept frame at or before it (the first kept frame for an earlier time).
    The detector takes frames in batches (:data:`FEATURE_BATCH_FRAMES`), so a shot's clip comes out up
    to a batch of frames after the shot ends.
    """

    needs_every_frame = True  # the detector compares consecutive frames

    def __init__(self, start: float, end: float, spec: InputSpec, config: ShotDetectorConfig | None = None):
        self.start = start
        self.end = end
        self.spec = spec
        self.detector = ShotDetector(config)
        self._shot_start = start
        self._kept: list[tuple[float, np.ndarray]] = []
        self._frames_in_shot = 0
        self._stride = 1  # keep every stride-th frame of the shot
        self._waiting: list[tuple[float, np.ndarray]] = []  # for the detector's next batch
        self._undecided: list[tuple[float, np.ndarray]] = []  # given to the detector, cut or not unknown

    def add(self, time: float, frame: np.ndarray) -> list[tuple[ClipSpan, np.ndarray]]:
        self._waiting.append((time, frame))
        return self._detect() if len(self._waiting) == FEATURE_BATCH_FRAMES else []

    def finish(self) -> list[tuple[ClipSpan, np.ndarray]]:
        done = self._detect()
        done += self._place(self.detector.finish(), len(self._undecided))
        if self._kept:
            done.append(self._cut(self.end))
        return done

    def _detect(self) -> list[tuple[ClipSpan, np.ndarray]]:
        """Give the waiting frames to the detector; every frame but the last is then decided."""
        cuts = self.detector.add([t for t, _ in self._waiting], [f for _, f in self._waiting])
        self._undecided += self._waiting
        self._waiting = []
        return self._place(cuts, len(self._undecided) - 1)

    def _place(self, cuts: list[float], count: int) -> list[tuple[ClipSpan, np.ndarray]]:
        """Put the first ``count`` undecided frames in their shots, closing a shot before each cut."""
        done = []
        for time, frame in self._undecided[:count]:
            if time in cuts:
                done.append(self._cut(time))
            self._keep(time, frame)
        del self._undecided[:count]
        return done

    def _keep(self, time: float, frame: np.ndarray) -> None:
        if self._frames_in_shot % self._stride == 0:
            self._kept.append((time, frame))
            if len(self._kept) > _SHOT_BUFFER_CLIPS * self.spec.num_frames:
                self._kept = self._kept[::2]
                self._stride *= 2
        self._frames_in_shot += 1

    def _cut(self, cut_time: float) -> tuple[ClipSpan, np.ndarray]:
        """Close the current shot at ``cut_time`` (frames before it) and start the next one there."""
        span = ClipSpan(ClassificationType.SHOT, self._shot_start, cut_time)
        times = np.array([t for t, _ in self._kept])
        wanted = sample_times(span.start, span.end, self.spec.num_frames)
        picks = np.maximum(np.searchsorted(times, wanted + TIME_EPSILON, side="right") - 1, 0)
        clip = np.stack([self._kept[i][1] for i in picks])
        self._kept = []
        self._frames_in_shot = 0
        self._stride = 1
        self._shot_start = cut_time
        return span, clip


class ClassificationRows(RowPlan):
    """The clips of one row and the labelled predictions their scores give, for one model and params."""

    def __init__(self, model: TrainedModel, params: PredictionParams):
        self.params = params
        self.spec: InputSpec = model.metadata.input_spec
        self.specs = model.metadata.annotation_specs
        self.model = model
        # Segment only: a few seeks per row beat decoding every frame, and its few clips are scored as
        # they are; streamed clips are scored in padded batches of one shape (no TF retracing).
        self.segment_only = params.types == [ClassificationType.SEGMENT]
        self.fixed_batch = not self.segment_only

    def clips(self, reader: VideoReader, start: float, end: float) -> Iterator[tuple[ClipSpan, np.ndarray]]:
        if self.segment_only:
            segment = ClipSpan(ClassificationType.SEGMENT, start, end)
            return ((segment, clip) for clip in self.model.segment_clips(reader, start, end))
        return collect_clips(reader, start, end, self._collectors(start, end), (self.spec.width, self.spec.height))

    def _collectors(self, start: float, end: float) -> list[ClipCollector]:
        types = self.params.types
        collectors: list[ClipCollector] = []
        if ClassificationType.SEGMENT in types:
            collectors.append(SegmentCollector(ClassificationType.SEGMENT, start, end, self.spec))
        if ClassificationType.ONE_SEC_INTERVAL in types:
            spans = one_second_spans(start, end)
            collectors.append(FixedSpanCollector(ClassificationType.ONE_SEC_INTERVAL, spans, self.spec))
        if ClassificationType.SHOT in types:
            collectors.append(ShotCollector(start, end, self.spec))
        return collectors

    def predictions(self, scored: list[tuple[ClipSpan, np.ndarray]]) -> list["Prediction"]:
        predictions: list[Prediction] = []
        segment_clips = [(span, scores) for span, scores in scored if span.kind == ClassificationType.SEGMENT]
        for span, scores in scored:
            if span.kind != ClassificationType.SEGMENT:
                predictions += self._labelled(ClassificationType(span.kind), span.start, span.end, scores)
        if segment_clips:  # the segment's score is the mean over its clips
            segment = segment_clips[0][0]
            mean = np.mean([scores for _, scores in segment_clips], axis=0)
            predictions += self._labelled(ClassificationType.SEGMENT, segment.start, segment.end, mean)
        return predictions

    def _labelled(self, kind: ClassificationType, start: float, end: float, scores: np.ndarray) -> list["Prediction"]:
        """Labels at or above the threshold, best first, at most ``max_predictions``."""
        order = np.argsort(-scores, kind="stable")
        kept = [i for i in order if scores[i] >= self.params.score_threshold][: self.params.max_predictions]
        return [
            Prediction(kind, self.specs[i].id, self.specs[i].display_name, start, end, float(scores[i])) for i in kept
        ]


class ClassificationPrediction(PredictionRecipe):
    legacy_index_file = LEGACY_INDEX_FILE

    def parse_params(self, mapping: dict[str, Any]) -> PredictionParams:
        return PredictionParams.from_mapping(mapping)

    def default_params(self) -> PredictionParams:
        return PredictionParams()

    def rows(self, model: TrainedModel, params: PredictionParams) -> ClassificationRows:
        return ClassificationRows(model, params)

    def prediction_from_json(self, doc: dict[str, Any]) -> "Prediction":
        return Prediction.from_json(doc)

    def annotation_payloads(self, predictions: list["Prediction"]) -> list[dict[str, Any]]:
        return [annotation_payload_json(p) for p in sorted_predictions(predictions)]

    def vertex_predictions(self, predictions: list["Prediction"]) -> list[dict[str, Any]]:
        return [vertex_prediction_json(p) for p in sorted_predictions(predictions)]
