"""``AutoMLVideoTrainingJob``: split, train, evaluate and register a video model as one training pipeline."""

import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video import storage
from automl_video.modeling.metadata import parse_model_type
from automl_video.registry import ModelRecord, Page, PipelineState, TrainingPipelineRecord, names, versions
from automl_video.registry.labels import validate_labels
from automl_video.registry.resources import TRAINING_TASK_DEFINITIONS
from automl_video.registry.store import validate_display_name
from automl_video.sdk import backends, config
from automl_video.sdk.base import Job
from automl_video.sdk.data_filters import DataFilter, FilterSplit
from automl_video.sdk.datasets import VideoDataset, generated_display_name
from automl_video.sdk.models import Model

_BACKEND_WORK = {config.LOCAL: backends.train_locally, config.KFP: backends.train_on_kfp}


def _fractions(training: float | None, test: float | None) -> tuple[float | None, float | None]:
    """Both fractions or neither; one given alone leaves the rest to the other. ValueError when invalid."""
    from automl_video.data.splits import validate_fractions

    if training is None and test is None:
        return None, None
    for name, value in (("training_fraction_split", training), ("test_fraction_split", test)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    training = 1.0 - test if training is None else float(training)
    test = 1.0 - training if test is None else float(test)
    validate_fractions(training, test)
    return training, test


@dataclass(frozen=True, kw_only=True)
class TrainingRunOptions:
    """The arguments of :meth:`AutoMLVideoTrainingJob.run` besides the dataset, as the caller gave them."""

    training_fraction_split: float | None = None
    test_fraction_split: float | None = None
    training_filter_split: str | None = None
    test_filter_split: str | None = None
    model_display_name: str | None = None
    model_labels: dict[str, str] | None = None
    model_id: str | None = None
    parent_model: str | None = None
    is_default_version: bool | None = True
    model_version_aliases: Sequence[str] | None = None
    model_version_description: str | None = None
    budget_minutes: float | None = None
    max_epochs: int | None = None
    seed: int = 0
    enable_caching: bool | None = None


@dataclass(frozen=True)
class _Split:
    """How a run splits the dataset: fractions (both None: the 80/20 default) or filters."""

    training_fraction: float | None
    test_fraction: float | None
    filters: FilterSplit | None

    @classmethod
    def of(cls, options: TrainingRunOptions) -> "_Split":
        """ValueError when fractions and filters are mixed, a filter is missing or either is invalid."""
        uses_filters = options.training_filter_split is not None or options.test_filter_split is not None
        if not uses_filters:
            return cls(*_fractions(options.training_fraction_split, options.test_fraction_split), None)
        if options.training_fraction_split is not None or options.test_fraction_split is not None:
            raise ValueError("give fraction splits or filter splits, not both")
        if options.training_filter_split is None or options.test_filter_split is None:
            raise ValueError(
                "filter splits need both training_filter_split and test_filter_split (use '-' to match nothing)"
            )
        filters = FilterSplit(
            DataFilter.parse(options.training_filter_split, "training_filter_split"),
            DataFilter.parse(options.test_filter_split, "test_filter_split"),
        )
        return cls(None, None, filters)


def _check_training_limits(options: TrainingRunOptions, split: _Split) -> None:
    """The budget and epoch bound, and what only the local backend offers. ValueError when invalid."""
    if options.budget_minutes is not None and not options.budget_minutes > 0:
        raise ValueError(f"budget_minutes must be more than 0, got {options.budget_minutes}")
    max_epochs = options.max_epochs
    if max_epochs is not None and (not isinstance(max_epochs, int) or max_epochs < 1):
        raise ValueError(f"max_epochs must be an integer of at least 1, got {max_epochs!r}")
    if config.settings().backend == config.KFP and (split.filters is not None or max_epochs is not None):
        raise ValueError(
            "filter splits and max_epochs need the local backend; the KFP pipeline takes fraction splits and budget_minutes"
        )


class AutoMLVideoTrainingJob(Job):
    """Train a video model on a :class:`VideoDataset` (``aiplatform.AutoMLVideoTrainingJob``).

    Construction validates the prediction and model types; :meth:`run` validates the split and model
    arguments, registers a training pipeline and runs it on the ``init`` backend.
    """

    _collection = names.TRAINING_PIPELINES

    def __init__(
        self,
        display_name: str | None = None,
        prediction_type: str = "classification",
        model_type: str = "CLOUD",
        project: str | None = None,
        location: str | None = None,
        labels: dict[str, str] | None = None,
    ):
        """
        Raises:
            ValueError: an unknown prediction type, a model type not offered for it, a prediction
                type not yet supported, or invalid labels or display name.
        """
        parse_model_type(model_type, prediction_type)
        self._project, self._location = config.project_and_location(project, location)
        self._display_name = validate_display_name(
            display_name or generated_display_name(type(self).__name__), "display_name"
        )
        self._labels = validate_labels(labels)
        self._prediction_type = prediction_type
        self._model_type = model_type
        self._setup(None)

    @classmethod
    def _fetch(cls, name: str) -> TrainingPipelineRecord:
        record = config.registry().get_training_pipeline(name)
        if record.training_task_definition not in TRAINING_TASK_DEFINITIONS.values():
            raise ValueError(f"{name} is not an AutoML video training pipeline ({record.training_task_definition})")
        return record

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        return config.registry().list_training_pipelines(project, location, **options)

    @property
    def display_name(self) -> str:
        return self._record.display_name if self._record else self._display_name

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._record.labels if self._record else self._labels)

    @property
    def state(self) -> PipelineState | None:
        """The current state; None before :meth:`run`."""
        return super().state if self._record is not None else None

    def run(
        self,
        dataset: VideoDataset,
        training_fraction_split: float | None = None,
        test_fraction_split: float | None = None,
        training_filter_split: str | None = None,
        test_filter_split: str | None = None,
        model_display_name: str | None = None,
        model_labels: dict[str, str] | None = None,
        model_id: str | None = None,
        parent_model: str | None = None,
        is_default_version: bool | None = True,
        model_version_aliases: Sequence[str] | None = None,
        model_version_description: str | None = None,
        sync: bool = True,
        *,
        budget_minutes: float | None = None,
        max_epochs: int | None = None,
        seed: int = 0,
        enable_caching: bool | None = None,
    ) -> Model:
        """Run the training pipeline and return the model it registers.

        Split with fractions (``training_fraction_split`` + ``test_fraction_split`` ≤ 1; one given
        alone leaves the rest to the other; neither: 80% training, 20% test, ML_USE respected) or with
        filters (both ``training_filter_split`` and ``test_filter_split``, ``-`` matching nothing; see
        :mod:`automl_video.sdk.data_filters`). Validation data is held out of the training set.

        Args:
            dataset: the dataset to train on.
            model_display_name: default: the job's display name.
            model_labels: labels of the model (Vertex rules).
            model_id: ID of a new model (``[a-z_][a-z0-9_-]{0,62}``).
            parent_model: an existing model (name or ID) this run adds a version to.
            is_default_version: the new version takes the ``default`` alias (a first version always does).
            model_version_aliases: aliases of the new version (``[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]``).
            model_version_description: description of the new version.
            sync: False returns at once; the returned Model waits for the training when used.
            budget_minutes: training time budget (automl-video; default that of the train stage).
            max_epochs: upper bound on epochs (automl-video, local backend).
            seed: seed of the split and the training (automl-video).
            enable_caching: kfp backend: whether KFP may reuse earlier outputs of the tasks that depend
                only on their inputs (as Vertex ``PipelineJob`` has it; None: the compiled default, on).
                Import, gate and record tasks always run.

        Returns:
            The trained model version.

        Raises:
            RuntimeError: the job has already run or is running; with ``sync``, the training failed.
            ValueError: invalid splits, model arguments or options.
            NotFoundError: ``parent_model`` does not exist.
        """
        if self._record is not None:
            if not self.done():
                raise RuntimeError("AutoML Video Training is already running or waiting to run.")
            raise RuntimeError("AutoML Video Training has already run.")
        options = TrainingRunOptions(
            training_fraction_split=training_fraction_split,
            test_fraction_split=test_fraction_split,
            training_filter_split=training_filter_split,
            test_filter_split=test_filter_split,
            model_display_name=model_display_name,
            model_labels=model_labels,
            model_id=model_id,
            parent_model=parent_model,
            is_default_version=is_default_version,
            model_version_aliases=model_version_aliases,
            model_version_description=model_version_description,
            budget_minutes=budget_minutes,
            max_epochs=max_epochs,
            seed=seed,
            enable_caching=enable_caching,
        )
        plan = self._plan(dataset, options)
        record = self._register(plan)
        self._setup(record)
        runner = backends.JobRunner(config.registry(), record.name)
        work = _BACKEND_WORK[config.settings().backend]
        finished = self._start(lambda: runner.run(lambda r: work(r, plan)), sync)
        if sync:
            return self.get_model()
        model_future: concurrent.futures.Future = concurrent.futures.Future()
        finished.add_done_callback(lambda _: _settle(model_future, self._produced_model))
        return Model._wrap(future=model_future)

    def _plan(self, dataset: VideoDataset, options: TrainingRunOptions) -> backends.TrainingPlan:
        """Validate every argument of :meth:`run` before anything is registered."""
        if not isinstance(dataset, VideoDataset):
            raise ValueError(f"dataset must be a VideoDataset, got {type(dataset).__name__}")
        dataset_record = config.registry().get_dataset(dataset.resource_name)
        if dataset_record.prediction_type != self._prediction_type:
            raise ValueError(
                f"{dataset_record.name} is a {dataset_record.prediction_type} dataset; this job trains "
                f"{self._prediction_type} models"
            )
        split = _Split.of(options)
        model_display_name = validate_display_name(
            options.model_display_name or self._display_name, "model_display_name"
        )
        model_labels = validate_labels(options.model_labels)
        parent_name = self._parent_model_name(options)
        is_default_version = True if options.is_default_version is None else bool(options.is_default_version)
        aliases = list(options.model_version_aliases or [])
        versions.aliases_for_new_version(aliases, is_default_version, is_first_version=parent_name is None)
        _check_training_limits(options, split)
        return backends.TrainingPlan(
            project=self._project,
            location=self._location,
            display_name=self._display_name,
            work_uri="",
            dataset_name=dataset_record.name,
            dataset_uri=dataset_record.data_uri,
            import_sources=list(dataset_record.metadata.get("importSources", [])),
            model_type=self._model_type,
            prediction_type=self._prediction_type,
            training_fraction=split.training_fraction,
            test_fraction=split.test_fraction,
            filter_split=split.filters,
            model_display_name=model_display_name,
            model_labels=model_labels,
            model_id=options.model_id,
            parent_model=parent_name,
            is_default_version=is_default_version,
            version_aliases=aliases,
            version_description=options.model_version_description or "",
            seed=options.seed,
            budget_minutes=options.budget_minutes,
            max_epochs=options.max_epochs,
            enable_caching=options.enable_caching,
        )

    def _register(self, plan: backends.TrainingPlan) -> TrainingPipelineRecord:
        """The job's registry record (QUEUED), and its work folder under the staging bucket set on ``plan``."""
        registry = config.registry()
        settings = config.settings()
        record = registry.create_training_pipeline(
            self._project,
            self._location,
            display_name=self._display_name,
            labels=self._labels,
            training_task_definition=TRAINING_TASK_DEFINITIONS[self._prediction_type],
            training_task_inputs={"modelType": self._model_type},
            input_data_config=plan.input_data_config(),
            model_to_upload=plan.model_to_upload(),
            model_id=plan.model_id,
            parent_model=plan.parent_model,
            dataset_id=plan.dataset_id,
            run_info={"backend": settings.backend},
        )
        plan.work_uri = storage.join(settings.staging, "trainingPipelines", names.parse(record.name).resource_id)
        registry.update_job(record.name, run_info={"work_uri": plan.work_uri})
        return record

    def _parent_model_name(self, options: TrainingRunOptions) -> str | None:
        """The full name of the model a run adds a version to (None: a new model), checked against ``model_id``."""
        parent_name = None
        if options.parent_model:
            if "@" in options.parent_model:
                raise ValueError(f"parent_model {options.parent_model!r} must name a model, not one of its versions")
            expanded = names.expand(options.parent_model, names.MODELS, self._project, self._location)
            parent_name = config.registry().get_model(expanded).name
        if options.model_id is not None:
            names.validate_user_model_id(options.model_id)
            if parent_name and names.parse(parent_name).resource_id != options.model_id:
                raise ValueError(
                    f"model_id {options.model_id!r} and parent_model {options.parent_model!r} name different models"
                )
        return parent_name

    def _produced_model(self) -> ModelRecord:
        self._sync()
        record = self.gca_resource
        if record.state is not PipelineState.PIPELINE_STATE_SUCCEEDED:
            raise RuntimeError(f"Training failed with:\n{record.error.message if record.error else record.state.value}")
        uploaded = record.model_to_upload
        if "name" not in uploaded:
            raise RuntimeError(f"{record.name} did not produce a model")
        return config.registry().get_model(f"{uploaded['name']}@{uploaded['versionId']}")

    def get_model(self, sync: bool = True) -> Model:
        """The model this job produced (waiting for the job to end first).

        Raises:
            RuntimeError: the job was not run, failed or was cancelled, or produced no model.
        """
        if self._record is None:
            raise RuntimeError("This training job has not been launched; use run() first")
        self.wait()
        return Model._wrap(self._produced_model())


def _settle(future: concurrent.futures.Future, produce) -> None:
    """Complete ``future`` with what ``produce`` returns or raises."""
    try:
        future.set_result(produce())
    except Exception as error:  # handed to whoever reads the Future
        future.set_exception(error)
