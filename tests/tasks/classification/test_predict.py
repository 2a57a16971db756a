"""Batch prediction end to end on real encoded videos and a real (untrained, fixed-bias) Keras model."""

import glob
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import cli, storage, synth
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, save_metadata
from automl_video.prediction.engine import PredictionError, WORK_FOLDER, batch_predict, merge_shards, parse_shard
from automl_video.tasks.classification.prediction import PredictionParams
from automl_video.times import format_duration, parse_duration
from automl_video.video import VideoReader

LABELS = ["left_to_right", "right_to_left", "clockwise"]
SPEC = InputSpec(num_frames=8, height=64, width=64)
FPS = 15


def _publish_model(folder, spec: InputSpec) -> str:
    """A published model folder: the real network, random weights, output biases spread the scores."""
    import keras

    from automl_video.modeling.loading import OUTPUT_LAYER, WEIGHTS_FILE
    from automl_video.tasks.classification.network import ClassificationNetworks

    keras.utils.set_random_seed(0)
    network = ClassificationNetworks().build(ModelType.MOBILE_VERSATILE_1, len(LABELS), spec)
    kernel, _ = network.get_layer(OUTPUT_LAYER).get_weights()
    network.get_layer(OUTPUT_LAYER).set_weights([kernel, np.array([-4.0, 0.0, 4.0], np.float32)])
    network.save_weights(str(folder / WEIGHTS_FILE))
    specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(LABELS)]
    save_metadata(ModelMetadata("MOBILE_VERSATILE_1", specs, spec, display_name="tiny motion"), str(folder))
    (folder / storage.COMPLETE_MARKER).write_text("done\n")
    return str(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return _publish_model(tmp_path_factory.mktemp("model"), SPEC)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("predict_videos")
    six = str(folder / "six.mp4")
    four = str(folder / "four.mp4")
    cuts = {
        "six": synth.make_cut_video(six, [2.0, 4.0], 6.0, fps=FPS, seed=1),
        "four": synth.make_cut_video(four, [1.4], 4.0, fps=FPS, seed=2),
    }
    data = open(six, "rb").read()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    # The index (at the front) is intact but the frames of the second half are noise: decoding stops.
    middle = len(data) // 2
    damaged = data[:middle] + np.random.default_rng(0).bytes(len(data) - middle - 100) + data[-100:]
    (folder / "damaged.mp4").write_bytes(damaged)
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    return {
        "six": six,
        "four": four,
        "truncated": str(folder / "truncated.mp4"),
        "damaged": str(folder / "damaged.mp4"),
        "corrupt": str(folder / "corrupt.mp4"),
        "missing": str(folder / "missing.mp4"),
        "cuts": cuts,
    }


def _write(path, text: str) -> str:
    storage.write_text(str(path), text)
    return str(path)


def _legacy_rows(output_dir: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(storage.read_text(storage.join(output_dir, "video_classification.csv")))))


def _payloads(output_dir: str, name: str) -> list[dict]:
    """A legacy JSON file, each element checked against the real AutoML proto (unknown fields rejected)."""
    doc = json.loads(storage.read_text(storage.join(output_dir, name)))
    payload_pb = automl_v1beta1.AnnotationPayload.pb()
    for element in doc:
        json_format.Parse(json.dumps(element), payload_pb(), ignore_unknown_fields=False)
    return doc


def _spans(payloads: list[dict], kind: str) -> list[tuple[float, float]]:
    found = {
        (parse_duration(p["videoClassification"]["timeSegment"]["startTimeOffset"]),
         parse_duration(p["videoClassification"]["timeSegment"]["endTimeOffset"]))
        for p in payloads
        if p["videoClassification"]["type"] == kind
    }
    return sorted(found)


ALL_TYPES = PredictionParams(shot_classification=True, one_sec_interval_classification=True)


def test_legacy_csv_all_three_types_as_automl_annotation_payloads(tmp_path, tiny_model, videos):
    inputs = _write(tmp_path / "in.csv", f"{videos['six']},0,inf\n{videos['four']},0.5,3.5\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    assert result.complete and (result.succeeded_rows, result.failed_rows) == (2, 0)
    name = os.path.basename(result.output_dir)
    assert name.startswith("prediction-tiny_motion-")
    assert len(name) == len("prediction-tiny_motion-") + len("2020-01-01T00:00:00.000Z") and name.endswith("Z")
    rows = _legacy_rows(result.output_dir)
    assert [r[:3] for r in rows] == [[videos["six"], "0", "inf"], [videos["four"], "0.5", "3.5"]]
    assert [r[4] for r in rows] == ["OK", "OK"]
    assert glob.glob(str(tmp_path / "out" / WORK_FOLDER / "*" / "rows" / "*")) == []
    again = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)
    assert (again.output_dir, again.predicted_rows, again.resumed_rows) == (result.output_dir, 0, 2)

    six, four = (_payloads(result.output_dir, r[3]) for r in rows)
    for payloads in (six, four):
        types = [p["videoClassification"]["type"] for p in payloads]
        assert types == sorted(types) and set(types) == {"segment", "shot", "1s_interval"}
        assert all(0.0 <= p["videoClassification"]["classificationAnnotation"]["score"] <= 1.0 for p in payloads)
        assert len(payloads) % len(LABELS) == 0  # threshold 0: every label for every span
    assert _spans(six, "segment") == [(0.0, 6.0)]
    assert _spans(four, "segment") == [(0.5, 3.5)]
    assert _spans(six, "1s_interval") == [(float(k), float(k + 1)) for k in range(6)]
    assert _spans(four, "1s_interval") == [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5)]
    for payloads, (start, end), cuts in (
        (six, (0, 6), videos["cuts"]["six"]),
        (four, (0.5, 3.5), videos["cuts"]["four"]),
    ):
        shots = _spans(payloads, "shot")
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
    inputs = _write(tmp_path / "instances.jsonl", "\n".join(lines) + "\n")
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
    inputs = _write(tmp_path / "in.csv", f"{videos['six']},0,inf\n")
    everything = batch_predict(tiny_model, [inputs], str(tmp_path / "all"), ALL_TYPES)
    params = PredictionParams(0.45, True, True, True, max_predictions=1)
    filtered = batch_predict(tiny_model, [inputs], str(tmp_path / "filtered"), params)

    def grouped(result):
        [row] = _legacy_rows(result.output_dir)
        groups = {}
        for p in _payloads(result.output_dir, row[3]):
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


def test_durations_parse_and_format_as_proto_json():
    assert parse_duration("10s") == 10.0 and parse_duration("1.5s") == 1.5 and math.isinf(parse_duration("Infinity"))
    assert format_duration(1.5) == "1.500s" and format_duration(10) == "10s" and format_duration(0) == "0s"
    with pytest.raises(ValueError):
        parse_duration("10 seconds")


def test_bad_rows_fail_alone_with_their_reason(tmp_path, tiny_model, videos):
    rows = [
        f"{videos['six']},2,inf",  # inf END: to the end
        f"{videos['missing']},0,inf",
        f"{videos['corrupt']},0,inf",
        f"{videos['truncated']},0,6",  # the file holds only the first part of its 6 s
        f"{videos['six']},4,2",
        f"{videos['six']},abc,3",
        f"{videos['six']},0,60",
        f"{videos['six']},7,inf",
        f"{videos['four']},0,4",
    ]
    inputs = _write(tmp_path / "in.csv", "\n".join(rows) + "\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    statuses = [r[4] for r in _legacy_rows(result.output_dir)]
    assert statuses[0] == "OK" and statuses[-1] == "OK"
    expected_reasons = [
        "file not found",
        "cannot open as a video",
        "after the video's end",
        "END 2 must be after START 4",
        "'abc' is not a number",
        "END 60s is after the video's end",
        "START 7s is not before the video's end",
    ]
    for line, (status, reason) in enumerate(zip(statuses[1:-1], expected_reasons), start=2):
        assert reason in status and f"in.csv line {line}" in status
    assert (result.succeeded_rows, result.failed_rows) == (2, 7)
    assert [f.row for f in result.failures] == [2, 3, 4, 5, 6, 7, 8]
    six = _payloads(result.output_dir, _legacy_rows(result.output_dir)[0][3])
    assert _spans(six, "segment") == [(2.0, 6.0)]


def test_streamed_clips_score_like_seeking_for_each_span(tmp_path, tiny_model, videos):
    """1-second and segment scores are identical whether shots are on (every frame decoded) or not."""
    from automl_video.modeling.loading import load_model

    inputs = _write(tmp_path / "in.csv", f"{videos['six']},0.3,5.9\n")
    seconds_only = PredictionParams(one_sec_interval_classification=True)
    only_seconds = batch_predict(tiny_model, [inputs], str(tmp_path / "a"), seconds_only)
    with_shots = batch_predict(tiny_model, [inputs], str(tmp_path / "b"), ALL_TYPES)

    def scores(result, kind):
        [row] = _legacy_rows(result.output_dir)
        found = {}
        for p in _payloads(result.output_dir, row[3]):
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
    model_uri = _publish_model(tmp_path / "model", InputSpec(num_frames=4, height=32, width=32, clips_per_segment=3))
    inputs = _write(tmp_path / "in.csv", f"{videos['six']},0.3,5.9\n")
    result = batch_predict(model_uri, [inputs], str(tmp_path / "out"), PredictionParams(one_sec_interval_classification=True))

    [row] = _legacy_rows(result.output_dir)
    segment = [p for p in _payloads(result.output_dir, row[3]) if p["videoClassification"]["type"] == "segment"]
    got = {p["annotationSpecId"]: p["videoClassification"]["classificationAnnotation"]["score"] for p in segment}
    with VideoReader(videos["six"]) as reader:
        model = load_model(model_uri)
        clips = model.segment_clips(reader, 0.3, 5.9)
        expected = model.score_segment(reader, 0.3, 5.9)
    assert clips.shape == (3, 4, 32, 32, 3) and not np.array_equal(clips[0], clips[1])
    assert [got[str(i + 1)] for i in range(3)] == pytest.approx(expected, abs=2e-6)


def test_a_stream_that_stops_decoding_early_fails_its_row(tmp_path, tiny_model, videos):
    """Half the frames are noise behind an intact index: whichever frames are needed, the row fails."""
    inputs = _write(tmp_path / "in.csv", f"{videos['damaged']},0,inf\n")
    for name, params in (("seconds", PredictionParams(one_sec_interval_classification=True)), ("all", ALL_TYPES)):
        result = batch_predict(tiny_model, [inputs], str(tmp_path / name), params)
        [status] = [r[4] for r in _legacy_rows(result.output_dir)]
        assert "decoding stopped at" in status and "before the span's end 6.000s" in status, status


def test_a_video_that_shows_one_frame_for_seconds_is_not_taken_for_a_damaged_one(tmp_path, tiny_model):
    """Variable frame rate (e.g. a screen recording): no new frame for 3 s is a still picture, not an error."""
    times = [i / FPS for i in range(45)] + [6.0]
    path = synth.make_video(
        str(tmp_path / "still.mp4"), lambda i: np.full((64, 64, 3), i * 5, np.uint8), FPS, num_frames=46, timestamps=times
    )
    inputs = _write(tmp_path / "in.csv", f"{path},0,inf\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    [row] = _legacy_rows(result.output_dir)
    assert row[4] == "OK", row[4]
    seconds = _spans(_payloads(result.output_dir, row[3]), "1s_interval")
    assert seconds[0] == (0.0, 1.0) and len(seconds) == 7  # 0..6 and the last frame's short tail


def _output_files(output_dir: str) -> dict[str, str]:
    return {os.path.basename(f): storage.read_text(f) for f in storage.listdir(output_dir)}


def test_shards_then_merge_equal_one_unsharded_run(tmp_path, tiny_model, videos):
    rows = [f"{videos['six']},0,inf", f"{videos['four']},0,2", f"{videos['missing']},0,1",
            f"{videos['four']},1,4", f"{videos['six']},3,5"]
    inputs = _write(tmp_path / "in.csv", "\n".join(rows) + "\n")
    params = PredictionParams(one_sec_interval_classification=True)
    whole = batch_predict(tiny_model, [inputs], str(tmp_path / "whole"), params)

    prefix = str(tmp_path / "sharded")
    shard_results = [batch_predict(tiny_model, [inputs], prefix, params, shard=(i, 3)) for i in (0, 2)]
    assert [r.shard_rows for r in shard_results] == [2, 1] and not any(r.complete for r in shard_results)
    with pytest.raises(PredictionError, match="2 of 5 rows have no result yet"):
        merge_shards(tiny_model, [inputs], prefix, params)
    batch_predict(tiny_model, [inputs], prefix, params, shard=parse_shard("1/3"))
    merged = merge_shards(tiny_model, [inputs], prefix, params)
    assert merge_shards(tiny_model, [inputs], prefix, params).output_dir == merged.output_dir  # idempotent

    assert (merged.succeeded_rows, merged.failed_rows, merged.total_rows) == (4, 1, 5)
    assert _output_files(merged.output_dir) == _output_files(whole.output_dir)
    assert len(_output_files(whole.output_dir)) == 5  # 4 JSON files + the CSV


def test_resume_after_sigkill_loses_no_row_and_recomputes_none(tmp_path, tiny_model, videos):
    row_count = 16
    inputs = _write(tmp_path / "in.csv", "".join(f"{videos['six']},0,inf\n" for _ in range(row_count)))
    prefix = str(tmp_path / "out")
    command = [sys.executable, "-m", "automl_video", "predict", "--model", tiny_model, "--input", inputs,
               "--output-prefix", prefix, "--one-sec", "--shot", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rows_dir_pattern = os.path.join(prefix, WORK_FOLDER, "*", "rows", "*.json")
    deadline = time.monotonic() + 240
    while len(glob.glob(rows_dir_pattern)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = sorted(glob.glob(rows_dir_pattern))
    assert 3 <= len(finished) < row_count
    assert not glob.glob(os.path.join(prefix, "prediction-*"))

    # Mark one finished row: if the rerun recomputed it, the mark would vanish from the output.
    marked = json.loads(open(finished[0]).read())
    marked["predictions"][0]["score"] = 0.123456
    open(finished[0], "w").write(json.dumps(marked))

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert (result["resumed_rows"], result["predicted_rows"]) == (len(finished), row_count - len(finished))
    rows = _legacy_rows(result["output_dir"])
    assert [r[4] for r in rows] == ["OK"] * row_count
    assert len({r[3] for r in rows}) == row_count
    contents = [_payloads(result["output_dir"], r[3]) for r in rows]
    marked_row = marked["index"]
    marked_scores = [p["videoClassification"]["classificationAnnotation"]["score"] for p in contents[marked_row]]
    assert 0.123456 in marked_scores
    unmarked = [json.dumps(c) for i, c in enumerate(contents) if i != marked_row]
    assert len(set(unmarked)) == 1  # every other row (same video, same span) came out the same, once


def test_gcs_inputs_videos_and_outputs(gcs_bucket, tiny_model, videos):
    video_uri = f"{gcs_bucket}/videos/four.mp4"
    storage.write_bytes(video_uri, open(videos["four"], "rb").read())
    inputs = _write(f"{gcs_bucket}/in/batch.csv", f"{video_uri},0,inf\n{gcs_bucket}/videos/nope.mp4,0,1\n")
    result = batch_predict(tiny_model, [inputs], f"{gcs_bucket}/predictions", ALL_TYPES)

    assert result.output_dir.startswith(f"{gcs_bucket}/predictions/prediction-tiny_motion-")
    rows = _legacy_rows(result.output_dir)
    assert [r[4] for r in rows][0] == "OK" and "not found" in rows[1][4]
    payloads = _payloads(result.output_dir, rows[0][3])
    assert _spans(payloads, "segment") == [(0.0, 4.0)]
    assert storage.glob(f"{gcs_bucket}/predictions/{WORK_FOLDER}/*/rows/*") == []


def test_cli_refuses_bad_arguments_with_one_line(tmp_path, tiny_model, videos, capsys):
    csv_input = _write(tmp_path / "in.csv", f"{videos['four']},0,1\n")
    jsonl_input = _write(tmp_path / "in.jsonl", json.dumps({"content": videos["four"]}) + "\n")
    base = ["predict", "--model", tiny_model, "--output-prefix", str(tmp_path / "out")]
    assert cli.main(base + ["--input", csv_input, "--shard", "3/2"]) == 2
    assert "need 0 <= I < N" in capsys.readouterr().err
    assert cli.main(base + ["--input", csv_input, "--input", jsonl_input]) == 2
    assert "mix AutoML CSV and Vertex JSONL" in capsys.readouterr().err
    assert cli.main(base + ["--input", csv_input, "--score-threshold", "2"]) == 2
    assert cli.main(base + ["--input", str(tmp_path / "in.txt")]) == 2
    assert "extension" in capsys.readouterr().err


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
