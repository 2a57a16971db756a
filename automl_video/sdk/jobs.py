"""``BatchPredictionJob``: predict videos with a model version, sharded, into Vertex JSONL or AutoML CSV output."""

from typing import Any, Sequence

from automl_video import storage
from automl_video.registry import BatchPredictionJobRecord, JobState, Page, Status, names
from automl_video.registry.store import validate_display_name
from automl_video.sdk import backends, config
from automl_video.sdk.base import Job
from automl_video.sdk.models import Model
from automl_video.tasks import get_task

# Vertex instances formats automl-video reads: Vertex JSONL instances, or AutoML's legacy CSV rows.
INSTANCES_FORMATS = {"jsonl": ".jsonl", "csv": ".csv"}
PREDICTIONS_FORMATS = ("jsonl",)
_BACKEND_WORK = {config.LOCAL: backends.predict_locally, config.KFP: backends.predict_on_kfp}


def _replicas(value: int | None, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


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

        Raises:
            ValueError: invalid sources, destinations, formats, parameters, replica counts or labels.
            NotFoundError: the model does not exist.
            RuntimeError: with ``sync``, the job failed or was cancelled.
        """
        job_display_name = validate_display_name(job_display_name, "job_display_name")
        if bool(gcs_source) == bool(bigquery_source):
            raise ValueError("Please provide either a gcs_source or bigquery_source, but not both.")
        if bool(gcs_destination_prefix) == bool(bigquery_destination_prefix):
            raise ValueError("Please provide either a gcs_destination_prefix or bigquery_destination_prefix, but not both.")
        if bigquery_source or bigquery_destination_prefix:
            raise ValueError("BigQuery sources and destinations are not supported by automl-video; use gcs_source and gcs_destination_prefix")
        if instances_format not in INSTANCES_FORMATS:
            raise ValueError(f"{instances_format} is not an accepted instances format type. Please choose from: {sorted(INSTANCES_FORMATS)}")
        if predictions_format not in PREDICTIONS_FORMATS:
            raise ValueError(f"{predictions_format} is not an accepted prediction format type. Please choose from: {list(PREDICTIONS_FORMATS)}")
        sources = [gcs_source] if isinstance(gcs_source, str) else list(gcs_source)
        for source in sources:
            if not isinstance(source, str) or not source.lower().endswith(INSTANCES_FORMATS[instances_format]):
                raise ValueError(f"gcs_source {source!r} is not a {INSTANCES_FORMATS[instances_format]} file (instances_format {instances_format!r})")
        params = dict(model_parameters or {})
        starting = _replicas(starting_replica_count, "starting_replica_count")
        maximum = _replicas(max_replica_count, "max_replica_count")
        if starting and maximum and starting > maximum:
            raise ValueError(f"starting_replica_count {starting} is more than max_replica_count {maximum}")
        project, location = config.project_and_location(project, location)
        model_ref = model_name.versioned_resource_name if isinstance(model_name, Model) else names.expand(model_name, names.MODELS, project, location)
        registry = config.registry()
        model = registry.get_model(model_ref)
        get_task(model.prediction_type).prediction().parse_params(params)  # ValueError naming a bad key or value
        record = registry.create_batch_prediction_job(
            project,
            location,
            display_name=job_display_name,
            model=model.versioned_name,
            input_config={"instancesFormat": instances_format, "gcsSource": {"uris": sources}},
            output_config={"predictionsFormat": predictions_format, "gcsDestination": {"outputUriPrefix": gcs_destination_prefix}},
            model_parameters=params,
            dedicated_resources={k: v for k, v in (("startingReplicaCount", starting), ("maxReplicaCount", maximum)) if v},
            labels=labels,
            run_info={"backend": config.settings().backend},
        )
        plan = backends.PredictionPlan(
            display_name=job_display_name,
            model_uri=model.artifact_uri,
            inputs=sources,
            output_prefix=gcs_destination_prefix,
            model_parameters=params,
            shards=maximum or starting or 1,
        )
        job = cls._wrap(record)
        runner = backends.JobRunner(registry, record.name)
        work = _BACKEND_WORK[config.settings().backend]
        job._start(lambda: runner.run(lambda r: work(r, plan)), sync)
        if sync:
            job.wait_for_completion()
        return job

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
            raise RuntimeError(f"Cannot read outputs until BatchPredictionJob has succeeded, current state: {state.value}")
        return storage.listdir(self.gca_resource.output_info["gcsOutputDirectory"])
