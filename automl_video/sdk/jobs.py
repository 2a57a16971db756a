"""``BatchPredictionJob``: predict videos with a model version, sharded, into Vertex JSONL or AutoML CSV output."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video import storage
from automl_video.registry import BatchPredictionJobRecord, JobState, ModelRecord, Page, Status, names
from automl_video.registry.store import validate_display_name
from automl_video.sdk import backends, config
from automl_video.sdk.base import Job
from automl_video.sdk.models import Model
from automl_video.tasks import get_task

# Vertex instances formats automl-video reads: Vertex JSONL instances, or AutoML's legacy CSV rows.
INSTANCES_FORMATS = {"jsonl": ".jsonl", "csv": ".csv"}
PREDICTIONS_FORMATS = ("jsonl",)
_BACKEND_WORK = {config.LOCAL: backends.predict_locally, config.KFP: backends.predict_on_kfp}


def _input_uris(
    gcs_source: str | Sequence[str] | None,
    bigquery_source: str | None,
    gcs_destination_prefix: str | None,
    bigquery_destination_prefix: str | None,
    instances_format: str,
    predictions_format: str,
) -> list[str]:
    """The input files, once one source and one destination are given and every format is one we read/write.

    Raises:
        ValueError: in Vertex's words where Vertex refuses the same; BigQuery is refused as unsupported.
    """
    if bool(gcs_source) == bool(bigquery_source):
        raise ValueError("Please provide either a gcs_source or bigquery_source, but not both.")
    if bool(gcs_destination_prefix) == bool(bigquery_destination_prefix):
        raise ValueError("Please provide either a gcs_destination_prefix or bigquery_destination_prefix, but not both.")
    if bigquery_source or bigquery_destination_prefix:
        raise ValueError(
            "BigQuery sources and destinations are not supported by automl-video; use gcs_source and gcs_destination_prefix"
        )
    if instances_format not in INSTANCES_FORMATS:
        raise ValueError(
            f"{instances_format} is not an accepted instances format type. Please choose from: {sorted(INSTANCES_FORMATS)}"
        )
    if predictions_format not in PREDICTIONS_FORMATS:
        raise ValueError(
            f"{predictions_format} is not an accepted prediction format type. Please choose from: {list(PREDICTIONS_FORMATS)}"
        )
    sources = [gcs_source] if isinstance(gcs_source, str) else list(gcs_source)
    extension = INSTANCES_FORMATS[instances_format]
    for source in sources:
        if not isinstance(source, str) or not source.lower().endswith(extension):
            raise ValueError(f"gcs_source {source!r} is not a {extension} file (instances_format {instances_format!r})")
    return sources


@dataclass(frozen=True)
class _Replicas:
    """Vertex replica counts; automl-video runs one prediction shard per replica."""

    starting: int | None
    maximum: int | None

    def __post_init__(self) -> None:
        for name, value in (("starting_replica_count", self.starting), ("max_replica_count", self.maximum)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.starting and self.maximum and self.starting > self.maximum:
            raise ValueError(f"starting_replica_count {self.starting} is more than max_replica_count {self.maximum}")

    @property
    def shards(self) -> int:
        return self.maximum or self.starting or 1

    def dedicated_resources(self) -> dict[str, int]:
        """Vertex ``dedicatedResources``: the counts that were given."""
        counts = (("startingReplicaCount", self.starting), ("maxReplicaCount", self.maximum))
        return {key: value for key, value in counts if value}


@dataclass(frozen=True)
class _Request:
    """A validated :meth:`BatchPredictionJob.create`: the job it registers and the plan it runs."""

    project: str
    location: str
    display_name: str
    model: ModelRecord
    instances_format: str
    predictions_format: str
    sources: list[str]
    destination: str
    model_parameters: dict[str, object]
    params: object  # the model's task's parameters dataclass
    replicas: _Replicas
    labels: dict[str, str] | None
    enable_caching: bool | None = None

    def register(self) -> BatchPredictionJobRecord:
        """The job's registry record (QUEUED); the registry validates the labels."""
        return config.registry().create_batch_prediction_job(
            self.project,
            self.location,
            display_name=self.display_name,
            model=self.model.versioned_name,
            input_config={"instancesFormat": self.instances_format, "gcsSource": {"uris": self.sources}},
            output_config={
                "predictionsFormat": self.predictions_format,
                "gcsDestination": {"outputUriPrefix": self.destination},
            },
            model_parameters=self.model_parameters,
            dedicated_resources=self.replicas.dedicated_resources(),
            labels=self.labels,
            run_info={"backend": config.settings().backend},
        )

    def plan(self) -> backends.PredictionPlan:
        return backends.PredictionPlan(
            display_name=self.display_name,
            model_uri=self.model.artifact_uri,
            inputs=self.sources,
            output_prefix=self.destination,
            model_parameters=self.model_parameters,
            params=self.params,
            shards=self.replicas.shards,
            enable_caching=self.enable_caching,
        )


class BatchPredictionJob(Job):
    """A batch prediction job (``aiplatform.BatchPredictionJob``).

    The output follows the input: JSONL instances give Vertex ``predictions_NNNNN.jsonl`` /
    ``errors_NNNNN.jsonl`` files, AutoML CSV rows give ``video_classification.csv`` plus one JSON file
    per row, in ``<gcs_destination_prefix>/prediction-<model>-<timestamp>/``. Replicas become shards.
    """

    _collection = names.BATCH_PREDICTION_JOBS

    def __init__(self, batch_prediction_job_name: str, project: str | None = None, location: str | None = None):
        """Retrieve a batch prediction job by full name or ID."""
        super().__init__(batch_prediction_job_name, project, location)

    @classmethod
    def _fetch(cls, name: str) -> BatchPredictionJobRecord:
        return config.registry().get_batch_prediction_job(name)

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        return config.registry().list_batch_prediction_jobs(project, location, **options)

    @property
    def completion_stats(self) -> dict[str, str] | None:
        """``successfulCount`` / ``failedCount`` / ``incompleteCount`` of instances, once the job ended."""
        self._sync()
        return self.gca_resource.completion_stats

    @property
    def output_info(self) -> dict[str, str] | None:
        """``{"gcsOutputDirectory": …}`` once the job succeeded."""
        self._sync()
        return self.gca_resource.output_info

    @property
    def partial_failures(self) -> list[Status]:
        """Instances that failed (at most 20)."""
        self._sync()
        return list(self.gca_resource.partial_failures)

    @classmethod
    def create(
        cls,
        job_display_name: str,
        model_name: str | Model,
        instances_format: str = "jsonl",
        predictions_format: str = "jsonl",
        gcs_source: str | Sequence[str] | None = None,
        bigquery_source: str | None = None,
        gcs_destination_prefix: str | None = None,
        bigquery_destination_prefix: str | None = None,
        model_parameters: dict[str, Any] | None = None,
        starting_replica_count: int | None = None,
        max_replica_count: int | None = None,
        labels: dict[str, str] | None = None,
        project: str | None = None,
        location: str | None = None,
        sync: bool = True,
        enable_caching: bool | None = None,
    ) -> "BatchPredictionJob":
        """Create a batch prediction job and run it on the ``init`` backend.

        Args:
            job_display_name: up to 128 characters.
            model_name: a Model, or a model name or ID, optionally ``@VERSION_ID`` / ``@ALIAS``.
            instances_format: ``jsonl`` (Vertex instances) or ``csv`` (AutoML ``VIDEO_URI,START,END`` rows).
            predictions_format: ``jsonl``.
            gcs_source: input file URL(s) matching ``instances_format``.
            bigquery_source: not supported (give gcs_source).
            gcs_destination_prefix: folder under which the output folder is created.
            bigquery_destination_prefix: not supported (give gcs_destination_prefix).
            model_parameters: ``confidenceThreshold``, ``maxPredictions``, ``segmentClassification``,
                ``shotClassification``, ``oneSecIntervalClassification``.
            starting_replica_count: shards when ``max_replica_count`` is not given.
            max_replica_count: number of shards.
            labels: user labels (Vertex rules).
            sync: wait for the job to end (raising RuntimeError if it failed); False returns at once.
            enable_caching: kfp backend: as in ``AutoMLVideoTrainingJob.run`` (prediction itself never
                caches; only the shard plan can).

        Raises:
            ValueError: invalid sources, destinations, formats, parameters, replica counts or labels.
            NotFoundError: the model does not exist.
            RuntimeError: with ``sync``, the job failed or was cancelled.
        """
        job_display_name = validate_display_name(job_display_name, "job_display_name")
        sources = _input_uris(
            gcs_source,
            bigquery_source,
            gcs_destination_prefix,
            bigquery_destination_prefix,
            instances_format,
            predictions_format,
        )
        model_parameters = dict(model_parameters or {})
        replicas = _Replicas(starting_replica_count, max_replica_count)
        project, location = config.project_and_location(project, location)
        model_ref = (
            model_name.versioned_resource_name
            if isinstance(model_name, Model)
            else names.expand(model_name, names.MODELS, project, location)
        )
        model = config.registry().get_model(model_ref)
        # The model's task parses the parameters; ValueError names an unknown key or a bad value.
        params = get_task(model.prediction_type).prediction().parse_params(model_parameters)
        request = _Request(
            project=project,
            location=location,
            display_name=job_display_name,
            model=model,
            instances_format=instances_format,
            predictions_format=predictions_format,
            sources=sources,
            destination=gcs_destination_prefix,
            model_parameters=model_parameters,
            params=params,
            replicas=replicas,
            labels=labels,
            enable_caching=enable_caching,
        )
        return cls._wrap(request.register())._run(request.plan(), sync)

    def _run(self, plan: backends.PredictionPlan, sync: bool) -> "BatchPredictionJob":
        """Run the registered job on the ``init`` backend (waiting for it with ``sync``)."""
        runner = backends.JobRunner(config.registry(), self.resource_name)
        work = _BACKEND_WORK[config.settings().backend]
        self._start(lambda: runner.run(lambda r: work(r, plan)), sync)
        if sync:
            self.wait_for_completion()
        return self

    @classmethod
    def submit(cls, *, job_display_name: str, model_name: str | Model, **options: Any) -> "BatchPredictionJob":
        """:meth:`create` without waiting: returns as soon as the job is registered."""
        return cls.create(job_display_name, model_name, **options, sync=False)

    def wait_for_completion(self) -> None:
        """Wait for the job to end.

        Raises:
            RuntimeError: the job failed or was cancelled.
        """
        self.wait()
        record = self.gca_resource
        if record.state is not JobState.JOB_STATE_SUCCEEDED:
            raise RuntimeError(f"Job failed with:\n{record.error.message if record.error else record.state.value}")

    def iter_outputs(self) -> list[str]:
        """URLs of the output files (predictions and errors, or the AutoML CSV and its JSON files).

        Raises:
            RuntimeError: the job has not succeeded.
        """
        state = self.state
        if state is not JobState.JOB_STATE_SUCCEEDED:
            raise RuntimeError(
                f"Cannot read outputs until BatchPredictionJob has succeeded, current state: {state.value}"
            )
        return storage.listdir(self.gca_resource.output_info["gcsOutputDirectory"])
