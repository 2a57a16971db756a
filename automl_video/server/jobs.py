"""Operation kinds' shared work in a worker: training and batch prediction through the SDK's backends
(the local runner, or the KFP pipelines with ``--backend kfp:HOST``) on the training pipeline / batch
prediction job a handler registered, whichever surface queued it.

Training is idempotent: a worker that resumes after its server died trains on in the same work folder
(from its checkpoint), and a model the job already registered is not registered twice. Batch prediction
resumes from its finished rows (same output prefix).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from google.protobuf import empty_pb2

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.registry import ModelRecord, OperationRecord, Registry, names
from automl_video.registry.resources import JobRecord
from automl_video.registry.states import SUCCEEDED_STATES, is_terminal, state_like
from automl_video.rpc import MAX_PARTIAL_FAILURES, Code, Status
from automl_video.server import wire
from automl_video.server.config import ServerConfig
from automl_video.server.surface import OperationFailed, OperationOutcome, OperationRun

if TYPE_CHECKING:
    from automl_video.sdk.backends import PredictionPlan, TrainingPlan

EMPTY = wire.packed(empty_pb2.Empty())  # the response of operations that return nothing


def remove_if_in_workspace(config: ServerConfig, uri: str) -> None:
    """Delete a deleted resource's files when the server made them (an SDK resource's stay where they are)."""
    if uri.startswith(config.workspace.rstrip("/") + "/"):
        storage.remove(uri, recursive=True)


def _row_statuses(failures: list) -> list[Status]:
    return [Status(Code.INVALID_ARGUMENT, f"{f.uri} row {f.row}: {f.message}") for f in failures[:MAX_PARTIAL_FAILURES]]


def import_files(
    run: OperationRun, dataset_name: str, sources: list[str], exhaustive: bool, prediction_type: str | None = None
) -> list[Status]:
    """Import ``sources`` (AutoML CSVs, Vertex CSVs or Vertex JSONL, told apart by the importer) into a
    registered dataset, all or nothing; the rows that failed. OperationFailed when the import is refused.

    ``prediction_type`` (a Vertex import schema's) may set the type of a dataset that has no videos yet.
    """
    from automl_video.data import importer
    from automl_video.data.import_files import ImportFailed

    dataset = run.registry.get_dataset(dataset_name)
    try:
        result = importer.import_data(
            sources,
            dataset.data_uri,
            exhaustive=exhaustive,
            display_name=dataset.display_name,
            prediction_type=prediction_type or dataset.prediction_type,
            guard=run.roots.guard(),
        )
    except ImportFailed as e:
        raise OperationFailed(Status(Code.INVALID_ARGUMENT, str(e)), _row_statuses(e.failures)) from None
    imported = dataset.metadata.get("importSources", [])
    data = dataset_lib.load(dataset.data_uri)
    run.registry.update_dataset(
        dataset.name,
        data_item_count=len(data.videos),
        prediction_type=data.prediction_type,
        metadata={**dataset.metadata, "importSources": imported + [s for s in sources if s not in imported]},
    )
    return _row_statuses(result.partial_failures)


def delete_dataset(run: OperationRun) -> OperationOutcome:
    dataset = run.registry.get_dataset(run.record.target)
    run.registry.delete_dataset(dataset.name)
    remove_if_in_workspace(run.config, dataset.data_uri)
    return OperationOutcome(EMPTY)


def delete_model(run: OperationRun) -> OperationOutcome:
    model = run.registry.get_model(run.record.target)
    run.registry.delete_model(model.name)
    remove_if_in_workspace(run.config, model.artifact_uri)
    return OperationOutcome(EMPTY)


def remove_output(record: OperationRecord, registry: Registry) -> None:
    """A cancelled export's half-written folder goes."""
    storage.remove(record.work["output_dir"], recursive=True)


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


def _run_job(registry: Registry, job_name: str, work: Callable) -> JobRecord:
    """Run ``work`` on a registry job through the SDK's JobRunner; OperationFailed when the job did not succeed."""
    from automl_video.sdk import backends

    job = registry.get_job(job_name)
    if not is_terminal(job.state):
        job = backends.JobRunner(registry, job_name).run(work)
    if job.state not in SUCCEEDED_STATES:
        raise OperationFailed(job.error or Status(Code.UNKNOWN, f"{job_name} ended {job.state.value}"))
    return job


def end_job(registry: Registry, job_name: str) -> None:
    """A cancelled operation's job ends CANCELLED too."""
    job = registry.get_job(job_name)
    if not is_terminal(job.state):
        registry.cancel_job(job_name)
        registry.update_job(
            job_name, state=state_like(job.state, "CANCELLED"), error=Status(Code.CANCELLED, "cancelled by the user")
        )


def train(run: OperationRun, make_plan: Callable[[], "TrainingPlan"]) -> ModelRecord:
    """Run the training pipeline ``work["training_pipeline"]`` with the plan ``make_plan`` builds; the model
    version it registered. The plan is built inside the job, so a plan that cannot be made (its dataset
    deleted meanwhile) fails the job with its reason instead of leaving it queued."""
    from automl_video.sdk import backends

    _init_sdk(run.config)
    work = backends.train_on_kfp if run.config.kfp_host else backends.train_locally
    job_name = run.record.work["training_pipeline"]
    parsed = names.parse(job_name)
    # A worker lost after registering the model but before ending its job must not register another.
    registered = run.registry.list_models(parsed.project, parsed.location, filter=f'training_pipeline="{job_name}"')
    if registered.items:
        job = run.registry.get_job(job_name)
        uploaded = job.model_to_upload
        if "versionId" in uploaded:
            return run.registry.get_model(f"{uploaded['name']}@{uploaded['versionId']}")
        return registered.items[0]
    job = _run_job(run.registry, job_name, lambda runner: work(runner, make_plan()))
    return run.registry.get_model(f"{job.model_to_upload['name']}@{job.model_to_upload['versionId']}")


def predict(run: OperationRun, make_plan: Callable[[], "PredictionPlan"]) -> JobRecord:
    """Run the batch prediction job ``work["batch_prediction_job"]`` with the plan ``make_plan`` builds
    (inside the job, as :func:`train`: a model folder that cannot be read fails the job); the job as it ended."""
    from automl_video.sdk import backends

    _init_sdk(run.config)
    work = backends.predict_on_kfp if run.config.kfp_host else backends.predict_locally
    return _run_job(run.registry, run.record.work["batch_prediction_job"], lambda runner: work(runner, make_plan()))


# Training's progress by its job's stage; training moves from 10 to 85 with its spent budget.
_TRAINING_STAGES = {"split": 5, "train": 10, "evaluate": 85, "upload model": 95}


def training_progress(record: OperationRecord, registry: Registry, config: ServerConfig) -> int | None:
    stage = registry.get_job(record.work["training_pipeline"]).run_info.get("stage")
    if stage != "train":
        return _TRAINING_STAGES.get(stage)
    state = storage.join(record.work["work_uri"], "model", "checkpoints", "state.json")
    elapsed = storage.read_json(state).get("elapsed_seconds", 0.0) if storage.exists(state) else 0.0
    return 10 + int(75 * min(1.0, elapsed / (60 * config.train_budget_minutes)))


def cancel_training(record: OperationRecord, registry: Registry) -> None:
    end_job(registry, record.work["training_pipeline"])
    storage.remove(record.work["work_uri"], recursive=True)


def cancel_prediction(record: OperationRecord, registry: Registry) -> None:
    end_job(registry, record.work["batch_prediction_job"])
