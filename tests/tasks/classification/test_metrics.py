"""AutoML evaluation metrics checked against scikit-learn on the same scores."""

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format
from sklearn import metrics as skm

from automl_video.data.dataset import AnnotationSpec
from automl_video.tasks.classification import metrics

# AU-PRC is a 32-bit float in ClassificationEvaluationMetrics: kept as the wire carries it (within 6e-8).
FLOAT32 = 1e-7
EXPECTED_THRESHOLDS = [
    0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50,
    0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.96, 0.97, 0.98, 0.99,
]  # fmt: skip


def specs(count: int) -> list[AnnotationSpec]:
    return [AnnotationSpec(id=str(10 + i), display_name=f"label_{i}") for i in range(count)]


def multilabel_case(seed: int, examples: int = 60, labels: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Scores correlated with a multi-label truth, rounded to 2 decimals so there are many ties."""
    rng = np.random.default_rng(seed)
    truth = rng.random((examples, labels)) < 0.35
    truth[0] = False  # an example with no label (a "-" segment)
    scores = np.clip(0.45 * truth + rng.random((examples, labels)) * 0.7, 0, 1).round(2)
    return scores, truth


def multiclass_case(seed: int, examples: int = 50, labels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_index = rng.integers(0, labels, examples)
    truth = np.eye(labels, dtype=bool)[true_index]
    scores = np.clip(0.4 * truth + rng.random((examples, labels)) * 0.8, 0, 1).astype(np.float32)
    return scores, truth


def top1_predictions_by_loop(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The @1 rule written out independently: one prediction per example, only if its score passes."""
    predicted = np.zeros(scores.shape, dtype=int)
    for i, row in enumerate(scores):
        best = max(range(len(row)), key=lambda j: (row[j], -j))
        if row[best] >= threshold:
            predicted[i, best] = 1
    return predicted


def test_threshold_list_is_automls():
    assert list(metrics.CONFIDENCE_THRESHOLDS) == EXPECTED_THRESHOLDS
    result = metrics.compute_metrics(*multilabel_case(0), specs(4))
    for evaluation in [result.overall, *result.per_label]:
        assert [e.confidence_threshold for e in evaluation.confidence_metrics] == EXPECTED_THRESHOLDS


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_sklearn_with_ties(seed):
    scores, truth = multilabel_case(seed)
    assert metrics.average_precision(scores, truth) == pytest.approx(
        skm.average_precision_score(truth.ravel(), scores.ravel()), abs=1e-12
    )
    # All scores tied: one threshold, AP = positive rate.
    assert metrics.average_precision(np.full(10, 0.3), np.arange(10) < 3) == pytest.approx(0.3)
    assert metrics.average_precision(np.array([0.2, 0.9]), np.array([False, False])) == 0.0


@pytest.mark.parametrize("case", [multilabel_case(3), multiclass_case(4)])
def test_au_prc_overall_is_micro_and_per_label_is_column(case):
    scores, truth = case
    labels = scores.shape[1]
    result = metrics.compute_metrics(scores, truth, specs(labels))
    assert result.overall.au_prc == pytest.approx(
        skm.average_precision_score(truth, scores, average="micro"), abs=FLOAT32
    )
    assert result.overall.base_au_prc == pytest.approx(truth.sum() / truth.size)
    assert result.overall.evaluated_example_count == len(scores)
    assert result.overall.annotation_spec_ids == [s.id for s in specs(labels)]
    for j, per_label in enumerate(result.per_label):
        assert per_label.annotation_spec_ids == [specs(labels)[j].id]
        assert per_label.au_prc == pytest.approx(skm.average_precision_score(truth[:, j], scores[:, j]), abs=FLOAT32)
        assert per_label.base_au_prc == pytest.approx(truth[:, j].mean())
        assert per_label.evaluated_example_count == truth[:, j].sum()


@pytest.mark.parametrize("case", [multilabel_case(5), multiclass_case(6)])
def test_threshold_metrics_match_sklearn(case):
    scores, truth = case
    result = metrics.compute_metrics(scores, truth, specs(scores.shape[1]))
    columns = [(result.overall, slice(None))] + [(m, j) for j, m in enumerate(result.per_label)]
    for evaluation, column in columns:
        y_true = truth[:, column].ravel()
        assert y_true.any()  # so zero_division=1.0 applies to precision only (nothing predicted)
        for entry in evaluation.confidence_metrics:
            t = entry.confidence_threshold
            y_pred = scores[:, column].ravel() >= t
            y_pred_at1 = top1_predictions_by_loop(scores, t)[:, column].ravel()
            expected = skm.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=1.0)
            assert (entry.precision, entry.recall, entry.f1_score) == pytest.approx(expected[:3])
            expected = skm.precision_recall_fscore_support(y_true, y_pred_at1, average="binary", zero_division=1.0)
            assert (entry.precision_at1, entry.recall_at1, entry.f1_score_at1) == pytest.approx(expected[:3])
            tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred, labels=[False, True]).ravel()
            assert (entry.true_negative_count, entry.false_positive_count) == (tn, fp)
            assert (entry.false_negative_count, entry.true_positive_count) == (fn, tp)
            assert entry.false_positive_rate == pytest.approx(fp / (fp + tn))


def test_at1_counts_only_the_top_label_and_only_above_threshold():
    labels = specs(3)
    scores = np.array(
        [
            [0.9, 0.8, 0.1],  # two labels pass 0.5, only the top one (label 0) counts @1
            [0.3, 0.4, 0.2],  # top label below 0.5: no @1 prediction at all
            [0.1, 0.2, 0.7],  # top label 2 is wrong
        ]
    )
    truth = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=bool)
    entry = metrics.compute_metrics(scores, truth, labels).overall.at_threshold(0.5)
    # Plain: predicted (0,0) (0,1) (2,2); TP (0,0) (0,1); positives 4.
    assert (entry.precision, entry.recall) == pytest.approx((2 / 3, 2 / 4))
    # @1: predicted (0,0) and (2,2); TP (0,0) only.
    assert (entry.precision_at1, entry.recall_at1) == pytest.approx((1 / 2, 1 / 4))
    assert entry.f1_score_at1 == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    # At 0.35 the second example's top label (0.4) passes and is right.
    entry = metrics.compute_metrics(scores, truth, labels).overall.at_threshold(0.35)
    assert (entry.precision_at1, entry.recall_at1) == pytest.approx((2 / 3, 2 / 4))


def test_nothing_predicted_has_precision_one_and_recall_zero():
    scores = np.array([[0.2, 0.1], [0.3, 0.4]])
    truth = np.array([[1, 0], [0, 1]], dtype=bool)
    entry = metrics.compute_metrics(scores, truth, specs(2)).overall.at_threshold(0.99)
    assert (entry.precision, entry.recall, entry.f1_score) == (1.0, 0.0, 0.0)
    assert (entry.precision_at1, entry.recall_at1, entry.f1_score_at1) == (1.0, 0.0, 0.0)


def test_confusion_matrix_rows_true_columns_top1_predicted():
    scores, truth = multiclass_case(7, labels=4)
    matrix = metrics.compute_metrics(scores, truth, specs(4)).overall.confusion_matrix
    assert matrix is not None
    expected = skm.confusion_matrix(truth.argmax(1), scores.argmax(1), labels=range(4))
    assert np.array_equal(np.array(matrix.rows), expected)
    assert matrix.annotation_spec_ids == [s.id for s in specs(4)]
    assert matrix.display_names == [s.display_name for s in specs(4)]
    # Top-1 regardless of threshold: a low but highest score still counts as that prediction.
    low = metrics.compute_metrics(np.array([[0.01, 0.02]]), np.array([[True, False]]), specs(2))
    assert low.overall.confusion_matrix.rows == [[0, 1], [0, 0]]


def test_confusion_matrix_only_for_multiclass_with_at_most_10_labels():
    scores, truth = multiclass_case(8, labels=10)
    result = metrics.compute_metrics(scores, truth, specs(10))
    assert result.overall.confusion_matrix is not None
    assert all(m.confusion_matrix is None for m in result.per_label)

    scores, truth = multiclass_case(8, labels=11)
    assert metrics.compute_metrics(scores, truth, specs(11)).overall.confusion_matrix is None

    scores, truth = multiclass_case(9, labels=3)
    truth[4] = False  # one example with no label ("-" segment): no longer multiclass
    assert metrics.compute_metrics(scores, truth, specs(3)).overall.confusion_matrix is None
    truth[4] = True  # one example with every label: multi-label
    assert metrics.compute_metrics(scores, truth, specs(3)).overall.confusion_matrix is None


def test_proto_json_parses_into_automl_message():
    scores, truth = multiclass_case(10)
    result = metrics.compute_metrics(scores, truth, specs(3))
    for evaluation in [result.overall, *result.per_label]:
        message = automl_v1beta1.ClassificationEvaluationMetrics()
        pb = automl_v1beta1.ClassificationEvaluationMetrics.pb(message)
        json_format.ParseDict(evaluation.to_proto_json(), pb, ignore_unknown_fields=False)
        assert message.au_prc == pytest.approx(evaluation.au_prc, rel=1e-6)
        assert list(message.annotation_spec_id) == evaluation.annotation_spec_ids
        assert len(message.confidence_metrics_entry) == len(EXPECTED_THRESHOLDS)
        last = message.confidence_metrics_entry[-1]
        assert last.true_positive_count == evaluation.confidence_metrics[-1].true_positive_count
        rows = [list(row.example_count) for row in message.confusion_matrix.row]
        assert rows == (evaluation.confusion_matrix.rows if evaluation is result.overall else [])


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"must both be \[examples, 3 labels\]"):
        metrics.compute_metrics(np.zeros((4, 2)), np.zeros((4, 2)), specs(3))
