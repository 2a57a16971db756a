"""A synthetic action recognition dataset: a shape that performs short actions at known times among
distractor motion, with Vertex JSONL and AutoML-style two-level CSV imports.

In every video one shape drifts slowly across the frame while a second shape of another colour drifts
too (distractor motion). At a few known moments the first shape performs a short action
(:data:`ACTION_SECONDS`) from :data:`ACTIONS`: the first ``classes`` actions are the labelled classes,
the others distractor actions nobody labels (a dash is a jump sideways; a model must tell them
apart). Appearance, speeds and directions are drawn per video independently of the actions, and an
action starts and ends where the drift puts the shape, so no single frame shows which action happens:
a model must see the motion. Every video is fully annotated (one stretch over the whole video); each
labelled action is a moment at the middle of the action.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from automl_video import storage
from automl_video.data.dataset import AUTOML_CSV_ML_USES, MLUse
from automl_video.progress import Progress
from automl_video.synth import Canvas, absolute_url, format_time, make_video, random_appearance
from automl_video.times import format_duration

ACTIONS = ("jump", "spin", "dash", "pulse", "shake")
ACTION_SECONDS = 0.6
# Action centres are at least this far apart, and this far from either end of the video.
MIN_GAP_SECONDS = 1.3
EDGE_SECONDS = 0.5
# The actor is drawn this much larger than classification's shapes: its actions are short, so they must
# show at the 64×64 the network sees.
ACTOR_SCALE = 1.4
# Of the actions after a video's own one, the share drawn from the distractors (when there are any).
DISTRACTOR_SHARE = 0.5
# Which ML_USE a class's j-th video gets (cycled over 10), as classification's synthetic data does.
_ML_USE_BY_INDEX = {1: MLUse.TEST, 3: MLUse.TRAIN}


@dataclass
class SynthResult:
    """Where :func:`generate` wrote the dataset."""

    import_jsonl: str
    import_csv: str
    class_names: list[str]
    distractor_actions: list[str]
    videos: list[str]
    csvs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionEvent:
    """One action the shape performs, centred at ``time``; ``labelled`` when it is a class."""

    action: str
    time: float
    labelled: bool


def action_offset(action: str, progress: float, size: float, direction: float) -> tuple[float, float, float]:
    """Where the shape is pushed (dx, dy in pixels; radius scale) ``progress`` (0..1) through an action.

    Every action starts and ends at rest (offset 0, scale 1). ``size`` is the frame's short side;
    ``direction`` ±1 flips the actions that have a side (dash, spin).
    """
    bump = math.sin(math.pi * progress)  # 0 → 1 → 0
    if action == "jump":  # straight up and back down
        return 0.0, -0.3 * size * bump, 1.0
    if action == "dash":  # sideways and back
        return direction * 0.3 * size * bump, 0.0, 1.0
    if action == "spin":  # one small loop
        angle = 2 * math.pi * progress
        radius = 0.14 * size
        return direction * radius * math.sin(angle), -radius * (1 - math.cos(angle)), 1.0
    if action == "pulse":  # grows and shrinks back
        return 0.0, 0.0, 1.0 + 0.9 * bump
    if action == "shake":  # two quick wiggles sideways
        return 0.07 * size * math.sin(4 * math.pi * progress), 0.0, 1.0
    raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")


def generate(
    output: str,
    classes: int = 2,
    videos_per_class: int = 20,
    seconds: float = 4.0,
    seed: int = 0,
    width: int = 128,
    height: int = 128,
    fps: int = 15,
) -> SynthResult:
    """Write videos plus ``import.jsonl`` (Vertex, ml_use labels) and ``import.csv`` (two-level CSVs).

    Layout under ``output``: ``videos/v0000.mp4 ...``, ``import.jsonl``, ``import.csv`` (rows
    ``ML_USE,CSV_URI``) and ``train.csv`` / ``test.csv`` / ``unassigned.csv`` (rows
    ``VIDEO_URI,LABEL,T,T`` for each moment and ``VIDEO_URI,,0,inf``, the fully annotated stretch).
    Each class leads ``videos_per_class`` videos (its action comes once, among one or two more actions
    of any class or distractor); one video in ten per class is ``TEST`` and one ``TRAIN``.

    Args:
        output: folder URL (local or fsspec).
        classes: labelled actions, 1 to ``len(ACTIONS)``; the remaining actions are distractors.
        videos_per_class: videos led by each class.
        seconds: length of every video (at least 2 s: one action with its margins).
        seed: same seed, same bytes.
        width, height: frame size in pixels (even numbers).
        fps: frame rate.

    Returns:
        A :class:`SynthResult` with the URLs written.
    """
    if not 1 <= classes <= len(ACTIONS):
        raise ValueError(
            f"classes must be between 1 and {len(ACTIONS)} (the actions {', '.join(ACTIONS)}), got {classes}"
        )
    if videos_per_class < 1:
        raise ValueError(f"videos_per_class must be at least 1, got {videos_per_class}")
    if seconds < 2 * EDGE_SECONDS + ACTION_SECONDS + 0.4:
        raise ValueError(f"seconds must be at least 2 (an action with its margins), got {seconds}")
    output = absolute_url(output)
    class_names, distractors = list(ACTIONS[:classes]), list(ACTIONS[classes:])
    canvas = Canvas(width, height)
    num_frames = round(seconds * fps)
    csv_rows: dict[str, list[str]] = {use: [] for use in AUTOML_CSV_ML_USES}
    jsonl_lines: list[dict] = []
    videos: list[str] = []
    progress = Progress("synth videos", classes * videos_per_class, unit="videos")
    for class_index, label in enumerate(class_names):
        for j in range(videos_per_class):
            video_index = class_index * videos_per_class + j
            rng = np.random.default_rng([seed, video_index])
            uri = storage.join(output, "videos", f"v{video_index:04d}.mp4")
            events = _events(label, class_names, distractors, seconds, rng)
            _render_video(uri, events, rng, canvas, fps, num_frames)
            use = _ML_USE_BY_INDEX.get(j % 10, MLUse.UNASSIGNED)
            moments = [e for e in events if e.labelled]
            csv_rows[use] += [f"{uri},,0,inf"] + [
                f"{uri},{e.action},{format_time(e.time)},{format_time(e.time)}" for e in moments
            ]
            jsonl_lines.append(_jsonl_line(uri, moments, use))
            videos.append(uri)
            progress.update()
    progress.finish()
    csvs = {}
    for use in AUTOML_CSV_ML_USES:
        csvs[use] = storage.join(output, f"{use.lower()}.csv")
        storage.write_text(csvs[use], "".join(row + "\n" for row in csv_rows[use]))
    import_csv = storage.join(output, "import.csv")
    storage.write_text(import_csv, "".join(f"{use},{csvs[use]}\n" for use in AUTOML_CSV_ML_USES))
    import_jsonl = storage.join(output, "import.jsonl")
    storage.write_jsonl(import_jsonl, jsonl_lines)
    return SynthResult(import_jsonl, import_csv, class_names, distractors, videos, csvs)


def _events(
    label: str, class_names: list[str], distractors: list[str], seconds: float, rng: np.random.Generator
) -> list[ActionEvent]:
    """The video's actions: its own class once, then others; centres at least MIN_GAP_SECONDS apart."""
    room = seconds - 2 * EDGE_SECONDS
    count = 1 + int(room // MIN_GAP_SECONDS)
    slack = np.sort(rng.uniform(0.0, room - (count - 1) * MIN_GAP_SECONDS, size=count))
    times = [round(EDGE_SECONDS + i * MIN_GAP_SECONDS + float(slack[i]), 2) for i in range(count)]
    own = int(rng.integers(count))
    events = []
    for index, time in enumerate(times):
        if index == own:
            events.append(ActionEvent(label, time, True))
        elif distractors and rng.uniform() < DISTRACTOR_SHARE:
            events.append(ActionEvent(str(rng.choice(distractors)), time, False))
        else:
            events.append(ActionEvent(str(rng.choice(class_names)), time, True))
    return events


def _render_video(
    uri: str, events: list[ActionEvent], rng: np.random.Generator, canvas: Canvas, fps: int, num_frames: int
) -> None:
    """Encode the drifting shape (performing ``events``) and the gliding distractor shape."""
    look = random_appearance(rng, canvas)
    look.radius *= ACTOR_SCALE
    other = random_appearance(rng, canvas)
    size = float(min(canvas.width, canvas.height))
    actor = _actor_track(events, rng, canvas, size)
    glider = _drift(rng, canvas, speed=(0.05, 0.15))
    noise_seed = int(rng.integers(0, 2**31))

    def frame_at(index: int) -> np.ndarray:
        t = index / fps
        image = look.background.copy()
        for shape_look, (cx, cy, scale) in ((other, glider(t)), (look, actor(t))):
            image[canvas.mask(shape_look.shape, cx, cy, shape_look.radius * scale)] = shape_look.colour
        noise = np.random.default_rng([noise_seed, index]).integers(
            -look.noise, look.noise + 1, size=(canvas.height, canvas.width, 1)
        )
        return np.clip(image + noise, 0, 255).astype(np.uint8)

    make_video(uri, frame_at, fps, num_frames=num_frames)


def _drift(
    rng: np.random.Generator, canvas: Canvas, speed: tuple[float, float]
) -> Callable[[float], tuple[float, float, float]]:
    """Straight motion in a random direction at a random speed (frame sizes per second); the canvas wraps."""
    x0, y0 = rng.uniform(0, canvas.width), rng.uniform(0, canvas.height)
    angle = rng.uniform(0, 2 * math.pi)
    pace = rng.uniform(*speed)
    vx, vy = pace * canvas.width * math.cos(angle), pace * canvas.height * math.sin(angle)
    return lambda t: (x0 + vx * t, y0 + vy * t, 1.0)


def _actor_track(
    events: list[ActionEvent], rng: np.random.Generator, canvas: Canvas, size: float
) -> Callable[[float], tuple[float, float, float]]:
    """The slow drift plus each event's action while it lasts."""
    drift = _drift(rng, canvas, speed=(0.03, 0.12))
    directions = [float(rng.choice([-1.0, 1.0])) for _ in events]

    def position(t: float) -> tuple[float, float, float]:
        x, y, scale = drift(t)
        for event, direction in zip(events, directions):
            progress = (t - event.time) / ACTION_SECONDS + 0.5
            if 0.0 <= progress <= 1.0:
                dx, dy, event_scale = action_offset(event.action, progress, size, direction)
                x, y, scale = x + dx, y + dy, scale * event_scale
        return x, y, scale

    return position


def _jsonl_line(uri: str, moments: list[ActionEvent], use: MLUse) -> dict:
    line = {
        "videoGcsUri": uri,
        "timeSegments": [{"startTime": "0s", "endTime": "Infinity"}],
        "timeSegmentAnnotations": [
            {"displayName": e.action, "startTime": format_duration(e.time), "endTime": format_duration(e.time)}
            for e in moments
        ],
    }
    if use.vertex_name:
        line["dataItemResourceLabels"] = {"aiplatform.googleapis.com/ml_use": use.vertex_name}
    return line
