"""Boxes as numpy arrays, and the detector's output grid decoded to boxes and encoded from them.

A set of boxes is a :class:`Detections` (``corners [N, 4]`` as ``x_min, y_min, x_max, y_max``
normalized to the frame, ``labels [N]`` label indexes, ``scores [N]``); ground truth has scores of 1.
The grid layout is :mod:`.network`'s: per cell, ``L`` heatmaps, then width, height and the centre's
place inside the cell.

Decoding keeps a cell when its score is the maximum of its 3×3 neighbourhood of the same label
(CenterNet's peak picking, which replaces non-maximum suppression) and at least the floor. Encoding
(training targets) draws a Gaussian peak per box on its label's heatmap, with a spread of a sixth of
the box's size in cells (at least half a cell), and writes the box's size and centre offset at its
centre cell.
"""

from dataclasses import dataclass

import numpy as np

# The lowest score a detection can have: the tracker's second pass looks at boxes down to it.
DETECTION_FLOOR = 0.05
MAX_DETECTIONS = 100
MIN_SIGMA_CELLS = 0.5


@dataclass
class Detections:
    """Boxes of one frame (see the module doc)."""

    corners: np.ndarray  # float32 [N, 4]
    labels: np.ndarray  # int [N]
    scores: np.ndarray  # float32 [N]

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.float32))

    def select(self, keep: np.ndarray) -> "Detections":
        return Detections(self.corners[keep], self.labels[keep], self.scores[keep])

    @classmethod
    def from_targets(cls, targets: np.ndarray) -> "Detections":
        """Ground truth from a training example's ``[K, 5]`` targets (label index, corners)."""
        targets = np.asarray(targets, np.float32).reshape(-1, 5)
        return cls(targets[:, 1:5], targets[:, 0].astype(np.int64), np.ones(len(targets), np.float32))


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a [N, 4]`` with every box of ``b [M, 4]``: ``[N, M]``."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _neighbourhood_max(heatmaps: np.ndarray) -> np.ndarray:
    """The 3×3 maximum around every cell of ``[h, w, L]`` (edges padded with -1)."""
    h, w = heatmaps.shape[:2]
    padded = np.pad(heatmaps, ((1, 1), (1, 1), (0, 0)), constant_values=-1.0)
    return np.max([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)


def decode(
    output: np.ndarray, num_labels: int, floor: float = DETECTION_FLOOR, limit: int = MAX_DETECTIONS
) -> Detections:
    """The boxes of one frame's network output ``[h, w, L + 4]``: peaks at or above ``floor``, best
    ``limit`` first."""
    output = np.asarray(output, np.float32)
    heatmaps = output[..., :num_labels]
    peaks = (heatmaps >= _neighbourhood_max(heatmaps)) & (heatmaps >= floor)
    ys, xs, labels = np.nonzero(peaks)
    scores = heatmaps[ys, xs, labels]
    order = np.argsort(-scores, kind="stable")[:limit]
    ys, xs, labels, scores = ys[order], xs[order], labels[order], scores[order]
    h, w = heatmaps.shape[:2]
    width, height, offset_x, offset_y = (output[ys, xs, num_labels + k] for k in range(4))
    cx, cy = (xs + offset_x) / w, (ys + offset_y) / h
    corners = np.stack([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2], axis=1)
    return Detections(np.clip(corners, 0.0, 1.0).astype(np.float32), labels.astype(np.int64), scores)


def encode(truth: Detections, grid: tuple[int, int], num_labels: int) -> np.ndarray:
    """Training targets ``[h, w, L + 5]`` of one frame's boxes: heatmaps, size, offset and a last channel
    that is 1 at each box's centre cell (where size and offset are learnt)."""
    h, w = grid
    target = np.zeros((h, w, num_labels + 5), np.float32)
    rows, columns = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]
    # Larger boxes first, so a small box's centre cell keeps its own size where two centres share a cell.
    order = np.argsort(-(truth.corners[:, 2] - truth.corners[:, 0]) * (truth.corners[:, 3] - truth.corners[:, 1]))
    for (x_min, y_min, x_max, y_max), label in zip(truth.corners[order], truth.labels[order]):
        width, height = x_max - x_min, y_max - y_min
        if width <= 0 or height <= 0:
            continue
        cx, cy = (x_min + x_max) / 2 * w, (y_min + y_max) / 2 * h
        column, row = min(int(cx), w - 1), min(int(cy), h - 1)
        sigma_x, sigma_y = max(width * w / 6, MIN_SIGMA_CELLS), max(height * h / 6, MIN_SIGMA_CELLS)
        peak = np.exp(-((columns - column) ** 2) / (2 * sigma_x**2) - (rows - row) ** 2 / (2 * sigma_y**2))
        target[..., label] = np.maximum(target[..., label], peak)
        target[row, column, num_labels : num_labels + 5] = [width, height, cx - column, cy - row, 1.0]
    return target
