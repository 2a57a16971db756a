"""The AutoML v1beta1 operations as worker processes run them: the library stages the CLI runs, training
and batch prediction through the SDK's backends (the local runner, or the KFP pipelines with
``--backend kfp:HOST``) on the training pipeline / batch prediction job the handler registered.

Each kind is idempotent, so a worker that resumes after its server died picks up where the last one
stopped: an import is all or nothing, training resumes from its checkpoint (same work folder), batch
prediction from its finished rows (same output prefix), and a model already registered by the operation
is not registered twice. ``cleanup`` removes what a cancelled run half-wrote.
"""

import enum
import logging

from google.cloud import automl_v1beta1 as automl
from google.protobuf import empty_pb2

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer
from automl_video.data.export import export_automl_csv
from automl_video.data.import_files import ImportFailed
from automl_video.registry import OperationRecord, Registry
from automl_video.registry.resources import JobRecord
from automl_video.registry.states import SUCCEEDED_STATES, is_terminal, state_like
from automl_video.rpc import MAX_PARTIAL_FAILURES, Code, Status
from automl_video.server import wire
from automl_video.server.automl import resources
from automl_video.server.config import ServerConfig
from automl_video.server.surface import OperationFailed, OperationKind, OperationOutcome, OperationRun

log = logging.getLogger(__name__)

# ``ModelExportOutputConfig.model_format`` of video models -> automl-video's export format.
EXPORT_FORMATS = {"tflite": "tflite", "tf_saved_model": "tf-saved-model"}
# ``BatchPredictRequest.params`` a prediction type takes, checked when the request arrives; the task
# checks the others' in the worker (its parameter parser loads TensorFlow).
PREDICT_PARAMS = {
    "classification": (
        "score_threshold",
        "segment_classification",
        "shot_classification",
        "1s_interval_classification",
    ),
}


class Kind(enum.StrEnum):
    IMPORT_DATA = "import_data"
    EXPORT_DATA = "export_data"
    DELETE_DATASET = "delete_dataset"
    CREATE_MODEL = "create_model"
    DELETE_MODEL = "delete_model"
    DEPLOY_MODEL = "deploy_model"
    UNDEPLOY_MODEL = "undeploy_model"
    EXPORT_MODEL = "export_model"
    BATCH_PREDICT = "batch_predict"


def _empty() -> dict:
    return wire.packed(empty_pb2.Empty())


def _row_statuses(failures: list) -> list[Status]:
    return [Status(Code.INVALID_ARGUMENT, f"{f.uri} row {f.row}: {f.message}") for f in failures[:MAX_PARTIAL_FAILURES]]


def _remove_if_in_workspace(config: ServerConfig, uri: str) -> None:
    """Delete a deleted resource's files when the server made them (an SDK resource's stay where they are)."""
    if uri.startswith(config.workspace.rstrip("/") + "/"):
        storage.remove(uri, recursive=True)


# -- datasets -----------------------------------------------------------------------------------------


def import_data(run: OperationRun) -> OperationOutcome:
    request = wire.parse_dict(run.record.request, automl.ImportDataRequest)
    dataset = run.registry.get_dataset(request.name)
    sources = list(request.input_config.gcs_source.input_uris)
    exhaustive = request.input_config.params.get("is_exhaustively_labeled", "false").lower() == "true"
    try:
        result = importer.import_data(
            sources,
            dataset.data_uri,
            exhaustive=exhaustive,
            display_name=dataset.display_name,
            prediction_type=dataset.prediction_type,
            guard=run.roots.guard(),
        )
    except ImportFailed as e:
        raise OperationFailed(Status(Code.INVALID_ARGUMENT, str(e)), _row_statuses(e.failures)) from None
    imported = dataset.metadata.get("importSources", [])
    run.registry.update_dataset(
        dataset.name,
        data_item_count=len(dataset_lib.load(dataset.data_uri).videos),
        metadata={**dataset.metadata, "importSources": imported + [s for s in sources if s not in imported]},
    )
    return OperationOutcome(_empty(), _row_statuses(result.partial_failures))


def export_data(run: OperationRun) -> OperationOutcome:
    dataset = run.registry.get_dataset(wire.parse_dict(run.record.request, automl.ExportDataRequest).name)
    export_automl_csv(dataset.data_uri, run.record.work["output_dir"])
    return OperationOutcome(_empty())


def remove_output(record: OperationRecord, registry: Registry) -> None:
    storage.remove(record.work["output_dir"], recursive=True)


def delete_dataset(run: OperationRun) -> OperationOutcome:
    dataset = run.registry.get_dataset(run.record.target)
    run.registry.delete_dataset(dataset.name)
    _remove_if_in_workspace(run.config, dataset.data_uri)
    return OperationOutcome(_empty())


# -- models --------------------------------------------------------------------------------------------


def _init_sdk(config: ServerConfig) -> None:
    """The SDK's backends read its settings: point them at the server's workspace, registry and backend."""
    from automl_video.sdk import config as sdk_config

    kfp_host = config.kfp_host
    sdk_config.init(
        staging_bucket=config.workspace,
        registry_url=config.registry_url,
        backend=sdk_config.KFP if kfp_host else sdk_config.LOCAL,
        kfp_host=kfp_host,
    )


def _run_job(registry: Registry, job_name: str, work) -> JobRecord:
    """Run ``work`` on a registry job through the SDK's JobRunner; OperationFailed when the job did not succeed."""
    from automl_video.sdk import backends

    job = registry.get_job(job_name)
    if not is_terminal(job.state):
        job = backends.JobRunner(registry, job_name).run(work)
    if job.state not in SUCCEEDED_STATES:
        raise OperationFailed(job.error or Status(Code.UNKNOWN, f"{job_name} ended {job.state.value}"))
    return job


def _end_job(registry: Registry, job_name: str) -> None:
    """A cancelled operation's job ends CANCELLED too."""
    job = registry.get_job(job_name)
    if not is_terminal(job.state):
        registry.cancel_job(job_name)
        registry.update_job(
            job_name, state=state_like(job.state, "CANCELLED"), error=Status(Code.CANCELLED, "cancelled by the user")
        )


def create_model(run: OperationRun) -> OperationOutcome:
    from automl_video.sdk import backends

    _init_sdk(run.config)
    request = wire.parse_dict(run.record.request, automl.CreateModelRequest)
    dataset = run.registry.get_dataset(run.record.target)
    plan = backends.TrainingPlan(
        project=dataset.project,
        location=dataset.location,
        display_name=request.model.display_name,
        work_uri=run.record.work["work_uri"],
        dataset_name=dataset.name,
        dataset_uri=dataset.data_uri,
        import_sources=list(dataset.metadata.get("importSources", [])),
        model_type=run.config.model_type,
        prediction_type=dataset.prediction_type,
        training_fraction=None,
        test_fraction=None,
        filter_split=None,
        model_display_name=request.model.display_name,
        model_labels={},
        model_id=None,
        parent_model=None,
        is_default_version=True,
        version_aliases=[],
        version_description="",
        budget_minutes=run.config.train_budget_minutes,
    )
    work = backends.train_on_kfp if run.config.kfp_host else backends.train_locally
    job_name = run.record.work["training_pipeline"]
    # A worker lost after registering the model but before ending its job must not register another.
    registered = run.registry.list_models(dataset.project, dataset.location, filter=f'training_pipeline="{job_name}"')
    if registered.items:
        return OperationOutcome(wire.packed(resources.model_message(registered.items[0])))
    job = _run_job(run.registry, job_name, lambda runner: work(runner, plan))
    model = run.registry.get_model(job.model_to_upload["name"])
    return OperationOutcome(wire.packed(resources.model_message(model)))


# CreateModel's progress by its job's stage; training moves from 10 to 85 with its spent budget.
_TRAINING_STAGES = {"split": 5, "train": 10, "evaluate": 85, "upload model": 95}


def training_progress(record: OperationRecord, registry: Registry, config: ServerConfig) -> int | None:
    stage = registry.get_job(record.work["training_pipeline"]).run_info.get("stage")
    if stage != "train":
        return _TRAINING_STAGES.get(stage)
    state = storage.join(record.work["work_uri"], "model", "checkpoints", "state.json")
    elapsed = storage.read_json(state).get("elapsed_seconds", 0.0) if storage.exists(state) else 0.0
    return 10 + int(75 * min(1.0, elapsed / (60 * config.train_budget_minutes)))


def cancel_training(record: OperationRecord, registry: Registry) -> None:
    _end_job(registry, record.work["training_pipeline"])
    storage.remove(record.work["work_uri"], recursive=True)


def delete_model(run: OperationRun) -> OperationOutcome:
    model = run.registry.get_model(run.record.target)
    run.registry.delete_model(model.name)
    _remove_if_in_workspace(run.config, model.artifact_uri)
    return OperationOutcome(_empty())


def _deployment(state: str):
    def set_state(run: OperationRun) -> OperationOutcome:
        run.registry.update_model(run.record.target, metadata={resources.DEPLOYMENT_STATE: state})
        return OperationOutcome(_empty())

    return set_state


def export_model(run: OperationRun) -> OperationOutcome:
    from automl_video.modeling.export import export_model as export

    request = wire.parse_dict(run.record.request, automl.ExportModelRequest)
    model = run.registry.get_model(request.name)
    config = request.output_config
    export(
        model.artifact_uri,
        EXPORT_FORMATS[config.model_format or "tflite"],
        run.record.work["output_dir"],
        quantize=config.params.get("quantize", "none"),
    )
    return OperationOutcome(_empty())


# -- prediction ----------------------------------------------------------------------------------------


def batch_predict(run: OperationRun) -> OperationOutcome:
    from automl_video.prediction.engine import prediction_params
    from automl_video.sdk import backends

    _init_sdk(run.config)
    request = wire.parse_dict(run.record.request, automl.BatchPredictRequest)
    model = run.registry.get_model(request.name)
    params = dict(request.params)
    plan = backends.PredictionPlan(
        display_name=model.display_name,
        model_uri=model.artifact_uri,
        inputs=list(request.input_config.gcs_source.input_uris),
        output_prefix=request.output_config.gcs_destination.output_uri_prefix.rstrip("/"),
        model_parameters=params,
        params=prediction_params(model.artifact_uri, params),
        shards=1,
        guard=run.roots.guard(),
    )
    work = backends.predict_on_kfp if run.config.kfp_host else backends.predict_locally
    job = _run_job(run.registry, run.record.work["batch_prediction_job"], lambda runner: work(runner, plan))
    output = job.output_info["gcsOutputDirectory"]
    details = {
        "batchPredictDetails": {
            **run.record.details["batchPredictDetails"],
            "outputInfo": {"gcsOutputDirectory": output},
        }
    }
    return OperationOutcome(wire.packed(automl.BatchPredictResult()), job.partial_failures, details)


def cancel_prediction(record: OperationRecord, registry: Registry) -> None:
    _end_job(registry, record.work["batch_prediction_job"])


KINDS = {
    Kind.IMPORT_DATA: OperationKind(import_data),
    Kind.EXPORT_DATA: OperationKind(export_data, remove_output),
    Kind.DELETE_DATASET: OperationKind(delete_dataset),
    Kind.CREATE_MODEL: OperationKind(create_model, cancel_training, training_progress),
    Kind.DELETE_MODEL: OperationKind(delete_model),
    Kind.DEPLOY_MODEL: OperationKind(_deployment("DEPLOYED")),
    Kind.UNDEPLOY_MODEL: OperationKind(_deployment("UNDEPLOYED")),
    Kind.EXPORT_MODEL: OperationKind(export_model, remove_output),
    Kind.BATCH_PREDICT: OperationKind(batch_predict, cancel_prediction),
}
