"""Dense clips over time and what they mean: where a video's clips are, their soft targets, and the
moments their scores give (per-class peak picking with temporal non-maximum suppression).

The network scores clips of :data:`CLIP_SECONDS` centred on a regular grid; a clip's score for a label
is the probability that an action of that label happens at the clip's centre (the background is what
the labels leave). Training, validation, evaluation and batch prediction all cut clips with
:func:`clip_spans` and read moments with :func:`pick_moments`, so the VALIDATION score that picks the
best epoch is the TEST metric computed the same way.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automl_video.tasks.action_recognition.annotations import CLIP_SECONDS, ActionAnnotation

# Clip centres at prediction (and validation, evaluation) time: a quarter of the 1 s precision window,
# so a moment is never more than 0.125 s from a centre before peak interpolation.
STRIDE_SECONDS = 0.25
# Training cuts clips twice as densely: more (and more finely shifted) clips of the same videos.
TRAINING_STRIDE_SECONDS = 0.125
# Soft targets: a clip whose centre is d seconds from a moment has target exp(-d² / 2σ²) for its label
# (0.46 one prediction stride away, 0.04 at half a second): the network learns a peak, not a plateau.
TARGET_SIGMA_SECONDS = 0.2
# Training keeps clips outside the fully annotated stretches only when some target is at least this.
NEAR_ACTION_TARGET = 0.05
# Two moments of one label kept from one stream are at least this far apart (temporal NMS).
NMS_SECONDS = 1.0


@dataclass(frozen=True)
class TrueAction:
    """A ground-truth action of a video: label index (model output order) and its time span (a moment
    when ``start == end``)."""

    label: int
    start: float
    end: float

    @property
    def time(self) -> float:
        return (self.start + self.end) / 2


@dataclass(frozen=True)
class VideoTruth:
    """What a video's annotations say: its actions and the stretches where every action is labelled."""

    video_uri: str
    actions: tuple[TrueAction, ...]
    annotated: tuple[tuple[float, float], ...]

    def is_annotated(self, time: float) -> bool:
        return any(start <= time <= end for start, end in self.annotated)


@dataclass(frozen=True)
class Moment:
    """A predicted action: label index, time (seconds) and confidence."""

    label: int
    time: float
    confidence: float


def video_truth(
    video_uri: str, duration: float, annotations: Sequence[ActionAnnotation], label_index: dict[str, int]
) -> VideoTruth:
    """A video's truth from its annotations: its stretches, or the whole video when it names none.

    Raises:
        KeyError: an action's label is not in ``label_index`` (the caller names the row).
    """
    stretches = tuple(sorted((a.start, a.end) for a in annotations if a.is_stretch))
    actions = tuple(
        sorted(
            (TrueAction(label_index[a.label], a.start, a.end) for a in annotations if not a.is_stretch),
            key=lambda action: (action.time, action.label),
        )
    )
    return VideoTruth(video_uri, actions, stretches or ((0.0, duration),))


def clip_spans(start: float, end: float, stride: float = STRIDE_SECONDS) -> list[tuple[float, float]]:
    """Clips of :data:`CLIP_SECONDS` inside ``[start, end)``, centres ``stride`` apart from the first one
    half a clip in; a span shorter than a clip is one clip of the whole span."""
    half = CLIP_SECONDS / 2
    if end - start <= CLIP_SECONDS:
        return [(start, end)]
    count = math.floor((end - start - CLIP_SECONDS) / stride + 1e-9) + 1
    centres = start + half + stride * np.arange(count)
    return [(float(c - half), float(c + half)) for c in centres]


def soft_targets(centre: float, actions: Sequence[TrueAction], num_labels: int) -> np.ndarray:
    """``[L]`` float32: each label's closeness (Gaussian in the distance to its nearest action; 1 inside
    an action's segment) at ``centre``, scaled down where several labels together would pass 1 so that
    the background keeps ``1 − sum``."""
    targets = np.zeros(num_labels, np.float32)
    for action in actions:
        distance = max(0.0, action.start - centre, centre - action.end)
        closeness = math.exp(-(distance**2) / (2 * TARGET_SIGMA_SECONDS**2))
        targets[action.label] = max(targets[action.label], closeness)
    total = float(targets.sum())
    return targets / total if total > 1.0 else targets


def pick_moments(
    centres: np.ndarray, scores: np.ndarray, threshold: float = 0.0, nms_seconds: float = NMS_SECONDS
) -> list[Moment]:
    """The moments of one stream of clip scores: per label, the local maxima at or above ``threshold``,
    each moved to the vertex of the parabola through it and its neighbours (sub-stride timing), kept
    best first unless a kept moment of the label is closer than ``nms_seconds``.

    Args:
        centres: ``[N]`` ascending clip centre times.
        scores: ``[N, L]`` per-label scores of those clips.
        threshold: lowest confidence kept.
        nms_seconds: temporal non-maximum suppression window.

    Returns:
        The moments, in time order (ties by label).
    """
    centres = np.asarray(centres, np.float64)
    scores = np.asarray(scores, np.float64)
    moments: list[Moment] = []
    for label in range(scores.shape[1] if scores.ndim == 2 else 0):
        series = scores[:, label]
        left = np.r_[-np.inf, series[:-1]]
        right = np.r_[series[1:], -np.inf]
        peaks = np.flatnonzero((series > left) & (series >= right) & (series >= threshold))
        candidates = sorted(
            (Moment(label, _vertex_time(centres, series, i), float(series[i])) for i in peaks),
            key=lambda m: (-m.confidence, m.time),
        )
        kept: list[Moment] = []
        for moment in candidates:
            if all(abs(moment.time - other.time) >= nms_seconds for other in kept):
                kept.append(moment)
        moments += kept
    return sorted(moments, key=lambda m: (m.time, m.label))


def _vertex_time(centres: np.ndarray, series: np.ndarray, i: int) -> float:
    """The time of a peak: the vertex of the parabola through it and its neighbours (at most half a step
    away), or its centre at an end of the stream."""
    if i == 0 or i == len(series) - 1:
        return float(centres[i])
    before, peak, after = series[i - 1], series[i], series[i + 1]
    curvature = before - 2 * peak + after
    if curvature >= 0:
        return float(centres[i])
    offset = float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))
    step = centres[i + 1] - centres[i] if offset > 0 else centres[i] - centres[i - 1]
    return float(centres[i] + offset * step)
