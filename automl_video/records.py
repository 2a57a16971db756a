"""Every run recorded in the registry, wherever it ran: the one module the CLI stages, the pipelines'
record steps and the SDK's jobs call, so a dataset, a model version with its evaluations, a training
run or a batch prediction is written one way only.

Where (:class:`RecordTarget`): a registry URL given by the caller (a CLI flag, a pipeline parameter),
else ``$AUTOML_VIDEO_REGISTRY_URL`` (on a cluster k8s/ sets it from its config map or secret), else
the local default (``$AUTOML_VIDEO_HOME/registry.sqlite``, home ``~/.automl-video``), so that a
``kfp.local`` run or ``automl-video demo`` lands where ``automl-video models list`` and
``av.Model.list()`` look. A pod on Kubernetes without a registry URL records nothing (its home folder
dies with it) and logs why; ``off`` records nothing anywhere. Project and location come from
``$AUTOML_VIDEO_PROJECT`` / ``$AUTOML_VIDEO_LOCATION``, default ``local`` like the SDK's.

Reruns do not duplicate: a dataset is found by its folder, a model version by its artifact folder,
and a version's evaluations are recorded once.
"""

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.registry import (
    BatchPredictionJobRecord,
    DatasetRecord,
    ModelRecord,
    NewModelEvaluation,
    Registry,
    TrainingPipelineRecord,
    names,
)
from automl_video.registry.database import ENV_URL, normalize_url
from automl_video.registry.resources import TRAINING_TASK_DEFINITIONS
from automl_video.registry.states import is_terminal, state_like
from automl_video.rpc import MAX_PARTIAL_FAILURES, Code, Status

if TYPE_CHECKING:
    from automl_video.prediction.engine import PredictionResult

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "local"
DEFAULT_LOCATION = "local"
ENV_PROJECT = "AUTOML_VIDEO_PROJECT"
ENV_LOCATION = "AUTOML_VIDEO_LOCATION"
OFF = "off"
# The alias the serving gate's choice carries in the registry (the ``default`` alias moves with it).
SERVING_ALIAS = "serving"
# Label linking every record of one pipeline run (a KFP run ID is a valid label value).
RUN_LABEL = "kfp-run-id"
_LABEL_VALUE = re.compile(r"[^a-z0-9_-]")


def error_status(error: Exception) -> Status:
    """The ``google.rpc.Status`` a job records for an exception: user errors INVALID_ARGUMENT / NOT_FOUND."""
    if isinstance(error, FileNotFoundError):
        return Status(Code.NOT_FOUND, str(error))
    if isinstance(error, (AutoMLVideoError, ValueError)):
        return Status(Code.INVALID_ARGUMENT, str(error))
    return Status(Code.INTERNAL, f"{type(error).__name__}: {error}")


def run_label(run_id: str) -> dict[str, str]:
    """The label of a pipeline run's records (empty without a run ID)."""
    value = _LABEL_VALUE.sub("-", run_id.lower())[:63]
    return {RUN_LABEL: value} if value else {}


def read_evaluations(evaluations_uri: str) -> list[NewModelEvaluation]:
    """The entries of an ``evaluations.json`` (AutoML ``ModelEvaluation`` JSON) as registry records."""
    return [NewModelEvaluation.from_automl_json(doc) for doc in storage.read_json(evaluations_uri)]


@dataclass(frozen=True)
class RecordTarget:
    """A registry (SQLAlchemy URL) and the project and location records go under."""

    url: str
    project: str = DEFAULT_PROJECT
    location: str = DEFAULT_LOCATION

    @classmethod
    def resolve(cls, url: str = "", project: str = "", location: str = "") -> "RecordTarget | None":
        """The target of a run, or None where nothing is to be recorded (``off``; a pod without a URL)."""
        chosen = url or os.environ.get(ENV_URL, "")
        if chosen.strip().lower() == OFF:
            return None
        if not chosen and os.environ.get("KUBERNETES_SERVICE_HOST"):
            log.warning(
                "not recorded: no registry URL on this cluster; set %s in the automl-video-config config map or "
                "the automl-video-registry secret (k8s/), or pass the run parameter registry_url",
                ENV_URL,
            )
            return None
        project = project or os.environ.get(ENV_PROJECT) or DEFAULT_PROJECT
        location = location or os.environ.get(ENV_LOCATION) or DEFAULT_LOCATION
        names.validate_project_and_location(project, location)
        return cls(normalize_url(chosen or None), project, location)

    @contextlib.contextmanager
    def recorder(self) -> Iterator["Recorder"]:
        """The registry opened (and migrated) for the block, closed after it."""
        registry = Registry(self.url)
        try:
            yield Recorder(registry, self.project, self.location)
        finally:
            registry.close()


@dataclass(frozen=True)
class PredictionOutcome:
    """What a batch prediction produced: where its output went and how its instances fared."""

    output_dir: str
    succeeded: int
    failed: int
    incomplete: int
    partial_failures: list[Status]

    @classmethod
    def of(cls, result: "PredictionResult") -> "PredictionOutcome":
        return cls(
            output_dir=result.output_dir,
            succeeded=result.succeeded_rows,
            failed=result.failed_rows,
            incomplete=result.total_rows - result.succeeded_rows - result.failed_rows,
            partial_failures=[
                Status(Code.INVALID_ARGUMENT, f"{f.uri} row {f.row}: {f.message}")
                for f in result.failures[:MAX_PARTIAL_FAILURES]
            ],
        )

    def job_fields(self) -> dict[str, object]:
        """Vertex ``outputInfo``, ``completionStats`` (counts as strings, as Vertex has them), ``partialFailures``."""
        return {
            "output_info": {"gcsOutputDirectory": self.output_dir},
            "completion_stats": {
                "successfulCount": str(self.succeeded),
                "failedCount": str(self.failed),
                "incompleteCount": str(self.incomplete),
            },
            "partial_failures": self.partial_failures,
        }


@dataclass(frozen=True)
class ModelVersionOptions:
    """How a trained model folder becomes a registry version (Vertex ``upload_model`` arguments)."""

    display_name: str = ""  # default: the model's own (model.json), else its folder's name
    labels: Mapping[str, str] = field(default_factory=dict)
    model_id: str | None = None
    parent_model: str | None = None
    is_default_version: bool = True
    version_aliases: Sequence[str] = ()
    version_description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)


def _prediction_formats(inputs: Sequence[str]) -> tuple[str, str]:
    """Vertex ``instancesFormat`` and ``predictionsFormat`` of a prediction's inputs (JSONL in, JSONL out)."""
    instances = "jsonl" if inputs and all(i.lower().endswith(".jsonl") for i in inputs) else "csv"
    return instances, "jsonl" if instances == "jsonl" else "csv"


@dataclass
class Recorder:
    """Writes runs into one registry under one project and location."""

    registry: Registry
    project: str
    location: str

    # -- datasets and models -----------------------------------------------------------------------

    def dataset(self, dataset_uri: str, sources: Sequence[str] = (), display_name: str = "") -> DatasetRecord:
        """The dataset whose ``dataset.json`` is at ``dataset_uri``, registered on first sight, its video
        count and import sources brought up to date."""
        from automl_video.data import dataset as dataset_lib

        data = dataset_lib.load(dataset_uri)
        found = self.registry.find_dataset(self.project, self.location, dataset_uri)
        if found is None:
            found = self.registry.create_dataset(
                self.project,
                self.location,
                display_name=display_name or data.display_name or _last_part(dataset_uri),
                data_uri=dataset_uri,
                prediction_type=data.prediction_type,
            )
        imported = list(found.metadata.get("importSources", []))
        return self.registry.update_dataset(
            found.name,
            data_item_count=len(data.videos),
            metadata={**found.metadata, "importSources": imported + [s for s in sources if s not in imported]},
        )

    def model(
        self,
        model_uri: str,
        *,
        dataset_id: str | None = None,
        training_pipeline: str | None = None,
        evaluations_uri: str = "",
        options: ModelVersionOptions = ModelVersionOptions(),
    ) -> ModelRecord:
        """The version whose artifacts are at ``model_uri``; uploaded (with the evaluations of
        ``evaluations_uri``) when no version has them yet."""
        from automl_video.modeling.metadata import load_metadata

        found = self.registry.find_model_version(self.project, self.location, model_uri)
        if found is not None:
            if evaluations_uri:
                self.evaluations(found, evaluations_uri)
            return found
        metadata = load_metadata(model_uri)
        return self.registry.upload_model(
            self.project,
            self.location,
            display_name=options.display_name or metadata.display_name or _last_part(model_uri),
            artifact_uri=model_uri,
            model_type=metadata.model_type,
            prediction_type=metadata.prediction_type,
            model_id=options.model_id,
            parent_model=options.parent_model,
            is_default_version=options.is_default_version,
            version_aliases=list(options.version_aliases),
            version_description=options.version_description,
            labels=dict(options.labels),
            training_pipeline=training_pipeline,
            dataset_id=dataset_id,
            metadata={"annotationSpecs": [vars(s) for s in metadata.annotation_specs], **options.metadata},
            evaluations=read_evaluations(evaluations_uri) if evaluations_uri else (),
        )

    def evaluations(self, model: ModelRecord, evaluations_uri: str) -> int:
        """Record the evaluations of ``evaluations_uri`` on a version that has none; returns how many were added."""
        if self.registry.list_model_evaluations(model.versioned_name, page_size=1).items:
            log.info("%s already has evaluations; %s is not recorded again", model.versioned_name, evaluations_uri)
            return 0
        evaluations = read_evaluations(evaluations_uri)
        for evaluation in evaluations:
            self.registry.create_model_evaluation(model.versioned_name, evaluation)
        return len(evaluations)

    def newest_model_named(self, display_name: str) -> ModelRecord | None:
        """The newest model whose default version has this display name (scheduled runs add versions to it)."""
        if not display_name:
            return None
        quoted = display_name.replace("\\", "\\\\").replace('"', '\\"')
        page = self.registry.list_models(
            self.project, self.location, filter=f'display_name="{quoted}"', order_by="create_time desc", page_size=1
        )
        return page.items[0] if page.items else None

    # -- jobs ----------------------------------------------------------------------------------------

    def start_training(
        self,
        *,
        display_name: str,
        prediction_type: str,
        model_type: str,
        dataset: DatasetRecord | None,
        model_display_name: str = "",
        labels: Mapping[str, str] | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> TrainingPipelineRecord:
        """A training pipeline job in RUNNING."""
        job = self.registry.create_training_pipeline(
            self.project,
            self.location,
            display_name=display_name,
            labels=labels,
            training_task_definition=TRAINING_TASK_DEFINITIONS[prediction_type],
            training_task_inputs={"modelType": model_type},
            input_data_config={"datasetId": dataset.resource_id} if dataset else {},
            model_to_upload={"displayName": model_display_name} if model_display_name else {},
            dataset_id=dataset.resource_id if dataset else None,
            run_info=run_info,
        )
        return self.registry.update_job(job.name, state=state_like(job.state, "RUNNING"))

    def finish_training(self, job_name: str, model: ModelRecord) -> TrainingPipelineRecord:
        """SUCCEEDED, with ``modelToUpload`` as Vertex shows it once the model exists."""
        job = self.registry.get_training_pipeline(job_name)
        uploaded = {
            "displayName": model.display_name,
            **job.model_to_upload,
            "name": model.name,
            "versionId": model.version_id,
        }
        return self.registry.update_job(job_name, state=state_like(job.state, "SUCCEEDED"), model_to_upload=uploaded)

    def start_batch_prediction(
        self,
        *,
        display_name: str,
        model: ModelRecord,
        inputs: Sequence[str],
        output_prefix: str,
        model_parameters: Mapping[str, Any] | None = None,
        shards: int = 1,
        labels: Mapping[str, str] | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> BatchPredictionJobRecord:
        """A batch prediction job in RUNNING, pinned to ``model``'s version."""
        instances_format, predictions_format = _prediction_formats(inputs)
        job = self.registry.create_batch_prediction_job(
            self.project,
            self.location,
            display_name=display_name,
            model=model.versioned_name,
            input_config={"instancesFormat": instances_format, "gcsSource": {"uris": list(inputs)}},
            output_config={
                "predictionsFormat": predictions_format,
                "gcsDestination": {"outputUriPrefix": output_prefix},
            },
            model_parameters=dict(model_parameters or {}),
            dedicated_resources={"startingReplicaCount": shards, "maxReplicaCount": shards},
            labels=labels,
            run_info=run_info,
        )
        return self.registry.update_job(job.name, state=state_like(job.state, "RUNNING"))

    def finish_batch_prediction(self, job_name: str, outcome: PredictionOutcome) -> BatchPredictionJobRecord:
        """SUCCEEDED with the outcome's fields; FAILED (with them) when every instance failed."""
        job = self.registry.get_batch_prediction_job(job_name)
        fields = outcome.job_fields()
        if outcome.failed and not outcome.succeeded:
            first = outcome.partial_failures[0].message if outcome.partial_failures else ""
            error = Status(Code.INVALID_ARGUMENT, f"all {outcome.failed} instances failed (first: {first})")
            return self.registry.update_job(job_name, state=state_like(job.state, "FAILED"), error=error, **fields)
        return self.registry.update_job(job_name, state=state_like(job.state, "SUCCEEDED"), **fields)

    def fail(self, job_name: str, error: Exception | Status) -> Any:
        """End a job FAILED with ``error`` (an exception becomes its ``google.rpc.Status``)."""
        job = self.registry.get_job(job_name)
        status = error if isinstance(error, Status) else error_status(error)
        return self.registry.update_job(job_name, state=state_like(job.state, "FAILED"), error=status)

    @contextlib.contextmanager
    def failing(self, job_name: str) -> Iterator[None]:
        """Around a job's work: an exception ends the job FAILED (and propagates)."""
        try:
            yield
        except BaseException as error:
            self.fail(job_name, error if isinstance(error, Exception) else AutoMLVideoError("interrupted"))
            raise

    def served_model(self, model_uri: str) -> ModelRecord:
        """The version a batch prediction of ``model_uri`` uses: the one with those artifacts, the one a
        serving root's ``current/`` was promoted from, else the folder uploaded as a new model."""
        from automl_video.serving import SERVING_CURRENT, read_serving_pointer

        found = self.registry.find_model_version(self.project, self.location, model_uri)
        if found is None and _last_part(model_uri) == SERVING_CURRENT:
            pointer = read_serving_pointer(model_uri.rstrip("/").rsplit("/", 1)[0])
            if pointer is not None and pointer.source_model_uri:
                found = self.registry.find_model_version(self.project, self.location, pointer.source_model_uri)
        return found or self.model(model_uri)

    def jobs_of_run(self, run_id: str) -> list[Any]:
        """The training pipelines and batch prediction jobs labelled with a pipeline run's ID."""
        label = run_label(run_id)
        if not label:
            return []
        condition = f'labels.{RUN_LABEL}="{label[RUN_LABEL]}"'
        return [
            *self.registry.list_training_pipelines(self.project, self.location, filter=condition).items,
            *self.registry.list_batch_prediction_jobs(self.project, self.location, filter=condition).items,
        ]


def _last_part(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


# -- pipeline runs (the record steps of automl_video_pipelines) -------------------------------------------


@dataclass(frozen=True)
class PipelineRun:
    """The pipeline run a record step belongs to (KFP's run ID and name; ``kfp.local`` makes its own)."""

    pipeline: str
    run_id: str
    run_name: str
    registry_url: str = ""

    def run_info(self) -> dict[str, str]:
        return {"backend": "kfp", "pipeline": self.pipeline, "kfp_run_id": self.run_id, "kfp_run_name": self.run_name}

    @property
    def display_name(self) -> str:
        return (self.run_name or f"automl-video {self.pipeline} {self.run_id}")[:128]


@dataclass(frozen=True)
class RunRecord:
    """What a record step wrote (resource names by kind), or why it wrote nothing."""

    recorded: bool
    registry: str = ""
    reason: str = ""
    resources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"recorded": self.recorded, "registry": self.registry, "reason": self.reason, **self.resources}


def _not_recorded() -> RunRecord:
    return RunRecord(False, reason="no registry for this run (registry_url 'off', or a pod without one)")


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class TrainingRunOutputs:
    """What a training run produced, as its record step receives it (artifact URIs, the gate's JSON)."""

    dataset_uri: str
    sources: list[str]
    dataset_display_name: str
    model_uri: str
    evaluations_uri: str
    model_display_name: str
    model_labels: dict[str, str]
    promotion: dict[str, Any]  # automl_video.serving.PromotionResult.to_json()


def record_training_run(run: PipelineRun, outputs: TrainingRunOutputs) -> RunRecord:
    """Record a finished training run: its dataset, a SUCCEEDED training pipeline job, and the model as
    a new version (of the newest model with the same display name, else a new model) with its
    evaluations. A version the gate promoted takes the ``serving`` and ``default`` aliases; without a
    gate every new version is the default one."""
    from automl_video.modeling.metadata import load_metadata

    target = RecordTarget.resolve(run.registry_url)
    if target is None:
        return _not_recorded()
    gated = bool(outputs.promotion.get("pointer_uri"))
    promoted = bool(outputs.promotion.get("promoted"))
    metadata = load_metadata(outputs.model_uri)
    with target.recorder() as recorder:
        dataset = recorder.dataset(outputs.dataset_uri, outputs.sources, outputs.dataset_display_name)
        job = recorder.start_training(
            display_name=run.display_name,
            prediction_type=metadata.prediction_type,
            model_type=metadata.model_type,
            dataset=dataset,
            model_display_name=outputs.model_display_name,
            labels=run_label(run.run_id),
            run_info=run.run_info(),
        )
        with recorder.failing(job.name):
            parent = recorder.newest_model_named(outputs.model_display_name)
            if parent is not None and parent.prediction_type != metadata.prediction_type:
                parent = None
            options = ModelVersionOptions(
                display_name=outputs.model_display_name,
                labels=outputs.model_labels,
                parent_model=parent.name if parent else None,
                is_default_version=promoted or not gated,
                version_aliases=[SERVING_ALIAS] if promoted else [],
                metadata={"servingVersionUri": outputs.promotion["version_uri"]} if promoted else {},
            )
            model = recorder.model(
                outputs.model_uri,
                dataset_id=dataset.resource_id,
                training_pipeline=job.name,
                evaluations_uri=outputs.evaluations_uri,
                options=options,
            )
            recorder.finish_training(job.name, model)
    return RunRecord(
        True,
        _shown(target.url),
        resources={"training_pipeline": job.name, "dataset": dataset.name, "model": model.versioned_name},
    )


@dataclass(frozen=True)
class BatchRunOutputs:
    """What a batch prediction produced, as its record step receives it."""

    model_uri: str
    inputs: list[str]
    predictions_prefix: str
    model_parameters: dict[str, Any]
    shards: int
    result: dict[str, Any]  # automl_video.prediction.engine.PredictionResult.to_json() of the merge


def record_batch_prediction_run(run: PipelineRun, outputs: BatchRunOutputs) -> RunRecord:
    """Record a finished batch prediction as a job of the version it used (:meth:`Recorder.served_model`)."""
    from automl_video.prediction.engine import PredictionResult

    target = RecordTarget.resolve(run.registry_url)
    if target is None:
        return _not_recorded()
    with target.recorder() as recorder:
        model = recorder.served_model(outputs.model_uri)
        job = recorder.start_batch_prediction(
            display_name=run.display_name,
            model=model,
            inputs=outputs.inputs,
            output_prefix=outputs.predictions_prefix,
            model_parameters=outputs.model_parameters,
            shards=outputs.shards,
            labels=run_label(run.run_id),
            run_info=run.run_info(),
        )
        with recorder.failing(job.name):
            recorder.finish_batch_prediction(job.name, PredictionOutcome.of(PredictionResult.from_json(outputs.result)))
    return RunRecord(
        True, _shown(target.url), resources={"batch_prediction_job": job.name, "model": model.versioned_name}
    )


@dataclass(frozen=True)
class RunEnd:
    """How a pipeline run ended (KFP's ``PipelineTaskFinalStatus``, as its exit task receives it), and
    the run parameters that say what it would have recorded."""

    state: str  # SUCCEEDED, FAILED, CANCELLED
    error_message: str
    prediction_type: str = ""
    model_type: str = ""
    model_uri: str = ""  # batch-prediction pipeline: the model it predicted with
    inputs: list[str] = field(default_factory=list)
    predictions_prefix: str = ""  # where predictions were to go ("" in a training run: none asked)

    @property
    def status(self) -> Status:
        if self.state == "CANCELLED":
            return Status(Code.CANCELLED, "the pipeline run was cancelled")
        return Status(Code.INTERNAL, self.error_message or f"the pipeline run ended {self.state}")


def record_run_end(run: PipelineRun, end: RunEnd) -> RunRecord:
    """Record how a run that did not succeed ended: its unfinished jobs end FAILED (or CANCELLED), and a
    job its record steps never reached is recorded ended, with the error: the training pipeline of a
    training run that failed before its model was recorded, the batch prediction of a run whose
    prediction failed."""
    if end.state == "SUCCEEDED":
        return RunRecord(False, reason="the run succeeded: its record steps recorded it")
    target = RecordTarget.resolve(run.registry_url)
    if target is None:
        return _not_recorded()
    ended = "CANCELLED" if end.state == "CANCELLED" else "FAILED"
    resources = {}
    with target.recorder() as recorder:
        jobs = recorder.jobs_of_run(run.run_id)
        for job in jobs:
            if not is_terminal(job.state):
                recorder.registry.update_job(job.name, state=state_like(job.state, ended), error=end.status)
                resources[job.name] = ended
        trainings = [j for j in jobs if isinstance(j, TrainingPipelineRecord)]
        predicted = any(isinstance(j, BatchPredictionJobRecord) for j in jobs)
        job = None
        if run.pipeline == "training" and not trainings:
            job = recorder.start_training(
                display_name=run.display_name,
                prediction_type=end.prediction_type,
                model_type=end.model_type,
                dataset=None,
                labels=run_label(run.run_id),
                run_info=run.run_info(),
            )
        elif end.predictions_prefix and not predicted:
            uploaded = trainings[0].model_to_upload if trainings else {}
            model = (
                recorder.registry.get_model(f"{uploaded['name']}@{uploaded['versionId']}")
                if "versionId" in uploaded
                else recorder.served_model(end.model_uri)
            )
            job = recorder.start_batch_prediction(
                display_name=run.display_name,
                model=model,
                inputs=end.inputs,
                output_prefix=end.predictions_prefix,
                labels=run_label(run.run_id),
                run_info=run.run_info(),
            )
        if job is not None:
            recorder.registry.update_job(job.name, state=state_like(job.state, ended), error=end.status)
            resources[job.name] = ended
    return RunRecord(True, _shown(target.url), resources=resources)
