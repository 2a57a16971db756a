"""Classification batch prediction: segment, shot and 1-second outputs in the AutoML and Vertex formats, on real encoded videos and a real (untrained, fixed-bias) Keras model."""

import glob
import json
import os

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import storage
from automl_video.modeling.metadata import InputSpec
from automl_video.prediction.engine import WORK_FOLDER, batch_predict
from automl_video.tasks.classification.prediction import PredictionParams
from automl_video.times import format_duration, parse_duration
from automl_video.video import VideoReader
from tests.prediction_support import (
    FPS,
    LABELS,
    SPEC,
    checked_payloads,
    legacy_rows,
    payload_spans,
    publish_tiny_model,
    write_file,
)

ALL_TYPES = PredictionParams(shot_classification=True, one_sec_interval_classification=True)


def test_legacy_csv_all_three_types_as_automl_annotation_payloads(tmp_path, tiny_model, videos):
    inputs = write_file(tmp_path / "in.csv", f"{videos['six']},0,inf\n{videos['four']},0.5,3.5\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    assert result.complete and (result.succeeded_rows, result.failed_rows) == (2, 0)
    name = os.path.basename(result.output_dir)
    assert name.startswith("prediction-tiny_motion-")
    assert len(name) == len("prediction-tiny_motion-") + len("2020-01-01T00:00:00.000Z") and name.endswith("Z")
    rows = legacy_rows(result.output_dir)
    assert [r[:3] for r in rows] == [[videos["six"], "0", "inf"], [videos["four"], "0.5", "3.5"]]
    assert [r[4] for r in rows] == ["OK", "OK"]
    assert glob.glob(str(tmp_path / "out" / WORK_FOLDER / "*" / "rows" / "*")) == []
    again = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)
    assert (again.output_dir, again.predicted_rows, again.resumed_rows) == (result.output_dir, 0, 2)

    six, four = (checked_payloads(result.output_dir, r[3]) for r in rows)
    for payloads in (six, four):
        types = [p["videoClassification"]["type"] for p in payloads]
        assert types == sorted(types) and set(types) == {"segment", "shot", "1s_interval"}
        assert all(0.0 <= p["videoClassification"]["classificationAnnotation"]["score"] <= 1.0 for p in payloads)
        assert len(payloads) % len(LABELS) == 0  # threshold 0: every label for every span
    assert payload_spans(six, "segment") == [(0.0, 6.0)]
    assert payload_spans(four, "segment") == [(0.5, 3.5)]
    assert payload_spans(six, "1s_interval") == [(float(k), float(k + 1)) for k in range(6)]
    assert payload_spans(four, "1s_interval") == [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5)]
    for payloads, (start, end), cuts in (
        (six, (0, 6), videos["cuts"]["six"]),
        (four, (0.5, 3.5), videos["cuts"]["four"]),
    ):
        shots = payload_spans(payloads, "shot")
        assert shots[0][0] == start and shots[-1][1] == end
        assert all(a[1] == b[0] for a, b in zip(shots, shots[1:]))  # shots tile the segment
        assert [s for s, _ in shots[1:]] == pytest.approx(cuts, abs=1.01 / FPS)
    by_label = {p["annotationSpecId"]: p["displayName"] for p in six}
    assert by_label == {"1": "left_to_right", "2": "right_to_left", "3": "clockwise"}


def test_payload_check_rejects_unknown_fields():
    """The proto check above is real: a field AutoML does not have fails it."""
    payload_pb = automl_v1beta1.AnnotationPayload.pb()
    with pytest.raises(json_format.ParseError):
        json_format.Parse(json.dumps({"annotationSpecId": "1", "confidence": 0.5}), payload_pb())


def test_vertex_jsonl_predictions_and_errors_files(tmp_path, tiny_model, videos):
    instances = [
        {"content": videos["six"], "mimeType": "video/mp4", "timeSegmentStart": "1.5s", "timeSegmentEnd": "Infinity"},
        {"content": videos["missing"], "mimeType": "video/mp4", "timeSegmentStart": "0s", "timeSegmentEnd": "Infinity"},
        {"content": videos["four"], "mimeType": "video/mp4", "timeSegmentStart": "3s", "timeSegmentEnd": "1s"},
    ]
    lines = [json.dumps(instances[0]), json.dumps(instances[1]), "{not json", json.dumps(instances[2])]
    inputs = write_file(tmp_path / "instances.jsonl", "\n".join(lines) + "\n")
    params = PredictionParams(one_sec_interval_classification=True)
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), params)

    assert (result.format, result.succeeded_rows, result.failed_rows) == ("vertex_jsonl", 1, 3)
    names = sorted(os.path.basename(f) for f in storage.listdir(result.output_dir))
    assert names == ["errors_00001.jsonl", "predictions_00001.jsonl"]
    [line] = storage.read_jsonl(storage.join(result.output_dir, "predictions_00001.jsonl"))
    assert line["instance"] == instances[0]
    fields = {"id", "displayName", "type", "timeSegmentStart", "timeSegmentEnd", "confidence"}
    assert all(set(p) == fields for p in line["prediction"])
    segment = [p for p in line["prediction"] if p["type"] == "segment-classification"]
    seconds = [p for p in line["prediction"] if p["type"] == "one-sec-interval-classification"]
    assert {(p["timeSegmentStart"], p["timeSegmentEnd"]) for p in segment} == {("1.500s", "6s")}
    starts = sorted({p["timeSegmentStart"] for p in seconds}, key=parse_duration)
    assert starts == ["1.500s", "2.500s", "3.500s", "4.500s", "5.500s"]
    assert {p["id"] for p in segment} == {"1", "2", "3"}

    errors = storage.read_jsonl(storage.join(result.output_dir, "errors_00001.jsonl"))
    assert [e["instance"] for e in errors] == [instances[1], "{not json", instances[2]]
    assert [e["error"]["code"] for e in errors] == [5, 3, 3]
    assert "not found" in errors[0]["error"]["message"] and videos["missing"] in errors[0]["error"]["message"]
    assert "line 3" in errors[1]["error"]["message"] and "not valid JSON" in errors[1]["error"]["message"]
    assert "END 1 must be after START 3" in errors[2]["error"]["message"]


def test_score_threshold_and_max_predictions(tmp_path, tiny_model, videos):
    inputs = write_file(tmp_path / "in.csv", f"{videos['six']},0,inf\n")
    everything = batch_predict(tiny_model, [inputs], str(tmp_path / "all"), ALL_TYPES)
    params = PredictionParams(0.45, True, True, True, max_predictions=1)
    filtered = batch_predict(tiny_model, [inputs], str(tmp_path / "filtered"), params)

    def grouped(result):
        [row] = legacy_rows(result.output_dir)
        groups = {}
        for p in checked_payloads(result.output_dir, row[3]):
            video = p["videoClassification"]
            key = (video["type"], video["timeSegment"]["startTimeOffset"], video["timeSegment"]["endTimeOffset"])
            groups.setdefault(key, []).append((video["classificationAnnotation"]["score"], p["displayName"]))
        return groups

    full, kept = grouped(everything), grouped(filtered)
    expected = {}
    for key, scored in full.items():
        best = sorted((s for s in scored if s[0] >= 0.45), reverse=True)[:1]
        if best:
            expected[key] = best
    assert kept == expected
    assert 0 < len(kept) and any(len(v) > 1 for v in full.values())
    assert any(s < 0.45 for v in full.values() for s, _ in v)  # the threshold really dropped something


def test_prediction_params_validation_and_both_naming_styles():
    with pytest.raises(ValueError, match="score_threshold"):
        PredictionParams(score_threshold=1.5)
    with pytest.raises(ValueError, match="no classification type"):
        PredictionParams(segment_classification=False)
    automl = PredictionParams.from_mapping(
        {"score_threshold": "0.25", "segment_classification": "false", "1s_interval_classification": "true"}
    )
    vertex = PredictionParams.from_mapping(
        {"confidenceThreshold": 0.25, "segmentClassification": False, "oneSecIntervalClassification": True}
    )
    assert automl == vertex == PredictionParams(0.25, False, False, True)
    with pytest.raises(ValueError, match="unknown prediction parameter"):
        PredictionParams.from_mapping({"threshold": 0.3})
    with pytest.raises(ValueError, match="true or false"):
        PredictionParams.from_mapping({"shot_classification": "yes"})


def test_streamed_clips_score_like_seeking_for_each_span(tmp_path, tiny_model, videos):
    """1-second and segment scores are identical whether shots are on (every frame decoded) or not."""
    from automl_video.modeling.loading import load_model

    inputs = write_file(tmp_path / "in.csv", f"{videos['six']},0.3,5.9\n")
    seconds_only = PredictionParams(one_sec_interval_classification=True)
    only_seconds = batch_predict(tiny_model, [inputs], str(tmp_path / "a"), seconds_only)
    with_shots = batch_predict(tiny_model, [inputs], str(tmp_path / "b"), ALL_TYPES)

    def scores(result, kind):
        [row] = legacy_rows(result.output_dir)
        found = {}
        for p in checked_payloads(result.output_dir, row[3]):
            video = p["videoClassification"]
            if video["type"] == kind:
                key = (video["timeSegment"]["startTimeOffset"], p["annotationSpecId"])
                found[key] = video["classificationAnnotation"]["score"]
        return found

    model = load_model(tiny_model)
    with VideoReader(videos["six"]) as reader:
        spans = [(0.3 + k, min(1.3 + k, 5.9)) for k in range(6)]
        seeked = model.predict_clips(np.stack([reader.read_clip(s, e, SPEC) for s, e in spans]))
        segment = model.score_segment(reader, 0.3, 5.9)
    for result in (only_seconds, with_shots):
        got = scores(result, "1s_interval")
        for (start, _), row_scores in zip(spans, seeked):
            for label, score in enumerate(row_scores):
                assert got[(format_duration(start), str(label + 1))] == pytest.approx(score, abs=2e-6)
        got_segment = scores(result, "segment")
        assert [got_segment[("0.300s", str(i + 1))] for i in range(3)] == pytest.approx(segment, abs=2e-6)


def test_segment_clips_cut_from_the_stream_equal_seeking_with_several_clips_per_segment(tmp_path, videos):
    from automl_video.modeling.loading import load_model

    (tmp_path / "model").mkdir()
    model_uri = publish_tiny_model(
        tmp_path / "model", InputSpec(num_frames=4, height=32, width=32, clips_per_segment=3)
    )
    inputs = write_file(tmp_path / "in.csv", f"{videos['six']},0.3,5.9\n")
    result = batch_predict(
        model_uri, [inputs], str(tmp_path / "out"), PredictionParams(one_sec_interval_classification=True)
    )

    [row] = legacy_rows(result.output_dir)
    segment = [p for p in checked_payloads(result.output_dir, row[3]) if p["videoClassification"]["type"] == "segment"]
    got = {p["annotationSpecId"]: p["videoClassification"]["classificationAnnotation"]["score"] for p in segment}
    with VideoReader(videos["six"]) as reader:
        model = load_model(model_uri)
        clips = model.segment_clips(reader, 0.3, 5.9)
        expected = model.score_segment(reader, 0.3, 5.9)
    assert clips.shape == (3, 4, 32, 32, 3) and not np.array_equal(clips[0], clips[1])
    assert [got[str(i + 1)] for i in range(3)] == pytest.approx(expected, abs=2e-6)


def test_a_long_shot_is_sampled_near_its_centres_from_a_bounded_buffer():
    """A shot's length is unknown until it ends: its frames thin out instead of piling up."""
    from automl_video.tasks.classification.prediction import _SHOT_BUFFER_CLIPS, ShotCollector

    spec = InputSpec(num_frames=8, height=32, width=32)
    collector = ShotCollector(0.0, 200.0, spec)
    most_kept, clips = 0, []
    for index in range(2000):  # 200 s at 10 fps, one shot: the frame index is written in a corner
        frame = np.full((32, 32, 3), 128, np.uint8)
        frame[0, 0, 0], frame[0, 0, 1] = index // 256, index % 256
        clips += collector.add(index / 10, frame)
        most_kept = max(most_kept, len(collector._kept))
    clips += collector.finish()

    [(span, clip)] = clips
    assert (span.start, span.end) == (0.0, 200.0)
    assert most_kept <= _SHOT_BUFFER_CLIPS * spec.num_frames + 1
    sampled = [int(f[0, 0, 0]) * 256 + int(f[0, 0, 1]) for f in clip]
    centres = [round((k + 0.5) * 2000 / 8) for k in range(8)]
    stride = 2000 // (_SHOT_BUFFER_CLIPS * spec.num_frames // 2)
    assert all(abs(s - c) <= stride for s, c in zip(sampled, centres))
    assert sampled == sorted(sampled) and len(set(sampled)) == 8
