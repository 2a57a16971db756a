"""Classification annotations: labelled time segments of a video, and the ``-`` negative rule.

A CSV row is ``VIDEO_URI,LABEL,START,END`` (seconds; END may be ``inf``, the end of the video); a Vertex
JSONL line lists ``timeSegmentAnnotations``. ``LABEL`` ``-`` marks a span where no label applies (a negative for every label); it
must not overlap another label's segment in the same video.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video.data.labels import check_label
from automl_video.tasks.base import AnnotationRules, ParsedRow
from automl_video.times import format_seconds, parse_duration

NEGATIVE_LABEL = "-"
# A training clip lasts the dataset's median segment, at most this: a longer segment trains as several
# clips across its length (:func:`.examples.training_examples`). With the MOBILE 8-frame input a clip's
# frames are then at most 0.6 s apart, close enough to see motion.
MAX_CLIP_SECONDS = 5.0


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

    @property
    def spec_name(self) -> str | None:
        return None if self.is_negative else self.label

    def key(self) -> tuple[str, float, float]:
        return self.label, self.start, self.end


class SegmentRules(AnnotationRules):
    csv_columns = "VIDEO_URI,LABEL,START,END"
    noun = "segments"

    def parse_csv_row(self, fields: list[str], source_uri: str, source_row: int) -> ParsedRow:
        if len(fields) != 4:
            raise ValueError(f"expected 4 columns {self.csv_columns}, got {len(fields)}")
        video_uri, label, start_text, end_text = fields
        if not video_uri:
            raise ValueError("empty VIDEO_URI")
        _check_segment_label(label)
        start = _parse_seconds(start_text)
        if start is None or math.isinf(start):
            raise ValueError(f"START {start_text!r} is not a number of seconds")
        end = _parse_seconds(end_text)
        if end is None or end == -math.inf:
            raise ValueError(f"END {end_text!r} is not a number of seconds or inf")
        return ParsedRow(video_uri, _segment(label, start, end, start_text, end_text, source_uri, source_row))

    def parse_jsonl_item(self, item: dict[str, Any], source_uri: str, source_row: int) -> list[Segment]:
        """``timeSegmentAnnotations`` ``[{displayName, startTime, endTime}]`` (times ``"1.5s"``, numbers, or
        ``Infinity`` for the end; a missing start is 0, a missing end the video's end)."""
        annotations = _field(item, "timeSegmentAnnotations")
        if not isinstance(annotations, list) or not annotations:
            raise ValueError("'timeSegmentAnnotations' is missing or empty: list the labelled time segments")
        segments = []
        for number, annotation in enumerate(annotations, start=1):
            where = f"timeSegmentAnnotations[{number - 1}]"
            if not isinstance(annotation, dict):
                raise ValueError(f"{where} must be an object with displayName, startTime and endTime")
            label = _field(annotation, "displayName")
            if not isinstance(label, str):
                raise ValueError(f"{where}: 'displayName' is missing or not a string")
            _check_segment_label(label)
            start_value, end_value = _field(annotation, "startTime", "0s"), _field(annotation, "endTime", "Infinity")
            try:
                start, end = parse_duration(start_value), parse_duration(end_value)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            if math.isinf(start):
                raise ValueError(f"{where}: startTime {start_value!r} is not a finite time")
            segments.append(_segment(label, start, end, str(start_value), str(end_value), source_uri, source_row))
        return segments

    def fit_to_video(self, annotation: Segment, video_uri: str, duration: float) -> Segment:
        """``inf`` END becomes the duration; END may pass the duration by the containers' rounding."""
        from automl_video.video import DURATION_TOLERANCE_SECONDS

        end = duration if math.isinf(annotation.end) else annotation.end
        if end > duration + DURATION_TOLERANCE_SECONDS:
            raise ValueError(
                f"END {format_seconds(annotation.end)} is after the end of video {video_uri} ({duration:.3f} s)"
            )
        end = min(end, duration)
        if annotation.start >= end:
            raise ValueError(
                f"START {format_seconds(annotation.start)} is not before the end of video {video_uri} "
                f"({duration:.3f} s)"
            )
        return Segment(annotation.label, annotation.start, end, annotation.source_uri, annotation.source_row)

    def conflicts(self, existing: Sequence[Segment], new: Sequence[Segment]) -> dict[int, str]:
        """A ``-`` segment may not overlap another label's segment in the same video.

        The new row is refused when the other segment is already in the dataset; between two new rows,
        the ``-`` row is refused.
        """
        labelled = [s for s in existing if not s.is_negative] + [s for s in new if not s.is_negative]
        old_negatives = [s for s in existing if s.is_negative]
        refused = {}
        for index, segment in enumerate(new):
            others = labelled if segment.is_negative else old_negatives
            clash = next((s for s in others if _overlaps(segment, s)), None)
            if clash is not None:
                refused[index] = _overlap_message(segment, clash)
        return refused

    def time_span(self, annotation: Segment) -> tuple[float, float]:
        return annotation.start, annotation.end

    def clip_seconds(self, annotations: Sequence[Segment]) -> float:
        return training_clip_seconds(annotations)

    def from_json(self, doc: dict[str, Any]) -> Segment:
        return Segment(**doc)

    def to_csv_row(self, annotation: Segment) -> list[str]:
        """``LABEL,START,END`` with the seconds written losslessly (``repr``), so a re-import is identical."""
        return [
            annotation.label,
            *("inf" if math.isinf(t) else repr(float(t)) for t in (annotation.start, annotation.end)),
        ]


def training_clip_seconds(segments: Sequence[Segment]) -> float:
    """How long a training clip is: the median segment length, at most :data:`MAX_CLIP_SECONDS` (that,
    when no segment has a length)."""
    lengths = [s.end - s.start for s in segments if math.isfinite(s.end) and s.end > s.start]
    return min(MAX_CLIP_SECONDS, float(statistics.median(lengths))) if lengths else MAX_CLIP_SECONDS


def _check_segment_label(label: str) -> None:
    if label != NEGATIVE_LABEL:
        check_label(label, also="or '-'")


def _segment(
    label: str, start: float, end: float, start_text: str, end_text: str, source_uri: str, source_row: int
) -> Segment:
    """The segment of a parsed row; ValueError when its times are out of order (texts as written)."""
    if start < 0:
        raise ValueError(f"START {start_text} is negative")
    if end <= start:
        raise ValueError(f"START {start_text} must be before END {end_text}")
    return Segment(label, start, end, source_uri, source_row)


def _field(item: dict[str, Any], camel_case: str, default: Any = None) -> Any:
    """A Vertex JSON field by its camelCase name or its snake_case one."""
    snake_case = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel_case)
    return item.get(camel_case, item.get(snake_case, default))


def _parse_seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _overlaps(a: Segment, b: Segment) -> bool:
    return max(a.start, b.start) < min(a.end, b.end)


def _overlap_message(segment: Segment, clash: Segment) -> str:
    def span(s: Segment) -> str:
        return f"{format_seconds(s.start)}-{format_seconds(s.end)} s"

    where = f" ({clash.source_uri} row {clash.source_row})" if clash.source_uri else ""
    return (
        f"'-' segments must not overlap another label's segment in the same video: "
        f"{segment.label!r} {span(segment)} overlaps {clash.label!r} {span(clash)}{where}"
    )
