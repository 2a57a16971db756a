"""The dataset every stage reads: videos, their annotations, ML_USE and split.

A dataset lives at a URL (a folder) as one ``dataset.json`` document. Committing an import or a split
is one atomic write of that document, so a failed or interrupted import leaves the previous dataset
byte-identical. Row reports of each import are written beside it under ``imports/``.

Videos, ML_USE, splits and import records are the same for every prediction type; what a video's
``annotations`` are (labelled segments, moments, boxes) is its task's
(:class:`automl_video.tasks.base.AnnotationRules`), which also reads them back from JSON.
"""

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, get_task
from automl_video.times import rfc3339_now

DATASET_FILE = "dataset.json"
# 2: ``videos[].annotations`` of the dataset's task (1 had classification's ``segments``).
FORMAT_VERSION = 2


class MLUse(enum.StrEnum):
    """What an import row says a video is for: the AutoML CSV ``ML_USE`` column, or the Vertex
    ``aiplatform.googleapis.com/ml_use`` label (``training`` / ``validation`` / ``test``)."""

    TRAIN = "TRAIN"
    VALIDATION = "VALIDATION"
    TEST = "TEST"
    UNASSIGNED = "UNASSIGNED"

    @classmethod
    def from_vertex(cls, value: object) -> "MLUse":
        """The ML_USE of a Vertex ``ml_use`` label value; ValueError names the allowed values."""
        by_name = {"training": cls.TRAIN, "validation": cls.VALIDATION, "test": cls.TEST}
        if not isinstance(value, str) or value.strip().lower() not in by_name:
            raise ValueError(f"ml_use {value!r} must be one of {', '.join(by_name)}")
        return by_name[value.strip().lower()]

    @property
    def vertex_name(self) -> str | None:
        """The Vertex ``ml_use`` label value (None for UNASSIGNED, which Vertex leaves unlabelled)."""
        return {MLUse.TRAIN: "training", MLUse.VALIDATION: "validation", MLUse.TEST: "test"}.get(self)


# The ML_USE values of an AutoML top-level CSV (AutoML holds VALIDATION out of TRAIN itself).
AUTOML_CSV_ML_USES = (MLUse.TRAIN, MLUse.TEST, MLUse.UNASSIGNED)


class Split(enum.StrEnum):
    """The set a video is in after ``split``: TEST data never reaches training."""

    TRAIN = "TRAIN"
    VALIDATION = "VALIDATION"
    TEST = "TEST"


class DatasetError(AutoMLVideoError):
    """A dataset cannot be read, or an operation on it is refused; the message says why."""


class Annotation(Protocol):
    """What the data engine needs of any task's annotation (a labelled segment, a moment, a box)."""

    source_uri: str
    source_row: int

    @property
    def spec_name(self) -> str | None:
        """The annotation spec (label) it gives, None for a row that gives none (e.g. a negative)."""

    def key(self) -> tuple:
        """Its identity in a video: two annotations with one key are one (a duplicate row)."""


@dataclass
class AnnotationSpec:
    id: str
    display_name: str


@dataclass
class Video:
    """One video content (identified by its content hash), however many URIs refer to it."""

    video_id: str
    uri: str
    content_hash: str
    duration: float
    ml_use: MLUse
    annotations: list[Any] = field(default_factory=list)  # the task's Annotation type
    uris: list[str] = field(default_factory=list)
    split: Split | None = None

    def labels(self) -> set[str]:
        return {a.spec_name for a in self.annotations if a.spec_name is not None}


@dataclass
class RowFailure:
    """A CSV row that was not imported (AutoML ``partial_failures``)."""

    uri: str
    row: int
    message: str


@dataclass
class ImportRecord:
    import_id: str
    time: str
    sources: list[str]
    imported_rows: int
    failed_rows: int
    report_uri: str
    notes: list[str] = field(default_factory=list)


@dataclass
class SplitConfig:
    """How the split was made, so a later split of appended videos follows the same rule."""

    seed: int = 0
    training_fraction: float | None = None
    test_fraction: float | None = None
    # video_ids of UNASSIGNED videos deliberately left out of every set (fractions summing below 1), so
    # they stay out when the dataset is split again after an append.
    left_out: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    display_name: str = ""
    prediction_type: str = DEFAULT_PREDICTION_TYPE
    create_time: str = field(default_factory=rfc3339_now)
    update_time: str = field(default_factory=rfc3339_now)
    exhaustive: bool = False
    annotation_specs: list[AnnotationSpec] = field(default_factory=list)
    videos: list[Video] = field(default_factory=list)
    imports: list[ImportRecord] = field(default_factory=list)
    split_config: SplitConfig | None = None
    failed_row_count: int = 0
    partial_failures: list[RowFailure] = field(default_factory=list)

    # -- lookups -----------------------------------------------------------------------------------
    def spec_by_name(self) -> dict[str, AnnotationSpec]:
        return {s.display_name: s for s in self.annotation_specs}

    def label_names(self) -> list[str]:
        return [s.display_name for s in self.annotation_specs]

    def video_by_hash(self) -> dict[str, Video]:
        return {v.content_hash: v for v in self.videos}

    def videos_in(self, split: Split | str) -> list[Video]:
        try:
            split = Split(split)
        except ValueError:
            raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(Split)}") from None
        return [v for v in self.videos if v.split == split]

    def annotations_in(self, split: Split | str) -> list[tuple[Video, Any]]:
        return [(v, a) for v in self.videos_in(split) for a in v.annotations]

    def ensure_spec(self, display_name: str) -> AnnotationSpec:
        """The spec for a label, created with the next free numeric id when new."""
        existing = self.spec_by_name().get(display_name)
        if existing:
            return existing
        next_id = 1 + max((int(s.id) for s in self.annotation_specs), default=0)
        spec = AnnotationSpec(id=str(next_id), display_name=display_name)
        self.annotation_specs.append(spec)
        return spec

    # -- persistence -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["format_version"] = FORMAT_VERSION
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Dataset":
        doc = dict(doc)
        version = doc.pop("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise DatasetError(f"dataset format {version} is newer than this automl-video reads ({FORMAT_VERSION})")
        rules = get_task(doc.get("prediction_type", DEFAULT_PREDICTION_TYPE)).annotations
        annotations_key = "segments" if version == 1 else "annotations"
        doc["annotation_specs"] = [AnnotationSpec(**s) for s in doc.get("annotation_specs", [])]
        doc["videos"] = [
            Video(
                **{key: value for key, value in v.items() if key != annotations_key},
                annotations=[rules.from_json(a) for a in v.get(annotations_key, [])],
            )
            for v in doc.get("videos", [])
        ]
        for video in doc["videos"]:
            video.ml_use = MLUse(video.ml_use)
            video.split = None if video.split is None else Split(video.split)
        doc["imports"] = [ImportRecord(**r) for r in doc.get("imports", [])]
        doc["partial_failures"] = [RowFailure(**r) for r in doc.get("partial_failures", [])]
        if doc.get("split_config") is not None:
            doc["split_config"] = SplitConfig(**doc["split_config"])
        return cls(**doc)


def dataset_file(dataset_uri: str) -> str:
    return storage.join(dataset_uri, DATASET_FILE)


def exists(dataset_uri: str) -> bool:
    return storage.exists(dataset_file(dataset_uri))


def load(dataset_uri: str) -> Dataset:
    path = dataset_file(dataset_uri)
    if not storage.exists(path):
        raise DatasetError(
            f"{dataset_uri}: no dataset here (missing {DATASET_FILE}); run 'automl-video dataset import' first"
        )
    try:
        return Dataset.from_json(storage.read_json(path))
    except (ValueError, TypeError, KeyError) as e:
        raise DatasetError(f"{path}: not a valid automl-video dataset: {e}") from e


def load_or_new(dataset_uri: str, display_name: str = "", prediction_type: str = DEFAULT_PREDICTION_TYPE) -> Dataset:
    if exists(dataset_uri):
        return load(dataset_uri)
    return Dataset(
        display_name=display_name or dataset_uri.rstrip("/").rsplit("/", 1)[-1], prediction_type=prediction_type
    )


def save(dataset: Dataset, dataset_uri: str) -> None:
    """Commit the whole dataset in one atomic write."""
    dataset.update_time = rfc3339_now()
    storage.write_json(dataset_file(dataset_uri), dataset.to_json(), indent=None)


def count_annotations(videos: Iterable[Video]) -> int:
    return sum(len(v.annotations) for v in videos)
