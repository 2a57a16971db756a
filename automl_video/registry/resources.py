"""What the registry returns: one typed record per resource, each serialising to its Vertex AI v1 JSON
shape with :meth:`to_dict` (camelCase keys, RFC 3339 times, int64 counts as strings, empty fields
left out), which is what a REST API will send.

Nested wire messages (``inputDataConfig``, ``outputConfig``, ``completionStats``…) are kept as their
proto3 JSON dicts: they go to and from the wire unchanged. Times are timezone-aware UTC datetimes.
"""

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from automl_video.registry import names
from automl_video.registry.states import JobState, PipelineState
from automl_video.registry.versions import DEFAULT_ALIAS
from automl_video.rpc import Status

VIDEO_DATASET_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/metadata/video_1.0.0.yaml"
CLASSIFICATION_METRICS_SCHEMA = "gs://google-cloud-aiplatform/schema/modelevaluation/classification_metrics_1.0.0.yaml"
# The metrics field of an ``evaluations.json`` entry (AutoML ``ModelEvaluation``, or the Vertex metrics
# a prediction type without an AutoML message writes the same way) → its Vertex metrics schema.
METRICS_SCHEMAS = {
    "classificationEvaluationMetrics": CLASSIFICATION_METRICS_SCHEMA,
    "videoObjectTrackingEvaluationMetrics": (
        "gs://google-cloud-aiplatform/schema/modelevaluation/video_object_tracking_metrics_1.0.0.yaml"
    ),
    "videoActionRecognitionMetrics": (
        "gs://google-cloud-aiplatform/schema/modelevaluation/video_action_recognition_metrics_1.0.0.yaml"
    ),
}
_METRICS_FIELDS = {schema: name for name, schema in METRICS_SCHEMAS.items()}  # schema → ModelEvaluation field
# aiplatform.schema.dataset.ioformat.video.*: the import schema of each prediction type.
IMPORT_SCHEMAS = {
    "classification": "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_classification_io_format_1.0.0.yaml",
    "object_tracking": "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_object_tracking_io_format_1.0.0.yaml",
    "action_recognition": (
        "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_action_recognition_io_format_1.0.0.yaml"
    ),
}
# The AutoML v1beta1 ``Dataset`` / ``Model`` metadata fields of each prediction type are
# ``<prefix>_dataset_metadata`` and ``<prefix>_model_metadata`` (v1beta1 has no action recognition).
AUTOML_METADATA_FIELDS = {"classification": "video_classification", "object_tracking": "video_object_tracking"}
TRAINING_TASK_DEFINITIONS = {
    "classification": "gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_video_classification_1.0.0.yaml",
    "object_tracking": "gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_video_object_tracking_1.0.0.yaml",
    "action_recognition": "gs://google-cloud-aiplatform/schema/trainingjob/definition/automl_video_action_recognition_1.0.0.yaml",
}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _aware(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _to_db(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Status):
        return value.to_dict()
    if isinstance(value, list) and value and isinstance(value[0], Status):
        return [s.to_dict() for s in value]
    return value


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    """proto3 JSON leaves out unset fields."""
    return {k: v for k, v in doc.items() if v not in (None, "", [], {})}


@dataclass(kw_only=True)
class Record:
    """Common to every resource; field names equal the table's column names."""

    name: str
    display_name: str = ""
    create_time: dt.datetime
    update_time: dt.datetime

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, _aware(getattr(self, f.name)))

    @property
    def resource_id(self) -> str:
        return names.parse(self.name).resource_id

    @property
    def project(self) -> str:
        return names.parse(self.name).project

    @property
    def location(self) -> str:
        return names.parse(self.name).location

    @classmethod
    def from_row(cls, row: Any) -> "Record":
        mapping = row._mapping if hasattr(row, "_mapping") else row
        return cls(**{f.name: mapping[f.name] for f in dataclasses.fields(cls) if f.name in mapping})

    def to_row(self) -> dict[str, Any]:
        return {f.name: _to_db(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(kw_only=True)
class DatasetRecord(Record):
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    data_uri: str
    prediction_type: str = "classification"
    data_item_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "name": self.name,
                "displayName": self.display_name,
                "description": self.description,
                "metadataSchemaUri": VIDEO_DATASET_SCHEMA,
                "metadata": {"dataUri": self.data_uri, "predictionType": self.prediction_type, **self.metadata},
                "dataItemCount": str(self.data_item_count),
                "createTime": rfc3339(self.create_time),
                "updateTime": rfc3339(self.update_time),
                "labels": self.labels,
            }
        )


@dataclass(kw_only=True)
class ModelRecord(Record):
    """One version of a model; ``name`` is the model's name (without ``@version``)."""

    version_id: str
    version_aliases: list[str] = field(default_factory=list)
    version_create_time: dt.datetime
    version_update_time: dt.datetime
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    version_description: str = ""
    artifact_uri: str
    training_pipeline: str | None = None
    dataset_id: str | None = None
    model_type: str
    prediction_type: str = "classification"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def versioned_name(self) -> str:
        return f"{self.name}@{self.version_id}"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.version_id = str(self.version_id)  # an integer column, a string on the wire

    @property
    def is_default_version(self) -> bool:
        return DEFAULT_ALIAS in self.version_aliases

    def to_dict(self) -> dict[str, Any]:
        exportable = self.model_type != "CLOUD"
        return _compact(
            {
                "name": self.name,
                "versionId": self.version_id,
                "versionAliases": sorted(self.version_aliases),
                "versionCreateTime": rfc3339(self.version_create_time),
                "versionUpdateTime": rfc3339(self.version_update_time),
                "displayName": self.display_name,
                "description": self.description,
                "versionDescription": self.version_description,
                "trainingPipeline": self.training_pipeline,
                "artifactUri": self.artifact_uri,
                "supportedExportFormats": [
                    {"id": fmt, "exportableContents": ["ARTIFACT"]} for fmt in ("tf-saved-model", "tflite")
                ]
                if exportable
                else [],
                "createTime": rfc3339(self.create_time),
                "updateTime": rfc3339(self.update_time),
                "labels": self.labels,
                "modelSourceInfo": {"sourceType": "AUTOML"},
                "metadata": _compact(
                    {
                        "modelType": self.model_type,
                        "predictionType": self.prediction_type,
                        "datasetId": self.dataset_id,
                        **self.metadata,
                    }
                ),
            }
        )


@dataclass(frozen=True)
class NewModelEvaluation:
    """An evaluation to record: the overall one (no ``annotation_spec_id``) or one label's."""

    metrics: dict[str, Any]
    display_name: str = ""
    annotation_spec_id: str | None = None
    evaluated_example_count: int = 0
    metrics_schema_uri: str = CLASSIFICATION_METRICS_SCHEMA

    @classmethod
    def from_automl_json(cls, doc: dict[str, Any]) -> "NewModelEvaluation":
        """One entry of ``evaluations.json`` (AutoML v1beta1 ``ModelEvaluation`` proto3 JSON), whichever
        prediction type's metrics field it has (:data:`METRICS_SCHEMAS`)."""
        fields = [name for name in METRICS_SCHEMAS if name in doc]
        if len(fields) != 1:
            raise ValueError(f"evaluation {doc.get('name', '')!r}: expected one of {', '.join(METRICS_SCHEMAS)}")
        return cls(
            metrics=dict(doc[fields[0]]),
            display_name=doc.get("displayName", ""),
            annotation_spec_id=doc.get("annotationSpecId") or None,
            evaluated_example_count=int(doc.get("evaluatedExampleCount", 0)),
            metrics_schema_uri=METRICS_SCHEMAS[fields[0]],
        )


@dataclass(kw_only=True)
class ModelEvaluationRecord(Record):
    """One entry of a model version's evaluation: the overall one (no annotation spec) or one label's."""

    model_name: str
    version_id: str
    annotation_spec_id: str | None = None
    evaluated_example_count: int = 0
    metrics_schema_uri: str = CLASSIFICATION_METRICS_SCHEMA
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.version_id = str(self.version_id)

    def to_dict(self) -> dict[str, Any]:
        """Vertex ``ModelEvaluation``; metrics use Vertex's ``confidenceMetrics`` spelling."""
        metrics = dict(self.metrics)
        if "confidenceMetricsEntry" in metrics:
            metrics["confidenceMetrics"] = metrics.pop("confidenceMetricsEntry")
        return _compact(
            {
                "name": self.name,
                "displayName": self.display_name,
                "metricsSchemaUri": self.metrics_schema_uri,
                "metrics": metrics,
                "createTime": rfc3339(self.create_time),
                "modelVersionId": self.version_id,
                "annotationSpecId": self.annotation_spec_id,
                "evaluatedExampleCount": self.evaluated_example_count,
            }
        )

    def to_automl_dict(self) -> dict[str, Any]:
        """AutoML v1beta1 ``ModelEvaluation`` (the shape ``evaluations.json`` is written in), its metrics
        under the field of their schema."""
        return _compact(
            {
                "name": names.to_automl(self.name),
                "annotationSpecId": self.annotation_spec_id,
                "displayName": self.display_name,
                "createTime": rfc3339(self.create_time),
                "evaluatedExampleCount": self.evaluated_example_count,
                _METRICS_FIELDS[self.metrics_schema_uri]: self.metrics,
            }
        )


@dataclass(kw_only=True)
class JobRecord(Record):
    labels: dict[str, str] = field(default_factory=dict)
    error: Status | None = None
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    # How the backend runs it (pipeline run IDs, output folders): not part of the wire format.
    run_info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.error, dict):
            self.error = Status.from_dict(self.error)

    def _job_fields(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "error": self.error.to_dict() if self.error else None,
            "createTime": rfc3339(self.create_time),
            "startTime": rfc3339(self.start_time),
            "endTime": rfc3339(self.end_time),
            "updateTime": rfc3339(self.update_time),
            "labels": self.labels,
        }


@dataclass(kw_only=True)
class TrainingPipelineRecord(JobRecord):
    state: PipelineState = PipelineState.PIPELINE_STATE_QUEUED
    training_task_definition: str
    training_task_inputs: dict[str, Any] = field(default_factory=dict)
    input_data_config: dict[str, Any] = field(default_factory=dict)
    model_to_upload: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    parent_model: str | None = None
    dataset_id: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.state = PipelineState(self.state)

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "name": self.name,
                "displayName": self.display_name,
                "inputDataConfig": self.input_data_config,
                "trainingTaskDefinition": self.training_task_definition,
                "trainingTaskInputs": self.training_task_inputs,
                "modelToUpload": self.model_to_upload,
                "modelId": self.model_id,
                "parentModel": self.parent_model,
                **self._job_fields(),
            }
        )


@dataclass(kw_only=True)
class BatchPredictionJobRecord(JobRecord):
    state: JobState = JobState.JOB_STATE_QUEUED
    model: str
    model_version_id: str
    input_config: dict[str, Any] = field(default_factory=dict)
    output_config: dict[str, Any] = field(default_factory=dict)
    model_parameters: dict[str, Any] = field(default_factory=dict)
    dedicated_resources: dict[str, Any] = field(default_factory=dict)
    output_info: dict[str, Any] | None = None
    completion_stats: dict[str, Any] | None = None
    partial_failures: list[Status] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.state = JobState(self.state)
        self.partial_failures = [
            s if isinstance(s, Status) else Status.from_dict(s) for s in self.partial_failures or []
        ]

    def to_dict(self) -> dict[str, Any]:
        return _compact(
            {
                "name": self.name,
                "displayName": self.display_name,
                "model": self.model,
                "modelVersionId": self.model_version_id,
                "inputConfig": self.input_config,
                "modelParameters": self.model_parameters,
                "outputConfig": self.output_config,
                "dedicatedResources": self.dedicated_resources,
                "outputInfo": self.output_info,
                "partialFailures": [s.to_dict() for s in self.partial_failures],
                "completionStats": self.completion_stats,
                **self._job_fields(),
            }
        )
