"""Import AutoML Video classification CSVs into a dataset, all or nothing (AutoML v1beta1 ``ImportData``).

A source is a top-level CSV of ``ML_USE,CSV_URI`` rows; each listed CSV holds
``VIDEO_URI,LABEL,START,END`` rows. Every row is validated and every distinct video is hashed and
probed (in parallel, once per URI) before anything is written. If a CSV cannot be read or parsed, or
more than ``max_error_fraction`` of the rows fail, nothing is imported and an existing dataset stays
byte-identical. Otherwise the good rows are merged into the dataset and committed with one atomic
write, after the report of every failed row (``<dataset>/imports/<import_id>.jsonl``).

Rules beyond the CSV format, decided here and reported in the result's notes:

- The same content under several URIs is one video (content hash): its segments are merged.
- Conflicting ML_USE for one video resolves to TEST > TRAIN > UNASSIGNED, so test data never
  reaches training. A video whose ML_USE changes loses a split that no longer fits it.
- Exact duplicate rows (same content, label and times) are imported once; they are not failures.
- A relative CSV_URI or VIDEO_URI is resolved against the folder of the CSV that names it.
"""

import concurrent.futures
import csv
import io
import logging
import math
import os
import posixpath
import re
import uuid
from dataclasses import asdict, dataclass, field

from automl_video import dataset as ds
from automl_video import splits, storage, video
from automl_video.dataset import Dataset, DatasetError, RowFailure, Segment, Video
from automl_video.progress import Progress

log = logging.getLogger(__name__)

LABEL_PATTERN = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_VIDEO_SECONDS = 60 * 60
# Resolution order of conflicting ML_USE values: the highest wins.
ML_USE_PRIORITY = {"UNASSIGNED": 0, "TRAIN": 1, "TEST": 2}
INSPECT_WORKERS = 16
SECOND_LEVEL_HINT = " (this looks like a VIDEO_URI,LABEL,START,END file: pass the top-level CSV listing it)"
IMPORTS_FOLDER = "imports"


class ImportFailed(DatasetError):
    """The import was refused as a whole: nothing was imported.

    ``failures`` holds every failed row (possibly none, e.g. for an unreadable CSV) and
    ``report_uri`` the JSONL report of them when one was written.
    """

    def __init__(self, message: str, failures: list[RowFailure] | None = None, report_uri: str = ""):
        super().__init__(message)
        self.failures = failures or []
        self.report_uri = report_uri


@dataclass
class ImportResult:
    """What one import added (AutoML's ``ImportData`` operation metadata, plus counts)."""

    dataset_uri: str
    import_id: str
    imported_rows: int
    failed_rows: int
    videos_added: int
    segments_added: int
    partial_failures: list[RowFailure]
    report_uri: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _AnnotationRow:
    """A second-level row that parsed; times are checked against the video later."""

    csv_uri: str
    row: int
    ml_use: str
    video_uri: str
    label: str
    start: float
    end: float  # may be inf: the end of the video


@dataclass
class _VideoFacts:
    """What one video URI turned out to be: its content and duration, or why it cannot be used."""

    content_hash: str = ""
    duration: float = 0.0
    error: str = ""


@dataclass
class _AcceptedRow:
    row: _AnnotationRow
    content_hash: str
    duration: float
    segment: Segment


def import_data(
    sources: list[str],
    dataset_uri: str,
    exhaustive: bool = False,
    max_error_fraction: float = 0.1,
    display_name: str = "",
) -> ImportResult:
    """Import the videos and labelled segments listed by ``sources`` into the dataset at ``dataset_uri``.

    Args:
        sources: URIs of top-level CSVs (``ML_USE,CSV_URI`` rows).
        dataset_uri: folder of the dataset; created when absent, appended to when present.
        exhaustive: unlabelled frames are negatives for every label (AutoML ``is_exhaustively_labeled``);
            must match the dataset's setting when appending.
        max_error_fraction: the import fails when more than this fraction of all CSV rows fail.
        display_name: name of a new dataset (renames an existing one when given).

    Returns:
        The counts of what was added, the first failed rows and the URI of the full row report.

    Raises:
        ImportFailed: a CSV is missing or unparseable, or too many rows failed; nothing was imported.
        DatasetError: the dataset cannot be read or its ``exhaustive`` setting differs.
    """
    if not sources:
        raise ValueError("no --source given: pass at least one top-level import CSV")
    if not 0.0 <= max_error_fraction <= 1.0:
        raise ValueError(f"max error fraction {max_error_fraction} must be between 0 and 1")
    dataset = ds.load_or_new(dataset_uri, display_name)
    if dataset.videos and dataset.exhaustive != exhaustive:
        raise DatasetError(
            f"{dataset_uri}: the dataset was imported with exhaustive={str(dataset.exhaustive).lower()}; "
            f"import again {'with' if dataset.exhaustive else 'without'} --exhaustive, or into a new dataset"
        )
    dataset.exhaustive = exhaustive
    if display_name:
        dataset.display_name = display_name

    import_id = ds.utc_now().replace("-", "").replace(":", "").replace(".", "") + "-" + uuid.uuid4().hex[:6]
    report_uri = storage.join(dataset_uri, IMPORTS_FOLDER, f"{import_id}.jsonl")
    failures: list[RowFailure] = []
    rows, row_count = _read_sources(sources, failures)
    if row_count == 0:
        raise ImportFailed(f"{', '.join(sources)}: no rows to import")
    known_durations = {v.content_hash: v.duration for v in dataset.videos}
    facts = _inspect_videos(sorted({r.video_uri for r in rows}), known_durations)
    accepted = _check_against_videos(rows, facts, failures)
    accepted = _drop_negative_overlaps(dataset, accepted, failures)
    failures.sort(key=lambda f: (f.uri, f.row))

    if len(failures) > max_error_fraction * row_count:
        _write_report(report_uri, failures)
        first = failures[0]
        raise ImportFailed(
            f"{len(failures)} of {row_count} rows failed ({100 * len(failures) / row_count:.1f}%, more than "
            f"max error fraction {max_error_fraction:g}); nothing imported. First: {first.uri} row {first.row}: "
            f"{first.message}. All failures: {report_uri}",
            failures,
            report_uri,
        )

    videos_before, segments_before = len(dataset.videos), ds.count_segments(dataset.videos)
    notes = _merge(dataset, accepted)
    _write_report(report_uri, failures)  # before the commit, so a committed import always has its report
    dataset.imports.append(
        ds.ImportRecord(
            import_id=import_id,
            time=ds.utc_now(),
            sources=list(sources),
            imported_rows=len(accepted),
            failed_rows=len(failures),
            report_uri=report_uri,
            notes=notes,
        )
    )
    dataset.failed_row_count += len(failures)
    # Most recent import's failures first, capped as AutoML's partial_failures.
    dataset.partial_failures = (failures + dataset.partial_failures)[: ds.MAX_PARTIAL_FAILURES]
    ds.save(dataset, dataset_uri)
    result = ImportResult(
        dataset_uri=dataset_uri,
        import_id=import_id,
        imported_rows=len(accepted),
        failed_rows=len(failures),
        videos_added=len(dataset.videos) - videos_before,
        segments_added=ds.count_segments(dataset.videos) - segments_before,
        partial_failures=failures[: ds.MAX_PARTIAL_FAILURES],
        report_uri=report_uri,
        notes=notes,
    )
    log.info(
        "imported %d rows (%d failed): %d new videos, %d new segments into %s",
        result.imported_rows, result.failed_rows, result.videos_added, result.segments_added, dataset_uri,
    )
    for note in notes:
        log.info("note: %s", note)
    return result


def _write_report(report_uri: str, failures: list[RowFailure]) -> None:
    """Every failed row as JSON lines (``uri``, ``row``, ``message``), also for a refused import."""
    storage.write_jsonl(report_uri, [asdict(f) for f in failures])


# -- reading CSVs ----------------------------------------------------------------------------------


def resolve_uri(reference: str, csv_uri: str) -> str:
    """A URI named inside ``csv_uri``: absolute ones as they are, relative ones from the CSV's folder."""
    if "://" in reference or os.path.isabs(reference) or "/" not in csv_uri:
        return reference
    scheme, separator, path = csv_uri.rpartition("://")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), reference))
    return f"{scheme}{separator}{resolved}"


def _read_csv_rows(uri: str, listed_in: str = "") -> list[tuple[int, list[str]]]:
    """The non-blank records of a CSV as ``(1-based line number, stripped fields)``.

    Raises:
        ImportFailed: the CSV is missing, not UTF-8 text, or not parseable as CSV.
    """
    where = f" (listed in {listed_in})" if listed_in else ""
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        raise ImportFailed(f"{uri}: CSV not found{where}; nothing imported") from None
    except OSError as e:
        raise ImportFailed(f"{uri}: cannot read CSV{where}: {e}; nothing imported") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFailed(f"{uri}: not a UTF-8 text CSV{where} (byte {e.start}); nothing imported") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    try:
        for fields in reader:
            if any(f.strip() for f in fields):
                records.append((reader.line_num, [f.strip() for f in fields]))
    except csv.Error as e:
        message = f"{uri}: cannot parse CSV{where} at line {reader.line_num}: {e}; nothing imported"
        raise ImportFailed(message) from None
    return records


def _read_sources(sources: list[str], failures: list[RowFailure]) -> tuple[list[_AnnotationRow], int]:
    """Parse every top-level CSV and the CSVs they list (each read once, in parallel).

    Returns:
        The annotation rows that parsed, and the count of all rows read (top-level rows included).
    """
    listings: list[tuple[str, int, str, str]] = []  # (top-level CSV, row, ML_USE, CSV URI)
    row_count = 0
    for source in sources:
        for row, fields in _read_csv_rows(source):
            row_count += 1
            if len(fields) != 2:
                hint = SECOND_LEVEL_HINT if len(fields) == 4 else ""
                message = f"expected 2 columns ML_USE,CSV_URI, got {len(fields)}{hint}"
                failures.append(RowFailure(source, row, message))
            elif fields[0] not in ds.ML_USES:
                message = f"ML_USE {fields[0]!r} must be one of {', '.join(ds.ML_USES)}"
                failures.append(RowFailure(source, row, message))
            elif not fields[1]:
                failures.append(RowFailure(source, row, "empty CSV_URI"))
            else:
                listings.append((source, row, fields[0], resolve_uri(fields[1], source)))

    first_listing = {}
    for source, row, _, csv_uri in listings:
        first_listing.setdefault(csv_uri, f"{source} row {row}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=INSPECT_WORKERS) as pool:
        read = pool.map(lambda uri: _try(_read_csv_rows, uri, first_listing[uri]), first_listing)
        contents = dict(zip(first_listing, read))
    rows: list[_AnnotationRow] = []
    for _, _, ml_use, csv_uri in listings:
        records = contents[csv_uri]
        if isinstance(records, ImportFailed):
            raise records
        for row, fields in records:
            row_count += 1
            parsed = _parse_annotation(csv_uri, row, ml_use, fields)
            if isinstance(parsed, RowFailure):
                failures.append(parsed)
            else:
                rows.append(parsed)
    return rows, row_count


def _try(function, *args):
    """``function(*args)``, or the ImportFailed it raised (to re-raise in a deterministic order)."""
    try:
        return function(*args)
    except ImportFailed as e:
        return e


def _parse_annotation(csv_uri: str, row: int, ml_use: str, fields: list[str]) -> _AnnotationRow | RowFailure:
    def fail(message: str) -> RowFailure:
        return RowFailure(csv_uri, row, message)

    if len(fields) != 4:
        return fail(f"expected 4 columns VIDEO_URI,LABEL,START,END, got {len(fields)}")
    video_uri, label, start_text, end_text = fields
    if not video_uri:
        return fail("empty VIDEO_URI")
    if label != ds.NEGATIVE_LABEL and not LABEL_PATTERN.fullmatch(label):
        return fail(f"label {label!r} must be 1-32 characters of A-Z, a-z, 0-9 and _, or '-'")
    start = _parse_seconds(start_text)
    if start is None or math.isinf(start):
        return fail(f"START {start_text!r} is not a number of seconds")
    end = _parse_seconds(end_text)
    if end is None or end == -math.inf:
        return fail(f"END {end_text!r} is not a number of seconds or inf")
    if start < 0:
        return fail(f"START {start_text} is negative")
    if end <= start:
        return fail(f"START {start_text} must be before END {end_text}")
    return _AnnotationRow(csv_uri, row, ml_use, resolve_uri(video_uri, csv_uri), label, start, end)


def _parse_seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


# -- videos ----------------------------------------------------------------------------------------


def _inspect_videos(uris: list[str], known_durations: dict[str, float]) -> dict[str, _VideoFacts]:
    """Hash every URI and probe the duration of content not already in the dataset, in parallel."""

    def inspect(uri: str) -> _VideoFacts:
        try:
            content_hash = video.content_hash(uri)
            duration = known_durations.get(content_hash)
            if duration is None:
                duration = video.probe(uri).duration
        except video.VideoError as e:  # its message names the URI
            return _VideoFacts(error=str(e))
        except OSError as e:
            return _VideoFacts(error=f"{uri}: cannot read the video ({e})")
        if duration > MAX_VIDEO_SECONDS + video.DURATION_TOLERANCE_SECONDS:
            return _VideoFacts(error=f"video {uri} lasts {duration:.0f} s; videos may last at most 60 minutes")
        return _VideoFacts(content_hash=content_hash, duration=duration)

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
    rows: list[_AnnotationRow], facts: dict[str, _VideoFacts], failures: list[RowFailure]
) -> list[_AcceptedRow]:
    """Rows whose video decodes and whose times fit in it, with END resolved (``inf`` → duration)."""
    accepted = []
    for r in rows:
        fact = facts[r.video_uri]
        if fact.error:
            failures.append(RowFailure(r.csv_uri, r.row, fact.error))
            continue
        end = fact.duration if math.isinf(r.end) else r.end
        if end > fact.duration + video.DURATION_TOLERANCE_SECONDS:
            failures.append(RowFailure(
                r.csv_uri, r.row,
                f"END {ds.format_seconds(r.end)} is after the end of video {r.video_uri} ({fact.duration:.3f} s)",
            ))
            continue
        end = min(end, fact.duration)
        if r.start >= end:
            failures.append(RowFailure(
                r.csv_uri, r.row,
                f"START {ds.format_seconds(r.start)} is not before the end of video {r.video_uri} "
                f"({fact.duration:.3f} s)",
            ))
            continue
        segment = Segment(label=r.label, start=r.start, end=end, source_uri=r.csv_uri, source_row=r.row)
        accepted.append(_AcceptedRow(r, fact.content_hash, fact.duration, segment))
    return accepted


def _overlaps(a: Segment, b: Segment) -> bool:
    return max(a.start, b.start) < min(a.end, b.end)


def _drop_negative_overlaps(
    dataset: Dataset, accepted: list[_AcceptedRow], failures: list[RowFailure]
) -> list[_AcceptedRow]:
    """Refuse rows that would make a ``-`` segment overlap another label's segment in the same video.

    The new row is refused when the other segment is already in the dataset; between two new rows,
    the ``-`` row is refused.
    """
    existing = {v.content_hash: v.segments for v in dataset.videos}
    new_by_video: dict[str, list[_AcceptedRow]] = {}
    for a in accepted:
        new_by_video.setdefault(a.content_hash, []).append(a)
    refused: set[int] = set()
    for content_hash, new_rows in new_by_video.items():
        old = existing.get(content_hash, [])
        labelled = [s for s in old if not s.is_negative] + [b.segment for b in new_rows if not b.segment.is_negative]
        old_negatives = [s for s in old if s.is_negative]
        for a in new_rows:
            others = labelled if a.segment.is_negative else old_negatives
            clash = next((s for s in others if _overlaps(a.segment, s)), None)
            if clash is not None:
                refused.add(id(a))
                failures.append(RowFailure(a.row.csv_uri, a.row.row, _overlap_message(a.segment, clash)))
    return [a for a in accepted if id(a) not in refused]


def _overlap_message(segment: Segment, clash: Segment) -> str:
    def span(s: Segment) -> str:
        return f"{ds.format_seconds(s.start)}-{ds.format_seconds(s.end)} s"

    where = f" ({clash.source_uri} row {clash.source_row})" if clash.source_uri else ""
    return (
        f"'-' segments must not overlap another label's segment in the same video: "
        f"{segment.label!r} {span(segment)} overlaps {clash.label!r} {span(clash)}{where}"
    )


# -- merging ---------------------------------------------------------------------------------------


def _merge(dataset: Dataset, accepted: list[_AcceptedRow]) -> list[str]:
    """Add the accepted rows to ``dataset`` (in place) and return notes on what was merged or resolved."""
    videos = dataset.video_by_hash()
    known_segments = {h: {_segment_key(s) for s in v.segments} for h, v in videos.items()}
    ml_uses: dict[str, set[str]] = {}
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
            known_segments[a.content_hash] = set()
            dataset.videos.append(v)
        if a.row.video_uri not in v.uris:
            v.uris.append(a.row.video_uri)
        ml_uses.setdefault(a.content_hash, {v.ml_use}).add(a.row.ml_use)
        key = _segment_key(a.segment)
        if key in known_segments[a.content_hash]:
            duplicates += 1
            continue
        known_segments[a.content_hash].add(key)
        v.segments.append(a.segment)
        if not a.segment.is_negative:
            dataset.ensure_spec(a.segment.label)

    notes = []
    if duplicates:
        notes.append(f"{duplicates} duplicate rows (same video content, label and times) imported once")
    merged = [v for v in videos.values() if len(v.uris) > 1 and len(v.uris) > uris_before.get(v.content_hash, 0)]
    notes += _capped([
        f"video {v.video_id}: the same content under {len(v.uris)} URIs ({', '.join(v.uris)}); annotations merged"
        for v in merged
    ])
    notes += _capped(_resolve_ml_use(dataset, videos, ml_uses))
    return notes


def _segment_key(segment: Segment) -> tuple[str, float, float]:
    return segment.label, segment.start, segment.end


def _resolve_ml_use(dataset: Dataset, videos: dict[str, Video], ml_uses: dict[str, set[str]]) -> list[str]:
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
            f"using {chosen} (TEST > TRAIN > UNASSIGNED, so test data never reaches training)"
        )
        v.ml_use = chosen
        if v.split is not None and not splits.split_fits_ml_use(v.split, chosen):
            note += f"; its split {v.split} was unset: run 'automl-video dataset split' again"
            v.split = None
        notes.append(note)
    return notes


def _capped(notes: list[str]) -> list[str]:
    """At most MAX_PARTIAL_FAILURES notes of one kind, and how many more there were."""
    limit = ds.MAX_PARTIAL_FAILURES
    return notes if len(notes) <= limit else notes[:limit] + [f"... and {len(notes) - limit} more like these"]
