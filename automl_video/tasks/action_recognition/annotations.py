"""Action recognition annotations (Vertex): actions at moments or over segments, and fully annotated stretches.

A CSV row is ``VIDEO_URI,LABEL,START,END`` (seconds): ``START == END`` is a *moment*, the key frame of an
action; ``START < END`` an action over a segment; an empty ``LABEL`` (``VIDEO_URI,,START,END``) marks a
*fully annotated stretch*: every action in it is labelled, so any other time in it is background. A
Vertex JSONL line lists the stretches under ``timeSegments [{startTime, endTime}]`` and the actions under
``timeSegmentAnnotations [{displayName, startTime, endTime}]`` (times ``"1.5s"`` strings or numbers).

A video that names no stretch is fully annotated as a whole: Vertex's labelling tool asks for every
action of a video, and a dataset that marks no stretch at all would otherwise have no background to
learn from. A video that names stretches is fully annotated only there.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video.data.labels import check_label
from automl_video.tasks.base import AnnotationRules, ParsedRow
from automl_video.times import format_seconds, parse_duration, parse_seconds

STRETCH_LABEL = ""  # the LABEL of a fully annotated stretch
# A clip covers this much time around its centre: a short action (a jump, a spin) fits in it whole.
CLIP_SECONDS = 1.0


@dataclass
class ActionAnnotation:
    """An action ``label`` at ``start == end`` (a moment) or over ``[start, end]``, or (``label`` empty) a
    fully annotated stretch ``[start, end)``. Times in seconds; ``end`` is ``inf`` only before import
    fits it to its video."""

    label: str
    start: float
    end: float
    source_uri: str = ""
    source_row: int = 0

    @property
    def is_stretch(self) -> bool:
        return self.label == STRETCH_LABEL

    @property
    def time(self) -> float:
        """When the action happens: the moment, or the middle of its segment (how it is evaluated)."""
        return (self.start + self.end) / 2

    @property
    def spec_name(self) -> str | None:
        return None if self.is_stretch else self.label

    def key(self) -> tuple[str, float, float]:
        return self.label, self.start, self.end


class ActionRules(AnnotationRules):
    csv_columns = "VIDEO_URI,LABEL,START,END"
    noun = "annotations"  # actions and fully annotated stretches

    def parse_csv_row(self, fields: list[str], source_uri: str, source_row: int) -> ParsedRow:
        if len(fields) != 4:
            raise ValueError(
                f"expected 4 columns {self.csv_columns} (START == END for a moment, no LABEL for a fully "
                f"annotated stretch), got {len(fields)}"
            )
        video_uri, label, start_text, end_text = fields
        if not video_uri:
            raise ValueError("empty VIDEO_URI")
        start, end = _csv_time("START", start_text), _csv_time("END", end_text)
        return ParsedRow(video_uri, _annotation(label, start, end, start_text, end_text, source_uri, source_row))

    def parse_jsonl_item(self, item: dict[str, Any], source_uri: str, source_row: int) -> list[ActionAnnotation]:
        """``timeSegments`` (fully annotated stretches; a missing start is 0, a missing end the video's end)
        and ``timeSegmentAnnotations`` (actions; a missing ``endTime`` is the ``startTime``: a moment)."""
        stretches, actions = _field(item, "timeSegments", []), _field(item, "timeSegmentAnnotations", [])
        for name, value in (("timeSegments", stretches), ("timeSegmentAnnotations", actions)):
            if not isinstance(value, list):
                raise ValueError(f"'{name}' must be a list of objects")
        if not stretches and not actions:
            raise ValueError(
                "the line lists no annotation: give 'timeSegmentAnnotations' (actions) and/or 'timeSegments' "
                "(fully annotated stretches)"
            )
        annotations = []
        for index, stretch in enumerate(stretches):
            where = f"timeSegments[{index}]"
            start_value = _member(stretch, where, "startTime", "0s")
            end_value = _member(stretch, where, "endTime", "Infinity")
            annotations.append(_jsonl_annotation(where, STRETCH_LABEL, start_value, end_value, source_uri, source_row))
        for index, action in enumerate(actions):
            where = f"timeSegmentAnnotations[{index}]"
            label = _member(action, where, "displayName", None)
            if not isinstance(label, str) or not label:
                raise ValueError(f"{where}: 'displayName' is missing or not a string")
            start_value = _member(action, where, "startTime", None)
            if start_value is None:
                raise ValueError(f"{where}: 'startTime' is missing (the action's moment, or its segment's start)")
            end_value = _member(action, where, "endTime", start_value)
            annotations.append(_jsonl_annotation(where, label, start_value, end_value, source_uri, source_row))
        return annotations

    def fit_to_video(self, annotation: ActionAnnotation, video_uri: str, duration: float) -> ActionAnnotation:
        """``inf`` END becomes the duration; times may pass the duration by the containers' rounding."""
        from automl_video.video import DURATION_TOLERANCE_SECONDS

        end = duration if math.isinf(annotation.end) else annotation.end
        if end > duration + DURATION_TOLERANCE_SECONDS:
            what = "the moment" if annotation.start == annotation.end else f"END {format_seconds(annotation.end)}"
            raise ValueError(f"{what} is after the end of video {video_uri} ({duration:.3f} s)")
        end = min(end, duration)
        start = min(annotation.start, end)
        if start >= end and (annotation.is_stretch or annotation.start != annotation.end):
            raise ValueError(
                f"START {format_seconds(annotation.start)} is not before the end of video {video_uri} "
                f"({duration:.3f} s)"
            )
        return ActionAnnotation(annotation.label, start, end, annotation.source_uri, annotation.source_row)

    def time_span(self, annotation: ActionAnnotation) -> tuple[float, float]:
        """The action and the half clip on each side of it: the clip centred on a moment covers that."""
        if annotation.is_stretch:
            return annotation.start, annotation.end
        return max(0.0, annotation.start - CLIP_SECONDS / 2), annotation.end + CLIP_SECONDS / 2

    def clip_seconds(self, annotations: Sequence[ActionAnnotation]) -> float:
        return CLIP_SECONDS

    def from_json(self, doc: dict[str, Any]) -> ActionAnnotation:
        return ActionAnnotation(**doc)


def _csv_time(name: str, text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def _jsonl_annotation(
    where: str, label: str, start_value: Any, end_value: Any, source_uri: str, source_row: int
) -> ActionAnnotation:
    try:
        start, end = parse_duration(start_value), parse_duration(end_value)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    try:
        return _annotation(label, start, end, str(start_value), str(end_value), source_uri, source_row)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _annotation(
    label: str, start: float, end: float, start_text: str, end_text: str, source_uri: str, source_row: int
) -> ActionAnnotation:
    """The annotation of a parsed row; ValueError when its label or times do not make one (texts as written)."""
    if label != STRETCH_LABEL:
        check_label(label, also="or empty for a fully annotated stretch")
    if math.isinf(start):
        raise ValueError(f"START {start_text} is not a finite time")
    if start < 0:
        raise ValueError(f"START {start_text} is negative")
    if end < start:
        raise ValueError(f"END {end_text} is before START {start_text}")
    if label == STRETCH_LABEL and end == start:
        raise ValueError(f"a fully annotated stretch (no LABEL) needs START {start_text} before END {end_text}")
    return ActionAnnotation(label, start, end, source_uri, source_row)


def _member(item: Any, where: str, camel_case: str, default: Any) -> Any:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object")
    return _field(item, camel_case, default)


def _field(item: dict[str, Any], camel_case: str, default: Any = None) -> Any:
    """A Vertex JSON field by its camelCase name or its snake_case one."""
    snake_case = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel_case)
    return item.get(camel_case, item.get(snake_case, default))
