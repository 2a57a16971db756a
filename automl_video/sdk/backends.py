"""How the SDK's jobs run: a :class:`JobRunner` drives one registry job through its states around
the work of a backend.

* ``local``: the library stages run in this process (split → train → evaluate → register, or the
  prediction shards one after another, then the merge); cancellation is honoured between stages.
* ``kfp``: the compiled pipeline is submitted to the KFP API server and followed until it ends; the
  model (promoted by the pipeline's gate into the job's serving folder) is then registered, and a
  batch prediction's shards are merged here to read its counts. The process that submitted the run
  follows it.

A backend's work returns a typed outcome (:class:`TrainingOutcome`, :class:`PredictionOutcome`);
the runner turns it into the job's registry fields.

Stage modules (TensorFlow) and the KFP layer are imported inside the functions, so
``import automl_video`` stays light.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.errors import AutoMLVideoError
from automl_video.records import OFF, ModelVersionOptions, PredictionOutcome, Recorder, error_status
from automl_video.registry import ModelRecord, Registry, names
from automl_video.registry.errors import FailedPreconditionError
from automl_video.registry.resources import JobRecord
from automl_video.registry.states import CANCELLING_STATES, state_like
from automl_video.rpc import Code, Status
from automl_video.sdk import config, data_filters

if TYPE_CHECKING:
    from automl_video.prediction.engine import PredictionResult
    from automl_video_pipelines.arguments import BatchPredictionArguments, TrainingArguments
    from automl_video_pipelines.cluster import ClusterTarget, SubmitResult

log = logging.getLogger(__name__)

KFP_POLL_SECONDS = 15.0


class Cancelled(Exception):
    """The job was asked to stop; raised between stages."""


@dataclass
class JobRunner:
    """Moves one job QUEUED → RUNNING → SUCCEEDED / FAILED / CANCELLED around its work."""

    registry: Registry
    name: str

    def cancel_requested(self) -> bool:
        return self.registry.get_job(self.name).state in CANCELLING_STATES

    def step(self, stage: str) -> None:
        """Begin a stage: stop here if the job was cancelled, and record the stage in ``run_info``."""
        if self.cancel_requested():
            raise Cancelled()
        log.info("%s: %s", self.name, stage)
        self.registry.update_job(self.name, run_info={"stage": stage})

    def run(self, work: Callable[["JobRunner"], "JobOutcome"]) -> JobRecord:
        """Run ``work`` and record how it ended (on success, with the fields of its outcome)."""
        state = self.registry.get_job(self.name).state
        try:
            try:
                self.registry.update_job(self.name, state=state_like(state, "RUNNING"))
            except FailedPreconditionError:
                raise Cancelled() from None  # cancelled before it started
            outcome = work(self)
            return self.registry.update_job(self.name, state=state_like(state, "SUCCEEDED"), **outcome.job_fields())
        except Cancelled:
            log.info("%s: cancelled", self.name)
            return self.registry.update_job(
                self.name, state=state_like(state, "CANCELLED"), error=Status(Code.CANCELLED, "cancelled by the user")
            )
        except Exception as error:  # the job records every failure; nothing escapes a background thread
            if isinstance(error, (AutoMLVideoError, ValueError, FileNotFoundError)):
                log.error("%s failed: %s", self.name, error)
            else:
                log.exception("%s failed", self.name)
            return self.registry.update_job(self.name, state=state_like(state, "FAILED"), error=error_status(error))


# -- training -----------------------------------------------------------------------------------------


@dataclass
class TrainingPlan:
    """Everything a training job's backend needs, validated by ``AutoMLVideoTrainingJob.run``."""

    project: str
    location: str
    display_name: str
    work_uri: str  # the job's folder: dataset snapshot, model, evaluation
    dataset_name: str
    dataset_uri: str
    import_sources: list[str]
    model_type: str
    prediction_type: str
    training_fraction: float | None
    test_fraction: float | None
    filter_split: data_filters.FilterSplit | None
    model_display_name: str
    model_labels: dict[str, str]
    model_id: str | None
    parent_model: str | None
    is_default_version: bool
    version_aliases: list[str]
    version_description: str
    seed: int = 0
    budget_minutes: float | None = None  # None: the stage's default
    max_epochs: int | None = None  # local backend only
    enable_caching: bool | None = None  # kfp backend: None keeps the compiled default (on)

    @property
    def dataset_id(self) -> str:
        return names.parse(self.dataset_name).resource_id

    def input_data_config(self) -> dict[str, object]:
        """The job's Vertex ``inputDataConfig``: the dataset and its fraction or filter split (neither: 80/20)."""
        doc: dict[str, object] = {"datasetId": self.dataset_id}
        if self.filter_split is not None:
            doc["filterSplit"] = self.filter_split.to_json()
        elif self.training_fraction is not None:
            doc["fractionSplit"] = {"trainingFraction": self.training_fraction, "testFraction": self.test_fraction}
        return doc

    def model_to_upload(self) -> dict[str, object]:
        """The job's Vertex ``modelToUpload`` before the model exists."""
        return {
            "displayName": self.model_display_name,
            "labels": self.model_labels,
            "versionAliases": self.version_aliases,
            "versionDescription": self.version_description,
        }


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training job produced: the model version it registered."""

    plan: TrainingPlan
    model: ModelRecord

    def job_fields(self) -> dict[str, object]:
        """``modelToUpload`` as Vertex shows it once the model exists: with its name and version."""
        uploaded = {**self.plan.model_to_upload(), "name": self.model.name, "versionId": self.model.version_id}
        return {"model_to_upload": uploaded}


def train_locally(runner: JobRunner, plan: TrainingPlan) -> TrainingOutcome:
    """Split a snapshot of the dataset, train, evaluate and register the model with its evaluations."""
    from automl_video import evaluation
    from automl_video.data import splits
    from automl_video.training import engine as train

    dataset_uri = storage.join(plan.work_uri, "dataset")
    model_uri = storage.join(plan.work_uri, "model")
    runner.step("split")
    # The job trains on its own copy, so its split never changes the dataset or other jobs' splits.
    storage.write_bytes(
        dataset_lib.dataset_file(dataset_uri), storage.read_bytes(dataset_lib.dataset_file(plan.dataset_uri))
    )
    if plan.filter_split is not None:
        data_filters.split_by_filters(dataset_uri, plan.filter_split, seed=plan.seed)
    else:
        splits.split_dataset(dataset_uri, plan.training_fraction, plan.test_fraction, seed=plan.seed, resplit=True)
    runner.step("train")
    limits = {
        k: v for k, v in (("budget_minutes", plan.budget_minutes), ("max_epochs", plan.max_epochs)) if v is not None
    }
    train.train(
        dataset_uri,
        model_uri,
        model_type=plan.model_type,
        seed=plan.seed,
        display_name=plan.model_display_name,
        **limits,
    )
    runner.step("evaluate")
    result = evaluation.evaluate(model_uri, dataset_uri, storage.join(plan.work_uri, "evaluation"))
    runner.step("upload model")
    return _upload_model(runner, plan, model_uri, result.evaluations_uri)


def kfp_training_arguments(plan: TrainingPlan) -> "TrainingArguments":
    """The training pipeline's parameters for ``plan``; its gate promotes the model into ``<work>/serving``."""
    from automl_video_pipelines.arguments import TrainingArguments

    if not plan.import_sources:
        raise ValueError(f"{plan.dataset_name} has no import sources to give the pipeline; import data first")
    arguments = TrainingArguments(
        sources=plan.import_sources,
        model_type=plan.model_type,
        prediction_type=plan.prediction_type,
        training_fraction_split=plan.training_fraction,
        test_fraction_split=plan.test_fraction,
        model_display_name=plan.model_display_name,
        model_labels=plan.model_labels,
        seed=plan.seed,
        serving_root=storage.join(plan.work_uri, "serving"),
        registry_url=OFF,  # the job records itself (in this SDK's registry, which the cluster may not reach)
    )
    if plan.budget_minutes is not None:
        arguments.budget_minutes = plan.budget_minutes
    return arguments


def train_on_kfp(runner: JobRunner, plan: TrainingPlan) -> TrainingOutcome:
    """Submit the training pipeline on the dataset's import sources and register what its gate promoted,
    with the evaluations the gate's pointer names: an earlier run's when this run's training and
    evaluation were cache hits (their outputs stay under the run that made them)."""
    from automl_video.serving import read_serving_pointer
    from automl_video_pipelines import TRAINING_PIPELINE

    arguments = kfp_training_arguments(plan)
    submitted = _run_on_kfp(runner, TRAINING_PIPELINE, arguments, plan.display_name, plan.enable_caching)
    pointer = read_serving_pointer(arguments.serving_root)
    if pointer is None:
        raise AutoMLVideoError(
            f"KFP run {submitted.run_id} succeeded but promoted no model into {arguments.serving_root}"
        )
    if not pointer.evaluations_uri or not storage.exists(pointer.evaluations_uri):
        raise AutoMLVideoError(
            f"KFP run {submitted.run_id}: the evaluations the gate used ({pointer.evaluations_uri or 'none named'} "
            f"in {arguments.serving_root}/serving.json) cannot be read"
        )
    return _upload_model(runner, plan, pointer.version_uri, pointer.evaluations_uri)


def _upload_model(runner: JobRunner, plan: TrainingPlan, model_uri: str, evaluations_uri: str) -> TrainingOutcome:
    """Register the job's model as the version the plan asks for, with the evaluations of ``evaluations_uri``."""
    recorder = Recorder(runner.registry, plan.project, plan.location)
    options = ModelVersionOptions(
        display_name=plan.model_display_name,
        labels=plan.model_labels,
        model_id=plan.model_id,
        parent_model=plan.parent_model,
        is_default_version=plan.is_default_version,
        version_aliases=plan.version_aliases,
        version_description=plan.version_description,
    )
    model = recorder.model(
        model_uri,
        dataset_id=plan.dataset_id,
        training_pipeline=runner.name,
        evaluations_uri=evaluations_uri,
        options=options,
    )
    return TrainingOutcome(plan, model)


# -- batch prediction ----------------------------------------------------------------------------------


@dataclass
class PredictionPlan:
    """Everything a batch prediction job's backend needs, validated by ``BatchPredictionJob.create``."""

    display_name: str
    model_uri: str
    inputs: list[str]
    output_prefix: str
    model_parameters: dict[str, object]  # as given (Vertex or AutoML keys): the KFP pipeline's parameter
    params: object  # the same, parsed by the model's task (its parameters dataclass)
    shards: int
    enable_caching: bool | None = None  # kfp backend: None keeps the compiled default
    guard: storage.UriGuard | None = None  # local backend: videos it refuses fail their row, unread


JobOutcome = TrainingOutcome | PredictionOutcome


def predict_locally(runner: JobRunner, plan: PredictionPlan) -> PredictionOutcome:
    """Predict the shards one after another (a cancel stops between shards), then merge them."""
    from automl_video.prediction import engine as predict

    result = None
    for index in range(plan.shards):
        runner.step(f"predict shard {index + 1}/{plan.shards}")
        result = predict.batch_predict(
            plan.model_uri, plan.inputs, plan.output_prefix, plan.params, shard=(index, plan.shards), guard=plan.guard
        )
    if plan.shards > 1:
        runner.step("merge shards")
        result = predict.merge_shards(plan.model_uri, plan.inputs, plan.output_prefix, plan.params)
    return _prediction_outcome(runner, result)


def kfp_prediction_arguments(plan: PredictionPlan) -> "BatchPredictionArguments":
    """The batch-prediction pipeline's parameters for ``plan`` (replicas → shards)."""
    from automl_video_pipelines.arguments import BatchPredictionArguments

    return BatchPredictionArguments(
        model_uri=plan.model_uri,
        inputs=plan.inputs,
        predictions_prefix=plan.output_prefix,
        prediction_params=plan.model_parameters,
        shards=plan.shards,
        registry_url=OFF,  # the job records itself
    )


def predict_on_kfp(runner: JobRunner, plan: PredictionPlan) -> PredictionOutcome:
    """Submit the batch-prediction pipeline, follow it, then read its merged result."""
    from automl_video.prediction import engine as predict
    from automl_video_pipelines import BATCH_PREDICTION_PIPELINE

    _run_on_kfp(
        runner, BATCH_PREDICTION_PIPELINE, kfp_prediction_arguments(plan), plan.display_name, plan.enable_caching
    )
    return _prediction_outcome(
        runner, predict.merge_shards(plan.model_uri, plan.inputs, plan.output_prefix, plan.params)
    )


def _prediction_outcome(runner: JobRunner, result: "PredictionResult") -> PredictionOutcome:
    """The outcome of a finished prediction; every instance failing fails the job (its counts recorded)."""
    outcome = PredictionOutcome.of(result)
    if result.total_rows and not result.succeeded_rows:
        runner.registry.update_job(runner.name, **outcome.job_fields())
        raise AutoMLVideoError(
            f"all {result.total_rows} instances failed; see partial_failures (first: {outcome.partial_failures[0].message})"
        )
    return outcome


# -- KFP -------------------------------------------------------------------------------------------------


def _run_on_kfp(
    runner: JobRunner,
    pipeline: str,
    arguments: "TrainingArguments | BatchPredictionArguments",
    run_name: str,
    enable_caching: bool | None,
) -> "SubmitResult":
    """Submit a pipeline run (compiled with caching on or off as asked), record its id and URL on the
    job, and follow it to its end."""
    from automl_video_pipelines.cluster import submit
    from automl_video_pipelines.settings import ClusterSettings

    parameters = arguments.parameters()  # a bad value fails here, before the submit stage
    target = config.settings().kfp_target()
    settings = ClusterSettings.from_env(enable_caching=enable_caching)
    runner.step("submit")
    submitted = submit(target, pipeline, parameters, run_name=run_name, settings=settings)
    runner.registry.update_job(runner.name, run_info={"kfp_run_id": submitted.run_id, "kfp_run_url": submitted.run_url})
    follow_kfp_run(runner, target, submitted.run_id)
    return submitted


def follow_kfp_run(runner: JobRunner, target: "ClusterTarget", run_id: str) -> None:
    """Poll a KFP run until it ends, terminating it when the job is cancelled.

    Raises:
        Cancelled: the run was cancelled.
        AutoMLVideoError: the run failed (with KFP's error).
    """
    client = target.client()
    terminated = False
    while True:
        run = client.get_run(run_id)
        state = str(run.state)
        if state == "SUCCEEDED":
            return
        if state == "CANCELED":
            raise Cancelled()
        if state in ("FAILED", "SKIPPED"):
            raise AutoMLVideoError(f"KFP run {run_id} {state.lower()}: {run.error}")
        if not terminated and runner.cancel_requested():
            client.terminate_run(run_id)
            terminated = True
        time.sleep(KFP_POLL_SECONDS)
