"""From a split dataset to batches of ``(clips, targets)``: examples, decode-once cache, tf.data.

Every video classification dataset is multi-label (as in AutoML): one example per distinct labelled span
``(video, start, end)``, positive for the labels given to that span and a hard negative for every other
label. ``-`` spans are negative for all labels; for exhaustively labelled datasets the spans nobody
labelled are sampled as all-negative examples too.

Decoding video is the slow part, so every clip is decoded once and cached on local disk as ``.npy``
(keyed by video content hash, span and input size): training examples keep ``2T`` frames (each
epoch then picks one of every two, a random temporal jitter), evaluation examples the ``T`` centre
frames the predictor will see. Epochs read the cache, so after the first they run at model speed.

Training batches get temporal jitter and random shifts (uint8 numpy, a batch per call in a parallel
tf.data map) and mixup plus brightness, whose pixel blend runs inside the training step
(:func:`blend_clips`). There is no horizontal flip: it would turn left→right into right→left.
Evaluation clips are not augmented.
"""

import hashlib
import logging
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from automl_video.dataset import Dataset, Video
from automl_video.model_spec import InputSpec
from automl_video.progress import Progress
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

CACHE_ENV = "AUTOML_VIDEO_CACHE"
DEFAULT_CACHE_GB = 20.0
# Disk space the cache always leaves free, whatever its budget.
MIN_FREE_BYTES = 1 << 30
CACHE_FORMAT = 1
# Unlabelled spans of an exhaustive dataset: at most this many per labelled example of a split.
UNLABELLED_PER_LABELLED = 1.0
# Spatial augmentation: random shifts by up to this fraction of each side; brightness moves by up to this
# fraction of the range. No horizontal flip: it would swap left→right and right→left classes.
MAX_SHIFT_FRACTION = 0.1
MAX_BRIGHTNESS_DELTA = 0.1
# Mixup (each clip blended with another, targets alike, weight ~ Beta(a, a)): with a few dozen videos a
# network otherwise memorises each video's look long before it learns how things move.
MIXUP_ALPHA = 0.4


@dataclass
class Example:
    """One clip to learn from or score: a span of a video and its multi-label targets."""

    video_uri: str
    content_hash: str
    start: float
    end: float
    targets: np.ndarray  # [L] float32, 1 = positive
    kind: str = "labelled"  # labelled | negative (a `-` span) | unlabelled (exhaustive datasets only)


@dataclass
class ClipFailure:
    """A span that could not be decoded: left out of training and reported."""

    video_uri: str
    start: float
    end: float
    reason: str


def _span_targets(video: Video, label_index: dict[str, int]) -> dict[tuple[float, float], np.ndarray]:
    """Targets of each distinct span of a video: positive for the labels given to exactly that span."""
    spans: dict[tuple[float, float], np.ndarray] = {}
    for segment in video.segments:
        targets = spans.setdefault((segment.start, segment.end), np.zeros(len(label_index), np.float32))
        if not segment.is_negative:
            targets[label_index[segment.label]] = 1.0
    return spans


def unlabelled_spans(video: Video, span_seconds: float) -> list[tuple[float, float]]:
    """Spans of ``span_seconds`` centred in the gaps no segment covers (gaps shorter than half are skipped)."""
    covered = sorted((s.start, s.end) for s in video.segments)
    gaps, cursor = [], 0.0
    for start, end in covered + [(video.duration, video.duration)]:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    spans = []
    for gap_start, gap_end in gaps:
        length = gap_end - gap_start
        if length < span_seconds / 2:
            continue
        count = max(1, int(length // span_seconds))
        width = min(span_seconds, length)
        step = length / count
        for i in range(count):
            centre = gap_start + (i + 0.5) * step
            spans.append((centre - width / 2, centre + width / 2))
    return spans


def build_examples(dataset: Dataset, split: str, label_names: list[str], seed: int = 0) -> list[Example]:
    """The examples of one split, in dataset order.

    Args:
        dataset: a split dataset.
        split: TRAIN, VALIDATION or TEST.
        label_names: the model's labels in output order.
        seed: chooses which unlabelled spans are kept when an exhaustive dataset has more than needed.

    Returns:
        One example per distinct labelled span, then (exhaustive datasets only) unlabelled spans.
    """
    label_index = {name: i for i, name in enumerate(label_names)}
    examples = []
    for video in dataset.videos_in(split):
        for (start, end), targets in _span_targets(video, label_index).items():
            kind = "labelled" if targets.any() else "negative"
            examples.append(Example(video.uri, video.content_hash, start, end, targets, kind))
    if not dataset.exhaustive or not examples:
        return examples
    span_seconds = float(np.median([e.end - e.start for e in examples]))
    unlabelled = [
        Example(video.uri, video.content_hash, start, end, np.zeros(len(label_names), np.float32), "unlabelled")
        for video in dataset.videos_in(split)
        for start, end in unlabelled_spans(video, span_seconds)
    ]
    limit = int(len(examples) * UNLABELLED_PER_LABELLED)
    if len(unlabelled) > limit:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(len(unlabelled), limit, replace=False))
        unlabelled = [unlabelled[i] for i in keep]
    return examples + unlabelled


def default_cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "automl-video", "clips")


class ClipStore:
    """Decoded clips of examples, decoded once and kept as ``.npy`` files in a size-bounded local cache.

    Training clips hold ``2T`` frames (uniform over the span) so each epoch can jitter which frames it
    takes; evaluation clips hold the ``T`` centre frames :meth:`VideoReader.read_clip` gives predictors.
    Beyond the budget, clips are not cached and are decoded again whenever they are read.
    """

    def __init__(self, spec: InputSpec, cache_dir: str | None = None, budget_gb: float = DEFAULT_CACHE_GB):
        self.spec = spec
        self.cache_dir = cache_dir or default_cache_dir()
        self.budget_bytes = int(budget_gb * (1 << 30))
        os.makedirs(self.cache_dir, exist_ok=True)
        self._lock = threading.Lock()
        self._used_bytes = self._prune()
        self._full = False

    def clip_spec(self, training: bool) -> InputSpec:
        frames = 2 * self.spec.num_frames if training else self.spec.num_frames
        return InputSpec(num_frames=frames, height=self.spec.height, width=self.spec.width)

    def _path(self, example: Example, training: bool) -> str:
        clip = self.clip_spec(training)
        key = f"{CACHE_FORMAT}|{example.content_hash}|{example.start!r}|{example.end!r}|{clip.shape}"
        name = hashlib.sha256(key.encode()).hexdigest()[:40]
        return os.path.join(self.cache_dir, name[:2], name + ".npy")

    def _prune(self) -> int:
        """Delete least recently used clips until the cache fits its budget; returns the bytes kept."""
        entries = []
        for root, _, files in os.walk(self.cache_dir):
            for name in files:
                path = os.path.join(root, name)
                stat = os.stat(path)
                entries.append((stat.st_atime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.budget_bytes:
                break
            os.remove(path)
            total -= size
        return total

    def _reserve(self, nbytes: int) -> bool:
        """Whether a new clip of ``nbytes`` may be cached (within budget and leaving disk space free)."""
        with self._lock:
            stat = os.statvfs(self.cache_dir)
            free_after = stat.f_bavail * stat.f_frsize - nbytes
            fits = self._used_bytes + nbytes <= self.budget_bytes and free_after >= MIN_FREE_BYTES
            if fits:
                self._used_bytes += nbytes
            elif not self._full:
                self._full = True
                log.warning(
                    "clip cache %s is full (budget %.1f GB or disk): further clips are decoded on every read, "
                    "so epochs run at decoding speed; raise --cache-gb or free disk space",
                    self.cache_dir, self.budget_bytes / (1 << 30),
                )
            return fits

    def _store(self, path: str, clip: np.ndarray) -> None:
        """Write atomically: a reader (or a killed run) never sees half a file."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, clip)
        os.replace(tmp, path)

    def is_cached(self, example: Example, training: bool) -> bool:
        return os.path.exists(self._path(example, training))

    def load(self, example: Example, training: bool, reader: VideoReader | None = None) -> np.ndarray:
        """The example's clip (``[2T|T, H, W, 3]`` uint8) from the cache, decoding it on a miss."""
        path = self._path(example, training)
        if os.path.exists(path):
            return np.load(path)
        if reader is None:
            with VideoReader(example.video_uri) as own_reader:
                return self.load(example, training, own_reader)
        clip = reader.read_clip(example.start, example.end, self.clip_spec(training))
        if self._reserve(clip.nbytes):
            self._store(path, clip)
        return clip

    def prepare(self, examples: list[Example], training: bool, workers: int | None = None) -> list[ClipFailure]:
        """Decode (and cache) every example not cached yet, one open video per thread.

        Args:
            examples: the examples to make ready.
            training: whether they are read as training clips (``2T`` frames) or evaluation clips.
            workers: decoding threads (default: one per CPU).

        Returns:
            The examples that could not be decoded; callers leave them out.
        """
        by_video: dict[str, list[Example]] = defaultdict(list)
        for example in examples:
            if not self.is_cached(example, training):
                by_video[example.video_uri].append(example)
        missing = sum(len(v) for v in by_video.values())
        if not missing:
            return []
        workers = workers or os.cpu_count() or 1
        progress = Progress(f"decoding {'training' if training else 'evaluation'} clips", missing, "clips")
        failures: list[ClipFailure] = []

        runs = _decoding_runs(by_video, workers)
        # Parallel readers fill the cores already: decoder threads on top of them only add switching.
        decoder_threads = "AUTO" if len(runs) == 1 else "NONE"

        def decode_run(run: tuple[str, list[Example]]) -> None:
            video_uri, run_examples = run
            try:
                reader = VideoReader(video_uri, threads=decoder_threads)
            except Exception as e:  # any failure to open is this video's problem, not the run's
                failures.extend(ClipFailure(video_uri, x.start, x.end, str(e)) for x in run_examples)
                progress.update(len(run_examples))
                return
            with reader:
                for example in run_examples:
                    try:
                        self.load(example, training, reader)
                    except Exception as e:  # an undecodable span is reported and skipped
                        failures.append(ClipFailure(video_uri, example.start, example.end, str(e)))
                    progress.update()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(decode_run, runs))
        progress.finish()
        for failure in failures:
            log.warning(
                "cannot decode %s [%gs, %gs): %s", failure.video_uri, failure.start, failure.end, failure.reason
            )
        return failures


def _decoding_runs(by_video: dict[str, list[Example]], workers: int) -> list[tuple[str, list[Example]]]:
    """Split the work into runs of examples read in time order by one open reader.

    One run per video, unless there are fewer videos than workers: then each video's examples are cut
    into contiguous runs (one reader each, decoding its own stretch of the file), so that one long
    video with many segments still decodes on every core.
    """
    pieces = -(-workers // len(by_video))
    runs = []
    for video_uri, video_examples in by_video.items():
        ordered = sorted(video_examples, key=lambda e: (e.start, e.end))
        for part in np.array_split(np.arange(len(ordered)), min(pieces, len(ordered))):
            runs.append((video_uri, [ordered[i] for i in part]))
    return runs


def without_failures(examples: list[Example], failures: list[ClipFailure]) -> list[Example]:
    failed = {(f.video_uri, f.start, f.end) for f in failures}
    return [e for e in examples if (e.video_uri, e.start, e.end) not in failed]


def targets_matrix(examples: list[Example], num_labels: int) -> np.ndarray:
    if not examples:
        return np.zeros((0, num_labels), np.float32)
    return np.stack([e.targets for e in examples]).astype(np.float32)


def _batch_loader(store: ClipStore, examples: list[Example], training: bool):
    """A tf.data function from example indices ``[B]`` (and, for training, an int64 ``[2]`` seed) to their
    clips: evaluation ``[B, T, H, W, 3]`` as cached, training augmented by :func:`augment_clips`.

    One Python call per batch, and numpy for the augmentation: on 2 cores, per-clip calls and small
    TensorFlow ops cost a sixth of the training throughput.
    """
    import tensorflow as tf

    def read(indices: np.ndarray, seed: np.ndarray | None = None) -> np.ndarray:
        clips = [store.load(examples[int(i)], training) for i in indices]
        if not training:
            return np.stack(clips)
        return augment_clips(clips, store.spec, np.random.default_rng(seed.astype(np.uint64)))  # any int64 seed

    def load(indices, seed=None):
        args = [indices, seed] if training else [indices]
        clips = tf.numpy_function(read, args, tf.uint8, stateful=False)
        clips.set_shape((None, *store.spec.shape))
        return clips

    return load


def augment_clips(clips: list[np.ndarray], spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    """Pick T of each clip's ``2T`` cached frames (one of each pair: temporal jitter) and shift each clip
    randomly.

    The shift moves a clip's content by up to :data:`MAX_SHIFT_FRACTION` of each side, the borders
    mirrored (a random crop at the evaluation scale); there is no flip, which would swap left and right.

    Args:
        clips: uint8 ``[2T, H, W, 3]`` arrays.
        spec: the network input.
        rng: the batch's generator (seeded per batch, so an epoch's augmentations are the same after a
            resume).

    Returns:
        uint8 ``[B, T, H, W, 3]``.
    """
    count = len(clips)
    offsets = rng.integers(0, 2, size=(count, spec.num_frames))
    pad_y, pad_x = round(spec.height * MAX_SHIFT_FRACTION), round(spec.width * MAX_SHIFT_FRACTION)
    tops = rng.integers(0, 2 * pad_y + 1, size=count)
    lefts = rng.integers(0, 2 * pad_x + 1, size=count)
    out = np.empty((count, *spec.shape), np.uint8)
    for i, clip in enumerate(clips):
        frames = clip[np.arange(spec.num_frames) * 2 + offsets[i]]
        padded = np.pad(frames, [(0, 0), (pad_y, pad_y), (pad_x, pad_x), (0, 0)], mode="symmetric")
        out[i] = padded[:, tops[i] : tops[i] + spec.height, lefts[i] : lefts[i] + spec.width]
    return out


def epoch_order(num_examples: int, min_clips: int, seed: int, epoch: int) -> np.ndarray:
    """Example indices of an epoch: shuffled passes over all examples, enough to give ``min_clips``."""
    rng = np.random.default_rng([seed, epoch])
    passes = max(1, -(-min_clips // num_examples))
    return np.concatenate([rng.permutation(num_examples) for _ in range(passes)])


def training_dataset(
    store: ClipStore, examples: list[Example], batch_size: int, seed: int, epoch: int, min_clips: int = 0
):
    """One epoch of shuffled, augmented ``(clips, targets)`` batches, the same for the same (seed, epoch).

    Args:
        store: where clips come from (prepared for training).
        examples: training examples.
        batch_size: global batch size.
        seed: the run's seed.
        epoch: the epoch number (0-based); with ``seed`` it fixes order and augmentation.
        min_clips: small datasets pass over their examples several times (each time augmented anew) so
            an epoch is long enough to be worth a validation and a checkpoint.

    Returns:
        A ``tf.data.Dataset`` of ``((clips, weight, brightness), mixed targets)`` batches for
        :class:`automl_video.train.MixupTrainer` (see :func:`mixing`).
    """
    import tensorflow as tf

    order = epoch_order(len(examples), min_clips, seed, epoch)
    targets = targets_matrix(examples, len(examples[0].targets))[order]
    load = _batch_loader(store, examples, training=True)

    def augmented(batch_index, batch):
        indices, batch_targets = batch
        # Distinct stateless seeds for every batch of every epoch: augmentation (>= 0), mixing (< 0).
        first = epoch * len(order) + batch_index
        clips = load(indices, tf.stack([tf.constant(seed, tf.int64), first]))
        weight, brightness, mixed_targets = mixing(batch_targets, tf.stack([tf.constant(seed, tf.int64), -1 - first]))
        return (clips, weight, brightness), mixed_targets

    data = tf.data.Dataset.from_tensor_slices((order, targets)).batch(batch_size).enumerate()
    data = data.map(augmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return data.prefetch(tf.data.AUTOTUNE)


def mixing(targets, seed):
    """Mixup and brightness parameters of a batch, with its targets already mixed.

    Each clip is to be blended with the clip at the mirrored position of the batch (targets alike,
    weight ~ Beta(:data:`MIXUP_ALPHA`, :data:`MIXUP_ALPHA`)) and brightened by up to
    :data:`MAX_BRIGHTNESS_DELTA` of the range. The pixels are blended by :func:`blend_clips` inside the
    training step, where it runs in parallel with the model rather than in the input pipeline.

    Args:
        targets: float32 ``[B, L]``.
        seed: int64 ``[2]`` stateless seed.

    Returns:
        ``(weight [B], brightness [B] in pixel levels, mixed targets [B, L])``.
    """
    import tensorflow as tf

    size = tf.shape(targets)[:1]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    first = tf.random.stateless_gamma(size, seeds[0], MIXUP_ALPHA)
    second = tf.random.stateless_gamma(size, seeds[1], MIXUP_ALPHA)
    weight = first / tf.maximum(first + second, 1e-12)
    brightness = tf.random.stateless_uniform(size, seeds[2], -MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA) * 255.0
    mixed_targets = targets * weight[:, None] + tf.reverse(targets, [0]) * (1 - weight)[:, None]
    return weight, brightness, mixed_targets


def blend_clips(clips, weight, brightness):
    """``clips·w + reversed(clips)·(1 − w) + brightness`` per clip, back to uint8 ``[B, T, H, W, 3]``."""
    import tensorflow as tf

    per_clip = (-1, 1, 1, 1, 1)
    weight = tf.reshape(tf.cast(weight, tf.float32), per_clip)
    pixels = tf.cast(clips, tf.float32)
    mixed = pixels * weight + tf.reverse(pixels, [0]) * (1 - weight) + tf.reshape(brightness, per_clip)
    return tf.cast(tf.clip_by_value(tf.round(mixed), 0.0, 255.0), tf.uint8)


def evaluation_dataset(store: ClipStore, examples: list[Example], batch_size: int):
    """Batches of centre-sampled clips, in example order (no targets)."""
    import tensorflow as tf

    load = _batch_loader(store, examples, training=False)
    data = tf.data.Dataset.range(len(examples)).batch(batch_size)
    return data.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)
