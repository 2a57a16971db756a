"""Linking per-frame detections into tracks: a Kalman filter per track, IoU association in two passes.

SORT/ByteTrack style, per label (a track keeps the label it started with):

1. every track's box is predicted to the frame's time (constant velocity: centre, width and height
   and their rates, in frame fractions per second, so frames may come at any spacing);
2. boxes scoring at least ``high_score`` are matched to the tracks, lost ones included, greedily by
   IoU (at least ``first_iou``);
3. the lower boxes (down to the detector's floor) are matched to the tracks still unmatched that were
   seen on the previous frame (IoU at least ``second_iou``): a box whose score dropped because of an
   occlusion keeps its track instead of being lost, while a stray low box never starts one;
4. high boxes left over start new tracks; tracks unseen for ``max_lost_seconds`` end.

A track reports on each frame the box it was matched with (the detector's box and score, which the
Kalman estimate only serves to associate), so a frame's output is the detections that belong to a
track. Greedy matching (best IoU first) stands in for the Hungarian assignment: with a few objects
per frame the two rarely differ, and it needs no solver.
"""

from dataclasses import dataclass, field

import numpy as np

from automl_video.tasks.object_tracking.boxes import Detections, iou_matrix

# Process noise per second and measurement noise, as fractions of the box height (ByteTrack's
# 1/20 and 1/160 per frame at 30 fps, per second here).
_POSITION_NOISE = 0.05
_VELOCITY_NOISE = 0.2
_MEASUREMENT_NOISE = 0.05


@dataclass(frozen=True)
class TrackerConfig:
    high_score: float = 0.4
    first_iou: float = 0.2
    second_iou: float = 0.5
    max_lost_seconds: float = 1.0


@dataclass(frozen=True)
class TrackedBox:
    """One frame's box of a track."""

    track_id: int
    label: int
    corners: tuple[float, float, float, float]
    score: float


def _to_state(corners: np.ndarray) -> np.ndarray:
    x_min, y_min, x_max, y_max = corners
    return np.array([(x_min + x_max) / 2, (y_min + y_max) / 2, x_max - x_min, y_max - y_min], np.float64)


def _to_corners(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = state[:4]
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass
class _Track:
    track_id: int
    label: int
    time: float  # of the state
    last_seen: float
    mean: np.ndarray  # [8]: cx, cy, w, h and their rates per second
    covariance: np.ndarray  # [8, 8]
    seen_last_frame: bool = True

    @classmethod
    def start(cls, track_id: int, label: int, corners: np.ndarray, time: float) -> "_Track":
        box = _to_state(corners)
        scale = max(box[3], 1e-3)
        std = np.array([2 * _MEASUREMENT_NOISE] * 4 + [10 * _VELOCITY_NOISE] * 4) * scale
        return cls(track_id, label, time, time, np.concatenate([box, np.zeros(4)]), np.diag(std**2))

    def predict(self, time: float) -> None:
        dt = max(0.0, time - self.time)
        transition = np.eye(8)
        transition[:4, 4:] = dt * np.eye(4)
        scale = max(self.mean[3], 1e-3)
        noise = np.array([_POSITION_NOISE] * 4 + [_VELOCITY_NOISE] * 4) * scale
        self.mean = transition @ self.mean
        self.covariance = transition @ self.covariance @ transition.T + np.diag((noise**2) * max(dt, 1e-3))
        self.time = time

    def update(self, corners: np.ndarray, time: float) -> None:
        measured = _to_state(corners)
        scale = max(self.mean[3], 1e-3)
        noise = np.diag((np.full(4, _MEASUREMENT_NOISE) * scale) ** 2)
        projected = self.covariance[:4, :4] + noise
        gain = self.covariance[:, :4] @ np.linalg.inv(projected)
        self.mean = self.mean + gain @ (measured - self.mean[:4])
        self.covariance = self.covariance - gain @ self.covariance[:4, :]
        self.last_seen = time

    def corners(self) -> np.ndarray:
        return _to_corners(self.mean)


def _greedy_matches(tracks: list[_Track], detections: Detections, candidates: list[int], min_iou: float) -> list:
    """``(track index, detection index)`` pairs of one label, best IoU first, each used once."""
    if not tracks or not candidates:
        return []
    ious = iou_matrix(np.stack([t.corners() for t in tracks]), detections.corners[candidates])
    same_label = np.array([t.label for t in tracks])[:, None] == detections.labels[candidates][None, :]
    ious = np.where(same_label, ious, -1.0)
    pairs = []
    used_tracks, used_detections = set(), set()
    for flat in np.argsort(-ious, axis=None, kind="stable"):
        t, d = divmod(int(flat), len(candidates))
        if ious[t, d] < min_iou:
            break
        if t in used_tracks or d in used_detections:
            continue
        used_tracks.add(t)
        used_detections.add(d)
        pairs.append((t, candidates[d]))
    return pairs


@dataclass
class Tracker:
    """Tracks of one video stream; feed frames in time order with :meth:`step`."""

    config: TrackerConfig = field(default_factory=TrackerConfig)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1

    def step(self, time: float, detections: Detections) -> list[TrackedBox]:
        """The boxes of this frame that belong to a track (matched, or starting one)."""
        config = self.config
        self._tracks = [t for t in self._tracks if time - t.last_seen <= config.max_lost_seconds]
        for track in self._tracks:
            track.predict(time)
        high = [i for i in range(len(detections)) if detections.scores[i] >= config.high_score]
        low = [i for i in range(len(detections)) if detections.scores[i] < config.high_score]
        matched: dict[int, int] = {}  # track index -> detection index
        for t, d in _greedy_matches(self._tracks, detections, high, config.first_iou):
            matched[t] = d
        recent = [t for t, track in enumerate(self._tracks) if t not in matched and track.seen_last_frame]
        for t, d in _greedy_matches([self._tracks[t] for t in recent], detections, low, config.second_iou):
            matched[recent[t]] = d
        used = set(matched.values())
        output = []
        for t, track in enumerate(self._tracks):
            track.seen_last_frame = t in matched
            if t in matched:
                track.update(detections.corners[matched[t]], time)
                output.append(self._box(track, detections, matched[t]))
        for d in high:
            if d not in used:
                track = _Track.start(self._next_id, int(detections.labels[d]), detections.corners[d], time)
                self._next_id += 1
                self._tracks.append(track)
                output.append(self._box(track, detections, d))
        return output

    @staticmethod
    def _box(track: _Track, detections: Detections, index: int) -> TrackedBox:
        corners = tuple(float(c) for c in detections.corners[index])
        return TrackedBox(track.track_id, track.label, corners, float(detections.scores[index]))
