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
import math
from dataclasses import dataclass

import numpy as np

_HISTOGRAM_BITS = 3  # per channel: 8×8×8 joint colour bins
_HISTOGRAM_SHIFT = 8 - _HISTOGRAM_BITS
_THUMBNAIL_SIZE = 16
_FEATURE_MAX_SIDE = 64
_MAD_TO_STD = 1.4826  # median absolute deviation → standard deviation of a normal distribution


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


def frame_features(time: float, frame: np.ndarray) -> _FrameFeatures:
    """Normalised joint colour histogram and a grey thumbnail of an ``[H, W, 3]`` uint8 frame."""
    step = max(1, math.ceil(max(frame.shape[:2]) / _FEATURE_MAX_SIDE))
    small = frame[::step, ::step]
    levels = small.astype(np.uint16) >> _HISTOGRAM_SHIFT
    bins = (levels[..., 0] << (2 * _HISTOGRAM_BITS)) | (levels[..., 1] << _HISTOGRAM_BITS) | levels[..., 2]
    histogram = np.bincount(bins.ravel(), minlength=1 << (3 * _HISTOGRAM_BITS)).astype(np.float32)
    histogram /= bins.size
    return _FrameFeatures(time, histogram, _grey_thumbnail(small))


def _grey_thumbnail(image: np.ndarray) -> np.ndarray:
    """Block-mean grey image of about ``_THUMBNAIL_SIZE``² cells, values in [0, 1]."""
    cells_y, cells_x = min(_THUMBNAIL_SIZE, image.shape[0]), min(_THUMBNAIL_SIZE, image.shape[1])
    block_y, block_x = image.shape[0] // cells_y, image.shape[1] // cells_x
    cropped = image[: cells_y * block_y, : cells_x * block_x]
    sums = cropped.reshape(cells_y, block_y, cells_x, block_x, 3).sum(axis=(1, 3, 4), dtype=np.int32)
    return sums.astype(np.float32) / (block_y * block_x * 3 * 255.0)


def change_score(a: _FrameFeatures, b: _FrameFeatures) -> float:
    """How different two frames look, in [0, 1]: half histogram distance, half thumbnail difference."""
    histogram_distance = 0.5 * float(np.abs(a.histogram - b.histogram).sum())
    thumbnail_difference = min(1.0, 4.0 * float(np.abs(a.thumbnail - b.thumbnail).mean()))
    return 0.5 * histogram_distance + 0.5 * thumbnail_difference


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

    def add(self, time: float, frame: np.ndarray) -> list[float]:
        """Take the next frame; returns the cuts confirmed by it (zero or one)."""
        features = frame_features(time, frame)
        cuts = []
        if self._candidate is not None:
            score = change_score(self._candidate, features)
            cut = self._decide(next_score=score, after=features)
            if cut is not None:
                cuts.append(cut)
            self._two_before, self._before = self._before, self._candidate
            self._candidate_score = score
        self._candidate = features
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
