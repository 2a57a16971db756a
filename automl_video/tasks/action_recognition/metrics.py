"""Vertex ``VideoActionRecognitionMetrics`` from predicted and true moments (pure numpy).

AutoML v1beta1 has no action recognition message, so the definitions follow Vertex's
``video_action_recognition_metrics_1.0.0.yaml``:

- One ``VideoActionMetrics`` per precision window (1 s, 2 s, 3 s). A prediction is a true positive when
  it has a ground truth's label, the same video, and ``|t_pred − t_gt| ≤ window / 2``. Predictions are
  matched greedily by confidence (highest first; ties by video, then time), each to the nearest ground
  truth not matched yet (ties: the earlier), so every ground truth is used once.
- ``meanAveragePrecision`` of one label is its average precision: Σ (Rₖ − Rₖ₋₁)·Pₖ over its predictions
  in matching order (non-interpolated, as classification's AU-PRC). The overall value is the mean over
  the labels that have ground truth (a label without any cannot be measured), 0.0 when none has.
- ``confidenceMetrics`` at each threshold of :data:`CONFIDENCE_THRESHOLDS` (0.05…0.95, 0.96…0.99) count the
  predictions at or above it. Greedy matching by confidence makes those matches the same as in the full
  matching. Overall entries are micro-averaged over labels. Precision is 1.0 when nothing is predicted;
  recall 0.0 when there is no ground truth; F1 0.0 when both are 0 (as classification).
- ``evaluatedActionCount``: the ground-truth actions evaluated (of the label, for a label's entry).

Only what the annotations can judge is counted (:func:`judged_moments`): a predicted moment outside every
fully annotated stretch is left out, unless it is near enough to a true action of its label to match it
in the widest window.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.confidence import CONFIDENCE_THRESHOLDS, PrecisionRecallAt, entry_at_threshold
from automl_video.tasks.action_recognition.timeline import Moment, VideoTruth
from automl_video.times import format_duration

PRECISION_WINDOWS: tuple[float, ...] = (1.0, 2.0, 3.0)
# Threshold of the single-number precision/recall/F1 summaries (metrics.json, the CLI table).
SUMMARY_THRESHOLD = 0.5
# |t_pred − t_gt| ≤ window / 2 holds for times written with microsecond precision.
_TIME_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ScoredMoment:
    """A predicted moment of one video, as the metrics see it."""

    video: str
    label: int
    time: float
    confidence: float


@dataclass(frozen=True)
class TrueMoment:
    """A ground-truth action of one video, at its time."""

    video: str
    label: int
    time: float


class ConfidenceMetrics(PrecisionRecallAt):
    """``VideoActionMetrics.ConfidenceMetrics``: one threshold."""


@dataclass
class WindowMetrics:
    """``VideoActionMetrics``: one precision window."""

    precision_window_seconds: float
    mean_average_precision: float
    confidence_metrics: list[ConfidenceMetrics]

    def at_threshold(self, threshold: float) -> ConfidenceMetrics:
        return entry_at_threshold(self.confidence_metrics, threshold)

    def to_proto_json(self) -> dict[str, Any]:
        return {
            "precisionWindowLength": format_duration(self.precision_window_seconds),
            "meanAveragePrecision": self.mean_average_precision,
            "confidenceMetrics": [entry.to_proto_json() for entry in self.confidence_metrics],
        }


@dataclass
class ActionMetrics:
    """``VideoActionRecognitionMetrics``: overall or of one label."""

    evaluated_action_count: int
    windows: list[WindowMetrics]  # in the order of PRECISION_WINDOWS

    def window(self, seconds: float) -> WindowMetrics:
        return next(w for w in self.windows if abs(w.precision_window_seconds - seconds) < 1e-9)

    def to_proto_json(self) -> dict[str, Any]:
        return {
            "evaluatedActionCount": self.evaluated_action_count,
            "videoActionMetrics": [window.to_proto_json() for window in self.windows],
        }


@dataclass
class EvaluationMetrics:
    """The overall evaluation and one per label (in the model's output order)."""

    overall: ActionMetrics
    per_label: list[ActionMetrics]


def judged_moments(truth: VideoTruth, predicted: Sequence[Moment]) -> tuple[list[ScoredMoment], list[TrueMoment]]:
    """A video's predictions the annotations can judge, and its true actions."""
    reach = max(PRECISION_WINDOWS) / 2 + _TIME_TOLERANCE
    judged = [
        ScoredMoment(truth.video_uri, m.label, m.time, m.confidence)
        for m in predicted
        if truth.is_annotated(m.time)
        or any(a.label == m.label and abs(a.time - m.time) <= reach for a in truth.actions)
    ]
    return judged, [TrueMoment(truth.video_uri, a.label, a.time) for a in truth.actions]


def match_predictions(
    predictions: Sequence[ScoredMoment], truths: Sequence[TrueMoment], window: float
) -> tuple[list[ScoredMoment], np.ndarray]:
    """The predictions in matching order and whether each is a true positive within ``window``."""
    ordered = sorted(predictions, key=lambda p: (-p.confidence, p.video, p.time, p.label))
    unmatched: dict[tuple[str, int], list[float]] = {}
    for truth in sorted(truths, key=lambda t: t.time):
        unmatched.setdefault((truth.video, truth.label), []).append(truth.time)
    hits = np.zeros(len(ordered), bool)
    for index, prediction in enumerate(ordered):
        times = unmatched.get((prediction.video, prediction.label), [])
        distances = [abs(t - prediction.time) for t in times]
        if distances and min(distances) <= window / 2 + _TIME_TOLERANCE:
            times.pop(int(np.argmin(distances)))
            hits[index] = True
    return ordered, hits


def average_precision(hits: np.ndarray, truth_count: int) -> float:
    """Σ (Rₖ − Rₖ₋₁)·Pₖ over predictions in matching order; 0.0 without ground truth."""
    if truth_count == 0 or not len(hits):
        return 0.0
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    return float(np.sum(precision[hits]) / truth_count)


def compute_metrics(
    predictions: Sequence[ScoredMoment], truths: Sequence[TrueMoment], num_labels: int
) -> EvaluationMetrics:
    """Every window's metrics, overall and per label."""
    truth_counts = np.bincount([t.label for t in truths], minlength=num_labels)
    overall_windows, label_windows = [], [[] for _ in range(num_labels)]
    for window in PRECISION_WINDOWS:
        ordered, hits = match_predictions(predictions, truths, window)
        labels = np.array([p.label for p in ordered], int)
        confidences = np.array([p.confidence for p in ordered], np.float64)
        label_aps = []
        for label in range(num_labels):
            mine = labels == label
            label_ap = average_precision(hits[mine], int(truth_counts[label]))
            label_aps.append(label_ap)
            label_windows[label].append(
                WindowMetrics(
                    window, label_ap, _confidence_metrics(confidences[mine], hits[mine], int(truth_counts[label]))
                )
            )
        measured = [ap for ap, count in zip(label_aps, truth_counts) if count]
        overall_windows.append(
            WindowMetrics(
                window,
                float(np.mean(measured)) if measured else 0.0,
                _confidence_metrics(confidences, hits, len(truths)),
            )
        )
    return EvaluationMetrics(
        overall=ActionMetrics(len(truths), overall_windows),
        per_label=[ActionMetrics(int(truth_counts[label]), label_windows[label]) for label in range(num_labels)],
    )


def _confidence_metrics(confidences: np.ndarray, hits: np.ndarray, truth_count: int) -> list[ConfidenceMetrics]:
    entries = []
    for threshold in CONFIDENCE_THRESHOLDS:
        kept = confidences >= threshold
        predicted, true_positives = int(kept.sum()), int((hits & kept).sum())
        precision = true_positives / predicted if predicted else 1.0
        recall = true_positives / truth_count if truth_count else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        entries.append(ConfidenceMetrics(threshold, recall, precision, f1))
    return entries
