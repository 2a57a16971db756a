"""Evaluate a trained model on the TEST split, as AutoML does: overall and per annotation spec.

One example per distinct TEST segment ``(video, start, end)``; rows of the same span with different
labels are one multi-label example, and ``-`` (negative) segments are examples with no positive label.
Each example is scored once with the model's deterministic centre sampling.

Outputs under ``output_uri`` (each file written atomically, after all scoring succeeded, so a failed
run leaves the previous evaluation intact; ``evaluations.json`` is written last):

- ``evaluations.json``: list of ``google.cloud.automl.v1beta1.ModelEvaluation`` in the proto3 JSON
  mapping, overall first (empty ``annotationSpecId``), then one per annotation spec.
- ``metrics.json``: flat scalars for KFP ``Metrics.log_metric``.
- ``pr_curve.json``: threshold, precision, recall, F1, FPR lists (``log_roc_curve(fpr, tpr, threshold)``).
- ``confusion_matrix.json``: ``{"categories", "matrix"}`` for ``log_confusion_matrix``; only when AutoML
  gives a confusion matrix.
- ``report.html``: the self-contained report (:mod:`automl_video.report`).
- ``predictions.jsonl``: every example's true labels and scores, for debugging.
"""

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video import dataset as dataset_lib
from automl_video import model as model_lib
from automl_video import storage
from automl_video.dataset import AnnotationSpec, DatasetError, utc_now
from automl_video.metrics import SUMMARY_THRESHOLD, ClassificationMetrics, EvaluationMetrics, compute_metrics
from automl_video.progress import Progress
from automl_video.report import ReportContext, render_report
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

EVALUATIONS_FILE = "evaluations.json"
METRICS_FILE = "metrics.json"
PR_CURVE_FILE = "pr_curve.json"
CONFUSION_MATRIX_FILE = "confusion_matrix.json"
REPORT_FILE = "report.html"
PREDICTIONS_FILE = "predictions.jsonl"


@dataclass
class Example:
    """One evaluated TEST segment and the labels it truly has (empty for a ``-`` segment)."""

    video_uri: str
    video_id: str
    start: float
    end: float
    labels: list[str]


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
class EvaluationResult:
    """Where the evaluation was written and its headline numbers (precision/recall/F1 at 0.5)."""

    output_uri: str
    evaluations_uri: str
    metrics_uri: str
    pr_curve_uri: str
    confusion_matrix_uri: str | None
    report_uri: str
    predictions_uri: str
    evaluated_example_count: int
    au_prc: float
    base_au_prc: float
    precision: float
    recall: float
    f1_score: float
    labels: list[LabelSummary]
    metrics: EvaluationMetrics

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` document (the full metrics are in ``evaluations.json``)."""
        doc = {k: v for k, v in vars(self).items() if k not in ("labels", "metrics")}
        doc["labels"] = [vars(label) for label in self.labels]
        return doc


def evaluate(model_uri: str, dataset_uri: str, output_uri: str, model_name: str = "") -> EvaluationResult:
    """Score every TEST segment and write AutoML's evaluations plus KFP-friendly outputs.

    Args:
        model_uri: the trained model folder.
        dataset_uri: the dataset whose TEST split is evaluated.
        output_uri: folder receiving the evaluation files.
        model_name: resource name of the model, prefix of each evaluation's ``name``
            (default ``models/<last part of model_uri>``).

    Returns:
        The output locations and headline metrics.
    """
    model = model_lib.load_model(model_uri)
    specs = model.metadata.annotation_specs
    examples = examples_in_test_split(dataset_lib.load(dataset_uri), dataset_uri, [s.display_name for s in specs])
    scores = score_examples(model, examples)
    truth = np.array([[s.display_name in example.labels for s in specs] for example in examples], dtype=bool)
    metrics = compute_metrics(scores, truth, specs)
    create_time = utc_now()
    model_name = model_name or f"models/{model_uri.rstrip('/').rsplit('/', 1)[-1]}"


    def uri(name: str) -> str:
        return storage.join(output_uri, name)

    storage.write_jsonl(uri(PREDICTIONS_FILE), [_prediction_row(e, s, specs) for e, s in zip(examples, scores)])
    storage.write_json(uri(METRICS_FILE), kfp_scalar_metrics(metrics, specs))
    storage.write_json(uri(PR_CURVE_FILE), pr_curve(metrics.overall))
    matrix = kfp_confusion_matrix(metrics.overall)
    if matrix is not None:
        storage.write_json(uri(CONFUSION_MATRIX_FILE), matrix)
    else:
        storage.remove(uri(CONFUSION_MATRIX_FILE))  # a stale one from an earlier run would mislead
    context = ReportContext(model_uri, dataset_uri, model.metadata.model_type, create_time)
    storage.write_text(uri(REPORT_FILE), render_report(metrics, specs, context))
    storage.write_json(uri(EVALUATIONS_FILE), model_evaluations(metrics, specs, model_name, create_time))

    overall_at_summary = metrics.overall.at_threshold(SUMMARY_THRESHOLD)
    log.info("evaluated %d TEST segments: AU-PRC %.4f -> %s", len(examples), metrics.overall.au_prc, output_uri)
    return EvaluationResult(
        output_uri=output_uri,
        evaluations_uri=uri(EVALUATIONS_FILE),
        metrics_uri=uri(METRICS_FILE),
        pr_curve_uri=uri(PR_CURVE_FILE),
        confusion_matrix_uri=uri(CONFUSION_MATRIX_FILE) if matrix is not None else None,
        report_uri=uri(REPORT_FILE),
        predictions_uri=uri(PREDICTIONS_FILE),
        evaluated_example_count=len(examples),
        au_prc=metrics.overall.au_prc,
        base_au_prc=metrics.overall.base_au_prc,
        precision=overall_at_summary.precision,
        recall=overall_at_summary.recall,
        f1_score=overall_at_summary.f1_score,
        labels=[_label_summary(spec, m) for spec, m in zip(specs, metrics.per_label)],
        metrics=metrics,
    )


def examples_in_test_split(dataset: dataset_lib.Dataset, dataset_uri: str, model_labels: list[str]) -> list[Example]:
    """The TEST split as examples, in dataset order; refuses labels the model does not know.

    Args:
        dataset: the loaded dataset.
        dataset_uri: its location, for error messages.
        model_labels: the model's label names.

    Returns:
        One example per distinct ``(video, start, end)`` TEST segment.
    """
    known = set(model_labels)
    by_span: dict[tuple[str, float, float], Example] = {}
    for video, segment in dataset.segments_in("TEST"):
        key = (video.video_id, segment.start, segment.end)
        example = by_span.setdefault(key, Example(video.uri, video.video_id, segment.start, segment.end, []))
        if segment.is_negative:
            continue
        if segment.label not in known:
            raise DatasetError(
                f"{segment.source_uri or dataset_uri} row {segment.source_row}: TEST label {segment.label!r} "
                f"is not one of the model's labels ({', '.join(model_labels)}); retrain on this dataset"
            )
        if segment.label not in example.labels:
            example.labels.append(segment.label)
    if not by_span:
        raise DatasetError(
            f"{dataset_uri}: the TEST split has no segments to evaluate; run 'automl-video dataset split' "
            "or import rows with ML_USE TEST"
        )
    return list(by_span.values())


def score_examples(model: "model_lib.TrainedModel", examples: list[Example]) -> np.ndarray:
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


def model_evaluations(
    metrics: EvaluationMetrics, specs: list[AnnotationSpec], model_name: str, create_time: str
) -> list[dict[str, Any]]:
    """``ModelEvaluation`` messages in the proto3 JSON mapping: overall first, then one per spec."""
    documents = [_model_evaluation(metrics.overall, "", "", model_name, create_time)]
    for spec, label_metrics in zip(specs, metrics.per_label):
        documents.append(_model_evaluation(label_metrics, spec.id, spec.display_name, model_name, create_time))
    return documents


def evaluation_id(model_name: str, annotation_spec_id: str) -> str:
    """A stable numeric id (same model and spec → same id on every run), like AutoML's numeric ids."""
    digest = hashlib.sha256(f"{model_name}\n{annotation_spec_id}".encode()).hexdigest()
    return str(int(digest[:15], 16))


def _model_evaluation(
    metrics: ClassificationMetrics, spec_id: str, display_name: str, model_name: str, create_time: str
) -> dict[str, Any]:
    return {
        "name": f"{model_name}/modelEvaluations/{evaluation_id(model_name, spec_id)}",
        "annotationSpecId": spec_id,
        "displayName": display_name,
        "createTime": create_time,
        "evaluatedExampleCount": metrics.evaluated_example_count,
        "classificationEvaluationMetrics": metrics.to_proto_json(),
    }


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
    entries = overall.confidence_metrics
    return {
        "thresholds": [e.confidence_threshold for e in entries],
        "precision": [e.precision for e in entries],
        "recall": [e.recall for e in entries],
        "f1_score": [e.f1_score for e in entries],
        "false_positive_rate": [e.false_positive_rate for e in entries],
        "true_positive_rate": [e.recall for e in entries],
    }


def kfp_confusion_matrix(overall: ClassificationMetrics) -> dict[str, Any] | None:
    """``{"categories", "matrix"}`` for KFP ``log_confusion_matrix``, None when AutoML has none."""
    matrix = overall.confusion_matrix
    if matrix is None:
        return None
    return {"categories": list(matrix.display_names), "matrix": [list(row) for row in matrix.rows]}


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


def _prediction_row(example: Example, scores: np.ndarray, specs: list[AnnotationSpec]) -> dict[str, Any]:
    return {
        "video_uri": example.video_uri,
        "video_id": example.video_id,
        "start": example.start,
        "end": example.end,
        "labels": example.labels,
        "scores": {spec.display_name: float(score) for spec, score in zip(specs, scores)},
    }
