"""Scoring a shot detector against known cuts: what the shot tests measure (test-only helpers)."""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from automl_video.tasks.classification.shots import FEATURE_BATCH_FRAMES, ShotDetector, ShotDetectorConfig


def detect_cuts(frames: Iterable[tuple[float, np.ndarray]], config: ShotDetectorConfig | None = None) -> list[float]:
    """All cut times in ``(time, frame)`` pairs (e.g. ``VideoReader.frames(...)``).

    Args:
        frames: frames in presentation order, ``[H, W, 3]`` uint8.
        config: detector tuning.

    Returns:
        Sorted times of the first frame of every new shot (the first shot's start is not a cut).
    """
    detector = ShotDetector(config)
    cuts, pending = [], []
    for item in itertools.chain(frames, [None]):
        if item is not None:
            pending.append(item)
        if pending and (item is None or len(pending) == FEATURE_BATCH_FRAMES):
            cuts += detector.add([t for t, _ in pending], [f for _, f in pending])
            pending = []
    return cuts + detector.finish()


def shots_from_cuts(cuts: Iterable[float], start: float, end: float) -> list[tuple[float, float]]:
    """Split ``[start, end)`` at the cuts that fall strictly inside it into consecutive shots."""
    boundaries = [start, *sorted(c for c in cuts if start < c < end), end]
    return list(zip(boundaries[:-1], boundaries[1:]))


@dataclass
class CutDetectionScore:
    """Precision/recall of detected cuts against known ones, matched within a tolerance."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def score_cuts(detected: Iterable[float], expected: Iterable[float], tolerance: float) -> CutDetectionScore:
    """Match each expected cut to at most one detected cut within ``tolerance`` seconds (greedy by time).

    Args:
        detected: cut times found by a detector.
        expected: true cut times.
        tolerance: largest time error that still counts as a hit (e.g. one frame interval).

    Returns:
        Counts of hits, spurious and missed cuts.
    """
    remaining = sorted(detected)
    expected = sorted(expected)
    hits = 0
    for cut in expected:
        match = next((d for d in remaining if abs(d - cut) <= tolerance), None)
        if match is not None:
            remaining.remove(match)
            hits += 1
    return CutDetectionScore(hits, len(remaining), len(expected) - hits)
