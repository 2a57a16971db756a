"""A tiny real training on synthetic moving shapes, then the evaluation (parsed as the real AutoML
``ModelEvaluation``), the report, the track metrics file and the exports each model type allows."""

import json
import os
import shutil

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import cli, evaluation, storage
from automl_video.data import importer, splits
from automl_video.modeling import export
from automl_video.modeling.metadata import METADATA_FILE, InputSpec
from automl_video.tasks.object_tracking.metrics import GRID
from tests.browser import to_fixed

pytestmark = pytest.mark.slow

SPEC = InputSpec(num_frames=1, height=64, width=64)


@pytest.fixture(scope="module")
def trained(tracking_synth, tmp_path_factory):
    from automl_video.training.engine import train

    root = tmp_path_factory.mktemp("tracking_train")
    dataset_uri = str(root / "dataset")
    importer.import_data([tracking_synth.import_csv], dataset_uri, prediction_type="object_tracking")
    splits.split_dataset(dataset_uri, seed=1)
    model_uri = str(root / "model")
    result = train(
        dataset_uri, model_uri, budget_minutes=1.0, max_epochs=2, input_spec=SPEC, cache_dir=str(root / "cache")
    )
    return dataset_uri, model_uri, result, root


def test_training_records_the_box_map_history(trained):
    _, model_uri, result, _ = trained
    assert result.prediction_type == "object_tracking" and result.validation_metric == "box_map_50"
    assert result.epochs == 2 and 0.0 <= result.best_validation_score <= 1.0
    assert result.input_spec == SPEC and result.train_examples > 0 and result.validation_examples > 0
    assert [r.epoch for r in result.history] == [1, 2]
    assert storage.is_published(model_uri)


@pytest.fixture(scope="module")
def evaluated(trained):
    dataset_uri, model_uri, _, root = trained
    return evaluation.evaluate(model_uri, dataset_uri, str(root / "evaluation"), model_name="models/tracker")


def test_evaluations_parse_as_automl_model_evaluations(evaluated, trained):
    from automl_video.data import dataset as ds

    dataset = ds.load(trained[0])
    documents = storage.read_json(evaluated.evaluations_uri)
    assert [d["displayName"] for d in documents] == [""] + dataset.label_names()
    test_frames = {(v.uri, b.time) for v, b in dataset.annotations_in("TEST")}
    for document in documents:
        message = automl_v1beta1.ModelEvaluation.pb()()
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
        metrics = message.video_object_tracking_evaluation_metrics
        assert metrics.evaluated_frame_count == len(test_frames) == message.evaluated_example_count
        assert [e.iou_threshold for e in metrics.bounding_box_metrics_entries] == pytest.approx(list(GRID))
        assert 0.0 <= metrics.bounding_box_mean_average_precision <= 1.0
    overall = documents[0]["videoObjectTrackingEvaluationMetrics"]
    assert overall["evaluatedBoundingBoxCount"] == len(dataset.annotations_in("TEST"))
    at_half = next(e for e in overall["boundingBoxMetricsEntries"] if e["iouThreshold"] == 0.5)
    assert evaluated.score == pytest.approx(at_half["meanAveragePrecision"]) and evaluated.score_name == "box mAP@0.5"
    assert evaluated.prediction_type == "object_tracking"


def test_track_metrics_report_and_predictions_files(evaluated):
    tracks = storage.read_json(evaluated.files["track_metrics"])
    assert {"mean_track_iou", "id_switches", "id_switches_per_track", "mismatch_rate", "instances"} <= set(tracks)
    assert tracks["instance_count"] == len(tracks["instances"]) > 0
    assert all(i["frames"] >= i["matched_frames"] >= 0 for i in tracks["instances"])
    scalars = storage.read_json(evaluated.metrics_uri)
    assert scalars["box_map_50"] == pytest.approx(evaluated.score)
    assert scalars["id_switches_per_track"] == pytest.approx(tracks["id_switches_per_track"])
    report = storage.read_text(evaluated.report_uri)
    assert "Box mAP at IoU 0.5" in report and 0 < report.count("data:image/png;base64,") <= 8
    assert report.count('class="truth"') > 0
    rows = storage.read_jsonl(evaluated.predictions_uri)
    assert len(rows) == evaluated.evaluated_example_count and {"truth", "predicted"} <= set(rows[0])


def test_cli_evaluate_prints_the_box_map_table(trained, tmp_path, capsys):
    dataset_uri, model_uri, _, _ = trained
    assert cli.main(["evaluate", "--model", model_uri, "--dataset", dataset_uri, "--output", str(tmp_path / "e")]) in (
        0,
        None,
    )
    out = capsys.readouterr().out
    assert "box mAP@0.5" in out and "ID switches" in out and "diamond" in out


def with_model_type(model_uri: str, model_type: str, folder) -> str:
    """A copy of the trained model folder recorded as another model type of the same network profile."""
    copy = str(folder / model_type.lower())
    shutil.copytree(model_uri, copy)
    doc = storage.read_json(os.path.join(copy, METADATA_FILE))
    storage.write_json(os.path.join(copy, METADATA_FILE), {**doc, "model_type": model_type})
    return copy


def test_saved_model_and_float_tflite_give_the_network_output(trained, tmp_path):
    import tensorflow as tf

    from automl_video.modeling.loading import load_model

    _, model_uri, _, _ = trained
    frames = np.random.default_rng(0).integers(0, 256, size=(2, *SPEC.shape), dtype=np.uint8)
    expected = load_model(model_uri).predict_clips(frames)
    saved = export.export_model(model_uri, "tf-saved-model", str(tmp_path / "saved"))
    serving = tf.saved_model.load(saved.model_uri).signatures["serving_default"]
    assert np.abs(serving(frames=tf.constant(frames))["scores"].numpy() - expected).max() <= 1e-4
    spec = storage.read_json(saved.input_spec_uri)
    assert spec["outputs"] == {"scores": {"dtype": "float32", "shape": [-1, 16, 16, 3 + 4]}}
    tflite = export.export_model(model_uri, "tflite", str(tmp_path / "tflite"))
    runner = Interpreter(model_path=tflite.model_uri).get_signature_runner("serving_default")
    assert np.abs(runner(frames=frames[:1])["scores"] - expected[:1]).max() <= 1e-4


def test_coral_types_export_full_integer_tflite_only(trained, tmp_path):
    dataset_uri, model_uri, _, _ = trained
    coral = with_model_type(model_uri, "MOBILE_CORAL_VERSATILE_1", tmp_path)
    with pytest.raises(
        export.ExportError, match="does not export as tf-saved-model .* it exports as tflite \\(quantize int8\\)"
    ):
        export.export_model(coral, "tf-saved-model", str(tmp_path / "no"))
    with pytest.raises(export.ExportError, match="does not export as tflite with quantize none"):
        export.export_model(coral, "tflite", str(tmp_path / "no"))
    result = export.export_model(coral, "tflite", str(tmp_path / "int8"), quantize="int8", dataset_uri=dataset_uri)
    assert result.representative_clips > 0
    interpreter = Interpreter(model_path=result.model_uri)
    float_tensors = [d for d in interpreter.get_tensor_details() if d["dtype"] == np.float32]
    assert len(float_tensors) == 2  # the input cast and the output dequantize: full integer in between
    jetson = with_model_type(model_uri, "MOBILE_JETSON_LOW_LATENCY_1", tmp_path)
    with pytest.raises(export.ExportError, match="does not export as tflite with quantize int8"):
        export.export_model(jetson, "tflite", str(tmp_path / "no"), quantize="int8", dataset_uri=dataset_uri)
    doc = json.loads(json.dumps(storage.read_json(os.path.join(jetson, METADATA_FILE))))
    assert doc["prediction_type"] == "object_tracking"


def at_half_iou(document: dict, threshold: float) -> tuple[float, dict]:
    """A ModelEvaluation's box mAP at IoU 0.5 and its confidence entry at ``threshold``."""
    entries = document["videoObjectTrackingEvaluationMetrics"]["boundingBoxMetricsEntries"]
    at_half = next(e for e in entries if e["iouThreshold"] == 0.5)
    entry = next(e for e in at_half["confidenceMetricsEntries"] if e["confidenceThreshold"] == pytest.approx(threshold))
    return at_half["meanAveragePrecision"], entry


def test_report_in_chromium_moves_the_threshold_picks_a_label_and_sorts_the_table(evaluated, page, tmp_path):
    documents = storage.read_json(evaluated.evaluations_uri)
    page.open(storage.local_path(evaluated.report_uri))
    assert page.errors == [] and page.text("#threshold") == "0.50"
    assert page.evaluate("document.querySelectorAll('figure svg image').length") > 0

    faint = "[].map.call(document.querySelectorAll('g.predicted'), function(g) { return [+g.dataset.score, g.classList.contains('low')]; })"

    def shown(threshold: float, document: dict) -> None:
        boxes = page.evaluate(faint)  # the sample frames' predicted boxes: faint exactly when under the threshold
        assert boxes and [low for _, low in boxes] == [score < threshold for score, _ in boxes]
        box_map, entry = at_half_iou(document, threshold)
        assert page.text("#threshold") == f"{threshold:.2f}" and page.text("#boxMap50") == to_fixed(box_map, 3)
        for element, name in (("precision", "precision"), ("recall", "recall"), ("f1", "f1Score")):
            assert page.text(f"#{element}") == to_fixed(entry[name], 3), element
        marker = page.evaluate(
            "[].map.call(document.querySelectorAll('#pr .marker'), function(m) { return [+m.getAttribute('cx'), +m.getAttribute('cy')]; })"
        )
        assert marker == [
            [
                pytest.approx(44 + 300 * entry["recall"], abs=0.01),
                pytest.approx(10 + 240 * (1 - entry["precision"]), abs=0.01),
            ]
        ]

    shown(0.5, documents[0])
    page.click("#slider")
    page.press("Home", 36)
    page.press("ArrowRight", 39, times=5)
    shown(0.3, documents[0])
    # The label with the most true boxes, picked by clicking its row: its own numbers and curves.
    true_boxes = [d["videoObjectTrackingEvaluationMetrics"]["evaluatedBoundingBoxCount"] for d in documents[1:]]
    label = true_boxes.index(max(true_boxes))
    page.click(f'tr[data-label="{label}"]')
    assert page.evaluate("document.getElementById('label').value") == str(label)
    shown(0.3, documents[label + 1])
    label_ap, entry = at_half_iou(documents[label + 1], 0.3)
    assert page.text(f'tr[data-label="{label}"] .p') == to_fixed(entry["precision"], 3)
    step_area = page.evaluate(
        f"(function(c) {{ var a = 0, r = 0; c.stepRecall.forEach(function(x, k) {{ a += (x - r) * c.stepPrecision[k]; r = x; }}); return a; }})(AV.data.labels[{label}])"
    )
    assert step_area == pytest.approx(label_ap, abs=1e-9)  # the area under the drawn steps is the label's AP
    assert page.evaluate("document.querySelectorAll('#pr .tick-x').length") == 6
    page.screenshot(str(tmp_path), "object-tracking-report.png")
    page.click(f'tr[data-label="{label}"]')  # again: back to all labels
    shown(0.3, documents[0])
    page.click("#labels th:nth-child(2)")
    counts = page.evaluate(
        "[].map.call(document.querySelectorAll('#labels tr[data-label] td:nth-child(2)'), function(td) { return +td.textContent; })"
    )
    assert (
        counts == sorted(counts)
        and page.evaluate("document.querySelector('#labels th:nth-child(2)').getAttribute('aria-sort')") == "ascending"
    )
    assert page.errors == []
