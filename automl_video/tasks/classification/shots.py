"""Camera shot detection: hard cuts found in a stream of frames, with an adaptive threshold.

Each frame is reduced to a small colour histogram and a coarse grey thumbnail. The change score between
consecutive frames mixes the histogram distance (robust to motion inside a shot) and the thumbnail
difference (catches cuts between shots of similar colours). A frame starts a new shot when its score

* clears an absolute floor and the trailing window's median + ``sensitivity`` × robust spread (median
  absolute deviation), so busy footage (pans, noise) needs a bigger jump than a static scene and a
  flash or two in the window does not blind it,
* is a local peak (not smaller than the next frame's score),
* is not a flash: the frames on either side of the change must differ as well,
* comes at least ``min_shot_seconds`` after the previous cut.

The detector is streaming (one frame of look-ahead, a few seconds of scores), so shots of an hours-long
video are found in one decoding pass with constant memory.
"""

import collections
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_HISTOGRAM_BITS = 3  # per channel: 8×8×8 joint colour bins
_HISTOGRAM_SHIFT = 8 - _HISTOGRAM_BITS
_THUMBNAIL_SIZE = 16
_FEATURE_MAX_SIDE = 64
_MAD_TO_STD = 1.4826  # median absolute deviation → standard deviation of a normal distribution
# Frames whose features are computed together (ShotDetector.add): 32 64×64 frames cost 20 µs each,
# one at a time 100 µs (one core); a cut is then confirmed up to this many frames late.
FEATURE_BATCH_FRAMES = 32


@dataclass(frozen=True)
class ShotDetectorConfig:
    """Tuning of :class:`ShotDetector`; the defaults find hard cuts in ordinary footage."""

    min_score: float = 0.2
    sensitivity: float = 4.0
    window_seconds: float = 2.0
    min_shot_seconds: float = 0.5
    flash_ratio: float = 0.5


@dataclass
class _FrameFeatures:
    time: float
    histogram: np.ndarray
    thumbnail: np.ndarray


def frame_features(frames: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised joint colour histograms ``[N, 512]`` and grey thumbnails ``[N, cells, cells]`` of
    ``[H, W, 3]`` uint8 frames of one size.

    The whole batch takes a few numpy calls and one small matrix product: frame by frame, numpy's
    per-call overhead and its reductions over short axes made these features cost 100 µs a 64×64 frame,
    a quarter of decoding it; 32 at a time they cost 20 µs each (one core, 360p30 H.264).
    """
    batch = np.stack(frames)
    step = max(1, math.ceil(max(batch.shape[1:3]) / _FEATURE_MAX_SIDE))
    small = batch[:, ::step, ::step]
    levels = small >> _HISTOGRAM_SHIFT
    bins = np.left_shift(levels[..., 0], 2 * _HISTOGRAM_BITS, dtype=np.uint16)
    bins |= np.left_shift(levels[..., 1], _HISTOGRAM_BITS, dtype=np.uint16)
    bins |= levels[..., 2]
    bin_count = 1 << (3 * _HISTOGRAM_BITS)
    pixels = bins[0].size
    bins = bins.reshape(len(batch), pixels).astype(np.intp) + np.arange(0, len(batch) * bin_count, bin_count)[:, None]
    histograms = np.bincount(bins.ravel(), minlength=len(batch) * bin_count).reshape(len(batch), bin_count)
    return histograms.astype(np.float32) / np.float32(pixels), _grey_thumbnails(small)


def _grey_thumbnails(images: np.ndarray) -> np.ndarray:
    """Block-mean grey images ``[N, cells, cells]`` of about ``_THUMBNAIL_SIZE``² cells, values in [0, 1].

    Rows of a block are summed as integers, then a block's columns and channels by a 0/1 matrix (exact:
    the sums stay far below float32's 2^24).
    """
    cells_y, cells_x = min(_THUMBNAIL_SIZE, images.shape[1]), min(_THUMBNAIL_SIZE, images.shape[2])
    block_y, block_x = images.shape[1] // cells_y, images.shape[2] // cells_x
    cropped = images[:, : cells_y * block_y, : cells_x * block_x]
    rows = cropped.reshape(len(images), cells_y, block_y, cells_x * block_x * 3).sum(axis=2, dtype=np.int32)
    sums = rows.astype(np.float32) @ _column_blocks(cells_x, block_x * 3)
    return sums / np.float32(block_y * block_x * 3 * 255.0)


@functools.cache
def _column_blocks(cells: int, width: int) -> np.ndarray:
    """``[cells × width, cells]`` 0/1 matrix summing each run of ``width`` values."""
    return np.kron(np.eye(cells, dtype=np.float32), np.ones((width, 1), np.float32))


def change_scores(histograms: tuple[np.ndarray, np.ndarray], thumbnails: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """How different frames look from others, in [0, 1]: half histogram distance, half thumbnail
    difference (float64, one per pair of rows of the ``(before, after)`` feature arrays)."""
    histogram_distance = 0.5 * np.abs(histograms[0] - histograms[1]).sum(axis=1)
    differences = np.abs(thumbnails[0] - thumbnails[1])
    differences = differences.reshape(len(differences), math.prod(differences.shape[1:]))
    thumbnail_difference = np.minimum(1.0, 4.0 * (differences.sum(axis=1) / np.float32(differences.shape[1])))
    return 0.5 * histogram_distance.astype(np.float64) + 0.5 * thumbnail_difference.astype(np.float64)


def change_score(a: _FrameFeatures, b: _FrameFeatures) -> float:
    """:func:`change_scores` of one pair of frames."""
    return float(change_scores((a.histogram[None], b.histogram[None]), (a.thumbnail[None], b.thumbnail[None]))[0])


class ShotDetector:
    """Feed frames in time order with :meth:`add`; it returns cut times as soon as they are certain.

    A cut time is the presentation time of the first frame of the new shot.
    """

    def __init__(self, config: ShotDetectorConfig | None = None):
        self.config = config or ShotDetectorConfig()
        self._history: collections.deque[tuple[float, float]] = collections.deque()
        self._two_before: _FrameFeatures | None = None
        self._before: _FrameFeatures | None = None  # frame before the candidate
        self._candidate: _FrameFeatures | None = None
        self._candidate_score = 0.0
        self._last_cut = -math.inf

    def add(self, times: Sequence[float], frames: Sequence[np.ndarray]) -> list[float]:
        """Take the next frames (their features computed together); returns the cuts they confirm.

        Each frame is decided when the one after it arrives, so the last frame given stays undecided
        until the next call or :meth:`finish`.
        """
        if not len(times):
            return []
        histograms, thumbnails = frame_features(frames)
        if self._candidate is not None:
            histograms = np.concatenate([self._candidate.histogram[None], histograms])
            thumbnails = np.concatenate([self._candidate.thumbnail[None], thumbnails])
        scores = change_scores((histograms[:-1], histograms[1:]), (thumbnails[:-1], thumbnails[1:])).tolist()
        features = [
            _FrameFeatures(float(t), h, g)
            for t, h, g in zip(times, histograms[-len(times) :], thumbnails[-len(times) :])
        ]
        if self._candidate is None:
            self._candidate = features.pop(0)
        cuts = []
        for score, after in zip(scores, features):
            cut = self._decide(next_score=score, after=after)
            if cut is not None:
                cuts.append(cut)
            self._two_before, self._before = self._before, self._candidate
            self._candidate_score = score
            self._candidate = after
        return cuts

    def finish(self) -> list[float]:
        """End of stream: decide the last frame without look-ahead."""
        cut = self._decide(next_score=None, after=None) if self._candidate is not None else None
        self._candidate = None
        return [cut] if cut is not None else []

    def _decide(self, next_score: float | None, after: _FrameFeatures | None) -> float | None:
        """Is the candidate frame (scored against the frame before it) the first of a new shot?"""
        if self._before is None:
            return None
        score, time = self._candidate_score, self._candidate.time
        is_cut = (
            score >= self.config.min_score  # cheap test first: most frames stop here
            and score >= self._threshold(time)
            and (next_score is None or score >= next_score)
            and not self._is_flash(score, after)
            and time - self._last_cut >= self.config.min_shot_seconds
        )
        if is_cut:
            self._last_cut = time
        else:
            self._history.append((time, score))  # cuts stay out of the statistics of ordinary change
        while self._history and self._history[0][0] < time - self.config.window_seconds:
            self._history.popleft()
        return time if is_cut else None

    def _is_flash(self, score: float, after: _FrameFeatures | None) -> bool:
        """A one-frame flash: the frames around the change look alike (a cut changes them for good).

        Checked both ways, so neither the flash frame nor the frame after it counts as a cut.
        """
        limit = self.config.flash_ratio * score
        around_candidate = after is not None and change_score(self._before, after) < limit
        around_previous = self._two_before is not None and change_score(self._two_before, self._candidate) < limit
        return around_candidate or around_previous

    def _threshold(self, time: float) -> float:
        scores = [s for t, s in self._history if t >= time - self.config.window_seconds]
        if len(scores) < 2:
            return self.config.min_score
        median = float(np.median(scores))
        spread = _MAD_TO_STD * float(np.median(np.abs(np.asarray(scores) - median)))
        return max(self.config.min_score, median + self.config.sensitivity * spread)
