"""The resource registry: datasets, models with versions and aliases, evaluations, training pipelines
and batch prediction jobs with AutoML/Vertex names, on SQLite (default) or PostgreSQL.

The SDK (:mod:`automl_video.sdk`) and a future REST API both read and write resources only through
:class:`Registry`, the single source of truth. Records serialise to Vertex JSON with ``to_dict()``.
"""

from automl_video.registry.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
    SchemaVersionError,
)
from automl_video.registry.listing import Page
from automl_video.registry.operations import OperationRecord, OperationState
from automl_video.registry.resources import (
    BatchPredictionJobRecord,
    DatasetRecord,
    ModelEvaluationRecord,
    ModelRecord,
    NewModelEvaluation,
    TrainingPipelineRecord,
)
from automl_video.registry.states import JobState, PipelineState
from automl_video.registry.store import Registry
from automl_video.rpc import Status

__all__ = [
    "AlreadyExistsError",
    "BatchPredictionJobRecord",
    "DatasetRecord",
    "FailedPreconditionError",
    "JobState",
    "ModelEvaluationRecord",
    "ModelRecord",
    "NewModelEvaluation",
    "NotFoundError",
    "OperationRecord",
    "OperationState",
    "Page",
    "PipelineState",
    "Registry",
    "SchemaVersionError",
    "Status",
    "TrainingPipelineRecord",
]
