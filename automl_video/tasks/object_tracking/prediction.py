"""Object tracking batch prediction: frames of each row's span at a stated rate, detected, then tracked.

A row's frames are taken at ``start + k / frame_rate`` (default :data:`DEFAULT_FRAME_RATE` per second;
each time takes the frame on screen then) from one streaming decode
(:class:`automl_video.prediction.clips.FixedSpanCollector` of 1-frame clips). Each frame's network
output is reduced to its boxes as soon as it is scored (:meth:`TrackingRows.compact`), so a long video
holds boxes, not heatmaps. When the row ends its boxes are linked into tracks (:mod:`.tracker`), then
filtered for output: boxes whose shorter side is below ``min_bounding_box_size`` (a fraction of the
frame's side) never reach the tracker, boxes below
``score_threshold`` and those past the ``max_bounding_box_count`` best of their frame are left out of
the output (after tracking, so the threshold changes what is shown, not how objects are linked), and a
track left with no box is dropped.

Outputs: the AutoML ``video_object_tracking.csv`` with one JSON list of ``AnnotationPayload`` per row
(one payload per box of a track: ``videoObjectTracking {instanceId, timeOffset, boundingBox, score}``,
the box as its top-left and bottom-right normalized vertices), or Vertex JSONL with one result per
track (``{id, displayName, timeSegmentStart, timeSegmentEnd, confidence, frames[{timeOffset, xMin,
xMax, yMin, yMax}]}``).
"""

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from automl_video.modeling.loading import TrainedModel
from automl_video.prediction.clips import ClipSpan, FixedSpanCollector, collect_clips
from automl_video.tasks.base import PredictionRecipe, RowPlan
from automl_video.tasks.object_tracking.boxes import Detections, decode
from automl_video.tasks.object_tracking.examples import FRAME, FRAME_SPAN
from automl_video.tasks.object_tracking.network import BOX_CHANNELS
from automl_video.tasks.object_tracking.tracker import TrackedBox, Tracker
from automl_video.times import format_duration, parse_duration
from automl_video.video import VideoReader

LEGACY_INDEX_FILE = "video_object_tracking.csv"
DEFAULT_FRAME_RATE = 10.0
MAX_FRAME_RATE = 60.0


@dataclass
class PredictionParams:
    """AutoML ``params`` / Vertex ``model_parameters`` of object tracking."""

    score_threshold: float = 0.0
    max_bounding_box_count: int | None = None  # per frame
    min_bounding_box_size: float = 0.0  # shorter side of a box, as a fraction of the frame's
    frame_rate: float = DEFAULT_FRAME_RATE

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be between 0 and 1, got {self.score_threshold}")
        if self.max_bounding_box_count is not None and self.max_bounding_box_count < 1:
            raise ValueError(f"max_bounding_box_count must be at least 1, got {self.max_bounding_box_count}")
        if not 0.0 <= self.min_bounding_box_size < 1.0:
            raise ValueError(f"min_bounding_box_size must be in [0, 1), got {self.min_bounding_box_size}")
        if not 0.0 < self.frame_rate <= MAX_FRAME_RATE:
            raise ValueError(
                f"frame_rate must be above 0 and at most {MAX_FRAME_RATE:g} frames per second, got {self.frame_rate}"
            )

    @classmethod
    def from_mapping(cls, params: dict[str, Any]) -> "PredictionParams":
        """Parse AutoML ``params`` (string values) or Vertex ``model_parameters`` (camelCase keys)."""
        values: dict[str, Any] = {}
        for key, raw in params.items():
            if key not in _PARAM_KEYS:
                raise ValueError(f"unknown prediction parameter {key!r}; known: {', '.join(sorted(_PARAM_KEYS))}")
            name = _PARAM_KEYS[key]
            values[name] = _parse_number(key, raw, int if name == "max_bounding_box_count" else float)
        return cls(**values)


_PARAM_KEYS = {
    "score_threshold": "score_threshold",
    "confidenceThreshold": "score_threshold",
    "max_bounding_box_count": "max_bounding_box_count",
    "max_predictions": "max_bounding_box_count",
    "maxPredictions": "max_bounding_box_count",
    "min_bounding_box_size": "min_bounding_box_size",
    "minBoundingBoxSize": "min_bounding_box_size",
    "frame_rate": "frame_rate",
    "frameRate": "frame_rate",
}


def _parse_number(key: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, bool):
        raise ValueError(f"prediction parameter {key}: expected a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"prediction parameter {key}: expected a number, got {raw!r}") from None
    if math.isnan(value):
        raise ValueError(f"prediction parameter {key}: expected a number, got {raw!r}")
    if kind is int:
        if value != int(value):
            raise ValueError(f"prediction parameter {key}: expected an integer, got {raw!r}")
        return int(value)
    return value


@dataclass
class TrackFrame:
    time: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    score: float


@dataclass
class TrackPrediction:
    """One track: an object of one label followed over the frames it was seen on."""

    track_id: int
    annotation_spec_id: str
    display_name: str
    frames: list[TrackFrame] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        """The mean score of the track's boxes."""
        return float(np.mean([f.score for f in self.frames]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "TrackPrediction":
        return cls(**{**doc, "frames": [TrackFrame(**f) for f in doc["frames"]]})


def _score(value: float) -> float:
    return round(float(value), 6)


def _coordinate(value: float) -> float:
    return round(float(value), 6)


def annotation_payloads_json(track: TrackPrediction) -> list[dict[str, Any]]:
    """One ``google.cloud.automl.v1beta1.AnnotationPayload`` (proto3 JSON) per box of the track."""
    return [
        {
            "annotationSpecId": track.annotation_spec_id,
            "displayName": track.display_name,
            "videoObjectTracking": {
                "instanceId": str(track.track_id),
                "timeOffset": format_duration(frame.time),
                "boundingBox": {
                    "normalizedVertices": [
                        {"x": _coordinate(frame.x_min), "y": _coordinate(frame.y_min)},
                        {"x": _coordinate(frame.x_max), "y": _coordinate(frame.y_max)},
                    ]
                },
                "score": _score(frame.score),
            },
        }
        for frame in track.frames
    ]


def vertex_prediction_json(track: TrackPrediction) -> dict[str, Any]:
    """One element of a Vertex video object tracking ``prediction`` list."""
    return {
        "id": track.annotation_spec_id,
        "displayName": track.display_name,
        "timeSegmentStart": format_duration(track.frames[0].time),
        "timeSegmentEnd": format_duration(track.frames[-1].time),
        "confidence": _score(track.confidence),
        "frames": [
            {
                "timeOffset": format_duration(f.time),
                "xMin": _coordinate(f.x_min),
                "xMax": _coordinate(f.x_max),
                "yMin": _coordinate(f.y_min),
                "yMax": _coordinate(f.y_max),
            }
            for f in track.frames
        ],
    }


def frame_times(start: float, end: float, frame_rate: float) -> list[float]:
    """``start + k / frame_rate`` inside ``[start, end)``."""
    count = max(1, math.ceil(round((end - start) * frame_rate, 6)))
    return [start + k / frame_rate for k in range(count)]


def frame_clips(
    reader: VideoReader, times: list[float], model: TrainedModel, start: float, end: float
) -> Iterator[tuple[ClipSpan, np.ndarray]]:
    """The 1-frame clips of the frames on screen at ``times`` (ascending, inside ``[start, end)``), from
    one streaming decode."""
    spec = model.input_spec
    spans = [(t, t + FRAME_SPAN) for t in times]
    collector = FixedSpanCollector(FRAME, spans, spec)
    return collect_clips(reader, start, end, [collector], (spec.width, spec.height))


def link_tracks(frames: list[tuple[float, Detections]]) -> list[tuple[float, list[TrackedBox]]]:
    """Each frame's boxes that belong to a track, frames in time order."""
    tracker = Tracker()
    return [(time, tracker.step(time, detections)) for time, detections in sorted(frames, key=lambda f: f[0])]


class TrackingRows(RowPlan):
    """The frames of one row and the tracks their detections give, for one model and params."""

    fixed_batch = True  # a stream of frames: one input shape, no TF retracing

    def __init__(self, model: TrainedModel, params: PredictionParams):
        self.model = model
        self.params = params
        self.specs = model.metadata.annotation_specs

    def clips(self, reader: VideoReader, start: float, end: float) -> Iterator[tuple[ClipSpan, np.ndarray]]:
        return frame_clips(reader, frame_times(start, end, self.params.frame_rate), self.model, start, end)

    def compact(self, span: ClipSpan, output: np.ndarray) -> Detections:
        """The frame's boxes (heatmaps dropped here: a long row holds only boxes)."""
        detections = decode(output, output.shape[-1] - BOX_CHANNELS)
        sides = np.minimum(
            detections.corners[:, 2] - detections.corners[:, 0], detections.corners[:, 3] - detections.corners[:, 1]
        )
        return detections.select(sides >= self.params.min_bounding_box_size)

    def predictions(self, scored: list[tuple[ClipSpan, Detections]]) -> list[TrackPrediction]:
        tracks: dict[int, TrackPrediction] = {}
        for time, boxes in link_tracks([(span.start, detections) for span, detections in scored]):
            # In float32, the scores' precision (a score of 0.95 passes a 0.95 threshold), as the evaluation.
            threshold = np.float32(self.params.score_threshold)
            kept = sorted((b for b in boxes if np.float32(b.score) >= threshold), key=lambda b: -b.score)
            for box in kept[: self.params.max_bounding_box_count]:
                spec = self.specs[box.label]
                track = tracks.setdefault(box.track_id, TrackPrediction(box.track_id, spec.id, spec.display_name))
                track.frames.append(TrackFrame(round(time, 6), *box.corners, box.score))
        return [tracks[track_id] for track_id in sorted(tracks)]


class TrackingPrediction(PredictionRecipe):
    legacy_index_file = LEGACY_INDEX_FILE

    def parse_params(self, mapping: dict[str, Any]) -> PredictionParams:
        return PredictionParams.from_mapping(mapping)

    def default_params(self) -> PredictionParams:
        return PredictionParams()

    def rows(self, model: TrainedModel, params: PredictionParams) -> TrackingRows:
        return TrackingRows(model, params)

    def prediction_from_json(self, doc: dict[str, Any]) -> TrackPrediction:
        return TrackPrediction.from_json(doc)

    def annotation_payloads(self, predictions: list[TrackPrediction]) -> list[dict[str, Any]]:
        payloads = [p for track in predictions for p in annotation_payloads_json(track)]
        return sorted(
            payloads,
            key=lambda p: (parse_duration(p["videoObjectTracking"]["timeOffset"]), -p["videoObjectTracking"]["score"]),
        )

    def vertex_predictions(self, predictions: list[TrackPrediction]) -> list[dict[str, Any]]:
        return [vertex_prediction_json(track) for track in predictions]
