"""The Vertex action recognition metrics against an independent computation written in the tests
(``support.independent_matches``: greedy matching by confidence per window, as plain loops over every
prediction and ground truth)."""

import numpy as np
import pytest

from automl_video.tasks.action_recognition.metrics import (
    CONFIDENCE_THRESHOLDS,
    PRECISION_WINDOWS,
    ScoredMoment,
    TrueMoment,
    compute_metrics,
    judged_moments,
)
from automl_video.tasks.action_recognition.timeline import Moment, TrueAction, VideoTruth
from tests.tasks.action_recognition.support import checked, independent_ap, independent_matches


def random_case(seed, labels=3, videos=4):
    rng = np.random.default_rng(seed)
    truths, predictions = [], []
    for v in range(videos):
        for _ in range(rng.integers(0, 5)):
            truths.append(TrueMoment(f"v{v}", int(rng.integers(labels)), round(float(rng.uniform(0, 10)), 3)))
        for _ in range(rng.integers(0, 8)):
            predictions.append(
                ScoredMoment(
                    f"v{v}", int(rng.integers(labels)), round(float(rng.uniform(0, 10)), 3), float(rng.uniform())
                )
            )
        for t in truths:  # some predictions near the truth, at different distances
            if t.video == f"v{v}" and rng.uniform() < 0.7:
                predictions.append(
                    ScoredMoment(t.video, t.label, t.time + float(rng.normal(0, 0.8)), float(rng.uniform()))
                )
    return predictions, truths


@pytest.mark.parametrize("seed", range(12))
def test_metrics_equal_the_independent_greedy_matching(seed):
    labels = 3
    predictions, truths = random_case(seed, labels)
    metrics = compute_metrics(predictions, truths, labels)
    assert metrics.overall.evaluated_action_count == len(truths)
    assert [m.evaluated_action_count for m in metrics.per_label] == [
        sum(t.label == j for t in truths) for j in range(labels)
    ]
    for index, window in enumerate(PRECISION_WINDOWS):
        outcome = independent_matches(predictions, truths, window)
        label_aps = []
        for label in range(labels):
            mine = [o for o in outcome if o[1] == label]
            count = sum(t.label == label for t in truths)
            ap = independent_ap(mine, count)
            assert metrics.per_label[label].windows[index].mean_average_precision == pytest.approx(ap)
            if count:
                label_aps.append(ap)
            for entry in metrics.per_label[label].windows[index].confidence_metrics:
                kept = [o for o in mine if o[0] >= entry.confidence_threshold]
                tp = sum(o[2] for o in kept)
                assert entry.precision == pytest.approx(tp / len(kept) if kept else 1.0)
                assert entry.recall == pytest.approx(tp / count if count else 0.0)
        overall = metrics.overall.windows[index]
        assert overall.precision_window_seconds == window
        assert overall.mean_average_precision == pytest.approx(np.mean(label_aps) if label_aps else 0.0)
        for entry in overall.confidence_metrics:
            kept = [o for o in outcome if o[0] >= entry.confidence_threshold]
            tp = sum(o[2] for o in kept)
            precision, recall = (tp / len(kept) if kept else 1.0), (tp / len(truths) if truths else 0.0)
            assert (entry.precision, entry.recall) == pytest.approx((precision, recall))
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            assert entry.f1_score == pytest.approx(f1)


def test_a_hand_worked_case():
    """Two jumps at 1 s and 5 s. Predictions: 0.9 at 1.4 s (hit at every window), 0.8 at 1.1 s (the 1 s
    jump is taken: a false positive), 0.7 at 6.2 s (hits the 5 s jump only from the 3 s window: 1.2 ≤ 1.5),
    0.6 a spin at 5 s (wrong label)."""
    truths = [TrueMoment("a", 0, 1.0), TrueMoment("a", 0, 5.0)]
    predictions = [
        ScoredMoment("a", 0, 1.4, 0.9),
        ScoredMoment("a", 0, 1.1, 0.8),
        ScoredMoment("a", 0, 6.2, 0.7),
        ScoredMoment("a", 1, 5.0, 0.6),
    ]
    metrics = compute_metrics(predictions, truths, 2)
    one, two, three = metrics.per_label[0].windows
    assert one.mean_average_precision == pytest.approx(0.5)  # (1/1) / 2
    assert two.mean_average_precision == pytest.approx(0.5)
    assert three.mean_average_precision == pytest.approx((1 + 2 / 3) / 2)
    assert metrics.overall.window(1.0).mean_average_precision == pytest.approx(0.5)  # spin has no truth: not averaged
    assert metrics.per_label[1].window(1.0).mean_average_precision == 0.0
    at_75 = three.at_threshold(0.75)
    assert (at_75.precision, at_75.recall) == pytest.approx((0.5, 0.5))
    overall_at_05 = metrics.overall.window(1.0).at_threshold(0.05)
    assert (overall_at_05.precision, overall_at_05.recall) == pytest.approx((0.25, 0.5))
    nothing = metrics.overall.window(1.0).at_threshold(0.99)
    assert (nothing.precision, nothing.recall, nothing.f1_score) == (1.0, 0.0, 0.0)


def test_a_ground_truth_at_exactly_half_the_window_is_a_hit():
    truths = [TrueMoment("a", 0, 2.0)]
    metrics = compute_metrics([ScoredMoment("a", 0, 2.5, 0.5)], truths, 1)
    assert [w.mean_average_precision for w in metrics.overall.windows] == [1.0, 1.0, 1.0]
    metrics = compute_metrics([ScoredMoment("a", 0, 2.501, 0.5)], truths, 1)
    assert [w.mean_average_precision for w in metrics.overall.windows] == [0.0, 1.0, 1.0]


def test_proto_json_is_vertex_video_action_recognition_metrics():
    predictions, truths = random_case(3)
    doc = compute_metrics(predictions, truths, 3).overall.to_proto_json()
    message = checked("VideoActionRecognitionMetrics", doc)
    assert message.evaluated_action_count == len(truths)
    assert [m.precision_window_length.seconds for m in message.video_action_metrics] == [1, 2, 3]
    thresholds = [round(c.confidence_threshold, 2) for c in message.video_action_metrics[0].confidence_metrics]
    assert thresholds == list(CONFIDENCE_THRESHOLDS)


def test_predictions_outside_the_annotated_stretches_are_not_judged_unless_near_a_truth():
    truth = VideoTruth("v", (TrueAction(0, 8.0, 8.0),), ((0.0, 4.0),))
    predicted = [Moment(0, 1.0, 0.9), Moment(0, 6.0, 0.8), Moment(0, 9.4, 0.7), Moment(1, 9.4, 0.6)]
    judged, true = judged_moments(truth, predicted)
    assert [(m.label, m.time) for m in judged] == [(0, 1.0), (0, 9.4)]  # inside the stretch, or within 1.5 s
    assert true == [TrueMoment("v", 0, 8.0)]
