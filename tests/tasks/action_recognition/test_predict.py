"""Action recognition batch prediction on real encoded videos and a real (untrained) network: the Vertex
JSONL output shape, the AutoML CSV output, parameters, moments as the clips' scores give them, bad
rows, shards = unsharded, and resume after SIGKILL."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import cli, storage
from automl_video.modeling.loading import load_model
from automl_video.prediction.engine import batch_predict, merge_shards
from automl_video.tasks.action_recognition.prediction import LEGACY_INDEX_FILE, PredictionParams
from automl_video.tasks.action_recognition.timeline import clip_spans, pick_moments
from automl_video.times import parse_duration
from automl_video.video import VideoReader
from tests.prediction_support import predict_killed_after_rows
from tests.tasks.action_recognition.support import ACTION_SPEC, LABELS, checked


def write_jsonl(path, instances) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in instances))
    return str(path)


def predictions_of(output_dir: str) -> list[dict]:
    lines = []
    for name in sorted(os.listdir(output_dir)):
        if name.startswith("predictions_"):
            lines += storage.read_jsonl(os.path.join(output_dir, name))
    return lines


def test_vertex_jsonl_moments_are_vertex_prediction_results(tmp_path, action_model, action_synth):
    video = action_synth.videos[0]
    instances = [
        {"content": video, "mimeType": "video/mp4", "timeSegmentStart": "0s", "timeSegmentEnd": "Infinity"},
        {"content": video, "mimeType": "video/mp4", "timeSegmentStart": "0.5s", "timeSegmentEnd": "2.5s"},
        {"content": str(tmp_path / "missing.mp4"), "mimeType": "video/mp4"},
        "{not json",
    ]
    inputs = write_jsonl(tmp_path / "in.jsonl", instances)
    result = batch_predict(action_model, [inputs], str(tmp_path / "out"))
    assert (result.format, result.succeeded_rows, result.failed_rows) == ("vertex_jsonl", 2, 2)
    whole, part = predictions_of(result.output_dir)
    assert (whole["instance"], part["instance"]) == (instances[0], instances[1])
    for line, (start, end) in ((whole, (0.0, 3.0)), (part, (0.5, 2.5))):
        assert line["prediction"], "threshold 0: every peak of every label is a moment"
        for element in line["prediction"]:
            message = checked("VideoActionRecognitionPredictionResult", element)
            assert element["timeSegmentStart"] == element["timeSegmentEnd"]  # a moment
            assert start <= parse_duration(element["timeSegmentStart"]) <= end
            assert 0.0 <= message.confidence.value <= 1.0
            assert (element["id"], element["displayName"]) in {(str(i + 1), name) for i, name in enumerate(LABELS)}
        times = [parse_duration(p["timeSegmentStart"]) for p in line["prediction"]]
        assert times == sorted(times)
    errors = storage.read_jsonl(os.path.join(result.output_dir, "errors_00001.jsonl"))
    assert [e["error"]["code"] for e in errors] == [5, 3]
    assert "not found" in errors[0]["error"]["message"] and "not valid JSON" in errors[1]["error"]["message"]


def test_prediction_check_rejects_unknown_fields():
    """The descriptor check above is real: a field Vertex does not have fails it."""
    with pytest.raises(json_format.ParseError):
        checked("VideoActionRecognitionPredictionResult", {"id": "1", "type": "segment-classification"})


def test_moments_are_the_peaks_of_the_clip_scores(tmp_path, action_model, action_synth):
    """What the JSONL says equals peak picking over clips read by seeking, scored one by one."""
    video = action_synth.videos[1]
    inputs = write_jsonl(tmp_path / "in.jsonl", [{"content": video, "timeSegmentStart": "0.25s"}])
    result = batch_predict(action_model, [inputs], str(tmp_path / "out"), PredictionParams(max_predictions=None))
    [line] = predictions_of(result.output_dir)
    model = load_model(action_model)
    with VideoReader(video) as reader:
        spans = clip_spans(0.25, reader.info.duration)
        clips = np.stack([reader.read_clip(start, end, ACTION_SPEC) for start, end in spans])
    scores = model.predict_clips(clips)
    expected = pick_moments(np.array([(s + e) / 2 for s, e in spans]), scores)
    got = [(p["displayName"], parse_duration(p["timeSegmentStart"]), p["confidence"]) for p in line["prediction"]]
    assert sorted(got, key=lambda g: (g[1], g[0])) == [
        (LABELS[m.label], pytest.approx(m.time, abs=1e-6), pytest.approx(m.confidence, abs=2e-6))
        for m in sorted(expected, key=lambda m: (m.time, LABELS[m.label]))
    ]


def test_confidence_threshold_and_max_predictions(tmp_path, action_model, action_synth):
    inputs = write_jsonl(tmp_path / "in.jsonl", [{"content": v} for v in action_synth.videos[:3]])
    everything = predictions_of(batch_predict(action_model, [inputs], str(tmp_path / "all")).output_dir)
    confidences = sorted(p["confidence"] for line in everything for p in line["prediction"])
    middle = len(confidences) // 2  # halfway between two outputs: their 6-digit rounding cannot cross it
    threshold = (confidences[middle - 1] + confidences[middle]) / 2
    assert confidences[middle - 1] < threshold < confidences[middle]
    params = PredictionParams.from_mapping({"confidenceThreshold": threshold, "maxPredictions": 2})
    kept = predictions_of(batch_predict(action_model, [inputs], str(tmp_path / "kept"), params).output_dir)
    for full, filtered in zip(everything, kept):
        expected = sorted(
            (p for p in full["prediction"] if p["confidence"] >= threshold), key=lambda p: -p["confidence"]
        )[:2]
        assert sorted(filtered["prediction"], key=lambda p: -p["confidence"]) == expected
    assert any(len(line["prediction"]) > 2 for line in everything)


def test_prediction_params_both_names_and_errors():
    assert PredictionParams.from_mapping({"score_threshold": "0.25", "max_predictions": "3"}) == PredictionParams(
        0.25, 3
    )
    assert PredictionParams.from_mapping({"confidenceThreshold": 0.25, "maxPredictions": 3.0}) == PredictionParams(
        0.25, 3
    )
    assert PredictionParams() == PredictionParams(0.0, 50)
    with pytest.raises(ValueError, match="unknown prediction parameter 'oneSecIntervalClassification'"):
        PredictionParams.from_mapping({"oneSecIntervalClassification": True})
    with pytest.raises(ValueError, match="confidenceThreshold must be between 0 and 1"):
        PredictionParams.from_mapping({"confidenceThreshold": 2})
    with pytest.raises(ValueError, match="maxPredictions: expected a whole number"):
        PredictionParams.from_mapping({"maxPredictions": 2.5})
    with pytest.raises(ValueError, match="maxPredictions must be at least 1"):
        PredictionParams.from_mapping({"maxPredictions": 0})


def test_automl_csv_rows_give_annotation_payloads_and_bad_rows_fail_alone(tmp_path, action_model, action_synth):
    video = action_synth.videos[2]
    rows = [f"{video},0,inf", f"{video},2,1", f"{tmp_path / 'missing.mp4'},0,1", f"{video},1,2.5"]
    inputs = tmp_path / "in.csv"
    inputs.write_text("\n".join(rows) + "\n")
    result = batch_predict(action_model, [str(inputs)], str(tmp_path / "out"), PredictionParams(0.0, 3))
    index = [
        line.split(",") for line in storage.read_text(os.path.join(result.output_dir, LEGACY_INDEX_FILE)).splitlines()
    ]
    assert [r[4] for r in index][0] == "OK" and index[3][4] == "OK"
    assert "END 1 must be after START 2" in index[1][4] and "not found" in index[2][4]
    for row, (start, end) in ((index[0], (0.0, 3.0)), (index[3], (1.0, 2.5))):
        payloads = json.loads(storage.read_text(os.path.join(result.output_dir, row[3])))
        assert 1 <= len(payloads) <= 3
        for payload in payloads:
            json_format.Parse(json.dumps(payload), automl_v1beta1.AnnotationPayload.pb()(), ignore_unknown_fields=False)
            segment = payload["videoClassification"]["timeSegment"]
            assert payload["videoClassification"]["type"] == "moment"
            assert segment["startTimeOffset"] == segment["endTimeOffset"]
            assert start <= parse_duration(segment["startTimeOffset"]) <= end


def test_shards_then_merge_equal_one_unsharded_run(tmp_path, action_model, action_synth):
    videos = action_synth.videos
    instances = [{"content": videos[i], "timeSegmentStart": f"{i % 3 * 0.5}s"} for i in range(5)]
    instances.append({"content": str(tmp_path / "missing.mp4")})
    inputs = write_jsonl(tmp_path / "in.jsonl", instances)
    whole = batch_predict(action_model, [inputs], str(tmp_path / "whole"))
    prefix = str(tmp_path / "sharded")
    for shard in range(3):
        assert not batch_predict(action_model, [inputs], prefix, shard=(shard, 3)).complete
    merged = merge_shards(action_model, [inputs], prefix)
    assert (merged.succeeded_rows, merged.failed_rows) == (whole.succeeded_rows, whole.failed_rows) == (5, 1)

    def contents(output_dir):
        return {name: storage.read_text(os.path.join(output_dir, name)) for name in sorted(os.listdir(output_dir))}

    assert contents(merged.output_dir) == contents(whole.output_dir)


def test_resume_after_sigkill_loses_no_row_and_recomputes_none(tmp_path, action_model, action_synth):
    row_count = 12
    inputs = write_jsonl(tmp_path / "in.jsonl", [{"content": action_synth.videos[3]}] * row_count)
    prefix = str(tmp_path / "out")
    command = [sys.executable, "-m", "automl_video", "predict", "--model", action_model, "--input", inputs]
    command += ["--output-prefix", prefix, "--param", "maxPredictions=100", "--json"]
    finished = predict_killed_after_rows(command, prefix)
    assert 3 <= len(finished) < row_count and not glob.glob(os.path.join(prefix, "prediction-*"))

    marked = json.loads(open(finished[0]).read())  # if the rerun recomputed this row, the mark would vanish
    marked["predictions"][0]["confidence"] = 0.123456
    open(finished[0], "w").write(json.dumps(marked))
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert (result["resumed_rows"], result["predicted_rows"]) == (len(finished), row_count - len(finished))
    lines = predictions_of(result["output_dir"])
    assert len(lines) == row_count
    assert 0.123456 in [p["confidence"] for p in lines[marked["index"]]["prediction"]]
    others = {json.dumps(line["prediction"]) for i, line in enumerate(lines) if i != marked["index"]}
    assert len(others) == 1  # every other row (the same video) came out the same, once


def test_cli_predict_takes_the_task_parameters(tmp_path, action_model, action_synth, capsys):
    inputs = write_jsonl(tmp_path / "in.jsonl", [{"content": action_synth.videos[0]}])
    base = ["predict", "--model", action_model, "--input", inputs, "--output-prefix", str(tmp_path / "out"), "--json"]
    assert cli.main(base + ["--score-threshold", "0.01", "--max-predictions", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [line] = predictions_of(doc["output_dir"])
    assert len(line["prediction"]) == 1
    assert cli.main(base + ["--one-sec"]) == 2
    assert "unknown prediction parameter '1s_interval_classification'" in capsys.readouterr().err
