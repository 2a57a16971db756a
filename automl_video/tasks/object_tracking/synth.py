"""A synthetic object tracking dataset: moving shapes of a few classes with known boxes and instance ids.

Every video shows 2 to 4 objects on a smooth random background; an object's class is its shape
(:data:`automl_video.synth.SHAPES`), its colour and size are random. Objects move in straight lines and
bounce off a border that lies beyond the frame, so some leave the frame and come back (same instance
id); later objects are drawn over earlier ones, so they occlude each other. Every frame is labelled
with the box of each object's *visible* pixels (occluded and off-frame parts excluded); an object less
than :data:`MIN_VISIBLE_FRACTION` visible is not labelled on that frame. The last video is listed
without annotations (``VIDEO_URI,,,,,,,,,,,``: not yet labelled).

Both import formats are written with the same boxes: a two-level AutoML CSV (half the boxes as four
vertices, half as two diagonal ones, coordinates without their leading 0) and a Vertex JSONL.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from automl_video import storage
from automl_video.data.dataset import AUTOML_CSV_ML_USES, MLUse
from automl_video.progress import Progress
from automl_video.synth import SHAPES, Canvas, absolute_url, format_time, make_video, random_background, visible_colour
from automl_video.times import format_duration

MIN_VISIBLE_FRACTION = 0.2
# Objects per video, and their radius as a fraction of the frame's short side.
OBJECTS_PER_VIDEO = (2, 4)
RADIUS_FRACTION = (0.08, 0.13)
# Speeds in frame sizes per second; the border they bounce off lies this far (in radii) outside the frame.
SPEED = (0.15, 0.45)
BORDER_RADII = 2.5
# Which ML_USE the j-th video gets (cycled over 10), as the classification dataset does.
_ML_USE_BY_INDEX = {1: MLUse.TEST, 3: MLUse.TRAIN}


@dataclass
class TrackedShape:
    """One object of a synthetic video: its class, look and straight bouncing path (pixels, seconds)."""

    instance_id: int
    label: str
    colour: np.ndarray
    radius: float
    start: np.ndarray  # [2] centre at t = 0
    velocity: np.ndarray  # [2] pixels per second

    def centre(self, t: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """The centre at ``t``, reflected between the borders ``low`` and ``high`` (a triangle wave)."""
        span = high - low
        unfolded = np.mod(self.start + self.velocity * t - low, 2 * span)
        return low + np.where(unfolded > span, 2 * span - unfolded, unfolded)


@dataclass
class SynthResult:
    """Where :func:`generate` wrote the dataset, and every labelled box (for tests)."""

    import_csv: str
    import_jsonl: str
    class_names: list[str]
    videos: list[str]
    csvs: dict[str, str] = field(default_factory=dict)
    unlabelled_video: str = ""
    # video URI -> [(time, label, instance_id, (x_min, y_min, x_max, y_max))] as written.
    boxes: dict[str, list[tuple[float, str, int, tuple[float, float, float, float]]]] = field(default_factory=dict)


def generate(
    output: str,
    classes: int = 3,
    videos_per_class: int = 20,
    seconds: float = 3.0,
    seed: int = 0,
    width: int = 128,
    height: int = 128,
    fps: int = 15,
) -> SynthResult:
    """Write ``classes × videos_per_class`` labelled videos and one unlabelled one, plus import files.

    Layout under ``output``: ``videos/t0000.mp4 ...``, ``import.csv`` (``ML_USE,CSV_URI``) listing
    ``train.csv`` / ``test.csv`` / ``unassigned.csv``, and ``import.jsonl``. One video in ten is TEST
    and one TRAIN, the rest UNASSIGNED. The j-th video's first object is of class ``j % classes``.

    Args:
        output: folder URL (local or fsspec).
        classes: number of shape classes, 1 to ``len(SHAPES)``.
        videos_per_class: labelled videos per class.
        seconds, fps, width, height: every video's length, frame rate and size.
        seed: same seed, same bytes.
    """
    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"object tracking synth: classes must be between 1 and {len(SHAPES)}, got {classes}")
    if videos_per_class < 1:
        raise ValueError(f"videos_per_class must be at least 1, got {videos_per_class}")
    num_frames = round(seconds * fps)
    if num_frames < 2:
        raise ValueError(f"seconds={seconds} at fps={fps} gives fewer than 2 frames")
    output = absolute_url(output)
    class_names = list(SHAPES[:classes])
    canvas = Canvas(width, height)
    result = SynthResult(import_csv="", import_jsonl="", class_names=class_names, videos=[])
    rows: dict[MLUse, list[str]] = {use: [] for use in AUTOML_CSV_ML_USES}
    lines: list[str] = []
    total = classes * videos_per_class
    progress = Progress("synth videos", total + 1, unit="videos")
    for index in range(total + 1):
        uri = storage.join(output, "videos", f"t{index:04d}.mp4")
        rng = np.random.default_rng([seed, index])
        use = _ML_USE_BY_INDEX.get(index % 10, MLUse.UNASSIGNED)
        if index == total:  # not yet labelled
            _render_video(uri, _random_shapes(rng, canvas, class_names, first_class=0), rng, canvas, fps, num_frames)
            rows[MLUse.UNASSIGNED].append(uri + "," * 11)
            lines.append(json.dumps({"videoGcsUri": uri}))
            result.unlabelled_video = uri
        else:
            shapes = _random_shapes(rng, canvas, class_names, first_class=index % classes)
            boxes = _render_video(uri, shapes, rng, canvas, fps, num_frames)
            result.boxes[uri] = boxes
            rows[use] += [_csv_row(uri, box, vertices=4 if k % 2 == 0 else 2) for k, box in enumerate(boxes)]
            lines.append(_jsonl_line(uri, boxes, use))
        result.videos.append(uri)
        progress.update()
    progress.finish()
    for use in AUTOML_CSV_ML_USES:
        result.csvs[use] = storage.join(output, f"{use.lower()}.csv")
        storage.write_text(result.csvs[use], "".join(row + "\n" for row in rows[use]))
    result.import_csv = storage.join(output, "import.csv")
    storage.write_text(result.import_csv, "".join(f"{use},{result.csvs[use]}\n" for use in AUTOML_CSV_ML_USES))
    result.import_jsonl = storage.join(output, "import.jsonl")
    storage.write_text(result.import_jsonl, "".join(line + "\n" for line in lines))
    return result


def _random_shapes(
    rng: np.random.Generator, canvas: Canvas, class_names: list[str], first_class: int
) -> tuple[np.ndarray, np.ndarray, list[TrackedShape]]:
    """The background (and its mean colour) and the objects of one video."""
    background, mean = random_background(rng, canvas)
    count = int(rng.integers(OBJECTS_PER_VIDEO[0], OBJECTS_PER_VIDEO[1] + 1))
    size = np.array([canvas.width, canvas.height], np.float64)
    shapes = []
    for k in range(count):
        label = class_names[first_class] if k == 0 else str(rng.choice(class_names))
        speed = rng.uniform(*SPEED) * size
        angle = rng.uniform(0, 2 * np.pi)
        shapes.append(
            TrackedShape(
                instance_id=k + 1,
                label=label,
                colour=visible_colour(rng, mean),
                radius=float(rng.uniform(*RADIUS_FRACTION) * min(canvas.width, canvas.height)),
                start=rng.uniform(0.15, 0.85, size=2) * size,
                velocity=speed * np.array([np.cos(angle), np.sin(angle)]),
            )
        )
    return background, mean, shapes


def _render_video(
    uri: str,
    scene: tuple[np.ndarray, np.ndarray, list[TrackedShape]],
    rng: np.random.Generator,
    canvas: Canvas,
    fps: int,
    num_frames: int,
) -> list[tuple[float, str, int, tuple[float, float, float, float]]]:
    """Encode the video and return the visible box of every object on every frame (in frame order)."""
    background, _, shapes = scene
    noise_seed = int(rng.integers(0, 2**31))
    noise_level = int(rng.integers(2, 6))
    boxes: list[tuple[float, str, int, tuple[float, float, float, float]]] = []

    def frame_at(index: int) -> np.ndarray:
        t = index / fps
        image = background.copy()
        masks = []
        for shape in shapes:
            margin = BORDER_RADII * shape.radius
            low = np.array([-margin, -margin])
            high = np.array([canvas.width + margin, canvas.height + margin])
            cx, cy = shape.centre(t, low, high)
            mask = canvas.mask(shape.label, cx, cy, shape.radius, wrap=False)
            image[mask] = shape.colour
            masks.append((shape, mask, np.pi * shape.radius**2))
        for depth, (shape, mask, full_area) in enumerate(masks):
            visible = mask.copy()
            for _, front, _ in masks[depth + 1 :]:
                visible &= ~front
            if visible.sum() >= MIN_VISIBLE_FRACTION * full_area:
                ys, xs = np.nonzero(visible)
                corners = (
                    xs.min() / canvas.width,
                    ys.min() / canvas.height,
                    (xs.max() + 1) / canvas.width,
                    (ys.max() + 1) / canvas.height,
                )
                boxes.append((round(t, 6), shape.label, shape.instance_id, tuple(round(c, 4) for c in corners)))
        noise = np.random.default_rng([noise_seed, index]).integers(
            -noise_level, noise_level + 1, size=(canvas.height, canvas.width, 1)
        )
        return np.clip(image + noise, 0, 255).astype(np.uint8)

    make_video(uri, frame_at, fps, num_frames=num_frames)
    return boxes


def _coordinate(value: float) -> str:
    """``0.3125`` as ``.3125`` (AutoML CSVs may leave out the leading 0)."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text[1:] if text.startswith("0.") else text or "0"


def _csv_row(uri: str, box: tuple, vertices: int) -> str:
    time, label, instance_id, (x_min, y_min, x_max, y_max) = box
    if vertices == 4:
        corners = [(x_min, y_min), (x_max, y_min), (x_max, y_max), (x_min, y_max)]
        coordinates = ",".join(f"{_coordinate(x)},{_coordinate(y)}" for x, y in corners)
    else:
        coordinates = f"{_coordinate(x_min)},{_coordinate(y_min)},,,{_coordinate(x_max)},{_coordinate(y_max)},,"
    return f"{uri},{label},{instance_id},{format_time(time)},{coordinates}"


def _jsonl_line(uri: str, boxes: list[tuple], use: MLUse) -> str:
    annotations = [
        {
            "displayName": label,
            "instanceId": instance_id,
            "timeOffset": format_duration(time),
            "xMin": x_min,
            "yMin": y_min,
            "xMax": x_max,
            "yMax": y_max,
        }
        for time, label, instance_id, (x_min, y_min, x_max, y_max) in boxes
    ]
    item: dict = {"videoGcsUri": uri, "temporalBoundingBoxAnnotations": annotations}
    if use.vertex_name:
        item["dataItemResourceLabels"] = {"aiplatform.googleapis.com/ml_use": use.vertex_name}
    return json.dumps(item)
