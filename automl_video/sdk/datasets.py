"""``VideoDataset``: a registered dataset whose videos and labelled segments live in the staging bucket."""

import datetime as dt
import uuid
from typing import Any, Sequence

from automl_video import storage
from automl_video.registry import DatasetRecord, Page, names
from automl_video.registry.resources import VIDEO_DATASET_SCHEMA
from automl_video.sdk import config
from automl_video.sdk.base import Resource

# aiplatform.schema.dataset.ioformat.video.* : only classification is implemented.
VIDEO_CLASSIFICATION_IMPORT_SCHEMA = "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_classification_io_format_1.0.0.yaml"
_NOT_YET_SUPPORTED_SCHEMAS = {
    "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_object_tracking_io_format_1.0.0.yaml": "object_tracking",
    "gs://google-cloud-aiplatform/schema/dataset/ioformat/video_action_recognition_io_format_1.0.0.yaml": "action_recognition",
}


def generated_display_name(kind: str) -> str:
    """``<kind> <UTC timestamp>``, as the Vertex SDK names resources created without a display name."""
    return f"{kind} {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S.%f}"[:-3]


def _check_import_schema(import_schema_uri: str | None) -> None:
    if import_schema_uri in (None, VIDEO_CLASSIFICATION_IMPORT_SCHEMA):
        return
    if import_schema_uri in _NOT_YET_SUPPORTED_SCHEMAS:
        raise ValueError(f"{_NOT_YET_SUPPORTED_SCHEMAS[import_schema_uri]} datasets are not yet supported by automl-video")
    raise ValueError(f"import_schema_uri {import_schema_uri!r} is not a video import schema; use {VIDEO_CLASSIFICATION_IMPORT_SCHEMA}")


def _sources(gcs_source: str | Sequence[str]) -> list[str]:
    sources = [gcs_source] if isinstance(gcs_source, str) else list(gcs_source or [])
    if not sources or not all(isinstance(s, str) and s for s in sources):
        raise ValueError(f"gcs_source must be a CSV URI or a list of them, got {gcs_source!r}")
    return sources


class VideoDataset(Resource):
    """A video classification dataset (``aiplatform.VideoDataset``).

    ``gcs_source`` files are AutoML import CSVs: rows ``ML_USE,CSV_URI`` whose CSVs list
    ``VIDEO_URI,LABEL,START,END``. Data lives under ``<staging_bucket>/datasets/``; deleting the
    dataset removes the registry entry and leaves the files.
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
            import_schema_uri: the video classification import schema, or None.
            labels: user labels (Vertex rules).
            project: overrides init's project.
            location: overrides init's location.
            sync: False returns at once and imports in the background (:meth:`wait` waits).

        Raises:
            ValueError: invalid display name, labels, sources or schema; ImportFailed: the import was refused.
        """
        _check_import_schema(import_schema_uri)
        sources = _sources(gcs_source) if gcs_source is not None else []
        project, location = config.project_and_location(project, location)
        record = config.registry().create_dataset(
            project,
            location,
            display_name=display_name or generated_display_name(cls.__name__),
            data_uri=storage.join(config.settings().staging, "datasets", uuid.uuid4().hex),
            labels=labels,
        )
        dataset = cls._wrap(record)
        if sources:
            dataset._start(lambda: dataset._import(sources), sync)
        return dataset

    def import_data(
        self, gcs_source: str | Sequence[str], import_schema_uri: str | None = None, sync: bool = True
    ) -> "VideoDataset":
        """Import more videos and segments (all or nothing; see :func:`automl_video.data.importer.import_data`).

        Returns:
            This dataset, its ``data_item_count`` updated.
        """
        _check_import_schema(import_schema_uri)
        sources = _sources(gcs_source)
        self._start(lambda: self._import(sources), sync)
        return self

    def _import(self, sources: list[str]) -> None:
        from automl_video.data import dataset as dataset_lib
        from automl_video.data import importer

        record = self.gca_resource
        importer.import_data(sources, record.data_uri, display_name=record.display_name)
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
