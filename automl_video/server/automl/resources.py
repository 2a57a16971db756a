"""Registry records as AutoML v1beta1 messages (``google.cloud.automl_v1beta1``), and the v1beta1
names and metadata fields of each prediction type.

AutoML's ``Dataset`` / ``Model`` carry one metadata field per problem type; which prediction type each
video field means is :data:`automl_video.registry.resources.AUTOML_METADATA_FIELDS` (object tracking
plugs in when its task is in :data:`automl_video.tasks.TASK_MODULES`).
"""

import re
from typing import Any

from google.cloud import automl_v1beta1 as automl
from google.longrunning import operations_pb2

from automl_video.data.dataset import Dataset
from automl_video.registry import (
    DatasetRecord,
    ModelEvaluationRecord,
    ModelRecord,
    OperationRecord,
    OperationState,
)
from automl_video.registry.resources import AUTOML_METADATA_FIELDS, rfc3339
from automl_video.rpc import Code
from automl_video.server import wire
from automl_video.server.errors import ApiError
from automl_video.tasks import TASK_MODULES

API = "automl_v1beta1"
PREFIX = "/v1beta1/"
DEPLOYMENT_STATE = "deploymentState"
# AutoML: "up to 32 characters, ASCII Latin letters A-Z and a-z, underscores (_), and ASCII digits 0-9";
# a model's must start with a letter.
_DISPLAY_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")
_MODEL_DISPLAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def check_display_name(value: str, what: str) -> str:
    pattern = _MODEL_DISPLAY_NAME if what == "model" else _DISPLAY_NAME
    if not pattern.fullmatch(value or ""):
        start = " starting with a letter" if what == "model" else ""
        raise ApiError(
            Code.INVALID_ARGUMENT,
            f"{what} display_name {value!r}: use 1 to 32 ASCII letters, digits and underscores{start}",
        )
    return value


def prediction_type_of(message: Any, kind: str) -> str:
    """The prediction type of a ``Dataset`` (``kind`` ``dataset``) or ``Model`` (``model``) by its metadata field.

    Raises:
        ApiError: no or several metadata fields, a non-video one (400), or a type not implemented (501).
    """
    fields = [f.name for f, _ in wire.pb(message).ListFields() if f.name.endswith(f"_{kind}_metadata")]
    if len(fields) != 1:
        video = ", ".join(f"{p}_{kind}_metadata" for p in AUTOML_METADATA_FIELDS.values())
        raise ApiError(
            Code.INVALID_ARGUMENT, f"set exactly one {kind} metadata field ({video}); got {fields or 'none'}"
        )
    by_field = {f"{prefix}_{kind}_metadata": t for t, prefix in AUTOML_METADATA_FIELDS.items()}
    if fields[0] not in by_field:
        raise ApiError(Code.INVALID_ARGUMENT, f"{fields[0]}: automl-video serves video datasets and models only")
    prediction_type = by_field[fields[0]]
    if prediction_type not in TASK_MODULES:
        raise ApiError(Code.UNIMPLEMENTED, f"{fields[0]}: {prediction_type} is not yet supported by automl-video")
    return prediction_type


def _metadata_field(prediction_type: str, kind: str) -> str:
    return f"{AUTOML_METADATA_FIELDS[prediction_type]}_{kind}_metadata"


def dataset_message(record: DatasetRecord) -> automl.Dataset:
    return automl.Dataset(
        name=record.name,
        display_name=record.display_name,
        description=record.description,
        example_count=record.data_item_count,
        create_time=record.create_time,
        **{_metadata_field(record.prediction_type, "dataset"): {}},
    )


def annotation_spec_message(dataset_name: str, dataset: Dataset, spec_id: str) -> automl.AnnotationSpec:
    """One label of a dataset; its example count is the number of videos it labels."""
    spec = next((s for s in dataset.annotation_specs if s.id == spec_id), None)
    if spec is None:
        raise ApiError(Code.NOT_FOUND, f"annotation spec {spec_id} not found in {dataset_name}")
    return automl.AnnotationSpec(
        name=f"{dataset_name}/annotationSpecs/{spec.id}",
        display_name=spec.display_name,
        example_count=sum(spec.display_name in v.labels() for v in dataset.videos),
    )


def model_message(record: ModelRecord) -> automl.Model:
    if record.prediction_type not in AUTOML_METADATA_FIELDS:
        raise ApiError(Code.NOT_FOUND, f"{record.name} is a {record.prediction_type} model, which v1beta1 cannot show")
    return automl.Model(
        name=record.name,
        display_name=record.display_name,
        dataset_id=record.dataset_id or "",
        create_time=record.create_time,
        update_time=record.update_time,
        deployment_state=automl.Model.DeploymentState[record.metadata.get(DEPLOYMENT_STATE, "UNDEPLOYED")],
        **{_metadata_field(record.prediction_type, "model"): {}},
    )


def evaluation_message(record: ModelEvaluationRecord) -> automl.ModelEvaluation:
    """A ``ModelEvaluation`` whose metrics are the stored ``evaluations.json`` entry's, parsed by the proto."""
    return wire.parse_dict(record.to_automl_dict(), automl.ModelEvaluation)


def render_operation(record: OperationRecord) -> operations_pb2.Operation:
    """A ``google.longrunning.Operation`` with ``OperationMetadata`` (progress, partial failures, times and
    the per-RPC details), and its response or error once done."""
    metadata = wire.packed(
        wire.parse_dict(
            {
                **record.details,
                "progressPercent": record.progress_percent,
                "partialFailures": [s.to_dict() for s in record.partial_failures],
                "createTime": rfc3339(record.create_time),
                "updateTime": rfc3339(record.update_time),
            },
            automl.OperationMetadata,
        )
    )
    doc: dict[str, Any] = {"name": record.name, "metadata": metadata, "done": record.done}
    if record.state is OperationState.SUCCEEDED:
        doc["response"] = record.response
    elif record.done:
        doc["error"] = record.error.to_dict() if record.error else {"code": int(Code.UNKNOWN), "message": ""}
    return wire.parse_dict(doc, operations_pb2.Operation)
