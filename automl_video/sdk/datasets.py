"""``VideoDataset``: a registered dataset whose videos and labelled segments live in the staging bucket."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from automl_video import storage
from automl_video.registry import DatasetRecord, Page, names
from automl_video.registry.resources import IMPORT_SCHEMAS, VIDEO_DATASET_SCHEMA
from automl_video.sdk import config
from automl_video.sdk.base import Resource
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, TASK_MODULES


def generated_display_name(kind: str) -> str:
    """``<kind> <UTC timestamp>``, as the Vertex SDK names resources created without a display name."""
    return f"{kind} {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S.%f}"[:-3]


def prediction_type_of(import_schema_uri: str | None) -> str:
    """The prediction type of a Vertex import schema (None: classification); ValueError for another
    schema, or for a prediction type automl-video does not implement yet."""
    if import_schema_uri is None:
        return DEFAULT_PREDICTION_TYPE
    by_schema = {uri: prediction_type for prediction_type, uri in IMPORT_SCHEMAS.items()}
    if import_schema_uri not in by_schema:
        raise ValueError(
            f"import_schema_uri {import_schema_uri!r} is not a video import schema; use one of "
            f"{', '.join(IMPORT_SCHEMAS[t] for t in TASK_MODULES)}"
        )
    prediction_type = by_schema[import_schema_uri]
    if prediction_type not in TASK_MODULES:
        raise ValueError(f"{prediction_type} datasets are not yet supported by automl-video")
    return prediction_type


def _sources(gcs_source: str | Sequence[str]) -> list[str]:
    sources = [gcs_source] if isinstance(gcs_source, str) else list(gcs_source or [])
    if not sources or not all(isinstance(s, str) and s for s in sources):
        raise ValueError(f"gcs_source must be a CSV URI or a list of them, got {gcs_source!r}")
    return sources


class VideoDataset(Resource):
    """A video dataset of one prediction type (``aiplatform.VideoDataset``).

    ``gcs_source`` files are AutoML two-level import CSVs (rows ``ML_USE,CSV_URI``), Vertex CSVs or
    Vertex JSONL (see :mod:`automl_video.data.import_files`); ``import_schema_uri`` names the
    prediction type. Data lives under ``<staging_bucket>/datasets/``; deleting the dataset removes the
    registry entry and leaves the files.
    """

    _collection = names.DATASETS

    @classmethod
    def _fetch(cls, name: str) -> DatasetRecord:
        return config.registry().get_dataset(name)

    @classmethod
    def _list_page(cls, project: str, location: str, **options: Any) -> Page:
        return config.registry().list_datasets(project, location, **options)

    @property
    def metadata_schema_uri(self) -> str:
        return VIDEO_DATASET_SCHEMA

    @property
    def data_uri(self) -> str:
        """Folder of the dataset's ``dataset.json`` (automl-video; what every stage reads)."""
        return self.gca_resource.data_uri

    @property
    def data_item_count(self) -> int:
        self._sync()
        return self.gca_resource.data_item_count

    @classmethod
    def create(
        cls,
        display_name: str | None = None,
        gcs_source: str | Sequence[str] | None = None,
        import_schema_uri: str | None = None,
        labels: dict[str, str] | None = None,
        project: str | None = None,
        location: str | None = None,
        sync: bool = True,
    ) -> "VideoDataset":
        """Register a new dataset and, when ``gcs_source`` is given, import it.

        Args:
            display_name: up to 128 characters (default ``VideoDataset <timestamp>``).
            gcs_source: import CSV URI(s) (any URL automl-video reads).
            import_schema_uri: a video import schema (its prediction type is the dataset's), or None
                for classification.
            labels: user labels (Vertex rules).
            project: overrides init's project.
            location: overrides init's location.
            sync: False returns at once and imports in the background (:meth:`wait` waits).

        Raises:
            ValueError: invalid display name, labels, sources or schema; ImportFailed: the import was refused.
        """
        prediction_type = prediction_type_of(import_schema_uri)
        sources = _sources(gcs_source) if gcs_source is not None else []
        project, location = config.project_and_location(project, location)
        record = config.registry().create_dataset(
            project,
            location,
            display_name=display_name or generated_display_name(cls.__name__),
            data_uri=storage.join(config.settings().staging, "datasets", uuid.uuid4().hex),
            labels=labels,
            prediction_type=prediction_type,
        )
        dataset = cls._wrap(record)
        if sources:
            dataset._start(lambda: dataset._import(sources), sync)
        return dataset

    def import_data(
        self, gcs_source: str | Sequence[str], import_schema_uri: str | None = None, sync: bool = True
    ) -> "VideoDataset":
        """Import more videos and annotations (all or nothing; see :func:`automl_video.data.importer.import_data`).

        Returns:
            This dataset, its ``data_item_count`` updated.
        """
        if import_schema_uri is not None and prediction_type_of(import_schema_uri) != self.gca_resource.prediction_type:
            raise ValueError(
                f"import_schema_uri {import_schema_uri!r} is for {prediction_type_of(import_schema_uri)} data; "
                f"{self.resource_name} is a {self.gca_resource.prediction_type} dataset"
            )
        sources = _sources(gcs_source)
        self._start(lambda: self._import(sources), sync)
        return self

    def _import(self, sources: list[str]) -> None:
        from automl_video.data import dataset as dataset_lib
        from automl_video.data import importer

        record = self.gca_resource
        importer.import_data(
            sources, record.data_uri, display_name=record.display_name, prediction_type=record.prediction_type
        )
        imported = record.metadata.get("importSources", [])
        self._record = config.registry().update_dataset(
            record.name,
            data_item_count=len(dataset_lib.load(record.data_uri).videos),
            metadata={**record.metadata, "importSources": imported + [s for s in sources if s not in imported]},
        )

    def delete(self, sync: bool = True) -> None:
        """Remove the dataset from the registry (its ID is never reused; its files stay)."""
        name = self.resource_name
        self._start(lambda: config.registry().delete_dataset(name), sync)
