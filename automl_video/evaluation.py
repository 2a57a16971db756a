"""Evaluate a trained model on the TEST split, as AutoML does: overall and per annotation spec.

The model's task scores the TEST split and computes its metrics
(:class:`automl_video.tasks.base.Evaluator`); this module writes them under ``output_uri``, each file
atomically and only after all scoring succeeded, so a failed run leaves the previous evaluation intact
(``evaluations.json`` is written last):

- ``evaluations.json``: list of ``google.cloud.automl.v1beta1.ModelEvaluation`` in the proto3 JSON
  mapping, overall first (empty ``annotationSpecId``), then one per annotation spec.
- ``metrics.json``: flat scalars for KFP ``Metrics.log_metric``.
- ``report.html``: the self-contained report of the task.
- ``predictions.jsonl``: every example's truth and scores, for debugging.
- the task's own files (classification: ``pr_curve.json``, ``confusion_matrix.json``).
"""

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.loading import load_model
from automl_video.tasks import get_task
from automl_video.times import rfc3339_now

log = logging.getLogger(__name__)

EVALUATIONS_FILE = "evaluations.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
PREDICTIONS_FILE = "predictions.jsonl"


@dataclass
class SpecMetrics:
    """One evaluation: overall (``spec`` None) or of one annotation spec, as its proto3 JSON metrics."""

    spec: AnnotationSpec | None
    evaluated_example_count: int
    metrics: dict[str, Any]


@dataclass
class TaskEvaluation:
    """What a task's evaluator computed on the TEST split, ready to write.

    ``metrics_field`` names the ``ModelEvaluation`` field of the metrics (e.g.
    ``classificationEvaluationMetrics``); ``score`` is the headline number the serving gate compares
    (overall AU-PRC for classification); ``files`` maps file names to JSON documents, None for a file
    that does not apply to this evaluation (an old one is removed); ``summary`` is the task's headline
    dataclass, flattened into the result's JSON.
    """

    metrics_field: str
    evaluations: list[SpecMetrics]  # overall first
    scalars: dict[str, float]
    score: float
    score_name: str
    report_html: str
    predictions: list[dict[str, Any]]
    summary: Any
    files: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluationResult:
    """Where the evaluation was written and its headline numbers."""

    output_uri: str
    evaluations_uri: str
    metrics_uri: str
    report_uri: str
    predictions_uri: str
    evaluated_example_count: int
    score: float
    score_name: str
    prediction_type: str
    files: dict[str, str]  # the task's own files by name (without extension) -> URI
    summary: Any

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` document (the full metrics are in ``evaluations.json``)."""
        doc = {k: v for k, v in vars(self).items() if k not in ("files", "summary")}
        doc.update({f"{name}_uri": uri for name, uri in self.files.items()})
        return {**doc, **self.summary.to_json()}


def evaluate(model_uri: str, dataset_uri: str, output_uri: str, model_name: str = "") -> EvaluationResult:
    """Score the TEST split with the model's task and write AutoML's evaluations plus KFP-friendly outputs.

    Args:
        model_uri: the trained model folder.
        dataset_uri: the dataset whose TEST split is evaluated.
        output_uri: folder receiving the evaluation files.
        model_name: resource name of the model, prefix of each evaluation's ``name``
            (default ``models/<last part of model_uri>``).

    Returns:
        The output locations and headline metrics.
    """
    model = load_model(model_uri)
    task = get_task(model.metadata.prediction_type)
    create_time = rfc3339_now()
    evaluation = task.evaluator().evaluate(model, dataset_lib.load(dataset_uri), dataset_uri, model_uri, create_time)
    model_name = model_name or f"models/{model_uri.rstrip('/').rsplit('/', 1)[-1]}"

    def uri(name: str) -> str:
        return storage.join(output_uri, name)

    storage.write_jsonl(uri(PREDICTIONS_FILE), evaluation.predictions)
    storage.write_json(uri(METRICS_FILE), evaluation.scalars)
    files = {}
    for name, document in evaluation.files.items():
        if document is None:
            storage.remove(uri(name))  # a stale one from an earlier run would mislead
        else:
            storage.write_json(uri(name), document)
            files[name.rsplit(".", 1)[0]] = uri(name)
    storage.write_text(uri(REPORT_FILE), evaluation.report_html)
    storage.write_json(uri(EVALUATIONS_FILE), model_evaluations(evaluation, model_name, create_time))
    overall = evaluation.evaluations[0]
    log.info(
        "evaluated %d TEST examples: %s %.4f -> %s",
        overall.evaluated_example_count,
        evaluation.score_name,
        evaluation.score,
        output_uri,
    )
    return EvaluationResult(
        output_uri=output_uri,
        evaluations_uri=uri(EVALUATIONS_FILE),
        metrics_uri=uri(METRICS_FILE),
        report_uri=uri(REPORT_FILE),
        predictions_uri=uri(PREDICTIONS_FILE),
        evaluated_example_count=overall.evaluated_example_count,
        score=evaluation.score,
        score_name=evaluation.score_name,
        prediction_type=task.prediction_type,
        files=files,
        summary=evaluation.summary,
    )


def model_evaluations(evaluation: TaskEvaluation, model_name: str, create_time: str) -> list[dict[str, Any]]:
    """``ModelEvaluation`` messages in the proto3 JSON mapping: overall first, then one per spec."""
    documents = []
    for entry in evaluation.evaluations:
        spec_id = entry.spec.id if entry.spec else ""
        documents.append(
            {
                "name": f"{model_name}/modelEvaluations/{evaluation_id(model_name, spec_id)}",
                "annotationSpecId": spec_id,
                "displayName": entry.spec.display_name if entry.spec else "",
                "createTime": create_time,
                "evaluatedExampleCount": entry.evaluated_example_count,
                evaluation.metrics_field: entry.metrics,
            }
        )
    return documents


def evaluation_id(model_name: str, annotation_spec_id: str) -> str:
    """A stable numeric id (same model and spec → same id on every run), like AutoML's numeric ids."""
    digest = hashlib.sha256(f"{model_name}\n{annotation_spec_id}".encode()).hexdigest()
    return str(int(digest[:15], 16))
