"""Classification evaluation: every distinct TEST segment scored once, AutoML metrics overall and per label.

One example per distinct TEST segment ``(video, start, end)``; rows of the same span with different
labels are one multi-label example, and ``-`` (negative) segments are examples with no positive label.
Each example is scored once with the model's deterministic centre sampling (``clips_per_segment``
clips averaged). Besides AutoML's ``ModelEvaluation`` documents (written by
:mod:`automl_video.evaluation`), it gives KFP:

- ``pr_curve.json``: threshold, precision, recall, F1, FPR lists (``log_roc_curve(fpr, tpr, threshold)``);
- ``confusion_matrix.json``: ``{"categories", "matrix"}`` for ``log_confusion_matrix``; only when AutoML
  gives a confusion matrix.
"""

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.data.dataset import AnnotationSpec, Dataset, DatasetError, Split
from automl_video.evaluation import SpecMetrics, TaskEvaluation
from automl_video.modeling.loading import TrainedModel
from automl_video.progress import Progress
from automl_video.report import ReportContext
from automl_video.tasks.base import Evaluator
from automl_video.tasks.classification.examples import span_examples
from automl_video.tasks.classification.metrics import (
    SUMMARY_THRESHOLD,
    ClassificationMetrics,
    EvaluationMetrics,
    compute_metrics,
    threshold_curve,
)
from automl_video.tasks.classification.report import render_report
from automl_video.training.clip_cache import ClipExample
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

METRICS_FIELD = "classificationEvaluationMetrics"
PR_CURVE_FILE = "pr_curve.json"
CONFUSION_MATRIX_FILE = "confusion_matrix.json"


@dataclass
class LabelSummary:
    annotation_spec_id: str
    display_name: str
    evaluated_example_count: int
    au_prc: float
    precision: float
    recall: float
    f1_score: float


@dataclass
class ClassificationSummary:
    """The headline numbers: overall AU-PRC, and precision/recall/F1 at 0.5 overall and per label."""

    au_prc: float
    base_au_prc: float
    precision: float
    recall: float
    f1_score: float
    labels: list[LabelSummary]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ClassificationEvaluator(Evaluator):
    def evaluate(
        self, model: TrainedModel, dataset: Dataset, dataset_uri: str, model_uri: str, create_time: str
    ) -> TaskEvaluation:
        specs = model.metadata.annotation_specs
        examples = span_examples(dataset, Split.TEST, [s.display_name for s in specs], dataset_uri)
        if not examples:
            raise DatasetError(
                f"{dataset_uri}: the TEST split has no segments to evaluate; run 'automl-video dataset split' "
                "or import rows with ML_USE TEST"
            )
        scores = score_examples(model, examples)
        metrics = compute_metrics(scores, np.stack([e.targets > 0.5 for e in examples]), specs)
        context = ReportContext(model_uri, dataset_uri, model.metadata.model_type, create_time)
        return TaskEvaluation(
            metrics_field=METRICS_FIELD,
            evaluations=[SpecMetrics(None, metrics.overall.evaluated_example_count, metrics.overall.to_proto_json())]
            + [
                SpecMetrics(spec, label_metrics.evaluated_example_count, label_metrics.to_proto_json())
                for spec, label_metrics in zip(specs, metrics.per_label)
            ],
            scalars=kfp_scalar_metrics(metrics, specs),
            score=metrics.overall.au_prc,
            score_name="AU-PRC",
            report_html=render_report(metrics, specs, context, model.metadata.calibration),
            predictions=[_prediction_row(e, s, specs) for e, s in zip(examples, scores)],
            summary=_summary(metrics, specs),
            files={
                PR_CURVE_FILE: pr_curve(metrics.overall),
                CONFUSION_MATRIX_FILE: kfp_confusion_matrix(metrics.overall),
            },
        )

    def format_summary(self, doc: dict[str, Any]) -> str:
        """Overall AU-PRC and a per-label table (precision/recall/F1 at threshold 0.5)."""
        width = max([len("label")] + [len(label["display_name"]) for label in doc["labels"]])
        lines = [
            f"Evaluated {doc['evaluated_example_count']} TEST segments",
            f"AU-PRC {doc['au_prc']:.4f} (base {doc['base_au_prc']:.4f}); at threshold 0.5: precision "
            f"{doc['precision']:.3f}, recall {doc['recall']:.3f}, F1 {doc['f1_score']:.3f}",
            "",
            f"{'label':<{width}}  {'examples':>8}  {'AU-PRC':>7}  {'prec@.5':>7}  {'rec@.5':>7}  {'F1@.5':>7}",
        ]
        for label in doc["labels"]:
            lines.append(
                f"{label['display_name']:<{width}}  {label['evaluated_example_count']:>8}  {label['au_prc']:>7.4f}  "
                f"{label['precision']:>7.3f}  {label['recall']:>7.3f}  {label['f1_score']:>7.3f}"
            )
        return "\n".join(lines)


def score_examples(model: TrainedModel, examples: list[ClipExample]) -> np.ndarray:
    """``[N, L]`` scores, opening each video once and scoring its segments in order."""
    by_video: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_video[example.video_uri].append(index)
    scores = np.zeros((len(examples), len(model.metadata.annotation_specs)), dtype=np.float32)
    progress = Progress("evaluate", total=len(examples), unit="segments")
    for video_uri, indices in by_video.items():
        with VideoReader(video_uri) as reader:
            for index in indices:
                scores[index] = model.score_segment(reader, examples[index].start, examples[index].end)
                progress.update()
    progress.finish()
    return scores


def kfp_scalar_metrics(metrics: EvaluationMetrics, specs: list[AnnotationSpec]) -> dict[str, float]:
    """Flat ``name → number`` scalars (KFP ``Metrics.log_metric``); thresholded ones at 0.5."""
    at_summary = metrics.overall.at_threshold(SUMMARY_THRESHOLD)
    scalars: dict[str, float] = {
        "au_prc": metrics.overall.au_prc,
        "base_au_prc": metrics.overall.base_au_prc,
        "evaluated_example_count": metrics.overall.evaluated_example_count,
        "precision": at_summary.precision,
        "recall": at_summary.recall,
        "f1_score": at_summary.f1_score,
        "precision_at1": at_summary.precision_at1,
        "recall_at1": at_summary.recall_at1,
        "f1_score_at1": at_summary.f1_score_at1,
    }
    for spec, label_metrics in zip(specs, metrics.per_label):
        scalars[f"au_prc/{spec.display_name}"] = label_metrics.au_prc
    return scalars


def pr_curve(overall: ClassificationMetrics) -> dict[str, list[float]]:
    """The overall curve at every AutoML threshold (``true_positive_rate`` is the recall)."""
    curve = threshold_curve(overall)
    return {
        "thresholds": curve.thresholds,
        "precision": curve.precision,
        "recall": curve.recall,
        "f1_score": curve.f1_score,
        "false_positive_rate": curve.false_positive_rate,
        "true_positive_rate": curve.recall,
    }


def kfp_confusion_matrix(overall: ClassificationMetrics) -> dict[str, Any] | None:
    """``{"categories", "matrix"}`` for KFP ``log_confusion_matrix``, None when AutoML has none."""
    matrix = overall.confusion_matrix
    if matrix is None:
        return None
    return {"categories": list(matrix.display_names), "matrix": [list(row) for row in matrix.rows]}


def _summary(metrics: EvaluationMetrics, specs: list[AnnotationSpec]) -> ClassificationSummary:
    overall = metrics.overall.at_threshold(SUMMARY_THRESHOLD)
    return ClassificationSummary(
        au_prc=metrics.overall.au_prc,
        base_au_prc=metrics.overall.base_au_prc,
        precision=overall.precision,
        recall=overall.recall,
        f1_score=overall.f1_score,
        labels=[_label_summary(spec, m) for spec, m in zip(specs, metrics.per_label)],
    )


def _label_summary(spec: AnnotationSpec, metrics: ClassificationMetrics) -> LabelSummary:
    at_summary = metrics.at_threshold(SUMMARY_THRESHOLD)
    return LabelSummary(
        annotation_spec_id=spec.id,
        display_name=spec.display_name,
        evaluated_example_count=metrics.evaluated_example_count,
        au_prc=metrics.au_prc,
        precision=at_summary.precision,
        recall=at_summary.recall,
        f1_score=at_summary.f1_score,
    )


def _prediction_row(example: ClipExample, scores: np.ndarray, specs: list[AnnotationSpec]) -> dict[str, Any]:
    return {
        "video_uri": example.video_uri,
        "video_id": example.content_hash[:16],
        "start": example.start,
        "end": example.end,
        "labels": [spec.display_name for spec, target in zip(specs, example.targets) if target > 0.5],
        "scores": {spec.display_name: float(score) for spec, score in zip(specs, scores)},
    }
