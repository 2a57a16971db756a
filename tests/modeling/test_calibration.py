"""Calibration: the fits recover known parameters, and a trained model's calibration is folded into its
weights, so the Keras network, its exports, evaluation and batch prediction all score calibrated."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from automl_video import cli, evaluation, storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.modeling import export
from automl_video.modeling.calibration import (
    MIN_SCALE,
    AffineLogits,
    best_threshold,
    centred_on_best_thresholds,
    f1_counts,
    f1_score,
    fit_platt,
    fit_temperature,
    output_logits,
    sigmoid,
    softmax,
)
from automl_video.modeling.loading import build_network, load_model, load_weights
from automl_video.modeling.metadata import Calibration, InputSpec, LabelCalibration, ModelMetadata
from automl_video.prediction.engine import batch_predict
from automl_video.tasks.classification.prediction import PredictionParams
from automl_video.training.checkpoints import CHECKPOINT_DIR
from automl_video.training.engine import train
from automl_video.video import read_clip
from tests.prediction_support import checked_payloads, legacy_rows, write_file

TINY = InputSpec(num_frames=4, height=32, width=32)
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def test_platt_fit_recovers_known_parameters_and_leaves_one_sided_labels_alone():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 20_000)
    positives = rng.random(20_000) < sigmoid(0.6 * logits - 0.8)

    a, b = fit_platt(logits, positives)

    assert a == pytest.approx(0.6, abs=0.03) and b == pytest.approx(-0.8, abs=0.05)
    assert fit_platt(logits, np.zeros(20_000, bool)) == (1.0, 0.0)  # no positive: identity
    assert fit_platt(logits, np.ones(20_000, bool)) == (1.0, 0.0)  # no negative: identity
    a, _ = fit_platt(logits, logits < 0)  # anti-correlated: the ranking is never reversed
    assert a == MIN_SCALE
    few = np.array([-3.0, -1.0, 2.0, 4.0])  # four separable examples: smoothed targets and the prior keep it tame
    a, b = fit_platt(few, few > 0)
    assert 0.2 < a < 2 and abs(b) < 1


def test_temperature_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 4, (20_000, 4))
    probabilities = softmax(0.5 * logits)
    drawn = (probabilities.cumsum(axis=1) > rng.random((20_000, 1))).argmax(axis=1)

    assert fit_temperature(logits, np.eye(4)[drawn]) == pytest.approx(0.5, abs=0.02)


def test_best_threshold_splits_the_scores_where_f1_is_highest():
    scores = np.array([0.9, 0.8, 0.45, 0.3, 0.2])
    assert best_threshold(scores, np.array([True, True, True, False, False])) == pytest.approx(0.375)
    assert best_threshold(scores, np.zeros(5, bool)) is None


def test_centring_puts_each_labels_best_validation_f1_at_half():
    # Under-confident label 0 (its positives score 0.2-0.45) and over-confident label 1 (its negatives
    # score up to 0.7); label 2 has no VALIDATION negative, so nothing says where to cut it.
    scores = np.array([[0.45, 0.9, 0.6], [0.3, 0.85, 0.7], [0.2, 0.7, 0.8], [0.1, 0.6, 0.9], [0.05, 0.2, 0.95]])
    positives = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 0, 1]], bool)
    logits = np.log(scores / (1 - scores))
    identity = AffineLogits(scale=np.ones(3), offset=np.zeros(3))

    centred = centred_on_best_thresholds(identity, logits, positives)
    after = sigmoid(centred.scale * logits + centred.offset)

    for k in (0, 1):
        best = f1_score(*f1_counts(scores[:, k], positives[:, k], best_threshold(scores[:, k], positives[:, k])))
        assert best == 1.0 and f1_score(*f1_counts(scores[:, k], positives[:, k], 0.5)) < 1.0
        assert f1_score(*f1_counts(after[:, k], positives[:, k], 0.5)) == best
    np.testing.assert_allclose(np.argsort(after, axis=0), np.argsort(scores, axis=0))  # rankings kept
    assert centred.offset[2] == 0.0


def test_metadata_without_calibration_loads_and_with_it_round_trips():
    with open(os.path.join(FIXTURES, "v0.1", "model", "model.json")) as f:
        old = ModelMetadata.from_json(json.load(f))
    assert old.calibration is None

    old.calibration = Calibration(
        "platt", 12, (LabelCalibration(1.5, -0.2, 3, 0.5, 0.8, 0.41, 0.86),), f1_before=0.5, f1_after=0.8, best_f1=0.86
    )
    assert ModelMetadata.from_json(json.loads(json.dumps(old.to_json()))) == old


@pytest.fixture(scope="module")
def calibrated(synth_small, tmp_path_factory):
    """A tiny classification model trained (and so calibrated) on synth_small, and its TEST clips."""
    root = tmp_path_factory.mktemp("calibrated")
    dataset_uri = str(root / "dataset")
    importer.import_data([synth_small.import_csv], dataset_uri)
    splits.split_dataset(dataset_uri)
    model_uri = str(root / "model")
    result = train(dataset_uri, model_uri, input_spec=TINY, max_epochs=2, batch_size=8, cache_dir=str(root / "cache"))
    dataset = dataset_lib.load(dataset_uri)
    spans = [(v.uri, s.start, s.end) for v in dataset.videos_in("TEST") for s in v.annotations]
    clips = np.stack([read_clip(uri, start, end, TINY) for uri, start, end in spans])
    model = load_model(model_uri)
    assert result.calibration == model.metadata.calibration
    return dataset_uri, model_uri, model, spans, clips


def test_calibration_is_in_the_weights_so_the_network_and_its_exports_agree(calibrated, tmp_path):
    _, model_uri, model, _, clips = calibrated
    calibration = model.metadata.calibration
    assert calibration.method == "platt-f1" and len(calibration.labels) == 4
    assert calibration.validation_examples == model.metadata.training.validation_examples
    scores = model.predict_clips(clips)

    # The checkpoint keeps the weights as trained: calibrating its logits gives the published scores.
    trained = build_network(model.metadata)
    state = storage.read_json(f"{model_uri}/{CHECKPOINT_DIR}/state.json")
    load_weights(trained, f"{model_uri}/{CHECKPOINT_DIR}/{state['best_weights_file']}")
    logits = output_logits(trained, clips)
    scale = np.array([label.scale for label in calibration.labels])
    offset = np.array([label.offset for label in calibration.labels])
    np.testing.assert_allclose(scores, sigmoid(scale * logits + offset), atol=1e-5)
    assert np.abs(scores - trained.predict(clips, verbose=0)).max() > 1e-3  # calibration changed them

    saved = export.export_model(model_uri, "tf-saved-model", str(tmp_path / "saved"))
    serving = tf.saved_model.load(saved.model_uri).signatures["serving_default"]
    np.testing.assert_allclose(serving(frames=tf.constant(clips))["scores"].numpy(), scores, atol=1e-5)
    tflite = export.export_model(model_uri, "tflite", str(tmp_path / "tflite"))
    runner = Interpreter(model_path=tflite.model_uri).get_signature_runner("serving_default")
    tflite_scores = np.concatenate([runner(frames=clip[np.newaxis])["scores"] for clip in clips])
    np.testing.assert_allclose(tflite_scores, scores, atol=1e-5)


@pytest.mark.parametrize("inference, tolerance", [("keras", 1e-6), ("litert-float", 1e-5), ("litert-dynamic", 1e-2)])
def test_batch_prediction_scores_a_segment_as_evaluation_does(calibrated, tmp_path, inference, tolerance):
    # Evaluation scores with Keras; batch prediction's default (auto) may pick either LiteRT variant by
    # timing, so each backend is held to its own bound: Keras the same scores, the float conversion float
    # noise, dynamic-range int8 weights a 1e-2 drift (5.6e-4 measured on this model) with the same top label.
    dataset_uri, model_uri, model, (span, *_), _ = calibrated
    result = evaluation.evaluate(model_uri, dataset_uri, str(tmp_path / "evaluation"))
    [evaluated] = [
        r for r in storage.read_jsonl(result.predictions_uri) if (r["video_uri"], r["start"], r["end"]) == span
    ]

    inputs = write_file(tmp_path / "in.csv", "{},{},{}\n".format(*span))
    predicted = batch_predict(model_uri, [inputs], str(tmp_path / "out"), PredictionParams(), inference=inference)
    [row] = legacy_rows(predicted.output_dir)
    payloads = checked_payloads(predicted.output_dir, row[3])
    scores = {p["displayName"]: p["videoClassification"]["classificationAnnotation"]["score"] for p in payloads}

    assert set(scores) == set(model.metadata.label_names)
    for name, score in scores.items():
        assert score == pytest.approx(evaluated["scores"][name], abs=tolerance)
    assert max(scores, key=scores.get) == max(evaluated["scores"], key=evaluated["scores"].get)


def test_train_cli_says_what_calibration_did(calibrated, capsys):
    dataset_uri, model_uri, model, _, _ = calibrated
    command = ["train", "--dataset", dataset_uri, "--model", model_uri, "--max-epochs", "2", "--num-frames", "4"]
    command += ["--image-size", "32x32", "--batch-size", "8", "--registry", "off"]

    assert cli.main(command) == 0  # finished already: the summary of the published model

    calibration = model.metadata.calibration
    expected = f"F1 at 0.5 {calibration.f1_before:.2f} → {calibration.f1_after:.2f}"
    assert f"scores calibrated on VALIDATION (platt-f1): {expected}" in capsys.readouterr().out
