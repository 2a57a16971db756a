"""Object tracking annotations: labelled boxes on frames of a video, with optional instance ids.

AutoML CSV rows are ``VIDEO_URI,LABEL,INSTANCE_ID,TIMESTAMP,BOUNDING_BOX`` (the INSTANCE_ID column may be
left empty, or left out: 11 columns) where BOUNDING_BOX is four normalized vertices
``x1,y1,x2,y2,x3,y3,x4,y4`` (replaced by their axis-aligned bounding rectangle) or two diagonal ones
``x_min,y_min,,,x_max,y_max,,``. Coordinates are in [0, 1] from the top-left corner (``.3`` is 0.3);
TIMESTAMP is seconds inside the video. ``VIDEO_URI,,,,,,,,,,,`` (every other field empty) names a
video that is not yet labelled. Vertex JSONL lines list ``temporalBoundingBoxAnnotations``
``[{displayName, xMin, xMax, yMin, yMax, timeOffset, instanceId}]`` (camelCase or snake_case;
``instanceId`` -1 or absent: none); a line without them names a video not yet labelled.

At import a TIMESTAMP snaps to the nearest frame (so 1.033 s and 1.0333 s of a 30 fps video are one
frame), and every frame named by a timestamp is exhaustively labelled: pixels outside its boxes are
negatives for every label. An instance id identifies one object of one label within the video, so it
may appear at most once per frame; a frame holds at most :data:`MAX_BOXES_PER_FRAME` boxes.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video.data.import_files import vertex_field
from automl_video.data.labels import check_label
from automl_video.tasks.base import AnnotationRules, ParsedRow
from automl_video.times import format_seconds, parse_duration

MAX_BOXES_PER_FRAME = 500
# A labelled frame is read as a clip of this span: shorter than any frame interval (1000 fps), long
# enough to be a span.
FRAME_SPAN = 1e-3
# The gap around a held-out VALIDATION stretch. A detector's clip is one frame, but frames less than a
# second apart show nearly the same scene, so TRAIN and VALIDATION frames stay a second apart.
HOLDOUT_GAP_SECONDS = 1.0
NO_INSTANCE = 0  # instance ids are positive; 0 stores "none given"
_CSV_COLUMNS = "VIDEO_URI,LABEL,INSTANCE_ID,TIMESTAMP,x1,y1,x2,y2,x3,y3,x4,y4"
_COORDINATE_NAMES = ("x1", "y1", "x2", "y2", "x3", "y3", "x4", "y4")
# Seconds to frames: a time this close to a frame's time is that frame whatever the rounding.
_FRAME_EPSILON = 1e-6


@dataclass
class Box:
    """A labelled axis-aligned box on the frame at ``time`` (seconds); coordinates normalized to [0, 1]
    from the top-left corner; ``instance_id`` 0 when the row gave none."""

    label: str
    time: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float
    instance_id: int = NO_INSTANCE
    source_uri: str = ""
    source_row: int = 0

    @property
    def spec_name(self) -> str:
        return self.label

    def key(self) -> tuple:
        return self.label, self.time, self.x_min, self.y_min, self.x_max, self.y_max, self.instance_id

    @property
    def corners(self) -> tuple[float, float, float, float]:
        return self.x_min, self.y_min, self.x_max, self.y_max


class BoxRules(AnnotationRules):
    csv_columns = _CSV_COLUMNS
    noun = "bounding boxes"
    uses_frame_rate = True

    def parse_csv_row(self, fields: list[str], source_uri: str, source_row: int) -> ParsedRow:
        if len(fields) == 11:  # no INSTANCE_ID column
            fields = fields[:2] + [""] + fields[2:]
        if len(fields) != 12:
            raise ValueError(f"expected 12 columns {self.csv_columns} (or 11 without INSTANCE_ID), got {len(fields)}")
        video_uri, label, instance_text, time_text, *coordinates = fields
        if not video_uri:
            raise ValueError("empty VIDEO_URI")
        if not any([label, instance_text, time_text, *coordinates]):
            return ParsedRow(video_uri, None)  # a video not yet labelled
        check_label(label)
        instance_id = _parse_instance_id(instance_text)
        time = _parse_time(time_text)
        x_min, y_min, x_max, y_max = _parse_box(coordinates)
        return ParsedRow(video_uri, Box(label, time, x_min, y_min, x_max, y_max, instance_id, source_uri, source_row))

    def parse_jsonl_item(self, item: dict[str, Any], source_uri: str, source_row: int) -> list[Box]:
        annotations = vertex_field(item, "temporalBoundingBoxAnnotations", [])
        if not isinstance(annotations, list):
            raise ValueError("'temporalBoundingBoxAnnotations' must be a list of boxes")
        boxes = []
        for index, annotation in enumerate(annotations):
            where = f"temporalBoundingBoxAnnotations[{index}]"
            try:
                boxes.append(_jsonl_box(annotation, source_uri, source_row))
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
        return boxes

    def fit_to_video(self, annotation: Box, video_uri: str, duration: float) -> Box:
        """The TIMESTAMP must be inside the video (its end by the containers' rounding)."""
        from automl_video.video import DURATION_TOLERANCE_SECONDS

        if annotation.time > duration + DURATION_TOLERANCE_SECONDS:
            raise ValueError(
                f"TIMESTAMP {format_seconds(annotation.time)} is after the end of video {video_uri} ({duration:.3f} s)"
            )
        return annotation

    def snap_to_frame(self, annotation: Box, frame_rate: float, duration: float) -> Box:
        """The time of the nearest frame of a constant rate (the last frame for a time at the very end)."""
        if frame_rate <= 0:
            return annotation
        last_frame = max(0, math.ceil(duration * frame_rate - _FRAME_EPSILON) - 1)
        frame = min(max(0, round(annotation.time * frame_rate)), last_frame)
        snapped = Box(**{**vars(annotation), "time": round(frame / frame_rate, 6)})
        return snapped

    def conflicts(self, existing: Sequence[Box], new: Sequence[Box]) -> dict[int, str]:
        """An instance id is one object of one label, at most once per frame; at most 500 boxes a frame.

        Rows already in the dataset win over new ones, and earlier new rows over later ones.
        """
        refused: dict[int, str] = {}
        label_of_instance = {b.instance_id: b for b in existing if b.instance_id != NO_INSTANCE}
        instance_frames = {(b.instance_id, b.time): b for b in existing if b.instance_id != NO_INSTANCE}
        boxes_per_frame = Counter(b.time for b in existing)
        known = {b.key() for b in existing}
        for index, box in enumerate(new):
            if box.key() in known:
                continue  # an exact duplicate: imported once, not a conflict
            if box.instance_id != NO_INSTANCE:
                first = label_of_instance.setdefault(box.instance_id, box)
                same_frame = instance_frames.setdefault((box.instance_id, box.time), box)
                if first.label != box.label:
                    refused[index] = (
                        f"INSTANCE_ID {box.instance_id} is label {first.label!r}{_where(first)}; an instance id "
                        f"names one object of one label within the video, not {box.label!r}"
                    )
                    continue
                if same_frame is not box:
                    refused[index] = (
                        f"INSTANCE_ID {box.instance_id} already has a box at {format_seconds(box.time)} s"
                        f"{_where(same_frame)}; an instance has one box per frame"
                    )
                    continue
            boxes_per_frame[box.time] += 1
            if boxes_per_frame[box.time] > MAX_BOXES_PER_FRAME:
                refused[index] = (
                    f"the frame at {format_seconds(box.time)} s already has {MAX_BOXES_PER_FRAME} boxes "
                    f"(at most {MAX_BOXES_PER_FRAME} per frame)"
                )
            known.add(box.key())
        return refused

    def time_span(self, annotation: Box) -> tuple[float, float]:
        return annotation.time, annotation.time + FRAME_SPAN

    def clip_seconds(self, annotations: Sequence[Box]) -> float:
        return HOLDOUT_GAP_SECONDS

    def from_json(self, doc: dict[str, Any]) -> Box:
        return Box(**doc)


def _where(box: Box) -> str:
    return f" ({box.source_uri} row {box.source_row})" if box.source_uri else ""


def _parse_instance_id(text: str) -> int:
    if not text:
        return NO_INSTANCE
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"INSTANCE_ID {text!r} is not a positive integer")
    return int(text)


def _parse_time(text: str) -> float:
    try:
        time = float(text)
    except ValueError:
        raise ValueError(f"TIMESTAMP {text!r} is not a number of seconds") from None
    if not math.isfinite(time) or time < 0:
        raise ValueError(f"TIMESTAMP {text!r} must be a finite number of seconds >= 0")
    return time


def _coordinate(name: str, text: str) -> float:
    """A normalized coordinate (``.3`` is 0.3); ValueError outside [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # also refuses nan
        raise ValueError(f"{name} {text!r} is outside [0, 1] (coordinates are normalized to the frame)")
    return value


def _parse_box(fields: list[str]) -> tuple[float, float, float, float]:
    """Four vertices → their bounding rectangle; two diagonal ones (fields 3, 4, 7, 8 empty) → that box."""
    present = [bool(f) for f in fields]
    if all(present):
        values = [_coordinate(n, f) for n, f in zip(_COORDINATE_NAMES, fields)]
        xs, ys = values[0::2], values[1::2]
        box = min(xs), min(ys), max(xs), max(ys)
    elif present == [True, True, False, False, True, True, False, False]:
        x_min, y_min = _coordinate("x_min", fields[0]), _coordinate("y_min", fields[1])
        x_max, y_max = _coordinate("x_max", fields[4]), _coordinate("y_max", fields[5])
        if x_min > x_max or y_min > y_max:
            raise ValueError(
                f"two-vertex BOUNDING_BOX ({fields[0]},{fields[1]}) ({fields[4]},{fields[5]}) must be the top-left "
                "then the bottom-right vertex (x_min,y_min,,,x_max,y_max,,)"
            )
        box = x_min, y_min, x_max, y_max
    else:
        raise ValueError(
            "BOUNDING_BOX must be four vertices x1,y1,x2,y2,x3,y3,x4,y4 or two diagonal ones x_min,y_min,,,x_max,y_max,,"
        )
    return _checked_area(*box)


def _checked_area(x_min: float, y_min: float, x_max: float, y_max: float) -> tuple[float, float, float, float]:
    if x_max <= x_min or y_max <= y_min:
        raise ValueError(f"BOUNDING_BOX {x_min:g},{y_min:g} to {x_max:g},{y_max:g} has no area")
    return x_min, y_min, x_max, y_max


def _jsonl_box(annotation: Any, source_uri: str, source_row: int) -> Box:
    if not isinstance(annotation, dict):
        raise ValueError("must be an object with displayName, xMin, xMax, yMin, yMax and timeOffset")
    label = vertex_field(annotation, "displayName")
    if not isinstance(label, str):
        raise ValueError("'displayName' is missing or not a string")
    check_label(label)
    coordinates = []
    for name in ("xMin", "yMin", "xMax", "yMax"):
        value = vertex_field(annotation, name)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"'{name}' is missing or not a number")
        coordinates.append(_coordinate(name, str(value)))
    offset = vertex_field(annotation, "timeOffset")
    if offset is None:
        raise ValueError("'timeOffset' is missing (the frame's time, e.g. '1.5s')")
    time = parse_duration(offset)
    if not math.isfinite(time) or time < 0:
        raise ValueError(f"'timeOffset' {offset!r} must be a finite time >= 0")
    instance = vertex_field(annotation, "instanceId", -1)
    if isinstance(instance, str) and instance.lstrip("-").isdigit():
        instance = int(instance)  # int64 is a string in proto3 JSON
    if isinstance(instance, bool) or not isinstance(instance, int) or (instance < 1 and instance != -1):
        raise ValueError(f"'instanceId' {instance!r} must be a positive integer, or -1 for none")
    return Box(label, time, *_checked_area(*coordinates), max(instance, NO_INSTANCE), source_uri, source_row)
