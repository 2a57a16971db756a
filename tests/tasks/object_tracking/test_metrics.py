"""Box metrics against an independent computation written here (greedy IoU matching per frame and label
at every confidence threshold, AP over the confidence grid), the AutoML proto they parse as, and track
quality on hand-made tracks."""

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video.tasks.object_tracking.boxes import Detections
from automl_video.tasks.object_tracking.metrics import GRID, EvaluatedFrame, box_metrics, track_metrics

NUM_LABELS = 3


def iou(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def counts(frames, label, iou_threshold, confidence):
    """(true positives, false positives, false negatives) of one label, matching each frame on its own."""
    tp = fp = fn = 0
    for frame in frames:
        truth = [tuple(c) for c, lab in zip(frame.truth.corners, frame.truth.labels) if lab == label]
        predicted = sorted(
            (
                (float(s), tuple(c))
                for c, lab, s in zip(frame.predicted.corners, frame.predicted.labels, frame.predicted.scores)
                if lab == label and s >= confidence
            ),
            key=lambda p: -p[0],
        )
        free = list(range(len(truth)))
        for _, box in predicted:
            overlaps = [(iou(box, truth[t]), t) for t in free]
            best = max(overlaps, default=(0.0, None))
            if best[1] is not None and best[0] >= iou_threshold:
                free.remove(best[1])
                tp += 1
            else:
                fp += 1
        fn += len(free)
    return tp, fp, fn


def precision_recall(tp, fp, fn):
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def independent_ap(frames, label, iou_threshold) -> float:
    points = [precision_recall(*counts(frames, label, iou_threshold, c)) for c in GRID]  # ascending thresholds
    recalls = [r for _, r in points] + [0.0]
    total = 0.0
    for i in range(len(points)):
        best_precision = max(p for p, _ in points[: i + 1])
        total += (recalls[i] - recalls[i + 1]) * best_precision
    return total


def random_frames(seed: int, count: int = 40) -> list[EvaluatedFrame]:
    """Frames with 0-4 true boxes; predictions are jittered true boxes (some mislabelled) plus strays."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(count):
        n = int(rng.integers(0, 5))
        corners = np.sort(rng.uniform(0, 1, size=(n, 2, 2)), axis=1).transpose(0, 2, 1).reshape(n, 4)[:, [0, 2, 1, 3]]
        corners = np.concatenate([corners[:, :2], np.maximum(corners[:, 2:], corners[:, :2] + 0.05)], axis=1)
        labels = rng.integers(0, NUM_LABELS, size=n)
        jittered = corners + rng.normal(0, 0.03, size=corners.shape)
        flipped = np.where(rng.random(n) < 0.15, (labels + 1) % NUM_LABELS, labels)
        strays = int(rng.integers(0, 3))
        stray_corners = (
            np.sort(rng.uniform(0, 1, size=(strays, 2, 2)), axis=1)
            .transpose(0, 2, 1)
            .reshape(strays, 4)[:, [0, 2, 1, 3]]
        )
        predicted = Detections(
            np.concatenate([jittered, stray_corners]).astype(np.float32),
            np.concatenate([flipped, rng.integers(0, NUM_LABELS, size=strays)]),
            np.round(rng.uniform(0, 1, size=n + strays), 2).astype(np.float32),  # ties on purpose
        )
        truth = Detections(corners.astype(np.float32), labels, np.ones(n, np.float32))
        frames.append(
            EvaluatedFrame(
                "v.mp4", index / 10, truth, np.zeros(n, np.int64), predicted, np.zeros(len(predicted), np.int64)
            )
        )
    return frames


@pytest.mark.parametrize("seed", [0, 1])
def test_box_metrics_match_an_independent_computation(seed):
    frames = random_frames(seed)
    metrics = box_metrics(frames, NUM_LABELS)
    assert [e.iou_threshold for e in metrics.overall.entries] == list(GRID)
    for iou_threshold in (0.3, 0.5, 0.75):
        overall = metrics.overall.at_iou(iou_threshold)
        labelled = [label for label in range(NUM_LABELS) if any((f.truth.labels == label).any() for f in frames)]
        aps = [independent_ap(frames, label, iou_threshold) for label in labelled]
        assert overall.mean_average_precision == pytest.approx(np.mean(aps))
        for label in range(NUM_LABELS):
            per_label = metrics.per_label[label].at_iou(iou_threshold)
            assert per_label.mean_average_precision == pytest.approx(
                aps[labelled.index(label)] if label in labelled else 0.0
            )
        for entry in overall.confidence_entries:
            pooled = np.sum(
                [counts(frames, label, iou_threshold, entry.confidence_threshold) for label in range(NUM_LABELS)],
                axis=0,
            )
            precision, recall = precision_recall(*pooled)
            assert (entry.true_positives, entry.false_positives, entry.false_negatives) == tuple(pooled)
            assert (entry.precision, entry.recall) == (pytest.approx(precision), pytest.approx(recall))
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            assert entry.f1_score == pytest.approx(f1)
    assert metrics.overall.mean_average_precision == pytest.approx(
        np.mean([e.mean_average_precision for e in metrics.overall.entries])
    )
    assert metrics.overall.evaluated_frame_count == len(frames)
    assert metrics.overall.evaluated_bounding_box_count == sum(len(f.truth) for f in frames)


def test_perfect_and_empty_predictions():
    frames = random_frames(3)
    perfect = [EvaluatedFrame(f.video, f.time, f.truth, f.instance_ids, f.truth, f.instance_ids) for f in frames]
    assert box_metrics(perfect, NUM_LABELS).overall.mean_average_precision == pytest.approx(1.0)
    none = [
        EvaluatedFrame(f.video, f.time, f.truth, f.instance_ids, Detections.empty(), np.zeros(0, np.int64))
        for f in frames
    ]
    empty = box_metrics(none, NUM_LABELS).overall.at_iou(0.5)
    assert empty.mean_average_precision == 0.0
    assert {(e.precision, e.recall, e.f1_score) for e in empty.confidence_entries} == {(1.0, 0.0, 0.0)}


def test_metrics_parse_as_the_automl_model_evaluation():
    metrics = box_metrics(random_frames(4), NUM_LABELS)
    for document in [metrics.overall.to_proto_json()] + [m.to_proto_json() for m in metrics.per_label]:
        message = automl_v1beta1.ModelEvaluation.pb()()
        json_format.ParseDict({"videoObjectTrackingEvaluationMetrics": document}, message, ignore_unknown_fields=False)
        parsed = message.video_object_tracking_evaluation_metrics
        assert len(parsed.bounding_box_metrics_entries) == len(GRID)
        assert len(parsed.bounding_box_metrics_entries[0].confidence_metrics_entries) == len(GRID)
        assert parsed.evaluated_frame_count == 40


def box(x: float) -> list[float]:
    return [x, 0.1, x + 0.2, 0.3]


def test_track_quality_counts_id_switches_along_each_true_instance():
    # Instance 7 moves right over five frames; the tracker follows it with track 1, misses it once,
    # then follows it with track 2 (one switch). Instance 8 is followed by track 3 throughout.
    frames = []
    tracks = [1, 1, None, 2, 2]
    for k, track in enumerate(tracks):
        truth = Detections(
            np.array([box(0.1 * k), [0.6, 0.6, 0.9, 0.9]], np.float32), np.array([0, 1]), np.ones(2, np.float32)
        )
        predicted_boxes, predicted_tracks = [[0.6, 0.6, 0.9, 0.9]], [3]
        if track is not None:
            predicted_boxes.append(box(0.1 * k + 0.02))
            predicted_tracks.append(track)
        predicted = Detections(
            np.array(predicted_boxes, np.float32),
            np.array([1] + [0] * (len(predicted_boxes) - 1)),
            np.full(len(predicted_boxes), 0.9, np.float32),
        )
        frames.append(EvaluatedFrame("v.mp4", k / 10, truth, np.array([7, 8]), predicted, np.array(predicted_tracks)))
    metrics = track_metrics(frames[::-1])  # any order: frames are sorted by time
    by_instance = {i.instance_id: i for i in metrics.instances}
    assert (by_instance[7].frames, by_instance[7].matched_frames, by_instance[7].id_switches) == (5, 4, 1)
    shifted_iou = (0.18 * 0.2) / (0.22 * 0.2)  # a box shifted by a tenth of its width
    assert by_instance[7].mean_iou == pytest.approx(4 * shifted_iou / 5)
    assert (by_instance[8].id_switches, by_instance[8].mean_iou) == (0, pytest.approx(1.0))
    assert (metrics.instance_count, metrics.id_switches, metrics.id_switches_per_track) == (2, 1, 0.5)
    assert metrics.mismatch_rate == pytest.approx(1 / 9)
