"""Import labelled videos into a dataset, all or nothing (AutoML v1beta1 ``ImportData``, Vertex ``ImportData``).

The sources are AutoML two-level CSVs, Vertex CSVs or Vertex JSONL files
(:mod:`automl_video.data.import_files`); what a row's annotation is comes from the dataset's task
(:class:`automl_video.tasks.base.AnnotationRules`). Every row is validated and every distinct video is
hashed and probed (in parallel, once per URI) before anything is written. If a file cannot be read or
parsed, or more than ``max_error_fraction`` of the rows fail, nothing is imported and an existing
dataset stays byte-identical. Otherwise the good rows are merged into the dataset and committed with
one atomic write, after the report of every failed row (``<dataset>/imports/<import_id>.jsonl``).

Rules beyond the file formats, decided here and reported in the result's notes:

- The same content under several URIs is one video (content hash): its annotations are merged.
- Conflicting ML_USE for one video resolves to TEST > VALIDATION > TRAIN > UNASSIGNED, so test data
  never reaches training. A video whose ML_USE changes loses a split that no longer fits it.
- Exact duplicate rows (same content and annotation) are imported once; they are not failures.
- A relative CSV_URI or VIDEO_URI is resolved against the folder of the file that names it.
"""

import concurrent.futures
import logging
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from automl_video import storage, video
from automl_video.data import dataset as ds
from automl_video.data import splits
from automl_video.data.dataset import Dataset, DatasetError, MLUse, RowFailure, Video
from automl_video.data.import_files import AnnotationRow, ImportFailed, read_import_files
from automl_video.progress import Progress
from automl_video.rpc import MAX_PARTIAL_FAILURES
from automl_video.storage import UriGuard, refused
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, get_task
from automl_video.tasks.base import AnnotationRules
from automl_video.times import rfc3339_now

log = logging.getLogger(__name__)

MAX_VIDEO_SECONDS = 60 * 60
# Resolution order of conflicting ML_USE values: the highest wins.
ML_USE_PRIORITY = {MLUse.UNASSIGNED: 0, MLUse.TRAIN: 1, MLUse.VALIDATION: 2, MLUse.TEST: 3}
INSPECT_WORKERS = 16
IMPORTS_FOLDER = "imports"


@dataclass
class ImportResult:
    """What one import added (AutoML's ``ImportData`` operation metadata, plus counts)."""

    dataset_uri: str
    prediction_type: str
    import_id: str
    imported_rows: int
    failed_rows: int
    videos_added: int
    annotations_added: int
    partial_failures: list[RowFailure]
    report_uri: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _VideoFacts:
    """What one video URI turned out to be: its content, duration and frame rate (0 when not probed),
    or why it cannot be used."""

    content_hash: str = ""
    duration: float = 0.0
    frame_rate: float = 0.0
    error: str = ""


@dataclass
class _AcceptedRow:
    row: AnnotationRow
    content_hash: str
    duration: float
    annotation: Any | None  # fitted to the video (e.g. an ``inf`` END resolved); None: the video alone


def import_data(
    sources: list[str],
    dataset_uri: str,
    exhaustive: bool = False,
    max_error_fraction: float = 0.1,
    display_name: str = "",
    prediction_type: str = DEFAULT_PREDICTION_TYPE,
    guard: UriGuard | None = None,
) -> ImportResult:
    """Import the videos and annotations listed by ``sources`` into the dataset at ``dataset_uri``.

    Args:
        sources: URIs of AutoML top-level CSVs (``ML_USE,CSV_URI`` rows), Vertex CSVs or Vertex JSONL files.
        dataset_uri: folder of the dataset; created when absent, appended to when present.
        exhaustive: unlabelled frames are negatives for every label (AutoML ``is_exhaustively_labeled``);
            must match the dataset's setting when appending.
        max_error_fraction: the import fails when more than this fraction of all CSV rows fail.
        display_name: name of a new dataset (renames an existing one when given).
        prediction_type: of a new dataset; an existing dataset keeps its own and refuses another.
        guard: raises PermissionError for a URI that may not be read (a server's allowed roots): a source
            it refuses refuses the import, a listed CSV or a video it refuses fails the rows naming it,
            and none of them is read.

    Returns:
        The counts of what was added, the first failed rows and the URI of the full row report.

    Raises:
        ImportFailed: a CSV is missing or unparseable, or too many rows failed; nothing was imported.
        DatasetError: the dataset cannot be read, or its ``exhaustive`` setting or prediction type differs.
    """
    if not sources:
        raise ValueError("no --source given: pass at least one top-level import CSV")
    if not 0.0 <= max_error_fraction <= 1.0:
        raise ValueError(f"max error fraction {max_error_fraction} must be between 0 and 1")
    dataset = _dataset_to_import_into(dataset_uri, exhaustive, display_name, prediction_type)
    rules = get_task(dataset.prediction_type).annotations
    import_id = rfc3339_now().replace("-", "").replace(":", "").replace(".", "") + "-" + uuid.uuid4().hex[:6]
    report_uri = storage.join(dataset_uri, IMPORTS_FOLDER, f"{import_id}.jsonl")
    for source in sources:
        if (refusal := refused(source, guard)) is not None:
            raise ImportFailed(f"{refusal}; nothing imported")
    failures: list[RowFailure] = []
    found = read_import_files(sources, rules, failures, guard)
    row_count = found.row_count
    if row_count == 0:
        raise ImportFailed(f"{', '.join(sources)}: no rows to import")
    # A task whose annotations name frames needs every video's frame rate: known videos are probed again.
    known_durations = {} if rules.uses_frame_rate else {v.content_hash: v.duration for v in dataset.videos}
    facts = _inspect_videos(sorted({r.video_uri for r in found.rows}), known_durations, guard)
    accepted = _check_against_videos(found.rows, facts, rules, failures)
    accepted = _drop_conflicts(dataset, accepted, rules, failures)
    failures.sort(key=lambda f: (f.uri, f.row))
    if len(failures) > max_error_fraction * row_count:
        _refuse(failures, row_count, max_error_fraction, report_uri)
    result = _commit(dataset, dataset_uri, accepted, failures, sources, import_id, report_uri, found.notes)
    log.info(
        "imported %d rows (%d failed): %d new videos, %d new %s into %s",
        result.imported_rows,
        result.failed_rows,
        result.videos_added,
        result.annotations_added,
        rules.noun,
        dataset_uri,
    )
    for note in result.notes:
        log.info("note: %s", note)
    return result


def _dataset_to_import_into(dataset_uri: str, exhaustive: bool, display_name: str, prediction_type: str) -> Dataset:
    """The dataset (new or existing) with the import's settings, refusing ones it cannot take."""
    get_task(prediction_type)  # ValueError for an unknown or unsupported prediction type
    dataset = ds.load_or_new(dataset_uri, display_name, prediction_type)
    if dataset.videos and dataset.prediction_type != prediction_type:
        raise DatasetError(
            f"{dataset_uri}: the dataset is a {dataset.prediction_type} dataset; import {prediction_type} rows "
            "into a new dataset"
        )
    if dataset.videos and dataset.exhaustive != exhaustive:
        raise DatasetError(
            f"{dataset_uri}: the dataset was imported with exhaustive={str(dataset.exhaustive).lower()}; "
            f"import again {'with' if dataset.exhaustive else 'without'} --exhaustive, or into a new dataset"
        )
    dataset.exhaustive = exhaustive
    dataset.prediction_type = prediction_type
    if display_name:
        dataset.display_name = display_name
    return dataset


def _refuse(failures: list[RowFailure], row_count: int, max_error_fraction: float, report_uri: str) -> None:
    """Write the report of a refused import and raise :class:`ImportFailed` naming the first failure."""
    _write_report(report_uri, failures)
    first = failures[0]
    raise ImportFailed(
        f"{len(failures)} of {row_count} rows failed ({100 * len(failures) / row_count:.1f}%, more than "
        f"max error fraction {max_error_fraction:g}); nothing imported. First: {first.uri} row {first.row}: "
        f"{first.message}. All failures: {report_uri}",
        failures,
        report_uri,
    )


def _commit(
    dataset: Dataset,
    dataset_uri: str,
    accepted: list[_AcceptedRow],
    failures: list[RowFailure],
    sources: list[str],
    import_id: str,
    report_uri: str,
    notes: list[str],
) -> ImportResult:
    """Merge the accepted rows, record the import and write the dataset (the report first)."""
    videos_before, annotations_before = len(dataset.videos), ds.count_annotations(dataset.videos)
    notes = notes + _merge(dataset, accepted)
    _write_report(report_uri, failures)  # before the commit, so a committed import always has its report
    dataset.imports.append(
        ds.ImportRecord(
            import_id=import_id,
            time=rfc3339_now(),
            sources=list(sources),
            imported_rows=len(accepted),
            failed_rows=len(failures),
            report_uri=report_uri,
            notes=notes,
        )
    )
    dataset.failed_row_count += len(failures)
    # Most recent import's failures first, capped as AutoML's partial_failures.
    dataset.partial_failures = (failures + dataset.partial_failures)[:MAX_PARTIAL_FAILURES]
    ds.save(dataset, dataset_uri)
    return ImportResult(
        dataset_uri=dataset_uri,
        prediction_type=dataset.prediction_type,
        import_id=import_id,
        imported_rows=len(accepted),
        failed_rows=len(failures),
        videos_added=len(dataset.videos) - videos_before,
        annotations_added=ds.count_annotations(dataset.videos) - annotations_before,
        partial_failures=failures[:MAX_PARTIAL_FAILURES],
        report_uri=report_uri,
        notes=notes,
    )


def _write_report(report_uri: str, failures: list[RowFailure]) -> None:
    """Every failed row as JSON lines (``uri``, ``row``, ``message``), also for a refused import."""
    storage.write_jsonl(report_uri, [asdict(f) for f in failures])


# -- videos ----------------------------------------------------------------------------------------


def _inspect_videos(
    uris: list[str], known_durations: dict[str, float], guard: UriGuard | None
) -> dict[str, _VideoFacts]:
    """Hash every URI ``guard`` allows and probe the duration of content not already in the dataset, in parallel."""

    def inspect(uri: str) -> _VideoFacts:
        if (refusal := refused(uri, guard)) is not None:
            return _VideoFacts(error=refusal)
        try:
            content_hash = video.content_hash(uri)
            duration, frame_rate = known_durations.get(content_hash), 0.0
            if duration is None:
                info = video.probe(uri)
                duration, frame_rate = info.duration, info.fps
        except video.VideoError as e:  # its message names the URI
            return _VideoFacts(error=str(e))
        except OSError as e:
            return _VideoFacts(error=f"{uri}: cannot read the video ({e})")
        if duration > MAX_VIDEO_SECONDS + video.DURATION_TOLERANCE_SECONDS:
            return _VideoFacts(error=f"video {uri} lasts {duration:.0f} s; videos may last at most 60 minutes")
        return _VideoFacts(content_hash=content_hash, duration=duration, frame_rate=frame_rate)

    progress = Progress("inspecting videos", len(uris), unit="videos")
    facts = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(INSPECT_WORKERS, max(1, len(uris)))) as pool:
        futures = {pool.submit(inspect, uri): uri for uri in uris}
        for future in concurrent.futures.as_completed(futures):
            facts[futures[future]] = future.result()
            progress.update()
    progress.finish()
    return facts


def _check_against_videos(
    rows: list[AnnotationRow], facts: dict[str, _VideoFacts], rules: AnnotationRules, failures: list[RowFailure]
) -> list[_AcceptedRow]:
    """Rows whose video decodes and whose annotation fits in it (e.g. ``inf`` END resolved, a time
    snapped to a frame); a row without annotation needs only its video."""
    accepted = []
    for r in rows:
        fact = facts[r.video_uri]
        if fact.error:
            failures.append(RowFailure(r.source_uri, r.row, fact.error))
            continue
        if r.annotation is None:
            accepted.append(_AcceptedRow(r, fact.content_hash, fact.duration, None))
            continue
        try:
            annotation = rules.fit_to_video(r.annotation, r.video_uri, fact.duration)
            if rules.uses_frame_rate:
                annotation = rules.snap_to_frame(annotation, fact.frame_rate, fact.duration)
        except ValueError as e:
            failures.append(RowFailure(r.source_uri, r.row, str(e)))
            continue
        accepted.append(_AcceptedRow(r, fact.content_hash, fact.duration, annotation))
    return accepted


def _drop_conflicts(
    dataset: Dataset, accepted: list[_AcceptedRow], rules: AnnotationRules, failures: list[RowFailure]
) -> list[_AcceptedRow]:
    """Refuse the rows the task's rules refuse beside the other annotations of their video."""
    existing = {v.content_hash: v.annotations for v in dataset.videos}
    new_by_video: dict[str, list[_AcceptedRow]] = {}
    for a in accepted:
        if a.annotation is not None:
            new_by_video.setdefault(a.content_hash, []).append(a)
    refused: set[int] = set()
    for content_hash, new_rows in new_by_video.items():
        reasons = rules.conflicts(existing.get(content_hash, []), [a.annotation for a in new_rows])
        for index, reason in reasons.items():
            refused.add(id(new_rows[index]))
            failures.append(RowFailure(new_rows[index].row.source_uri, new_rows[index].row.row, reason))
    return [a for a in accepted if id(a) not in refused]


# -- merging ---------------------------------------------------------------------------------------


def _merge(dataset: Dataset, accepted: list[_AcceptedRow]) -> list[str]:
    """Add the accepted rows to ``dataset`` (in place) and return notes on what was merged or resolved."""
    videos = dataset.video_by_hash()
    known = {h: {a.key() for a in v.annotations} for h, v in videos.items()}
    ml_uses: dict[str, set[MLUse]] = {}
    uris_before = {h: len(v.uris) for h, v in videos.items()}
    duplicates = 0
    for a in accepted:
        v = videos.get(a.content_hash)
        if v is None:
            v = Video(
                video_id=a.content_hash[:16],
                uri=a.row.video_uri,
                content_hash=a.content_hash,
                duration=a.duration,
                ml_use=a.row.ml_use,
            )
            videos[a.content_hash] = v
            known[a.content_hash] = set()
            dataset.videos.append(v)
        if a.row.video_uri not in v.uris:
            v.uris.append(a.row.video_uri)
        ml_uses.setdefault(a.content_hash, {v.ml_use}).add(a.row.ml_use)
        if a.annotation is None:
            continue  # the video alone (not yet labelled)
        key = a.annotation.key()
        if key in known[a.content_hash]:
            duplicates += 1
            continue
        known[a.content_hash].add(key)
        v.annotations.append(a.annotation)
        if a.annotation.spec_name is not None:
            dataset.ensure_spec(a.annotation.spec_name)

    notes = []
    if duplicates:
        notes.append(f"{duplicates} duplicate rows (same video content and annotation) imported once")
    merged = [v for v in videos.values() if len(v.uris) > 1 and len(v.uris) > uris_before.get(v.content_hash, 0)]
    notes += _capped(
        [
            f"video {v.video_id}: the same content under {len(v.uris)} URIs ({', '.join(v.uris)}); annotations merged"
            for v in merged
        ]
    )
    notes += _capped(_resolve_ml_use(videos, ml_uses))
    return notes


def _resolve_ml_use(videos: dict[str, Video], ml_uses: dict[str, set[MLUse]]) -> list[str]:
    """Give each video with conflicting ML_USE the highest-priority one; unset a split it no longer fits."""
    notes = []
    for content_hash, given in ml_uses.items():
        if len(given) < 2:
            continue
        v = videos[content_hash]
        chosen = max(given, key=ML_USE_PRIORITY.__getitem__)
        note = (
            f"video {v.video_id} ({v.uri}): conflicting ML_USE "
            f"{', '.join(sorted(given, key=ML_USE_PRIORITY.__getitem__))}; "
            f"using {chosen} (TEST > VALIDATION > TRAIN > UNASSIGNED, so test data never reaches training)"
        )
        v.ml_use = chosen
        if v.split is not None and not splits.split_fits_ml_use(v.split, chosen):
            note += f"; its split {v.split} was unset: run 'automl-video dataset split' again"
            v.unsplit()
        notes.append(note)
    return notes


def _capped(notes: list[str]) -> list[str]:
    """At most MAX_PARTIAL_FAILURES notes of one kind, and how many more there were."""
    limit = MAX_PARTIAL_FAILURES
    return notes if len(notes) <= limit else notes[:limit] + [f"... and {len(notes) - limit} more like these"]
