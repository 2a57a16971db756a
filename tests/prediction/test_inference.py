"""Batch prediction through LiteRT writes the predictions Keras does (same labels and spans, scores within
float rounding), from the library and from ``automl-video predict --inference``."""

import json
import logging

from automl_video import cli
from automl_video.modeling.inference import FLOAT_TOLERANCE
from automl_video.prediction.engine import batch_predict
from automl_video.tasks.classification.prediction import PredictionParams
from tests.prediction_support import checked_payloads, legacy_rows, write_file

ALL_TYPES = PredictionParams(shot_classification=True, one_sec_interval_classification=True)


def _predictions(output_dir: str) -> list[dict[tuple, float]]:
    """Per row: (type, start, end, label) -> score."""
    rows = []
    for row in legacy_rows(output_dir):
        assert row[4] == "OK", row
        rows.append(
            {
                (
                    p["videoClassification"]["type"],
                    p["videoClassification"]["timeSegment"]["startTimeOffset"],
                    p["videoClassification"]["timeSegment"]["endTimeOffset"],
                    p["displayName"],
                ): p["videoClassification"]["classificationAnnotation"]["score"]
                for p in checked_payloads(output_dir, row[3])
            }
        )
    return rows


def test_litert_float_batch_prediction_writes_the_keras_predictions(tmp_path, tiny_model, videos, capsys, caplog):
    inputs = write_file(tmp_path / "in.csv", f"{videos['six']},0,inf\n{videos['four']},1,4\n")
    keras_run = batch_predict(tiny_model, [inputs], str(tmp_path / "keras"), ALL_TYPES, inference="keras")
    command = ["predict", "--model", tiny_model, "--input", inputs, "--output-prefix", str(tmp_path / "litert")]
    capsys.readouterr()
    assert cli.main(command + ["--shot", "--one-sec", "--inference", "litert-float", "--json"]) == 0
    litert_dir = json.loads(capsys.readouterr().out)["output_dir"]
    with caplog.at_level(logging.INFO, logger="automl_video.modeling.inference"):
        auto_run = batch_predict(tiny_model, [inputs], str(tmp_path / "auto"), ALL_TYPES)
    assert f"inference: litert-float for {tiny_model}" in caplog.text

    expected = _predictions(keras_run.output_dir)
    assert [len(row) for row in expected] == [3 * (1 + 3 + 6), 3 * (1 + 2 + 3)]  # segment, shots, seconds
    for output_dir in (litert_dir, auto_run.output_dir):
        found = _predictions(output_dir)
        assert [row.keys() for row in found] == [row.keys() for row in expected]
        for found_row, expected_row in zip(found, expected):
            assert max(abs(found_row[key] - expected_row[key]) for key in expected_row) <= FLOAT_TOLERANCE


def test_an_unknown_backend_is_refused_with_the_choices(tmp_path, tiny_model, videos, capsys):
    inputs = write_file(tmp_path / "in.csv", f"{videos['four']},0,1\n")
    command = ["predict", "--model", tiny_model, "--input", inputs, "--output-prefix", str(tmp_path / "out")]
    assert cli.main(command + ["--inference", "onnx"]) == 2
    assert "auto, keras, litert-float, litert-dynamic" in capsys.readouterr().err.replace("'", "")
