"""Box and track metrics of object tracking, as ``VideoObjectTrackingEvaluationMetrics`` defines them.

**Boxes** (every evaluated frame is exhaustively labelled). At an IoU threshold τ and a confidence
threshold c, the predicted boxes scoring at least c are matched to the true boxes of their frame and
label greedily: highest score first, each to the unmatched true box it overlaps most, when that IoU is
at least τ. Matched boxes are true positives, the other predictions false positives, unmatched true
boxes false negatives. Precision is 1 when nothing is predicted, recall 0 without true boxes, F1 0
when both are 0.

The average precision of a label at τ sums precision over the steps of recall along the confidence
grid: with thresholds ``c_1 < … < c_n`` (recall ``r_1 ≥ … ≥ r_n``, ``r_{n+1} = 0``),
``AP = Σ_i (r_i − r_{i+1}) · max_{j ≤ i} p_j`` (each step at the best precision reached at that recall
or more, VOC's interpolation, on AutoML's grid). ``meanAveragePrecision`` at τ is the mean AP over the
labels that have true boxes (per label: that label's AP); ``boundingBoxMeanAveragePrecision`` the mean
of it over the IoU grid. Overall confidence entries pool every label's counts.

Greedy matching makes the matches at a confidence threshold those of the highest-scored predictions
alone, so one pass per IoU threshold over the predictions in score order gives every confidence
threshold's counts.

**Tracks** (a file of their own: ``VideoObjectTrackingEvaluationMetrics`` has no field for them). On
each frame the predicted boxes scoring at least :data:`TRACK_SCORE_THRESHOLD` are matched to the true
boxes that have an instance id as above at IoU 0.5. Along each true instance (its frames in time
order): its mean box IoU (0 on frames where it is missed), and an ID switch each time the track
matching it differs from the last track that did (CLEAR MOT). The mismatch rate is ID switches over
matched true boxes.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl_video.confidence import CONFIDENCE_THRESHOLDS as AUTOML_GRID
from automl_video.confidence import PrecisionRecallAt
from automl_video.tasks.object_tracking.boxes import Detections, iou_matrix

GRID = AUTOML_GRID  # the AutoML thresholds, used for IoU and confidence alike
IOU_THRESHOLDS = GRID
CONFIDENCE_THRESHOLDS = GRID
HEADLINE_IOU = 0.5
SUMMARY_CONFIDENCE = 0.5  # the headline precision and recall's threshold (the report's slider starts there)
TRACK_SCORE_THRESHOLD = 0.5
TRACK_IOU = 0.5


@dataclass
class EvaluatedFrame:
    """One labelled frame: its true boxes (with instance ids, 0 for none) and the predicted ones (with
    track ids, 0 when untracked)."""

    video: str
    time: float
    truth: Detections
    instance_ids: np.ndarray
    predicted: Detections
    track_ids: np.ndarray


@dataclass
class ConfidenceEntry(PrecisionRecallAt):
    """``BoundingBoxMetricsEntry.ConfidenceMetricsEntry``, with the counts behind it (not on the wire)."""

    true_positives: int
    false_positives: int
    false_negatives: int


@dataclass
class IouEntry:
    iou_threshold: float
    mean_average_precision: float
    confidence_entries: list[ConfidenceEntry]

    def to_proto_json(self) -> dict[str, Any]:
        return {
            "iouThreshold": self.iou_threshold,
            "meanAveragePrecision": self.mean_average_precision,
            "confidenceMetricsEntries": [e.to_proto_json() for e in self.confidence_entries],
        }

    def at_confidence(self, threshold: float) -> ConfidenceEntry:
        return next(e for e in self.confidence_entries if e.confidence_threshold == threshold)


@dataclass
class BoxMetrics:
    """``VideoObjectTrackingEvaluationMetrics`` of all labels or one."""

    evaluated_frame_count: int
    evaluated_bounding_box_count: int
    entries: list[IouEntry]
    mean_average_precision: float  # over the IoU grid

    def at_iou(self, threshold: float) -> IouEntry:
        return next(e for e in self.entries if e.iou_threshold == threshold)

    def to_proto_json(self) -> dict[str, Any]:
        return {
            "evaluatedFrameCount": self.evaluated_frame_count,
            "evaluatedBoundingBoxCount": self.evaluated_bounding_box_count,
            "boundingBoxMetricsEntries": [e.to_proto_json() for e in self.entries],
            "boundingBoxMeanAveragePrecision": self.mean_average_precision,
        }


@dataclass
class EvaluationMetrics:
    overall: BoxMetrics
    per_label: list[BoxMetrics]  # in label order


def _ratio(numerator: float, denominator: float, empty: float) -> float:
    return float(numerator / denominator) if denominator else empty


def _confidence_entry(threshold: float, tp: int, fp: int, fn: int) -> ConfidenceEntry:
    precision = _ratio(tp, tp + fp, 1.0)
    recall = _ratio(tp, tp + fn, 0.0)
    f1 = _ratio(2 * precision * recall, precision + recall, 0.0)
    return ConfidenceEntry(threshold, recall, precision, f1, tp, fp, fn)


def precision_recall_steps(entries: Sequence[ConfidenceEntry]) -> tuple[list[float], list[float]]:
    """The step precision-recall curve AP sums, from entries in ascending threshold order: recalls
    ``r_n ≤ … ≤ r_1`` and, over ``(r_{i+1}, r_i]``, the precision ``max_{j ≤ i} p_j`` (see the module doc)."""
    precision, best = [], 0.0
    for entry in entries:
        best = max(best, entry.precision)
        precision.append(best)
    return [e.recall for e in reversed(entries)], precision[::-1]


def average_precision(entries: Sequence[ConfidenceEntry]) -> float:
    """AP over a confidence grid (entries in ascending threshold order): the area under
    :func:`precision_recall_steps`."""
    recall, precision = precision_recall_steps(entries)
    return float(sum((r - previous) * p for previous, r, p in zip([0.0] + recall, recall, precision)))


def greedy_matches(predicted: Detections, truth: Detections, min_iou: float) -> dict[int, int]:
    """True box index → its matched prediction: predictions (any order) taken highest score first, each
    matched to the unmatched true box of its label it overlaps most, when that IoU is at least ``min_iou``."""
    pairs: dict[int, int] = {}
    if not len(predicted) or not len(truth):
        return pairs
    ious = iou_matrix(predicted.corners, truth.corners)
    ious[predicted.labels[:, None] != truth.labels[None, :]] = -1.0
    taken = np.zeros(len(truth), bool)
    for p in np.argsort(-predicted.scores, kind="stable"):
        candidates = np.where(taken, -1.0, ious[p])
        best = int(np.argmax(candidates))
        if candidates[best] >= min_iou:
            taken[best] = True
            pairs[best] = int(p)
    return pairs


def box_metrics(
    frames: Sequence[EvaluatedFrame], num_labels: int, iou_thresholds: Sequence[float] = IOU_THRESHOLDS
) -> EvaluationMetrics:
    """Overall and per-label metrics on the confidence grid, at each IoU threshold (default AutoML's grid)."""
    # Compared in float32, the scores' precision: a score of 0.95 is at the 0.95 threshold.
    thresholds = np.asarray(CONFIDENCE_THRESHOLDS, np.float32)
    # [iou, label, confidence] counts of true positives and predictions, and [label] true boxes.
    true_positives = np.zeros((len(iou_thresholds), num_labels, len(thresholds)), np.int64)
    predictions = np.zeros((num_labels, len(thresholds)), np.int64)
    true_boxes = np.zeros(num_labels, np.int64)
    for frame in frames:
        np.add.at(true_boxes, frame.truth.labels, 1)
        at_or_above = frame.predicted.scores.astype(np.float32)[:, None] >= thresholds[None, :]  # [P, C]
        np.add.at(predictions, frame.predicted.labels, at_or_above)
        for k, iou in enumerate(iou_thresholds):
            matched = list(greedy_matches(frame.predicted, frame.truth, iou).values())
            np.add.at(true_positives[k], frame.predicted.labels[matched], at_or_above[matched])
    frame_count = len(frames)

    def metrics_of(labels: list[int]) -> BoxMetrics:
        entries = []
        for k, iou in enumerate(iou_thresholds):
            tp, predicted = true_positives[k, labels].sum(axis=0), predictions[labels].sum(axis=0)
            truth = int(true_boxes[labels].sum())
            pooled = [_confidence_entry(c, int(t), int(p - t), truth - int(t)) for c, t, p in zip(GRID, tp, predicted)]
            per_label_ap = [
                average_precision(
                    [
                        _confidence_entry(c, int(t), int(p - t), int(true_boxes[label]) - int(t))
                        for c, t, p in zip(GRID, true_positives[k, label], predictions[label])
                    ]
                )
                for label in labels
                if true_boxes[label]
            ]
            entries.append(IouEntry(iou, float(np.mean(per_label_ap)) if per_label_ap else 0.0, pooled))
        return BoxMetrics(
            evaluated_frame_count=frame_count,
            evaluated_bounding_box_count=int(true_boxes[labels].sum()),
            entries=entries,
            mean_average_precision=float(np.mean([e.mean_average_precision for e in entries])),
        )

    return EvaluationMetrics(
        overall=metrics_of(list(range(num_labels))), per_label=[metrics_of([label]) for label in range(num_labels)]
    )


@dataclass
class InstanceTrack:
    """How one true instance was tracked."""

    video: str
    instance_id: int
    label: int
    frames: int
    matched_frames: int
    mean_iou: float
    id_switches: int


@dataclass
class TrackMetrics:
    """Track quality over every true instance with an instance id."""

    instance_count: int
    mean_track_iou: float
    id_switches: int
    id_switches_per_track: float
    mismatch_rate: float
    instances: list[InstanceTrack] = field(default_factory=list)

    def to_json(self, label_names: list[str]) -> dict[str, Any]:
        return {
            "score_threshold": TRACK_SCORE_THRESHOLD,
            "iou_threshold": TRACK_IOU,
            "instance_count": self.instance_count,
            "mean_track_iou": self.mean_track_iou,
            "id_switches": self.id_switches,
            "id_switches_per_track": self.id_switches_per_track,
            "mismatch_rate": self.mismatch_rate,
            "instances": [{**vars(i), "label": label_names[i.label]} for i in self.instances],
        }


def track_metrics(frames: Sequence[EvaluatedFrame]) -> TrackMetrics:
    """Mean IoU along true instances, ID switches and the mismatch rate (see the module doc)."""
    ious: dict[tuple[str, int], list[float]] = defaultdict(list)
    matched_tracks: dict[tuple[str, int], list[int]] = defaultdict(list)
    labels: dict[tuple[str, int], int] = {}
    for frame in sorted(frames, key=lambda f: (f.video, f.time)):
        with_id = frame.instance_ids > 0
        truth = frame.truth.select(with_id)
        instance_ids = frame.instance_ids[with_id]
        confident = frame.predicted.scores >= TRACK_SCORE_THRESHOLD
        predicted, track_ids = frame.predicted.select(confident), frame.track_ids[confident]
        pairs = greedy_matches(predicted, truth, TRACK_IOU)
        for t, instance_id in enumerate(instance_ids):
            key = (frame.video, int(instance_id))
            labels[key] = int(truth.labels[t])
            p = pairs.get(t)
            ious[key].append(0.0 if p is None else float(iou_matrix(predicted.corners[p], truth.corners[t])[0, 0]))
            if p is not None:
                matched_tracks[key].append(int(track_ids[p]))
    instances = []
    for key in sorted(ious):
        tracks = matched_tracks[key]
        switches = sum(a != b for a, b in zip(tracks, tracks[1:]))
        instances.append(
            InstanceTrack(key[0], key[1], labels[key], len(ious[key]), len(tracks), float(np.mean(ious[key])), switches)
        )
    total_switches = sum(i.id_switches for i in instances)
    matched = sum(i.matched_frames for i in instances)
    return TrackMetrics(
        instance_count=len(instances),
        mean_track_iou=float(np.mean([i.mean_iou for i in instances])) if instances else 0.0,
        id_switches=total_switches,
        id_switches_per_track=_ratio(total_switches, len(instances), 0.0),
        mismatch_rate=_ratio(total_switches, matched, 0.0),
        instances=instances,
    )
