"""Decoded clips for training and validation: decoded once, cached on local disk, read as tf.data batches.

Decoding video is the slow part, so every clip is decoded once and cached on local disk as ``.npy``
(keyed by video content hash, span and input size): training examples keep ``2T`` frames (each
epoch then picks one of every two, a random temporal jitter), evaluation examples the ``T`` centre
frames the predictor will see. Epochs read the cache, so after the first they run at model speed.
Which spans are examples, and their targets, is the task's (:class:`automl_video.tasks.base.TrainingRecipe`).
"""

import hashlib
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from automl_video.modeling.metadata import ClipFailure, InputSpec
from automl_video.progress import Progress
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

CACHE_ENV = "AUTOML_VIDEO_CACHE"
DEFAULT_CACHE_GB = 20.0
# Disk space the cache always leaves free, whatever its budget.
MIN_FREE_BYTES = 1 << 30
CACHE_FORMAT = 1


# TensorFlow takes a numpy array returned to it (``tf.numpy_function``) without copying only when its
# data are this aligned (Eigen's alignment); numpy's own arrays are 16-byte aligned, so each batch was
# copied once more on its way to the step.
TENSOR_ALIGNMENT = 64
# Batches each input pipeline keeps ready ahead of the step (:func:`parallel_batches`): a batch takes
# about 5 ms to assemble against a training step of about 190 ms (MOBILE_VERSATILE_1, 2 cores), so two
# are plenty, and a cache miss (a clip decoded on the spot) still overlaps the steps before it.
PREFETCH_BATCHES = 2
# ``read_frames(i, frame_indices, out)``: frames of a batch's clip ``i`` written into ``out`` (see :func:`batch_loader`).
FrameReader = Callable[[int, np.ndarray, np.ndarray], None]


@dataclass
class ClipExample:
    """One clip to learn from or score: a span of a video and its targets (the task's encoding)."""

    video_uri: str
    content_hash: str
    start: float
    end: float
    targets: np.ndarray  # [L] float32 for classification
    kind: str = "labelled"  # what the span is, as the task names it (e.g. labelled | negative | unlabelled)
    # Its weight in the training loss: the clips cut across one long segment share one segment's worth.
    weight: float = 1.0


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

    def _path(self, example: ClipExample, training: bool) -> str:
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
                    self.cache_dir,
                    self.budget_bytes / (1 << 30),
                )
            return fits

    def _store(self, path: str, clip: np.ndarray) -> None:
        """Write atomically: a reader (or a killed run) never sees half a file."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(clip, np.uint8))  # C order: :meth:`read_frames` reads frames by offset
        os.replace(tmp, path)

    def is_cached(self, example: ClipExample, training: bool) -> bool:
        return os.path.exists(self._path(example, training))

    def load(self, example: ClipExample, training: bool, reader: VideoReader | None = None) -> np.ndarray:
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

    def read_frames(self, example: ClipExample, training: bool, frame_indices: np.ndarray, out: np.ndarray) -> None:
        """Write frames ``frame_indices`` of the example's clip into ``out`` (C-contiguous uint8
        ``[len(frame_indices), H, W, 3]``, e.g. a clip's place in a batch), decoding the clip on a miss.

        A cached clip is read with one ``preadv`` per run of consecutive frames, straight from the file
        into ``out``: ``np.load`` then a frame gather read every one of a training clip's ``2T`` frames
        and copied the kept half again, and ``np.stack`` copied the batch once more (16 training clips:
        1.3 ms of reading against about 0.3 ms this way, all of it holding the GIL that the training
        loop's thread also needs).
        """
        path = self._path(example, training)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            np.take(self.load(example, training), frame_indices, axis=0, out=out)
            return
        try:
            frame_bytes = out[0].nbytes
            # The .npy header is whatever precedes the frames: the file ends with the C-order pixels.
            first_frame_at = os.fstat(fd).st_size - self.clip_spec(training).num_frames * frame_bytes
            for position, frame, count in _consecutive_runs(frame_indices):
                wanted = count * frame_bytes
                if (
                    first_frame_at < 0
                    or os.preadv(fd, [out[position : position + count]], first_frame_at + frame * frame_bytes) != wanted
                ):
                    raise ValueError(f"{path}: not a cached clip of shape {self.clip_spec(training).shape}")
        finally:
            os.close(fd)

    def prepare(self, examples: list[ClipExample], training: bool, workers: int | None = None) -> list[ClipFailure]:
        """Decode (and cache) every example not cached yet, one open video per thread.

        Args:
            examples: the examples to make ready.
            training: whether they are read as training clips (``2T`` frames) or evaluation clips.
            workers: decoding threads (default: one per CPU).

        Returns:
            The examples that could not be decoded; callers leave them out.
        """
        by_video: dict[str, list[ClipExample]] = defaultdict(list)
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

        def decode_run(run: tuple[str, list[ClipExample]]) -> None:
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


def _decoding_runs(by_video: dict[str, list[ClipExample]], workers: int) -> list[tuple[str, list[ClipExample]]]:
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


def batch_array(shape: tuple[int, ...]) -> np.ndarray:
    """A new uint8 array that TensorFlow takes as a tensor without a copy (:data:`TENSOR_ALIGNMENT`).

    New for every batch, never reused: the tensor is this memory, and batches wait in the prefetch
    buffer while the next ones are assembled.
    """
    size = int(np.prod(shape))
    raw = np.empty(size + TENSOR_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TENSOR_ALIGNMENT
    return raw[start : start + size].reshape(shape)


def _consecutive_runs(indices: np.ndarray):
    """``(position, first index, length)`` of each run of consecutive values in ``indices``."""
    start = 0
    for end in range(1, len(indices) + 1):
        if end == len(indices) or indices[end] != indices[end - 1] + 1:
            yield start, int(indices[start]), end - start
            start = end


def without_failures(examples: list[ClipExample], failures: list[ClipFailure]) -> list[ClipExample]:
    failed = {(f.video_uri, f.start, f.end) for f in failures}
    return [e for e in examples if (e.video_uri, e.start, e.end) not in failed]


def targets_matrix(examples: list[ClipExample], num_labels: int) -> np.ndarray:
    if not examples:
        return np.zeros((0, num_labels), np.float32)
    return np.stack([e.targets for e in examples]).astype(np.float32)


def batch_loader(
    store: ClipStore,
    examples: list[ClipExample],
    augment: Callable[[FrameReader, int, np.random.Generator], np.ndarray] | None = None,
):
    """A tf.data function from example indices ``[B]`` to their clips ``[B, T, H, W, 3]``.

    Without ``augment``: the evaluation clips as cached. With it: the training clips (``2T`` frames)
    through ``augment(read_frames, B, rng)``, where ``read_frames(i, frame_indices, out)`` is
    :meth:`ClipStore.read_frames` of the batch's clip ``i``; the function then takes an int64 ``[2]``
    seed beside the indices (the batch's generator, so an epoch's augmentations are the same after a
    resume).

    One Python call per batch, and numpy for the augmentation: on 2 cores, per-clip calls and small
    TensorFlow ops cost a sixth of the training throughput. Each call fills a :func:`batch_array` of its
    own, which TensorFlow takes without a copy: batches queued for the step never share memory.
    """
    import tensorflow as tf

    training = augment is not None
    every_frame = np.arange(store.spec.num_frames)

    def read(indices: np.ndarray, seed: np.ndarray | None = None) -> np.ndarray:
        batch = [examples[int(i)] for i in indices]
        if augment is not None:

            def read_frames(i: int, frame_indices: np.ndarray, out: np.ndarray) -> None:
                store.read_frames(batch[i], True, frame_indices, out)

            return augment(read_frames, len(batch), np.random.default_rng(seed.astype(np.uint64)))  # any int64 seed
        clips = batch_array((len(batch), *store.spec.shape))
        for example, clip in zip(batch, clips, strict=True):
            store.read_frames(example, False, every_frame, clip)
        return clips

    def load(indices, seed=None):
        args = [indices, seed] if training else [indices]
        clips = tf.numpy_function(read, args, tf.uint8, stateful=False)
        clips.set_shape((None, *store.spec.shape))
        return clips

    return load


def untuned(data):
    """``data`` with tf.data's autotuning off.

    When an iterator of an autotuned pipeline is destroyed (``fit`` and ``predict`` destroy theirs as
    they return), TensorFlow 2.21 waits for the autotuning thread, which often sleeps through the
    cancellation to the end of its period (10.24 s once it has run a few seconds). Measured with the
    real training pipeline on 2 cores, 64-step epochs: ``fit`` returned 7.9 to 9.3 s after its last
    step in 6 epochs of 10 (20.6 s an epoch instead of 11.2). With autotuning off: in none of 10, and
    the median step took 170 ms instead of 179 (the autotuning thread's own CPU). There is nothing
    here for it to tune: one ``numpy_function`` per batch, a few milliseconds against a step of
    hundreds (``benchmarks/train_throughput.py`` measures the pipeline alone).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def parallel_batches(data, load: Callable):
    """``data.map(load)`` on one call per CPU, in order, :data:`PREFETCH_BATCHES` ahead, :func:`untuned`."""
    data = data.map(load, num_parallel_calls=os.cpu_count() or 1, deterministic=True)
    return untuned(data.prefetch(PREFETCH_BATCHES))


def evaluation_dataset(store: ClipStore, examples: list[ClipExample], batch_size: int):
    """Batches of centre-sampled clips, in example order (no targets)."""
    import tensorflow as tf

    return parallel_batches(tf.data.Dataset.range(len(examples)).batch(batch_size), batch_loader(store, examples))
