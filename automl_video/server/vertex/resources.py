"""Registry records as Vertex AI v1 messages (``google.cloud.aiplatform_v1``), and the Vertex operations'
metadata.

The registry already keeps every resource in its Vertex JSON shape (``Record.to_dict``); a message is
that JSON parsed by the real proto, unknown fields refused, so a reply can only carry what Vertex's own
messages hold. Evaluations are the exception: Vertex has one ``ModelEvaluation`` per model version and
one ``ModelEvaluationSlice`` per label (``slice.dimension`` ``annotationSpec``), with metrics in the
schema of ``metricsSchemaUri``; :func:`vertex_metrics` writes the AutoML metrics automl-video stores in
that schema.
"""

from typing import Any

from google.cloud import aiplatform_v1 as vertex
from google.longrunning import operations_pb2

from automl_video.registry import (
    BatchPredictionJobRecord,
    DatasetRecord,
    ModelEvaluationRecord,
    ModelRecord,
    OperationRecord,
    OperationState,
    TrainingPipelineRecord,
)
from automl_video.registry.resources import rfc3339
from automl_video.rpc import Code
from automl_video.server import wire

API = "aiplatform_v1"
PREFIX = "/v1/"
# The REST operations client of google-cloud-aiplatform polls ``/ui/{name=projects/*/locations/*/operations/*}``
# first (its first HTTP rule that matches a location-level operation name).
OPERATIONS_PREFIXES = ("/v1/", "/ui/")
SLICE_DIMENSION = "annotationSpec"
# Fields the registry keeps in a resource's ``metadata`` for the server, not for the caller.
_PRIVATE_DATASET_METADATA = ("dataUri", "importSources")


def dataset_message(record: DatasetRecord) -> vertex.Dataset:
    doc = record.to_dict()
    doc["metadata"] = {k: v for k, v in doc["metadata"].items() if k not in _PRIVATE_DATASET_METADATA}
    return wire.parse_dict(doc, vertex.Dataset)


def model_message(record: ModelRecord) -> vertex.Model:
    return wire.parse_dict(record.to_dict(), vertex.Model)


def training_pipeline_message(record: TrainingPipelineRecord) -> vertex.TrainingPipeline:
    return wire.parse_dict(record.to_dict(), vertex.TrainingPipeline)


def batch_prediction_job_message(record: BatchPredictionJobRecord) -> vertex.BatchPredictionJob:
    return wire.parse_dict(record.to_dict(), vertex.BatchPredictionJob)


def vertex_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """AutoML ``ClassificationEvaluationMetrics`` JSON in Vertex's ``classification_metrics_1.0.0`` schema:
    ``confidenceMetrics`` (``maxPredictions`` for AutoML's ``positionThreshold``) and a confusion matrix of
    ``annotationSpecs`` and ``rows``. Other metrics pass as they are."""
    doc = dict(metrics)
    entries = doc.pop("confidenceMetricsEntry", doc.pop("confidenceMetrics", None))
    if entries is not None:
        doc["confidenceMetrics"] = [
            {("maxPredictions" if k == "positionThreshold" else k): v for k, v in entry.items()} for entry in entries
        ]
    matrix = doc.get("confusionMatrix")
    if isinstance(matrix, dict) and "annotationSpecId" in matrix:
        doc["confusionMatrix"] = {
            "annotationSpecs": [
                {"id": spec_id, "displayName": name}
                for spec_id, name in zip(matrix.get("annotationSpecId", []), matrix.get("displayName", []))
            ],
            "rows": [list(row.get("exampleCount", [])) for row in matrix.get("row", [])],
        }
    return doc


def evaluation_message(record: ModelEvaluationRecord) -> vertex.ModelEvaluation:
    """The overall evaluation of a version; its per-label slices are :func:`slice_message`."""
    return wire.parse_dict(
        {
            "name": record.name,
            "displayName": record.display_name,
            "metricsSchemaUri": record.metrics_schema_uri,
            "metrics": vertex_metrics(record.metrics),
            "createTime": rfc3339(record.create_time),
            "sliceDimensions": [SLICE_DIMENSION],
        },
        vertex.ModelEvaluation,
    )


def slice_message(overall: ModelEvaluationRecord, label: ModelEvaluationRecord) -> vertex.ModelEvaluationSlice:
    """One label's evaluation as a slice of the version's overall evaluation (its ID is the label's evaluation's)."""
    return wire.parse_dict(
        {
            "name": f"{overall.name}/slices/{label.name.rsplit('/', 1)[1]}",
            "slice": {"dimension": SLICE_DIMENSION, "value": label.display_name},
            "metricsSchemaUri": label.metrics_schema_uri,
            "metrics": vertex_metrics(label.metrics),
            "createTime": rfc3339(label.create_time),
        },
        vertex.ModelEvaluationSlice,
    )


# Each operation kind's metadata message; its ``details`` are that message's own fields.
OPERATION_METADATA = {
    "create_dataset": vertex.CreateDatasetOperationMetadata,
    "import_data": vertex.ImportDataOperationMetadata,
    "export_data": vertex.ExportDataOperationMetadata,
    "export_model": vertex.ExportModelOperationMetadata,
}


def render_operation(record: OperationRecord) -> operations_pb2.Operation:
    """A ``google.longrunning.Operation`` whose metadata is the kind's Vertex message (``genericMetadata``
    with partial failures and times; ``DeleteOperationMetadata`` for deletes, ``GenericOperationMetadata``
    for the runs behind training pipelines and batch prediction jobs), and its response or error once done."""
    generic = {
        "partialFailures": [s.to_dict() for s in record.partial_failures],
        "createTime": rfc3339(record.create_time),
        "updateTime": rfc3339(record.update_time),
    }
    if record.kind.startswith("delete_"):
        metadata = wire.parse_dict({"genericMetadata": generic}, vertex.DeleteOperationMetadata)
    elif record.kind in OPERATION_METADATA:
        metadata = wire.parse_dict({**record.details, "genericMetadata": generic}, OPERATION_METADATA[record.kind])
    else:
        metadata = wire.parse_dict(generic, vertex.GenericOperationMetadata)
    doc: dict[str, Any] = {"name": record.name, "metadata": wire.packed(metadata), "done": record.done}
    if record.state is OperationState.SUCCEEDED:
        doc["response"] = record.response
    elif record.done:
        doc["error"] = record.error.to_dict() if record.error else {"code": int(Code.UNKNOWN), "message": ""}
    return wire.parse_dict(doc, operations_pb2.Operation)
