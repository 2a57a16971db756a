"""AutoML classification evaluation metrics from scores and ground truth (pure numpy).

The definitions follow ``google.cloud.automl.v1beta1.ClassificationEvaluationMetrics`` for video
segment classification:

- ``au_prc`` is the average precision over every distinct score threshold (the step-wise area under
  the precision-recall curve, as ``sklearn.metrics.average_precision_score``). The overall value is
  micro-averaged: every (example, label) pair is one binary decision.
- ``base_au_prc`` is the AU-PRC of a classifier that knows only the prior, i.e. the positive rate.
- One :class:`ConfidenceMetrics` per threshold in :data:`CONFIDENCE_THRESHOLDS`. A label is predicted
  when its score is ``>= threshold``. The ``*_at1`` variants count only each example's top-scored label
  (ties go to the first label in output order), and only when that score is ``>= threshold``.
- Conventions where a ratio is 0/0, chosen so the precision-recall curve starts at (recall 0,
  precision 1) like AutoML's and scikit-learn's curves: precision is 1.0 when nothing is predicted;
  recall is 0.0 when there is no positive; F1 is 0.0 when precision + recall is 0; AU-PRC is 0.0 when
  there is no positive (as scikit-learn).
- The confusion matrix exists only for the overall evaluation of a multiclass problem (every example
  has exactly one true label) with at most :data:`MAX_CONFUSION_MATRIX_LABELS` labels. Rows are the
  true label, columns the top-1 predicted label (whatever its score).

The JSON is the real ``ClassificationEvaluationMetrics`` message's (built, then ``json_format``), the
same path the REST server's replies take. Its ratios are 32-bit ``float`` fields, so every ratio is kept
as :func:`wire_float` makes it: the number ``evaluations.json``, the server and the KFP scalars all show,
within 6e-8 of the 64-bit value.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.cloud.automl_v1beta1 import ClassificationEvaluationMetrics as MetricsMessage
from google.protobuf import json_format, wrappers_pb2

from automl_video.confidence import CONFIDENCE_THRESHOLDS, entry_at_threshold
from automl_video.data.dataset import AnnotationSpec

MAX_CONFUSION_MATRIX_LABELS = 10
# Threshold of the single-number precision/recall/F1 summaries (metrics.json, the CLI table).
SUMMARY_THRESHOLD = 0.5
_RATIOS = (
    "confidence_threshold",
    "recall",
    "precision",
    "false_positive_rate",
    "f1_score",
    "recall_at1",
    "precision_at1",
    "false_positive_rate_at1",
    "f1_score_at1",
)


def wire_float(value: float) -> float:
    """``value`` as a proto ``float`` field carries it in proto3 JSON (the shortest decimal that
    round-trips through 32 bits), so a number read back from ``evaluations.json`` equals the one kept."""
    return json_format.MessageToDict(wrappers_pb2.FloatValue(value=value))


# Fields of the messages that video classification leaves unset (AutoML Video reports neither); left out of
# the JSON rather than shown as a misleading 0.
_NOT_COMPUTED = ("auRoc", "logLoss", "positionThreshold")


def _to_json(message: MetricsMessage | MetricsMessage.ConfidenceMetricsEntry) -> dict[str, Any]:
    """proto3 JSON of a message, zeros included (a recall of 0 is a number readers look up)."""
    return _computed(json_format.MessageToDict(type(message).pb(message), always_print_fields_with_no_presence=True))


def _computed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _computed(item) for key, item in value.items() if key not in _NOT_COMPUTED}
    if isinstance(value, list):
        return [_computed(item) for item in value]
    return value


@dataclass
class ConfidenceMetrics:
    """Metrics at one confidence threshold (``ConfidenceMetricsEntry``)."""

    confidence_threshold: float
    recall: float
    precision: float
    false_positive_rate: float
    f1_score: float
    recall_at1: float
    precision_at1: float
    false_positive_rate_at1: float
    f1_score_at1: float
    true_positive_count: int
    false_positive_count: int
    false_negative_count: int
    true_negative_count: int

    def __post_init__(self) -> None:
        for name in _RATIOS:
            setattr(self, name, wire_float(getattr(self, name)))

    def to_message(self) -> MetricsMessage.ConfidenceMetricsEntry:
        return MetricsMessage.ConfidenceMetricsEntry(**vars(self))

    def to_proto_json(self) -> dict[str, Any]:
        """The proto3 JSON mapping (int64 counts are strings in proto3 JSON)."""
        return _to_json(self.to_message())


@dataclass
class ConfusionMatrix:
    """``rows[i][j]`` = examples truly ``annotation_spec_ids[i]`` predicted (top-1) as ``[j]``."""

    annotation_spec_ids: list[str]
    display_names: list[str]
    rows: list[list[int]]

    def to_message(self) -> MetricsMessage.ConfusionMatrix:
        return MetricsMessage.ConfusionMatrix(
            annotation_spec_id=self.annotation_spec_ids,
            display_name=self.display_names,
            row=[MetricsMessage.ConfusionMatrix.Row(example_count=row) for row in self.rows],
        )


@dataclass
class PrecisionRecallSteps:
    """The precision-recall curve at every distinct score, highest first: the steps AU-PRC sums."""

    recall: list[float]
    precision: list[float]

    def area(self) -> float:
        """Σ (Rₖ − Rₖ₋₁)·Pₖ: the average precision (0.0 without positives)."""
        return float(np.sum(np.diff(self.recall, prepend=0.0) * np.asarray(self.precision)))


@dataclass
class ClassificationMetrics:
    """One evaluation: overall (all specs) or of one annotation spec."""

    annotation_spec_ids: list[str]
    evaluated_example_count: int
    au_prc: float
    base_au_prc: float
    confidence_metrics: list[ConfidenceMetrics]
    confusion_matrix: ConfusionMatrix | None = None
    # Not in the message: what the report draws and says.
    steps: PrecisionRecallSteps | None = None
    confusion_matrix_note: str = ""  # why there is no confusion matrix, when there is none

    def __post_init__(self) -> None:
        self.au_prc, self.base_au_prc = wire_float(self.au_prc), wire_float(self.base_au_prc)

    def at_threshold(self, threshold: float) -> ConfidenceMetrics:
        """The entry of a threshold of :data:`CONFIDENCE_THRESHOLDS`."""
        return entry_at_threshold(self.confidence_metrics, threshold)

    def to_proto_json(self) -> dict[str, Any]:
        """``ClassificationEvaluationMetrics`` in the proto3 JSON mapping (through the real message)."""
        message = MetricsMessage(
            au_prc=self.au_prc,
            base_au_prc=self.base_au_prc,
            confidence_metrics_entry=[entry.to_message() for entry in self.confidence_metrics],
            annotation_spec_id=self.annotation_spec_ids,
        )
        if self.confusion_matrix is not None:
            message.confusion_matrix = self.confusion_matrix.to_message()
        return _to_json(message)


@dataclass
class EvaluationMetrics:
    """The overall evaluation and one per annotation spec (in the model's output order)."""

    overall: ClassificationMetrics
    per_label: list[ClassificationMetrics]


def precision_recall_steps(scores: np.ndarray, truth: np.ndarray) -> PrecisionRecallSteps:
    """Recall Rₖ and precision Pₖ at every distinct score threshold (empty without positives).

    Args:
        scores: scores of any shape (flattened: one binary decision per element).
        truth: booleans of the same shape.
    """
    flat_scores = np.asarray(scores, dtype=np.float64).ravel()
    flat_truth = np.asarray(truth, dtype=bool).ravel()
    positives = int(flat_truth.sum())
    if positives == 0:
        return PrecisionRecallSteps([], [])
    order = np.argsort(-flat_scores, kind="stable")
    sorted_scores = flat_scores[order]
    true_positives = np.cumsum(flat_truth[order])
    # Tied scores are one threshold: keep only the last position of each run of equal scores.
    last_of_each_score = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(sorted_scores) - 1]
    true_positives = true_positives[last_of_each_score]
    precision = true_positives / (last_of_each_score + 1)
    recall = true_positives / positives
    return PrecisionRecallSteps(recall.tolist(), precision.tolist())


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Σ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds, highest first; 0.0 without positives."""
    return precision_recall_steps(scores, truth).area()


def top1_mask(scores: np.ndarray) -> np.ndarray:
    """One-hot ``[N, L]`` of each example's highest-scored label (first label on ties)."""
    mask = np.zeros(scores.shape, dtype=bool)
    if scores.size:
        mask[np.arange(scores.shape[0]), np.argmax(scores, axis=1)] = True
    return mask


def compute_metrics(
    scores: np.ndarray, truth: np.ndarray, annotation_specs: Sequence[AnnotationSpec]
) -> EvaluationMetrics:
    """All AutoML evaluation metrics of a multi-label scoring.

    Args:
        scores: ``[N, L]`` per-label scores in [0, 1], columns in the order of ``annotation_specs``.
        truth: ``[N, L]`` multi-hot ground truth (a row of zeros is an example with no label).
        annotation_specs: the L labels.

    Returns:
        The overall evaluation (micro-averaged) and one per label.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    if scores.ndim != 2 or scores.shape != truth.shape or scores.shape[1] != len(annotation_specs):
        raise ValueError(
            f"scores {scores.shape} and truth {truth.shape} must both be [examples, {len(annotation_specs)} labels]"
        )
    spec_ids = [s.id for s in annotation_specs]
    top1 = top1_mask(scores)
    overall = _classification_metrics(scores, truth, top1, spec_ids, evaluated_example_count=len(scores))
    overall.confusion_matrix = confusion_matrix(scores, truth, annotation_specs)
    if overall.confusion_matrix is None:
        overall.confusion_matrix_note = confusion_matrix_absence(truth, annotation_specs)
    per_label = [
        _classification_metrics(
            scores[:, j], truth[:, j], top1[:, j], [spec_ids[j]], evaluated_example_count=int(truth[:, j].sum())
        )
        for j in range(len(annotation_specs))
    ]
    return EvaluationMetrics(overall=overall, per_label=per_label)


def confusion_matrix(
    scores: np.ndarray, truth: np.ndarray, annotation_specs: Sequence[AnnotationSpec]
) -> ConfusionMatrix | None:
    """The top-1 confusion matrix, or None when AutoML would not give one (not multiclass, > 10 labels)."""
    truth = np.asarray(truth, dtype=bool)
    is_multiclass = len(truth) > 0 and bool(np.all(truth.sum(axis=1) == 1))
    if not is_multiclass or len(annotation_specs) > MAX_CONFUSION_MATRIX_LABELS:
        return None
    counts = np.zeros((len(annotation_specs), len(annotation_specs)), dtype=np.int64)
    np.add.at(counts, (np.argmax(truth, axis=1), np.argmax(scores, axis=1)), 1)
    return ConfusionMatrix(
        annotation_spec_ids=[s.id for s in annotation_specs],
        display_names=[s.display_name for s in annotation_specs],
        rows=counts.tolist(),
    )


def confusion_matrix_absence(truth: np.ndarray, annotation_specs: Sequence[AnnotationSpec]) -> str:
    """Why AutoML's rule gives no confusion matrix here, and what to change for one."""
    if len(annotation_specs) > MAX_CONFUSION_MATRIX_LABELS:
        return (
            f"There are {len(annotation_specs)} labels; a confusion matrix is given for at most "
            f"{MAX_CONFUSION_MATRIX_LABELS} (train on fewer labels to get one)."
        )
    counts = np.asarray(truth, dtype=bool).sum(axis=1)
    if len(counts) == 0:
        return "The TEST split is empty."
    unlabelled, multi = int(np.sum(counts == 0)), int(np.sum(counts > 1))
    reasons = [
        f"{n} of {len(counts)} TEST segments {'has' if n == 1 else 'have'} {what}"
        for n, what in ((unlabelled, "no label"), (multi, "several labels"))
        if n
    ]
    return (
        f"No confusion matrix: it needs every TEST segment to have exactly one label, and {' and '.join(reasons)}. "
        "Label those segments (or move them out of TEST) to get one; the per-label curves above count them as they are."
    )


def _classification_metrics(
    scores: np.ndarray, truth: np.ndarray, top1: np.ndarray, spec_ids: list[str], evaluated_example_count: int
) -> ClassificationMetrics:
    steps = precision_recall_steps(scores, truth)
    return ClassificationMetrics(
        annotation_spec_ids=spec_ids,
        evaluated_example_count=evaluated_example_count,
        steps=steps,
        au_prc=steps.area(),
        base_au_prc=float(truth.mean()) if truth.size else 0.0,
        confidence_metrics=[_confidence_metrics(scores, truth, top1, t) for t in CONFIDENCE_THRESHOLDS],
    )


def _confidence_metrics(scores: np.ndarray, truth: np.ndarray, top1: np.ndarray, threshold: float) -> ConfidenceMetrics:
    predicted = scores >= threshold
    positives = int(truth.sum())
    negatives = int(truth.size) - positives
    tp, fp = _count(predicted & truth), _count(predicted & ~truth)
    predicted_at1 = predicted & top1
    tp_at1, fp_at1 = _count(predicted_at1 & truth), _count(predicted_at1 & ~truth)
    recall, precision = _ratio(tp, positives, empty=0.0), _ratio(tp, tp + fp, empty=1.0)
    recall_at1, precision_at1 = _ratio(tp_at1, positives, empty=0.0), _ratio(tp_at1, tp_at1 + fp_at1, empty=1.0)
    return ConfidenceMetrics(
        confidence_threshold=threshold,
        recall=recall,
        precision=precision,
        false_positive_rate=_ratio(fp, negatives, empty=0.0),
        f1_score=_f1(precision, recall),
        recall_at1=recall_at1,
        precision_at1=precision_at1,
        false_positive_rate_at1=_ratio(fp_at1, negatives, empty=0.0),
        f1_score_at1=_f1(precision_at1, recall_at1),
        true_positive_count=tp,
        false_positive_count=fp,
        false_negative_count=positives - tp,
        true_negative_count=negatives - fp,
    )


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def _ratio(numerator: int, denominator: int, empty: float) -> float:
    return numerator / denominator if denominator else empty


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class ThresholdCurve:
    """One evaluation's numbers at every threshold of :data:`CONFIDENCE_THRESHOLDS`, as lists."""

    thresholds: list[float]
    precision: list[float]
    recall: list[float]
    f1_score: list[float]
    false_positive_rate: list[float]
    precision_at1: list[float]
    recall_at1: list[float]
    f1_score_at1: list[float]


def threshold_curve(metrics: ClassificationMetrics) -> ThresholdCurve:
    """The precision-recall (and @1) curve of an evaluation: the one builder the files and the report use."""
    entries = metrics.confidence_metrics
    return ThresholdCurve(
        thresholds=[e.confidence_threshold for e in entries],
        precision=[e.precision for e in entries],
        recall=[e.recall for e in entries],
        f1_score=[e.f1_score for e in entries],
        false_positive_rate=[e.false_positive_rate for e in entries],
        precision_at1=[e.precision_at1 for e in entries],
        recall_at1=[e.recall_at1 for e in entries],
        f1_score_at1=[e.f1_score_at1 for e in entries],
    )
