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
import math
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
# 3: ``videos[].validation_stretch``. Only a dataset holding such a stretch is written as format 3, so
# an older automl-video keeps reading every other dataset and refuses these with a clear message.
STRETCH_FORMAT_VERSION = 3


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
class ValidationStretch:
    """A time stretch ``[start, end)`` of a TRAIN video whose examples are VALIDATION's.

    The split holds one out when the video-level split would leave a label without TRAIN or without
    VALIDATION videos (``labels``: those it is held out for). TRAIN uses only the video's time more than
    ``gap_seconds`` (at least one training clip) before or after it, so no frame is in both sets and the
    nearest TRAIN and VALIDATION clips are a clip apart.
    """

    start: float
    end: float
    gap_seconds: float
    labels: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.end - self.start


# A whole video, whatever its decoded duration: examples of a video without a stretch are never cut.
WHOLE_VIDEO = ((0.0, math.inf),)


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
    validation_stretch: ValidationStretch | None = None  # only in a TRAIN video

    def labels(self) -> set[str]:
        return {a.spec_name for a in self.annotations if a.spec_name is not None}

    def unsplit(self) -> None:
        """Take the video out of every set (and drop its held-out stretch) until the next split."""
        self.split = None
        self.validation_stretch = None

    def windows_in(self, split: Split) -> tuple[tuple[float, float], ...]:
        """The time stretches ``[start, end)`` of this video that belong to ``split`` (none: not in it)."""
        stretch = self.validation_stretch
        if stretch is None or self.split != Split.TRAIN:
            return WHOLE_VIDEO if self.split == split else ()
        if split == Split.VALIDATION:
            return ((stretch.start, stretch.end),)
        if split == Split.TRAIN:
            around = ((0.0, stretch.start - stretch.gap_seconds), (stretch.end + stretch.gap_seconds, math.inf))
            return tuple((start, end) for start, end in around if end > start)
        return ()


@dataclass(frozen=True)
class VideoPart:
    """The time of one video in a split: the whole video, or (a TRAIN video holding a VALIDATION stretch
    out) the stretch or the time around it. Every task's example builder keeps to these windows."""

    video: Video
    windows: tuple[tuple[float, float], ...]

    def pieces(self, start: float, end: float) -> list[tuple[float, float]]:
        """The parts of ``[start, end)`` inside the windows (the span itself in a whole video)."""
        cut = [(max(start, low), min(end, high)) for low, high in self.windows]
        return [(low, high) for low, high in cut if high > low]

    def contains(self, start: float, end: float) -> bool:
        """Whether ``[start, end)`` lies inside one window."""
        return any(low <= start and end <= high for low, high in self.windows)

    def overlaps(self, start: float, end: float) -> bool:
        """Whether ``[start, end]`` (a moment when ``start == end``) meets a window."""
        return any(start < high and (end > low or start >= low) for low, high in self.windows)


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
        split = _split_named(split)
        return [v for v in self.videos if v.split == split]

    def parts_in(self, split: Split | str) -> list[VideoPart]:
        """The videos with time in ``split``, each with that time (a TRAIN video holding a VALIDATION
        stretch out is in both), in dataset order."""
        split = _split_named(split)
        return [VideoPart(v, windows) for v in self.videos if (windows := v.windows_in(split))]

    def annotations_in(self, split: Split | str) -> list[tuple[Video, Any]]:
        """The annotations whose time meets ``split``'s part of their video."""
        rules = get_task(self.prediction_type).annotations
        return [
            (part.video, a)
            for part in self.parts_in(split)
            for a in part.video.annotations
            if part.overlaps(*rules.time_span(a))
        ]

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
        for video in doc["videos"]:
            if video["validation_stretch"] is None:
                del video["validation_stretch"]
        stretched = any(v.validation_stretch is not None for v in self.videos)
        doc["format_version"] = STRETCH_FORMAT_VERSION if stretched else FORMAT_VERSION
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Dataset":
        doc = dict(doc)
        version = doc.pop("format_version", FORMAT_VERSION)
        if version > STRETCH_FORMAT_VERSION:
            raise DatasetError(
                f"dataset format {version} is newer than this automl-video reads ({STRETCH_FORMAT_VERSION})"
            )
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
            if video.validation_stretch is not None:
                video.validation_stretch = ValidationStretch(**video.validation_stretch)
        doc["imports"] = [ImportRecord(**r) for r in doc.get("imports", [])]
        doc["partial_failures"] = [RowFailure(**r) for r in doc.get("partial_failures", [])]
        if doc.get("split_config") is not None:
            doc["split_config"] = SplitConfig(**doc["split_config"])
        return cls(**doc)


def _split_named(split: Split | str) -> Split:
    try:
        return Split(split)
    except ValueError:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(Split)}") from None


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
