"""Synthetic videos made by the project itself, so tests, benchmarks and the demo never download media.

Objects of random appearance (shape, colour, size, background, noise) moving by one of :data:`MOTIONS`,
drawn on a :class:`Canvas`; each motion has a twin that is its time reversal. Each task's dataset
generator builds on these (classification: :mod:`automl_video.tasks.classification.synth`).

Videos are H.264 MP4s encoded single-threaded with fixed options, so the same seed gives byte-identical
files. Building blocks: :func:`make_video` (any frames, VFR timestamps, rotation metadata),
:func:`render_motion_spans` (one object whose motion changes from span to span),
:func:`make_motion_video`, :func:`make_cut_video` (known hard cuts), :func:`make_long_video` (long,
cheap to encode) and :func:`make_camera_video` (camera-like footage with B-frames, open GOPs or a
variable frame rate, for decoders that skip frames).
"""

import contextlib
import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import av.video.reformatter
import numpy as np

from automl_video import storage

# Motions in the order classes are taken; pairs are time reversals of each other.
MOTIONS = (
    "left_to_right",
    "right_to_left",
    "top_to_bottom",
    "bottom_to_top",
    "clockwise",
    "counter_clockwise",
    "growing",
    "shrinking",
    "down_right",
    "up_left",
    "down_left",
    "up_right",
)
_TRANSLATIONS = {
    "left_to_right": (1, 0),
    "right_to_left": (-1, 0),
    "top_to_bottom": (0, 1),
    "bottom_to_top": (0, -1),
    "down_right": (1, 1),
    "up_left": (-1, -1),
    "down_left": (-1, 1),
    "up_right": (1, -1),
}


@dataclass(frozen=True)
class SynthOptions:
    """The size of a task's synthetic dataset (``automl-video synth``)."""

    classes: int = 4
    videos_per_class: int = 20
    seconds: float = 3.0
    seed: int = 0
    width: int = 128
    height: int = 128
    fps: int = 15


# Not a motion: the object stays put, jittering by a pixel or two (a hard negative for every motion class).
STILL = "-"
SHAPES = ("disc", "square", "diamond", "ring")


@dataclass
class Appearance:
    """Everything a single frame shows, drawn per video independently of the motion class."""

    shape: str
    colour: np.ndarray
    radius: float
    background: np.ndarray
    noise: int


# ---------------------------------------------------------------------------------------------------
# Encoding


@contextlib.contextmanager
def _local_target(url: str) -> Iterator[str]:
    """Yield a local temporary path to encode into; publish it atomically at ``url`` on success."""
    suffix = os.path.splitext(url)[1] or ".mp4"
    if storage.is_local(url):
        final = storage.local_path(url)
        directory = os.path.dirname(os.path.abspath(final))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
        os.close(fd)
        try:
            yield tmp
            # mkstemp makes the file 0600: published, it gets the umask's permissions, as storage.write_bytes
            # gives (a container's user must read videos made on its host).
            os.chmod(tmp, storage.PUBLISHED_FILE_MODE)
            os.replace(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return
    with tempfile.TemporaryDirectory(prefix="automl-video-synth-") as tmp_dir:
        tmp = os.path.join(tmp_dir, "video" + suffix)
        yield tmp
        with open(tmp, "rb") as f:
            storage.write_bytes(url, f.read())


def make_video(
    path: str,
    frames: Iterable[np.ndarray] | Callable[[int], np.ndarray],
    fps: float = 15,
    *,
    num_frames: int | None = None,
    timestamps: Sequence[float] | None = None,
    rotation: int = 0,
    gop: int | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    codec: str = "libx264",
    x264_params: str = "",
    faststart: bool = True,
) -> str:
    """Encode RGB frames to a video file at any URL, deterministically (single-threaded encoder).

    Args:
        path: output URL (local path or fsspec URL); written atomically.
        frames: ``HxWx3`` uint8 arrays, or a callable ``index -> array`` (then ``num_frames`` is needed).
        fps: nominal frame rate (the time base when ``timestamps`` is not given).
        num_frames: how many frames to take from a callable (or to cut an iterable short).
        timestamps: per-frame presentation times in seconds for a variable-frame-rate video.
        rotation: display-matrix rotation in degrees counter-clockwise (as PyAV's ``frame.rotation``
            reads it back): the stored pixels are shown rotated by this much.
        gop: keyframe interval in frames (default: one second of frames).
        crf, preset, codec: encoder settings (libx264 by default).
        x264_params: more libx264 options, ``key=value`` joined by ``:`` (e.g. :data:`B_FRAMES`).
        faststart: put the index first, as for streaming from object stores.

    Returns:
        ``path``.
    """
    if callable(frames):
        if num_frames is None:
            raise ValueError("make_video: num_frames is required when frames is a callable")
        frame_iter: Iterable[np.ndarray] = (frames(i) for i in range(num_frames))
    else:
        frame_iter = frames if num_frames is None else (f for _, f in zip(range(num_frames), frames))
    rate = Fraction(fps).limit_denominator(1001)
    time_base = Fraction(1, 1000) if timestamps is not None else 1 / rate
    options = {"movflags": "+faststart"} if faststart else {}
    with _local_target(path) as local:
        container = av.open(local, "w", format="mp4", options=options)
        try:
            stream = None
            reformatter = av.video.reformatter.VideoReformatter()
            for index, image in enumerate(frame_iter):
                if stream is None:
                    stream = _add_video_stream(container, codec, rate, time_base, image, gop, crf, preset, x264_params)
                    if rotation:
                        stream.set_display_rotation(rotation)
                frame = _yuv_frame(reformatter, image)
                frame.time_base = time_base
                frame.pts = round(timestamps[index] / time_base) if timestamps is not None else index
                container.mux(stream.encode(frame))
            if stream is None:
                raise ValueError(f"{path}: no frames to encode")
            container.mux(stream.encode(None))
        finally:
            container.close()
    return path


def _yuv_frame(reformatter: av.video.reformatter.VideoReformatter, image: np.ndarray) -> av.VideoFrame:
    """RGB array → yuv420p frame on one swscale thread (its threaded conversion is not bit-exact)."""
    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
    return reformatter.reformat(rgb, format="yuv420p", threads=1)


def _add_video_stream(container, codec, rate, time_base, first_image, gop, crf, preset, x264_params):
    height, width = first_image.shape[:2]
    if height % 2 or width % 2:
        raise ValueError(f"frame size {width}x{height}: H.264 4:2:0 needs even width and height")
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = time_base
    stream.codec_context.gop_size = gop or max(1, round(float(rate)))
    stream.codec_context.thread_count = 1  # one thread: byte-identical output for the same input
    if codec == "libx264":
        # asm=0: x264's SIMD reads uninitialised padding in its look-ahead buffers, so with assembly the
        # same frames sometimes encode to different bytes; the C paths are bit-exact and CPU-independent.
        params = ":".join(p for p in ("asm=0", x264_params) if p)
        stream.options = {"crf": str(crf), "preset": preset, "threads": "1", "x264-params": params}
    elif codec == "libx265":
        # x265 runs a thread pool of its own: one thread keeps the output reproducible; and it logs its
        # settings to stderr unless told not to.
        stream.options = {"crf": str(crf), "preset": preset, "x265-params": "pools=1:frame-threads=1:log-level=error"}
    return stream


# ---------------------------------------------------------------------------------------------------
# Drawing


class Canvas:
    """Pixel grids for one frame size, shared by every frame drawn at that size."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        self.xs, self.ys = xs + 0.5, ys + 0.5

    def mask(self, shape: str, cx: float, cy: float, radius: float, wrap: bool = True) -> np.ndarray:
        """Boolean mask of ``shape`` centred at (cx, cy); coordinates wrap around the frame edges, or
        (``wrap`` False) the shape leaves the frame at its edges."""
        if wrap:
            dx = (self.xs - cx + self.width / 2) % self.width - self.width / 2
            dy = (self.ys - cy + self.height / 2) % self.height - self.height / 2
        else:
            dx, dy = self.xs - cx, self.ys - cy
        if shape == "disc":
            return dx * dx + dy * dy <= radius * radius
        if shape == "square":
            return (np.abs(dx) <= radius * 0.85) & (np.abs(dy) <= radius * 0.85)
        if shape == "diamond":
            return np.abs(dx) + np.abs(dy) <= radius * 1.2
        if shape == "ring":
            d2 = dx * dx + dy * dy
            return (d2 <= radius * radius) & (d2 >= (radius * 0.55) ** 2)
        raise ValueError(f"unknown shape {shape!r}")


def random_background(rng: np.random.Generator, canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random colour gradient ``[H, W, 3]`` float32, and its mean colour ``[3]``."""
    base = rng.integers(30, 226, size=3).astype(np.float32)
    tilt = rng.uniform(-40, 40, size=(2, 3)).astype(np.float32)
    gx = (canvas.xs / canvas.width - 0.5)[..., None]
    gy = (canvas.ys / canvas.height - 0.5)[..., None]
    return np.clip(base + gx * tilt[0] + gy * tilt[1], 0, 255), base


def visible_colour(rng: np.random.Generator, background_mean: np.ndarray) -> np.ndarray:
    """A random object colour, pushed away from the background's mean so the object stays visible."""
    colour = rng.integers(0, 256, size=3).astype(np.float32)
    if np.abs(colour - background_mean).sum() < 150:
        colour = np.where(background_mean > 127, background_mean - 120, background_mean + 120).astype(np.float32)
    return colour


def random_appearance(rng: np.random.Generator, canvas: Canvas) -> Appearance:
    """Shape, colours, size and a smooth background, all independent of the motion class."""
    background, base = random_background(rng, canvas)
    colour = visible_colour(rng, base)
    short_side = min(canvas.width, canvas.height)
    return Appearance(
        shape=str(rng.choice(SHAPES)),
        colour=colour,
        radius=float(rng.uniform(0.07, 0.13) * short_side),
        background=background,
        noise=int(rng.integers(3, 7)),
    )


def _motion_track(motion: str, rng: np.random.Generator, canvas: Canvas) -> Callable[[float], tuple]:
    """A function ``time -> (cx, cy, radius_scale)`` for one motion with random phase and speed.

    :data:`STILL` is a hard negative: an object that stays put, jittering by a pixel or two.
    """
    w, h = canvas.width, canvas.height
    x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
    if motion in _TRANSLATIONS:
        sx, sy = _TRANSLATIONS[motion]
        speed = rng.uniform(0.25, 0.5)  # frame sizes per second
        return lambda t: (x0 + sx * speed * w * t, y0 + sy * speed * h * t, 1.0)
    if motion in ("clockwise", "counter_clockwise"):
        direction = 1.0 if motion == "clockwise" else -1.0  # image y points down: +angle is clockwise
        angular_speed = rng.uniform(1.5, 3.0)
        angle0 = rng.uniform(0, 2 * math.pi)
        orbit = rng.uniform(0.2, 0.3) * min(w, h)
        cx, cy = w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + rng.uniform(-0.08, 0.08) * h

        def orbit_position(t: float) -> tuple:
            angle = angle0 + direction * angular_speed * t
            return cx + orbit * math.cos(angle), cy + orbit * math.sin(angle), 1.0

        return orbit_position
    if motion in ("growing", "shrinking"):
        direction = 1.0 if motion == "growing" else -1.0
        cycles_per_second = rng.uniform(0.3, 0.6)
        phase0 = rng.uniform(0, 1)
        # Size is a sawtooth between 0.5x and 1.8x the base radius.
        return lambda t: (x0, y0, 0.5 + 1.3 * ((phase0 + direction * cycles_per_second * t) % 1.0))
    if motion == STILL:
        jitter = rng.normal(0, 1.0, size=(4096, 2))
        return lambda t: (x0 + jitter[int(t * 97) % 4096, 0], y0 + jitter[int(t * 97) % 4096, 1], 1.0)
    raise ValueError(f"unknown motion {motion!r}; known: {', '.join(MOTIONS)}")


def _render(canvas: Canvas, look: Appearance, position: tuple, noise: np.ndarray) -> np.ndarray:
    cx, cy, scale = position
    image = look.background.copy()
    image[canvas.mask(look.shape, cx, cy, look.radius * scale)] = look.colour
    return np.clip(image + noise, 0, 255).astype(np.uint8)


@dataclass
class MotionSpan:
    motion: str
    start_frame: int
    end_frame: int


def render_motion_spans(
    path: str, spans: list[MotionSpan], rng: np.random.Generator, canvas: Canvas, fps: float
) -> None:
    """Encode one video: one object, whose motion changes from span to span."""
    look = random_appearance(rng, canvas)
    tracks = [_motion_track(span.motion, rng, canvas) for span in spans]
    noise_seed = int(rng.integers(0, 2**31))

    def frame_at(index: int) -> np.ndarray:
        span_index = next(i for i, s in enumerate(spans) if index < s.end_frame)
        t = (index - spans[span_index].start_frame) / fps
        noise = np.random.default_rng([noise_seed, index]).integers(
            -look.noise, look.noise + 1, size=(canvas.height, canvas.width, 1)
        )
        return _render(canvas, look, tracks[span_index](t), noise)

    make_video(path, frame_at, fps, num_frames=spans[-1].end_frame)


def format_time(seconds: float) -> str:
    """Seconds as the synthetic CSVs write them (``inf`` for the end of the video)."""
    return "inf" if math.isinf(seconds) else f"{round(seconds, 4):g}"


def absolute_url(output: str) -> str:
    """A local path made absolute (CSVs name videos by absolute URI); other URLs as they are."""
    return output if "://" in output else os.path.abspath(output)


# ---------------------------------------------------------------------------------------------------
# Building blocks for other tests


def make_motion_video(
    path: str,
    motion: str,
    seconds: float = 2.0,
    fps: int = 15,
    width: int = 128,
    height: int = 128,
    seed: int = 0,
) -> str:
    """One video of a single motion (or :data:`STILL`, a static, jittering object) for targeted tests."""
    rng = np.random.default_rng([seed, MOTIONS.index(motion) if motion in MOTIONS else len(MOTIONS)])
    render_motion_spans(path, [MotionSpan(motion, 0, round(seconds * fps))], rng, Canvas(width, height), fps)
    return path


def make_cut_video(
    path: str,
    cut_times: Sequence[float],
    seconds: float,
    fps: int = 15,
    width: int = 128,
    height: int = 96,
    seed: int = 0,
) -> list[float]:
    """A video of visually distinct shots separated by hard cuts, for shot-detection tests.

    Each shot has its own background colour, stripe pattern and a slowly moving object, so within a
    shot frames change a little (motion is not a cut) while at a cut nearly every pixel changes.

    Args:
        path: output URL.
        cut_times: wanted cut times in seconds, strictly inside (0, seconds).
        seconds: video length.
        fps, width, height, seed: video parameters.

    Returns:
        The actual cut times: each snapped to the presentation time of the first frame of a new shot.
    """
    num_frames = round(seconds * fps)
    cut_frames = sorted({round(t * fps) for t in cut_times})
    if any(not 0 < c < num_frames for c in cut_frames):
        raise ValueError(f"cut_times {list(cut_times)} must lie strictly inside (0, {seconds})")
    rng = np.random.default_rng(seed)
    canvas = Canvas(width, height)
    boundaries = [0, *cut_frames, num_frames]
    palette = _distinct_colours(len(boundaries) - 1, rng)
    shots = []
    for shot_index in range(len(boundaries) - 1):
        stripes = (canvas.xs * rng.uniform(0.05, 0.3) + canvas.ys * rng.uniform(0.05, 0.3)) % 2 < 1
        background = np.where(stripes[..., None], palette[shot_index], 255 - palette[shot_index])
        look = Appearance("disc", 255 - palette[shot_index] * 0.5, 0.12 * min(width, height), background, 2)
        shots.append((look, _motion_track(MOTIONS[shot_index % 4], rng, canvas)))

    def frame_at(index: int) -> np.ndarray:
        shot = int(np.searchsorted(boundaries, index, side="right")) - 1
        look, track = shots[shot]
        noise = np.random.default_rng([seed, index]).integers(-2, 3, size=(height, width, 1))
        return _render(canvas, look, track((index - boundaries[shot]) / fps), noise)

    make_video(path, frame_at, fps, num_frames=num_frames)
    return [c / fps for c in cut_frames]


def _distinct_colours(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Colours spread around the hue circle (consecutive shots never look alike)."""
    hue0 = rng.uniform(0, 1)
    colours = []
    for i in range(count):
        hue = (hue0 + i * 0.381966) % 1.0  # golden-ratio steps
        channel = [0.5 + 0.5 * math.cos(2 * math.pi * (hue + k / 3)) for k in range(3)]
        colours.append(np.array([40 + 175 * c for c in channel], dtype=np.float32))
    return colours


def make_long_video(
    path: str,
    seconds: float = 600.0,
    fps: int = 10,
    width: int = 64,
    height: int = 64,
    segment_seconds: float = 10.0,
    seed: int = 0,
) -> list[tuple[str, float, float]]:
    """A long, low-resolution video that encodes fast (for memory and streaming tests).

    The motion cycles through the first four classes every ``segment_seconds``. Frames are drawn
    without noise and encoded with ``ultrafast`` and long GOPs.

    Returns:
        The schedule ``[(motion, start_seconds, end_seconds), ...]``.
    """
    num_frames = round(seconds * fps)
    frames_per_segment = max(1, round(segment_seconds * fps))
    rng = np.random.default_rng(seed)
    canvas = Canvas(width, height)
    look = random_appearance(rng, canvas)
    tracks = [_motion_track(m, rng, canvas) for m in MOTIONS[:4]]
    no_noise = np.zeros((1, 1, 1), dtype=np.float32)

    def frame_at(index: int) -> np.ndarray:
        segment = index // frames_per_segment
        t = (index - segment * frames_per_segment) / fps
        return _render(canvas, look, tracks[segment % 4](t), no_noise)

    make_video(path, frame_at, fps, num_frames=num_frames, gop=fps * 5, preset="ultrafast", crf=30)
    schedule = []
    for segment, start in enumerate(range(0, num_frames, frames_per_segment)):
        end = min(num_frames, start + frames_per_segment)
        schedule.append((MOTIONS[segment % 4], start / fps, end / fps))
    return schedule


# x264 settings for :func:`make_camera_video`: up to three B-frames between references, the middle one a
# reference for the others (b-pyramid), as streaming services and cameras encode; the other two are
# non-reference frames a decoder may skip. OPEN_GOP also lets B-frames before a keyframe reference the GOP
# before it (a keyframe that is not an IDR frame).
B_FRAMES = "bframes=3:b-pyramid=normal"
OPEN_GOP = B_FRAMES + ":open-gop=1"


def make_camera_video(
    path: str,
    seconds: float = 4.0,
    fps: int = 30,
    width: int = 640,
    height: int = 360,
    seed: int = 0,
    *,
    x264_params: str = B_FRAMES,
    timestamps: Sequence[float] | None = None,
    codec: str = "libx264",
) -> str:
    """Camera-like footage: a textured scene panning by (every pixel moves), an object crossing it, and
    sensor noise, encoded with the ``medium`` preset and ``x264_params``.

    Args:
        path: output URL.
        seconds, fps, width, height, seed: video parameters (``seconds`` and ``fps`` give the frame count).
        x264_params: :data:`B_FRAMES`, :data:`OPEN_GOP` or any libx264 options.
        timestamps: per-frame presentation times for a variable frame rate (their count wins over
            ``seconds``).
        codec: ``libx264``, or e.g. ``libx265`` (HEVC, with its own default B-frames; ``x264_params``
            are then unused).
    """
    rng = np.random.default_rng(seed)
    canvas = Canvas(width, height)
    block = 8
    coarse = rng.uniform(30, 225, size=(height // block + 1, width // block + 1, 3)).astype(np.float32)
    texture = np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)[:height, :width]
    look = dataclasses.replace(random_appearance(rng, canvas), background=texture)
    track = _motion_track("left_to_right", rng, canvas)
    pan_x, pan_y = rng.uniform(20, 60, size=2)  # pixels per second
    times = np.asarray(timestamps) if timestamps is not None else np.arange(round(seconds * fps)) / fps

    def frame_at(index: int) -> np.ndarray:
        t = float(times[index])
        scene = np.roll(texture, (round(pan_y * t), round(pan_x * t)), axis=(0, 1))
        noise = np.random.default_rng([seed, index]).integers(-look.noise, look.noise + 1, size=(height, width, 1))
        return _render(canvas, dataclasses.replace(look, background=scene), track(t), noise)

    make_video(
        path,
        frame_at,
        fps,
        num_frames=len(times),
        timestamps=timestamps,
        preset="medium",
        codec=codec,
        x264_params=x264_params,
    )
    return path
