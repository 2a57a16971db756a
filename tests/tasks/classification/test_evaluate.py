"""Evaluation of a real (small, untrained) network on the TEST split of a real synthetic dataset.

The metric definitions themselves are checked in test_metrics.py; here the checks are that every TEST
segment is scored as the model scores it, that the written documents agree with an independent
computation on those scores, and that evaluations.json is AutoML's proto3 JSON.
"""

import datetime as dt
import json
import os
import re
import tempfile

import keras
import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format
from sklearn import metrics as skm

from automl_video import cli, evaluation, storage
from automl_video.data import dataset as dataset_lib
from automl_video.data import importer, splits
from automl_video.data.dataset import DatasetError
from automl_video.modeling import loading
from automl_video.modeling.metadata import InputSpec, ModelMetadata, save_metadata
from automl_video.tasks.classification.metrics import CONFIDENCE_THRESHOLDS
from automl_video.video import read_clip
from tests.browser import to_fixed

SPEC = InputSpec(num_frames=4, height=32, width=32)


def save_model_folder(model_uri: str, metadata: ModelMetadata, seed: int = 0) -> keras.Model:
    """A model folder as training writes it, with deterministic untrained weights."""
    keras.utils.set_random_seed(seed)
    network = loading.build_network(metadata)
    with tempfile.TemporaryDirectory() as local:
        save_metadata(metadata, local)
        network.save_weights(os.path.join(local, loading.WEIGHTS_FILE))
        storage.publish_dir(local, model_uri)
    return network


@pytest.fixture(scope="module")
def split_dataset(synth_small, tmp_path_factory):
    dataset_uri = str(tmp_path_factory.mktemp("eval") / "dataset")
    importer.import_data([synth_small.import_csv], dataset_uri)
    splits.split_dataset(dataset_uri, seed=3)
    return dataset_uri


@pytest.fixture(scope="module")
def evaluated(split_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluated")
    dataset = dataset_lib.load(split_dataset)
    metadata = ModelMetadata("MOBILE_VERSATILE_1", dataset.annotation_specs, SPEC, dataset_uri=split_dataset)
    model_uri = str(root / "model")
    network = save_model_folder(model_uri, metadata)
    result = evaluation.evaluate(model_uri, split_dataset, str(root / "evaluation"))
    return result, network, dataset, model_uri


def expected_examples(dataset: dataset_lib.Dataset) -> dict[tuple[str, float, float], set[str]]:
    """TEST spans and their labels, straight from dataset.json."""
    spans: dict[tuple[str, float, float], set[str]] = {}
    for video in dataset.videos:
        if video.split == "TEST":
            for segment in video.annotations:
                labels = spans.setdefault((video.uri, segment.start, segment.end), set())
                if not segment.is_negative:
                    labels.add(segment.label)
    return spans


def test_every_test_segment_is_one_example_scored_like_the_model(evaluated):
    result, network, dataset, _ = evaluated
    rows = storage.read_jsonl(result.predictions_uri)
    expected = expected_examples(dataset)
    assert len(expected) >= 5
    assert {(r["video_uri"], r["start"], r["end"]): set(r["labels"]) for r in rows} == expected
    assert len(rows) == result.evaluated_example_count == len(expected)
    assert any(not r["labels"] for r in rows) or all(len(r["labels"]) == 1 for r in rows)
    clips = np.stack([read_clip(r["video_uri"], r["start"], r["end"], SPEC) for r in rows])
    independent = network.predict(clips, verbose=0)
    written = np.array([[r["scores"][name] for name in dataset.label_names()] for r in rows])
    np.testing.assert_allclose(written, independent, atol=1e-5)


def scores_and_truth(result, dataset):
    rows = storage.read_jsonl(result.predictions_uri)
    names = dataset.label_names()
    scores = np.array([[r["scores"][n] for n in names] for r in rows])
    truth = np.array([[n in r["labels"] for n in names] for r in rows])
    return scores, truth


def test_evaluations_json_is_automl_proto3_json(evaluated):
    result, _, dataset, model_uri = evaluated
    documents = storage.read_json(result.evaluations_uri)
    specs = dataset.annotation_specs
    assert len(documents) == 1 + len(specs)
    parsed = []
    for document in documents:
        # Proto-plus messages wrap a protobuf message; json_format works on that (Message.pb(m)).
        message = automl_v1beta1.ModelEvaluation()
        json_format.Parse(json.dumps(document), automl_v1beta1.ModelEvaluation.pb(message), ignore_unknown_fields=False)
        parsed.append(message)
        # Round trip: serialising the parsed message gives back our keys (nothing dropped or renamed).
        again = json_format.MessageToDict(automl_v1beta1.ModelEvaluation.pb(message))
        assert set(again) <= set(document)
        assert set(again["classificationEvaluationMetrics"]) == set(document["classificationEvaluationMetrics"])
    overall, per_label = parsed[0], parsed[1:]
    assert overall.annotation_spec_id == "" and overall.display_name == ""
    assert list(overall.classification_evaluation_metrics.annotation_spec_id) == [s.id for s in specs]
    assert [m.annotation_spec_id for m in per_label] == [s.id for s in specs]
    assert [m.display_name for m in per_label] == [s.display_name for s in specs]
    _, truth = scores_and_truth(result, dataset)
    assert overall.evaluated_example_count == len(truth)
    assert [m.evaluated_example_count for m in per_label] == truth.sum(axis=0).tolist()
    model_id = os.path.basename(model_uri)
    names = [m.name for m in parsed]
    assert all(re.fullmatch(rf"models/{model_id}/modelEvaluations/\d+", n) for n in names)
    assert len(set(names)) == len(names)
    created = dt.datetime.fromisoformat(documents[0]["createTime"].replace("Z", "+00:00"))
    assert created.tzinfo is not None and abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(hours=1)
    assert overall.create_time == per_label[0].create_time


def test_written_metrics_match_sklearn_on_the_written_scores(evaluated):
    result, _, dataset, _ = evaluated
    scores, truth = scores_and_truth(result, dataset)
    documents = storage.read_json(result.evaluations_uri)
    columns = [slice(None)] + list(range(truth.shape[1]))
    for document, column in zip(documents, columns):
        metrics = document["classificationEvaluationMetrics"]
        y_true, y_score = truth[:, column].ravel(), scores[:, column].ravel()
        expected_ap = skm.average_precision_score(y_true, y_score) if y_true.any() else 0.0
        assert metrics["auPrc"] == pytest.approx(expected_ap, abs=1e-6)
        assert metrics["baseAuPrc"] == pytest.approx(y_true.mean())
        entries = metrics["confidenceMetricsEntry"]
        assert [e["confidenceThreshold"] for e in entries] == list(CONFIDENCE_THRESHOLDS)
        for entry in entries:
            y_pred = y_score >= entry["confidenceThreshold"]
            assert entry["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, zero_division=1.0), abs=1e-6)
            assert entry["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, zero_division=0.0), abs=1e-6)


def test_confusion_matrix_appears_exactly_when_multiclass(evaluated, split_dataset, tmp_path):
    result, _, dataset, model_uri = evaluated
    _, truth = scores_and_truth(result, dataset)
    overall = storage.read_json(result.evaluations_uri)[0]["classificationEvaluationMetrics"]
    multiclass = bool(np.all(truth.sum(axis=1) == 1))
    assert ("confusionMatrix" in overall) == multiclass == ("confusion_matrix" in result.files)

    # Make the TEST split multiclass by dropping "-" segments: now the matrix must be there.
    only_labelled = dataset_lib.load(split_dataset)
    for video in only_labelled.videos:
        video.annotations = [s for s in video.annotations if not s.is_negative]
    multiclass_uri = str(tmp_path / "multiclass")
    dataset_lib.save(only_labelled, multiclass_uri)
    multiclass_result = evaluation.evaluate(model_uri, multiclass_uri, str(tmp_path / "out"))
    scores, truth = scores_and_truth(multiclass_result, only_labelled)
    assert np.all(truth.sum(axis=1) == 1)
    documents = storage.read_json(multiclass_result.evaluations_uri)
    matrix = documents[0]["classificationEvaluationMetrics"]["confusionMatrix"]
    expected = skm.confusion_matrix(truth.argmax(1), scores.argmax(1), labels=range(truth.shape[1]))
    assert [row["exampleCount"] for row in matrix["row"]] == expected.tolist()
    assert matrix["annotationSpecId"] == [s.id for s in only_labelled.annotation_specs]
    kfp_matrix = storage.read_json(multiclass_result.files["confusion_matrix"])
    assert kfp_matrix == {"categories": only_labelled.label_names(), "matrix": expected.tolist()}
    assert all("confusionMatrix" not in d["classificationEvaluationMetrics"] for d in documents[1:])


def test_kfp_metrics_and_pr_curve(evaluated):
    result, _, dataset, _ = evaluated
    overall = storage.read_json(result.evaluations_uri)[0]["classificationEvaluationMetrics"]
    scalars = storage.read_json(result.metrics_uri)
    assert all(isinstance(v, (int, float)) for v in scalars.values())
    assert scalars["au_prc"] == overall["auPrc"] == result.score == result.summary.au_prc
    at_half = next(e for e in overall["confidenceMetricsEntry"] if e["confidenceThreshold"] == 0.5)
    assert (scalars["precision"], scalars["recall"], scalars["f1_score"]) == (
        at_half["precision"],
        at_half["recall"],
        at_half["f1Score"],
    )
    for document in storage.read_json(result.evaluations_uri)[1:]:
        assert scalars[f"au_prc/{document['displayName']}"] == document["classificationEvaluationMetrics"]["auPrc"]
    curve = storage.read_json(result.files["pr_curve"])
    assert curve["thresholds"] == list(CONFIDENCE_THRESHOLDS)
    assert curve["precision"] == [e["precision"] for e in overall["confidenceMetricsEntry"]]
    assert curve["recall"] == curve["true_positive_rate"] == [e["recall"] for e in overall["confidenceMetricsEntry"]]
    assert len(curve["false_positive_rate"]) == len(CONFIDENCE_THRESHOLDS)


def test_report_is_self_contained_and_its_slider_shows_the_written_numbers(evaluated, page):
    result, _, dataset, _ = evaluated
    html = storage.read_text(result.report_uri)
    assert "<link" not in html and not re.search(r"\ssrc=", html) and "@import" not in html
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", html)
    for name in dataset.label_names():
        assert name in html
    page.open(storage.local_path(result.report_uri))
    assert page.errors == []
    page.click("#slider")
    page.press("Home", 36)
    page.press("ArrowRight", 39, times=CONFIDENCE_THRESHOLDS.index(0.8))
    evaluations = storage.read_json(result.evaluations_uri)
    entry = evaluations[0]["classificationEvaluationMetrics"]["confidenceMetricsEntry"][
        CONFIDENCE_THRESHOLDS.index(0.8)
    ]
    assert page.text("#threshold") == "0.80"
    assert page.text("#precision") == to_fixed(entry["precision"], 3) and page.text("#recall") == to_fixed(
        entry["recall"], 3
    )
    assert page.text("#f1At1") == to_fixed(entry["f1ScoreAt1"], 3)
    label_entry = evaluations[1]["classificationEvaluationMetrics"]["confidenceMetricsEntry"][
        CONFIDENCE_THRESHOLDS.index(0.8)
    ]
    assert page.text('tr[data-label="0"] .r') == to_fixed(label_entry["recall"], 3)


def test_cli_writes_to_gcs_and_prints_table(evaluated, split_dataset, gcs_bucket, capsys):
    _, _, dataset, model_uri = evaluated
    output = f"{gcs_bucket}/evaluations/run1"
    assert cli.main(["evaluate", "--model", model_uri, "--dataset", split_dataset, "--output", output]) == 0
    human = capsys.readouterr().out
    assert "AU-PRC" in human
    for name in dataset.label_names():
        assert re.search(rf"^{name}\s+\d+\s+\d\.\d{{4}}", human, re.M)
    assert cli.main(["evaluate", "--model", model_uri, "--dataset", split_dataset, "--output", output, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["evaluations_uri"] == f"{output}/evaluations.json"
    assert [label["display_name"] for label in doc["labels"]] == dataset.label_names()
    written = storage.read_json(doc["evaluations_uri"])
    assert written[0]["classificationEvaluationMetrics"]["auPrc"] == pytest.approx(doc["au_prc"])
    for name in ("metrics.json", "pr_curve.json", "report.html", "predictions.jsonl"):
        assert storage.exists(f"{output}/{name}")


def test_bad_datasets_are_refused_and_earlier_results_stay(evaluated, split_dataset, tmp_path, capsys):
    result, _, _, model_uri = evaluated
    before = storage.read_bytes(result.evaluations_uri)

    no_test = dataset_lib.load(split_dataset)
    for video in no_test.videos:
        video.split = "TRAIN" if video.split == "TEST" else video.split
    no_test_uri = str(tmp_path / "no_test")
    dataset_lib.save(no_test, no_test_uri)
    with pytest.raises(DatasetError, match=rf"{re.escape(no_test_uri)}: the TEST split has no segments"):
        evaluation.evaluate(model_uri, no_test_uri, result.output_uri)

    unknown_label = dataset_lib.load(split_dataset)
    segment = next(s for v in unknown_label.videos if v.split == "TEST" for s in v.annotations)
    segment.label = "cartwheel"
    unknown_uri = str(tmp_path / "unknown_label")
    dataset_lib.save(unknown_label, unknown_uri)
    expected = rf"{re.escape(segment.source_uri)} row {segment.source_row}: TEST label 'cartwheel' is not one"
    with pytest.raises(DatasetError, match=expected):
        evaluation.evaluate(model_uri, unknown_uri, result.output_uri)
    assert cli.main(["evaluate", "--model", model_uri, "--dataset", unknown_uri, "--output", result.output_uri]) == 1
    assert "cartwheel" in capsys.readouterr().err
    assert storage.read_bytes(result.evaluations_uri) == before
