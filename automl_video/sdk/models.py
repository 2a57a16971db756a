"""``Model`` (one version of a registered model), its evaluations and its versions."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video import storage
from automl_video.registry import ModelEvaluationRecord, ModelRecord, Page, names
from automl_video.sdk import config
from automl_video.sdk.base import Resource, every_item
from automl_video.sdk.datasets import generated_display_name

ARTIFACT = "ARTIFACT"


class ModelEvaluation(Resource):
    """One evaluation of a model version (``aiplatform.ModelEvaluation``): the overall one, or one
    label's (``annotation_spec_id`` set). ``metrics`` use the Vertex classification metrics schema."""

    _collection = names.MODELS

    def __init__(
        self, evaluation_name: str, model_id: str | None = None, project: str | None = None, location: str | None = None
    ):
        """Retrieve an evaluation by full name, or by ID with ``model_id``."""
        if not evaluation_name.startswith("projects/"):
            if not model_id:
                raise ValueError(f"evaluation {evaluation_name!r} is an ID: give model_id too, or the full name")
            model_name = names.expand(model_id, names.MODELS, *config.project_and_location(project, location))
            evaluation_name = names.evaluation_name(model_name, evaluation_name)
        self._setup(self._fetch(evaluation_name))

    @classmethod
    def _fetch(cls, name: str) -> ModelEvaluationRecord:
        return config.registry().get_model_evaluation(name)

    @classmethod
    def _expand(cls, name_or_id: str, project: str | None, location: str | None) -> str:
        if not name_or_id.startswith("projects/"):
            raise ValueError(f"{name_or_id!r}: give the full evaluation name, or use ModelEvaluation(id, model_id=…)")
        return name_or_id

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        raise TypeError("evaluations belong to a model version: use Model.list_model_evaluations()")

    @property
    def name(self) -> str:
        return names.parse(self.resource_name).evaluation_id

    @property
    def metrics(self) -> dict[str, Any]:
        return self.gca_resource.to_dict().get("metrics", {})

    @property
    def metrics_schema_uri(self) -> str:
        return self.gca_resource.metrics_schema_uri

    @property
    def annotation_spec_id(self) -> str | None:
        return self.gca_resource.annotation_spec_id

    @property
    def evaluated_example_count(self) -> int:
        return self.gca_resource.evaluated_example_count

    def to_dict(self) -> dict[str, Any]:
        return self.gca_resource.to_dict()


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model, as ``ModelRegistry.list_versions`` describes it."""

    version_id: str
    version_create_time: dt.datetime
    version_update_time: dt.datetime
    model_display_name: str
    model_resource_name: str
    version_aliases: list[str]
    version_description: str


class Model(Resource):
    """One version of a registered model (``aiplatform.Model``); without a version, the default one."""

    _collection = names.MODELS

    def __init__(
        self, model_name: str, project: str | None = None, location: str | None = None, version: str | None = None
    ):
        """Retrieve a model: a full name or ID, optionally ``@VERSION_ID`` / ``@ALIAS`` (or ``version``)."""
        name = self._expand(model_name, project, location)
        if version is not None:
            if "@" in name:
                raise ValueError(f"give the version either in model_name ({model_name!r}) or as version, not both")
            name = f"{name}@{version}"
        self._setup(self._fetch(name))

    @classmethod
    def _fetch(cls, name: str) -> ModelRecord:
        return config.registry().get_model(name)

    def _reference(self) -> str:
        return self.gca_resource.versioned_name

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        return config.registry().list_models(project, location, **options)

    @property
    def version_id(self) -> str:
        return self.gca_resource.version_id

    @property
    def version_aliases(self) -> list[str]:
        self._sync()
        return sorted(self.gca_resource.version_aliases)

    @property
    def versioned_resource_name(self) -> str:
        return self.gca_resource.versioned_name

    @property
    def version_create_time(self) -> dt.datetime:
        return self.gca_resource.version_create_time

    @property
    def version_update_time(self) -> dt.datetime:
        self._sync()
        return self.gca_resource.version_update_time

    @property
    def version_description(self) -> str:
        return self.gca_resource.version_description

    @property
    def description(self) -> str:
        return self.gca_resource.description

    @property
    def uri(self) -> str:
        """The model folder (``artifactUri``)."""
        return self.gca_resource.artifact_uri

    @property
    def supported_export_formats(self) -> dict[str, list[str]]:
        """Export format ID → what it can be exported as (``ARTIFACT``); empty for CLOUD models."""
        formats = self.gca_resource.to_dict().get("supportedExportFormats", [])
        return {f["id"]: list(f["exportableContents"]) for f in formats}

    @property
    def training_job(self):
        """The training job that produced this version, or None."""
        from automl_video.sdk.training import AutoMLVideoTrainingJob

        name = self.gca_resource.training_pipeline
        return AutoMLVideoTrainingJob.get(name) if name else None

    @property
    def versioning_registry(self) -> "ModelRegistry":
        return ModelRegistry(self)

    def delete(self, sync: bool = True) -> None:
        """Delete the model: every version, alias and evaluation (artifacts stay; the ID is never reused)."""
        name = self.resource_name
        self._start(lambda: config.registry().delete_model(name), sync)

    def list_model_evaluations(self) -> list[ModelEvaluation]:
        """This version's evaluations, the overall one first, then one per label."""
        registry = config.registry()
        records = every_item(
            lambda token: registry.list_model_evaluations(self.versioned_resource_name, page_token=token)
        )
        return [ModelEvaluation._wrap(r) for r in records]

    def get_model_evaluation(self, evaluation_id: str | None = None) -> ModelEvaluation | None:
        """The evaluation with this ID (or full name); without one, the first (overall) evaluation,
        or None when the version has none."""
        if evaluation_id is None:
            evaluations = self.list_model_evaluations()
            return evaluations[0] if evaluations else None
        if evaluation_id.startswith("projects/"):
            return ModelEvaluation(evaluation_id)
        return ModelEvaluation(names.evaluation_name(self.resource_name, evaluation_id))

    def export_model(
        self,
        export_format_id: str,
        artifact_destination: str | None = None,
        image_destination: str | None = None,
        sync: bool = True,
    ) -> dict[str, str]:
        """Export this version to ``<artifact_destination>/model-<id>/<format>/<timestamp>/``.

        Args:
            export_format_id: one of :attr:`supported_export_formats` (``tf-saved-model``, ``tflite``).
            artifact_destination: folder URL receiving the export.
            image_destination: container exports are not supported.
            sync: False returns at once and exports in the background (:meth:`wait` waits).

        Returns:
            ``{"artifactOutputUri": <folder of the export>}``.

        Raises:
            ValueError: the model is not exportable, the format is not supported, or no destination.
        """
        formats = self.supported_export_formats
        if not formats:
            raise ValueError(
                f"The model {self.resource_name} is not exportable (model type {self.gca_resource.model_type})."
            )
        if export_format_id not in formats:
            raise ValueError(
                f"'{export_format_id}' is not a supported export format for this model. "
                f"Choose one of the following: {sorted(formats)}"
            )
        if image_destination:
            raise ValueError(
                f"This model can not be exported as a container image in '{export_format_id}' format; give artifact_destination"
            )
        if not artifact_destination:
            raise ValueError("Please provide an `artifact_destination`.")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        output_uri = storage.join(artifact_destination, f"model-{self.name}", export_format_id, stamp)
        model_uri = self.uri

        def export() -> None:
            from automl_video.modeling.export import export_model

            export_model(model_uri, export_format_id, output_uri)

        self._start(export, sync)
        return {"artifactOutputUri": output_uri}

    def batch_predict(
        self,
        job_display_name: str | None = None,
        gcs_source: str | Sequence[str] | None = None,
        instances_format: str = "jsonl",
        gcs_destination_prefix: str | None = None,
        predictions_format: str = "jsonl",
        model_parameters: dict[str, Any] | None = None,
        starting_replica_count: int | None = None,
        max_replica_count: int | None = None,
        labels: dict[str, str] | None = None,
        sync: bool = True,
        enable_caching: bool | None = None,
    ):
        """Batch-predict with this version; see :meth:`BatchPredictionJob.create`."""
        from automl_video.sdk.jobs import BatchPredictionJob

        return BatchPredictionJob.create(
            job_display_name=job_display_name or generated_display_name(f"{self.display_name}-batch-predict"),
            model_name=self,
            instances_format=instances_format,
            predictions_format=predictions_format,
            gcs_source=gcs_source,
            gcs_destination_prefix=gcs_destination_prefix,
            model_parameters=model_parameters,
            starting_replica_count=starting_replica_count,
            max_replica_count=max_replica_count,
            labels=labels,
            project=self.project,
            location=self.location,
            sync=sync,
            enable_caching=enable_caching,
        )


class ModelRegistry:
    """The versions of one model (``aiplatform.models.ModelRegistry``)."""

    def __init__(self, model: Model | str):
        self.model_resource_name = model.resource_name if isinstance(model, Model) else Model(model).resource_name

    def _ref(self, version: str | None) -> str:
        return f"{self.model_resource_name}@{version}" if version else self.model_resource_name

    def get_model(self, version: str | None = None) -> Model:
        """A version by ID or alias (default: the default version)."""
        return Model._wrap(config.registry().get_model(self._ref(version)))

    def list_versions(self, filter: str | None = None) -> list[VersionInfo]:
        """Every version, oldest first (``filter`` as for :meth:`Model.list`)."""
        registry = config.registry()
        records = every_item(
            lambda token: registry.list_model_versions(self.model_resource_name, filter=filter, page_token=token)
        )
        return [
            VersionInfo(
                version_id=r.version_id,
                version_create_time=r.version_create_time,
                version_update_time=r.version_update_time,
                model_display_name=r.display_name,
                model_resource_name=r.name,
                version_aliases=sorted(r.version_aliases),
                version_description=r.version_description,
            )
            for r in records
        ]

    def get_version_info(self, version: str) -> VersionInfo:
        record = config.registry().get_model(self._ref(version))
        return next(v for v in self.list_versions() if v.version_id == record.version_id)

    def add_version_aliases(self, new_aliases: Sequence[str], version: str) -> None:
        """Give ``version`` these aliases (moving them from other versions; ``default`` moves the default)."""
        config.registry().merge_version_aliases(self._ref(version), list(new_aliases))

    def remove_version_aliases(self, target_aliases: Sequence[str], version: str) -> None:
        config.registry().merge_version_aliases(self._ref(version), [f"-{a}" for a in target_aliases])

    def delete_version(self, version: str) -> None:
        """Delete one version (never the default one: move ``default`` first)."""
        config.registry().delete_model_version(self._ref(version))
