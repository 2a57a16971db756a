"""A synthetic motion-classification dataset (videos and their AutoML import CSVs), so tests and the demo
never download media.

Every class is the same kind of object doing a different *motion* (left→right vs right→left, clockwise
vs counter-clockwise, growing vs shrinking, ...; see :data:`automl_video.synth.MOTIONS`). Each motion
has a twin that is its time reversal, and appearance (shape, colour, size, background, start phase,
speed) is drawn per video independently of the class, so one frame cannot tell the classes apart: a
model has to use time.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from automl_video import storage
from automl_video.data.dataset import AUTOML_CSV_ML_USES, MLUse
from automl_video.progress import Progress
from automl_video.synth import MOTIONS, STILL, Canvas, MotionSpan, absolute_url, format_time, render_motion_spans
from automl_video.tasks.classification.annotations import NEGATIVE_LABEL


@dataclass
class SynthResult:
    """Where :func:`generate` wrote the dataset."""

    import_csv: str
    class_names: list[str]
    videos: list[str]
    csvs: dict[str, str] = field(default_factory=dict)


# Which layout a class's j-th video gets (cycled): most are one motion from start to end.
_LAYOUTS = ("single", "single", "single", "two_motions", "with_negative")
# Which ML_USE a class's j-th video gets (cycled over 10): one TEST and one TRAIN row in ten, at least
# one of each per class once a class has 4 videos.
_ML_USE_BY_INDEX = {1: MLUse.TEST, 3: MLUse.TRAIN}


def generate(
    output: str,
    classes: int = 4,
    videos_per_class: int = 20,
    seconds: float = 3.0,
    seed: int = 0,
    width: int = 128,
    height: int = 128,
    fps: int = 15,
) -> SynthResult:
    """Write a synthetic motion-classification dataset: videos plus two-level AutoML import CSVs.

    Layout under ``output``: ``videos/v0000.mp4 ...``, ``import.csv`` (rows ``ML_USE,CSV_URI``) and
    ``train.csv`` / ``test.csv`` / ``unassigned.csv`` (rows ``VIDEO_URI,LABEL,START,END``). Per class,
    most videos are one motion throughout (``END`` = ``inf``); some switch to another class half-way
    (two labelled segments) and some end with a ``-`` span of a jittering, non-moving object.
    One video in ten per class is ``TEST`` and one ``TRAIN``; the rest ``UNASSIGNED``.

    Args:
        output: folder URL (local or fsspec, e.g. ``gs://bucket/synth``).
        classes: number of motion classes, 2 to ``len(MOTIONS)``.
        videos_per_class: videos whose main motion is each class.
        seconds: length of every video.
        seed: same seed, same bytes.
        width, height: frame size in pixels (even numbers).
        fps: frame rate.

    Returns:
        A :class:`SynthResult` with the URLs written.
    """
    if not 2 <= classes <= len(MOTIONS):
        raise ValueError(f"classes must be between 2 and {len(MOTIONS)}, got {classes}")
    if videos_per_class < 1:
        raise ValueError(f"videos_per_class must be at least 1, got {videos_per_class}")
    num_frames = round(seconds * fps)
    if num_frames < 4:
        raise ValueError(f"seconds={seconds} at fps={fps} gives fewer than 4 frames")
    output = absolute_url(output)
    class_names = list(MOTIONS[:classes])
    canvas = Canvas(width, height)
    rows: dict[str, list[str]] = {use: [] for use in AUTOML_CSV_ML_USES}
    videos: list[str] = []
    progress = Progress("synth videos", classes * videos_per_class, unit="videos")
    for class_index, label in enumerate(class_names):
        for j in range(videos_per_class):
            video_index = class_index * videos_per_class + j
            rng = np.random.default_rng([seed, video_index])
            uri = storage.join(output, "videos", f"v{video_index:04d}.mp4")
            layout = _LAYOUTS[j % len(_LAYOUTS)]
            spans, labels = _layout_spans(layout, label, class_names, rng, num_frames)
            render_motion_spans(uri, spans, rng, canvas, fps)
            use = _ML_USE_BY_INDEX.get(j % 10, MLUse.UNASSIGNED)
            for span_label, span in zip(labels, spans):
                end = math.inf if span.end_frame == num_frames else span.end_frame / fps
                rows[use].append(f"{uri},{span_label},{format_time(span.start_frame / fps)},{format_time(end)}")
            videos.append(uri)
            progress.update()
    progress.finish()
    csvs = {}
    for use in AUTOML_CSV_ML_USES:
        csv_uri = storage.join(output, f"{use.lower()}.csv")
        storage.write_text(csv_uri, "".join(row + "\n" for row in rows[use]))
        csvs[use] = csv_uri
    import_csv = storage.join(output, "import.csv")
    storage.write_text(import_csv, "".join(f"{use},{csvs[use]}\n" for use in AUTOML_CSV_ML_USES))
    return SynthResult(import_csv=import_csv, class_names=class_names, videos=videos, csvs=csvs)


def _layout_spans(
    layout: str, label: str, class_names: list[str], rng: np.random.Generator, num_frames: int
) -> tuple[list[MotionSpan], list[str]]:
    """The motion spans of one video and the CSV label of each."""
    if layout == "single":
        return [MotionSpan(label, 0, num_frames)], [label]
    cut = int(rng.integers(num_frames * 2 // 5, num_frames * 3 // 5 + 1))
    if layout == "two_motions":
        other = str(rng.choice([c for c in class_names if c != label]))
        return [MotionSpan(label, 0, cut), MotionSpan(other, cut, num_frames)], [label, other]
    if layout == "with_negative":
        return [MotionSpan(label, 0, cut), MotionSpan(STILL, cut, num_frames)], [label, NEGATIVE_LABEL]
    raise ValueError(f"unknown layout {layout!r}")
