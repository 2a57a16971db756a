"""The dataset every stage reads: videos, their labelled time segments, ML_USE and split.

A dataset lives at a URL (a folder) as one ``dataset.json`` document. Committing an import or a split
is one atomic write of that document, so a failed or interrupted import leaves the previous dataset
byte-identical. Row reports of each import are written beside it under ``imports/``.

Classification is the only prediction type today; object tracking and action recognition datasets
will add their own annotation kinds beside ``segments`` and share videos, ML_USE, splits and imports.
"""

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from automl_video import storage
from automl_video.errors import AutoMLVideoError

DATASET_FILE = "dataset.json"
FORMAT_VERSION = 1

ML_USES = ("TRAIN", "TEST", "UNASSIGNED")
SPLITS = ("TRAIN", "VALIDATION", "TEST")
NEGATIVE_LABEL = "-"
MAX_PARTIAL_FAILURES = 20


class DatasetError(AutoMLVideoError):
    """A dataset cannot be read, or an operation on it is refused; the message says why."""


def utc_now() -> str:
    """RFC 3339 UTC timestamp with milliseconds, as AutoML writes them."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


@dataclass
class AnnotationSpec:
    id: str
    display_name: str


@dataclass
class Segment:
    """A labelled span ``[start, end)`` in seconds; ``label`` is a display name or ``-`` (negative)."""

    label: str
    start: float
    end: float
    source_uri: str = ""
    source_row: int = 0

    @property
    def is_negative(self) -> bool:
        return self.label == NEGATIVE_LABEL


@dataclass
class Video:
    """One video content (identified by its content hash), however many URIs refer to it."""

    video_id: str
    uri: str
    content_hash: str
    duration: float
    ml_use: str
    segments: list[Segment] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    split: str | None = None

    def labels(self) -> set[str]:
        return {s.label for s in self.segments if not s.is_negative}


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
    prediction_type: str = "classification"
    create_time: str = field(default_factory=utc_now)
    update_time: str = field(default_factory=utc_now)
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

    def videos_in(self, split: str) -> list[Video]:
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return [v for v in self.videos if v.split == split]

    def segments_in(self, split: str) -> list[tuple[Video, Segment]]:
        return [(v, s) for v in self.videos_in(split) for s in v.segments]

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
        doc["annotation_specs"] = [AnnotationSpec(**s) for s in doc.get("annotation_specs", [])]
        doc["videos"] = [
            Video(**{**v, "segments": [Segment(**s) for s in v.get("segments", [])]}) for v in doc.get("videos", [])
        ]
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
        raise DatasetError(f"{dataset_uri}: no dataset here (missing {DATASET_FILE}); run 'automl-video dataset import' first")
    try:
        return Dataset.from_json(storage.read_json(path))
    except (ValueError, TypeError, KeyError) as e:
        raise DatasetError(f"{path}: not a valid automl-video dataset: {e}") from e


def load_or_new(dataset_uri: str, display_name: str = "") -> Dataset:
    if exists(dataset_uri):
        return load(dataset_uri)
    return Dataset(display_name=display_name or dataset_uri.rstrip("/").rsplit("/", 1)[-1])


def save(dataset: Dataset, dataset_uri: str) -> None:
    """Commit the whole dataset in one atomic write."""
    dataset.update_time = utc_now()
    storage.write_json(dataset_file(dataset_uri), dataset.to_json(), indent=None)


def format_seconds(value: float) -> str:
    """Seconds as AutoML writes them in CSVs and proto Durations (``inf`` stays ``inf``)."""
    if math.isinf(value):
        return "inf"
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def count_segments(videos: Iterable[Video]) -> int:
    return sum(len(v.segments) for v in videos)
