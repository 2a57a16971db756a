"""Evaluation of a real (untrained) action network on the TEST split of a real synthetic dataset.

The metric definitions are checked in test_metrics.py; here the checks are that every TEST video is
predicted as batch prediction predicts it, that evaluations.json agrees with an independent greedy
matching of those moments, that its entries are Vertex ``VideoActionRecognitionMetrics`` in AutoML's
``ModelEvaluation`` envelope, and that the registry records them under the action recognition schema.
"""

import json
import os

import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import cli, evaluation, storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.data.dataset import DatasetError
from automl_video.prediction.engine import batch_predict
from automl_video.registry.resources import METRICS_SCHEMAS, NewModelEvaluation
from automl_video.tasks.action_recognition.metrics import PRECISION_WINDOWS, ScoredMoment, TrueMoment
from automl_video.tasks.action_recognition.prediction import PredictionParams
from automl_video.times import parse_duration
from tests.tasks.action_recognition.support import (
    ACTION_SPEC,
    checked,
    independent_ap,
    independent_matches,
    publish_action_model,
)


@pytest.fixture(scope="module")
def split_dataset(action_synth, tmp_path_factory):
    dataset_uri = str(tmp_path_factory.mktemp("eval") / "dataset")
    importer.import_data([action_synth.import_jsonl], dataset_uri, prediction_type="action_recognition")
    splits.split_dataset(dataset_uri, seed=2)
    return dataset_uri


@pytest.fixture(scope="module")
def evaluated(split_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluated")
    dataset = dataset_lib.load(split_dataset)
    (root / "model").mkdir()
    model_uri = publish_action_model(root / "model", ACTION_SPEC, dataset.annotation_specs, split_dataset, seed=1)
    result = evaluation.evaluate(model_uri, split_dataset, str(root / "evaluation"))
    return result, dataset, model_uri


def test_every_test_video_is_predicted_as_batch_prediction_predicts_it(evaluated, tmp_path):
    result, dataset, model_uri = evaluated
    rows = storage.read_jsonl(result.predictions_uri)
    test_videos = [v for v in dataset.videos if v.split == "TEST"]
    assert [r["video_uri"] for r in rows] == [v.uri for v in test_videos]
    instances = tmp_path / "test.jsonl"
    instances.write_text("".join(json.dumps({"content": v.uri}) + "\n" for v in test_videos))
    # The same scorer as evaluation (Keras): LiteRT's float rounding (scores within 1e-6) moves a peak's
    # interpolated time by about as much as the tolerance here, which is about decoding and clip times.
    predicted = batch_predict(
        model_uri, [str(instances)], str(tmp_path / "out"), PredictionParams(max_predictions=None), inference="keras"
    )
    lines = storage.read_jsonl(os.path.join(predicted.output_dir, "predictions_00001.jsonl"))
    for row, line in zip(rows, lines):
        assert [(m["label"], m["time"]) for m in row["predicted"]] == [
            (p["displayName"], pytest.approx(parse_duration(p["timeSegmentStart"]), abs=1e-6))
            for p in line["prediction"]
        ]
        truth = [(a.label, a.start) for v in test_videos if v.uri == row["video_uri"] for a in v.annotations if a.label]
        assert sorted((t["label"], t["start"]) for t in row["truth"]) == sorted(truth)


def test_evaluations_agree_with_an_independent_matching(evaluated):
    result, dataset, _ = evaluated
    labels = dataset.label_names()
    rows = storage.read_jsonl(result.predictions_uri)
    # Every video is fully annotated, so every predicted moment is judged.
    predictions = [
        ScoredMoment(r["video_uri"], labels.index(m["label"]), m["time"], m["confidence"])
        for r in rows
        for m in r["predicted"]
    ]
    truths = [TrueMoment(r["video_uri"], labels.index(t["label"]), t["start"]) for r in rows for t in r["truth"]]
    documents = storage.read_json(result.evaluations_uri)
    overall, per_label = documents[0], documents[1:]
    assert [d["displayName"] for d in per_label] == labels and overall["annotationSpecId"] == ""
    assert overall["evaluatedExampleCount"] == len(truths)
    for index, window in enumerate(PRECISION_WINDOWS):
        outcome = independent_matches(predictions, truths, window)
        aps = []
        for label, document in enumerate(per_label):
            count = sum(t.label == label for t in truths)
            ap = independent_ap([o for o in outcome if o[1] == label], count)
            entry = document["videoActionRecognitionMetrics"]["videoActionMetrics"][index]
            assert entry["meanAveragePrecision"] == pytest.approx(ap)
            assert document["videoActionRecognitionMetrics"]["evaluatedActionCount"] == count
            aps.append(ap)
        entry = overall["videoActionRecognitionMetrics"]["videoActionMetrics"][index]
        assert entry["precisionWindowLength"] == f"{window:g}s"
        assert entry["meanAveragePrecision"] == pytest.approx(sum(aps) / len(aps))
    assert result.score == pytest.approx(
        overall["videoActionRecognitionMetrics"]["videoActionMetrics"][0]["meanAveragePrecision"]
    )
    metrics = storage.read_json(result.metrics_uri)
    assert metrics["map_1s"] == pytest.approx(result.score) and set(metrics) >= {"map_2s", "map_3s", "f1_score_1s"}


def test_evaluations_are_vertex_metrics_in_the_automl_envelope_and_the_registry_takes_them(evaluated):
    result, _, _ = evaluated
    for document in storage.read_json(result.evaluations_uri):
        metrics = document["videoActionRecognitionMetrics"]
        checked("VideoActionRecognitionMetrics", metrics)
        envelope = {k: v for k, v in document.items() if k != "videoActionRecognitionMetrics"}
        json_format.Parse(json.dumps(envelope), automl_v1beta1.ModelEvaluation.pb()(), ignore_unknown_fields=False)
        record = NewModelEvaluation.from_automl_json(document)
        assert record.metrics_schema_uri == METRICS_SCHEMAS["videoActionRecognitionMetrics"]
        assert record.metrics == metrics


def test_report_shows_each_test_video_and_the_threshold_table(evaluated):
    result, dataset, _ = evaluated
    report = storage.read_text(result.report_uri)
    assert "<html" in report and "mAP, 1 s window" in report
    for video in dataset.videos:
        assert (video.uri in report) == (video.split == "TEST")
    assert report.count('<table class="thresholds"') == len(PRECISION_WINDOWS)
    assert report.count("<title>true ") == sum(
        1 for v in dataset.videos if v.split == "TEST" for a in v.annotations if a.label
    )


def test_cli_evaluate_prints_the_map_per_window(evaluated, split_dataset, tmp_path, capsys):
    result, _, model_uri = evaluated
    assert (
        cli.main(["evaluate", "--model", model_uri, "--dataset", split_dataset, "--output", str(tmp_path / "again")])
        == 0
    )
    out = capsys.readouterr().out
    assert "window 1 s: mAP" in out and "mAP@3s" in out and f"{result.score:.4f}" in out


def test_a_test_split_without_actions_is_refused(evaluated, tmp_path):
    _, dataset, model_uri = evaluated
    for video in dataset.videos:
        video.split = "TRAIN"
    dataset_uri = str(tmp_path / "no_test")
    dataset_lib.save(dataset, dataset_uri)
    with pytest.raises(DatasetError, match="the TEST split has no actions to evaluate"):
        evaluation.evaluate(model_uri, dataset_uri, str(tmp_path / "out"))


def test_report_in_chromium_moves_the_threshold_and_draws_a_picked_label(evaluated, page, tmp_path):
    result, _, _ = evaluated
    page.open(storage.local_path(result.report_uri))
    assert page.errors == [] and page.text("#threshold") == "0.50"
    visible = "[].filter.call(document.querySelectorAll('circle.moment'), function(c) { return c.style.display !== 'none'; }).length"
    shown_at_half = page.evaluate(visible)
    page.click("#slider")
    page.press("End", 35)
    assert page.text("#threshold") == "0.99" and page.evaluate(visible) <= shown_at_half
    assert page.evaluate("document.getElementById('label-figure').hidden")
    page.click('tr[data-label="0"]')
    assert not page.evaluate("document.getElementById('label-figure').hidden")
    assert page.evaluate("document.querySelectorAll('#by-threshold .tick-x').length") == 6
    row_precision = float(page.text('tr[data-label="0"] .p'))
    marker_y = page.evaluate("+document.querySelector('#by-threshold .marker').getAttribute('cy')")
    assert marker_y == pytest.approx(10 + 240 * (1 - row_precision), abs=0.2)
    page.screenshot(str(tmp_path), "action-recognition-report.png")
    assert page.errors == []
