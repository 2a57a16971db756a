"""Object tracking batch prediction on real videos: both output formats (the legacy JSON parsed as the
real AutoML ``AnnotationPayload``), parameters, bad rows, shards = unsharded, resume after SIGKILL, and
long rows that keep boxes only."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import storage, synth
from automl_video.prediction.engine import batch_predict, merge_shards, prediction_params
from automl_video.tasks.object_tracking.boxes import MAX_DETECTIONS, Detections
from automl_video.tasks.object_tracking.prediction import PredictionParams, TrackingPrediction, frame_times
from automl_video.times import parse_duration
from tests.prediction_support import predict_killed_after_rows, write_file

VERTEX_TRACK_KEYS = {"id", "displayName", "timeSegmentStart", "timeSegmentEnd", "confidence", "frames"}
VERTEX_FRAME_KEYS = {"timeOffset", "xMin", "xMax", "yMin", "yMax"}


def index_rows(output_dir: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(storage.read_text(storage.join(output_dir, "video_object_tracking.csv")))))


def payloads(output_dir: str, name: str) -> list[dict]:
    """A row's JSON file, every element parsed as the real AutoML proto (unknown fields rejected)."""
    doc = json.loads(storage.read_text(storage.join(output_dir, name)))
    for element in doc:
        json_format.Parse(json.dumps(element), automl_v1beta1.AnnotationPayload.pb()(), ignore_unknown_fields=False)
    return doc


def tracks_of_payloads(doc: list[dict]) -> dict[str, list[tuple]]:
    tracks: dict[str, list[tuple]] = {}
    for p in doc:
        tracking = p["videoObjectTracking"]
        (top_left, bottom_right) = tracking["boundingBox"]["normalizedVertices"]
        frame = (
            round(parse_duration(tracking["timeOffset"]), 6),
            top_left["x"],
            top_left["y"],
            bottom_right["x"],
            bottom_right["y"],
            p["displayName"],
            tracking["score"],
        )
        tracks.setdefault(tracking["instanceId"], []).append(frame)
    return {k: sorted(v) for k, v in tracks.items()}


def test_legacy_csv_and_vertex_jsonl_outputs(tmp_path, random_detector, tracking_synth):
    first, second = tracking_synth.videos[0], tracking_synth.videos[1]
    rows = [f"{first},0,inf", f"{second},0.5,1.2", f"{tmp_path}/missing.mp4,0,1", f"{first},1,0.5"]
    result = batch_predict(
        random_detector, [write_file(tmp_path / "in.csv", "\n".join(rows) + "\n")], str(tmp_path / "legacy")
    )
    assert (result.succeeded_rows, result.failed_rows) == (2, 2)
    index = index_rows(result.output_dir)
    assert [r[:3] for r in index] == [r.split(",") for r in rows]
    assert [r[4] for r in index[:2]] == ["OK", "OK"] and index[2][3] == "" and "not found" in index[2][4]
    assert "END 0.5 must be after START 1" in index[3][4]
    legacy = [tracks_of_payloads(payloads(result.output_dir, r[3])) for r in index[:2]]
    assert legacy[0] and legacy[1]
    grid = {round(t, 6) for t in frame_times(0.5, 1.2, 10.0)}
    assert {frame[0] for track in legacy[1].values() for frame in track} <= grid
    for track in legacy[0].values():
        assert len({frame[5] for frame in track}) == 1  # a track keeps its label
        assert all(0 <= x <= 1 for frame in track for x in frame[1:5])
        assert all(frame[1] < frame[3] and frame[2] < frame[4] for frame in track)

    instances = [
        {"content": first, "mimeType": "video/mp4"},
        {"content": second, "timeSegmentStart": "0.5s", "timeSegmentEnd": "1.2s"},
    ]
    jsonl = write_file(tmp_path / "in.jsonl", "".join(json.dumps(i) + "\n" for i in instances))
    vertex = batch_predict(random_detector, [jsonl], str(tmp_path / "vertex"))
    [predictions_file] = [f for f in vertex.files if "predictions_" in f]
    lines = [json.loads(line) for line in storage.read_text(predictions_file).splitlines()]
    assert [line["instance"] for line in lines] == instances
    for line, expected in zip(lines, legacy):
        found = {}
        for track in line["prediction"]:
            assert set(track) == VERTEX_TRACK_KEYS and all(set(f) == VERTEX_FRAME_KEYS for f in track["frames"])
            times = [parse_duration(f["timeOffset"]) for f in track["frames"]]
            assert times == sorted(times)
            assert (parse_duration(track["timeSegmentStart"]), parse_duration(track["timeSegmentEnd"])) == (
                times[0],
                times[-1],
            )
            found[track["displayName"], tuple(round(t, 6) for t in times)] = track["confidence"]
        # The same tracks as the legacy output (one Vertex result per track, its confidence the mean score).
        assert found == {
            (frames[0][5], tuple(f[0] for f in frames)): pytest.approx(np.mean([f[6] for f in frames]), abs=1e-5)
            for frames in expected.values()
        }


def test_parameters_filter_after_tracking(tmp_path, random_detector, tracking_synth):
    video = tracking_synth.videos[2]
    inputs = write_file(tmp_path / "in.csv", f"{video},0,inf\n")

    def predicted(name: str, **mapping):
        result = batch_predict(
            random_detector, [inputs], str(tmp_path / name), prediction_params(random_detector, mapping)
        )
        return tracks_of_payloads(payloads(result.output_dir, index_rows(result.output_dir)[0][3]))

    everything = predicted("all")
    boxes = [frame for track in everything.values() for frame in track]
    scores = sorted({frame[6] for frame in boxes})
    threshold = (scores[len(scores) // 2] + scores[len(scores) // 2 + 1]) / 2  # between two scores (rounded in JSON)
    above = predicted("threshold", confidenceThreshold=threshold)
    # Thresholding only hides boxes: the same tracks (ids) keep their other boxes.
    assert above == {
        k: [f for f in v if f[6] >= threshold] for k, v in everything.items() if any(f[6] >= threshold for f in v)
    }
    capped = predicted("capped", max_bounding_box_count="1")
    per_frame = {}
    for track in capped.values():
        for frame in track:
            per_frame[frame[0]] = per_frame.get(frame[0], 0) + 1
    assert set(per_frame.values()) == {1}
    large = predicted("large", minBoundingBoxSize=0.2)
    assert all(min(f[3] - f[1], f[4] - f[2]) >= 0.2 - 1e-6 for track in large.values() for f in track)
    slow = predicted("slow", frameRate=2)
    assert {f[0] for track in slow.values() for f in track} <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"segmentClassification": True}, "unknown prediction parameter 'segmentClassification'"),
        ({"score_threshold": "high"}, "score_threshold: expected a number"),
        ({"confidenceThreshold": 1.5}, "score_threshold must be between 0 and 1"),
        ({"maxPredictions": 2.5}, "maxPredictions: expected an integer"),
        ({"max_bounding_box_count": 0}, "max_bounding_box_count must be at least 1"),
        ({"frame_rate": 0}, "frame_rate must be above 0"),
        ({"minBoundingBoxSize": True}, "minBoundingBoxSize: expected a number"),
    ],
)
def test_bad_parameters_are_refused_naming_the_key(mapping, message):
    with pytest.raises(ValueError, match=message):
        TrackingPrediction().parse_params(mapping)


def test_shards_then_merge_equal_one_unsharded_run(tmp_path, random_detector, tracking_synth):
    videos = tracking_synth.videos
    rows = [
        f"{videos[0]},0,inf",
        f"{videos[3]},0,1",
        f"{tmp_path}/missing.mp4,0,1",
        f"{videos[5]},0.3,inf",
        f"{videos[9]},0,inf",
    ]
    inputs = write_file(tmp_path / "in.csv", "\n".join(rows) + "\n")
    params = PredictionParams(frame_rate=5)
    whole = batch_predict(random_detector, [inputs], str(tmp_path / "whole"), params)
    prefix = str(tmp_path / "sharded")
    for shard in range(3):
        batch_predict(random_detector, [inputs], prefix, params, shard=(shard, 3))
    merged = merge_shards(random_detector, [inputs], prefix, params)
    assert (merged.succeeded_rows, merged.failed_rows) == (whole.succeeded_rows, whole.failed_rows) == (4, 1)

    def contents(output_dir: str) -> dict[str, str]:
        return {os.path.basename(f): storage.read_text(f) for f in storage.glob(storage.join(output_dir, "*"))}

    assert contents(merged.output_dir) == contents(whole.output_dir)


def test_resume_after_sigkill_loses_no_row_and_recomputes_none(tmp_path, random_detector, tracking_synth):
    row_count = 12
    video = tracking_synth.videos[4]
    inputs = write_file(tmp_path / "in.csv", "".join(f"{video},0,inf\n" for _ in range(row_count)))
    prefix = str(tmp_path / "out")
    command = [sys.executable, "-m", "automl_video", "predict", "--model", random_detector, "--input", inputs]
    command += ["--output-prefix", prefix, "--param", "frameRate=30", "--json"]
    finished = predict_killed_after_rows(command, prefix)
    assert 3 <= len(finished) < row_count

    marked = json.loads(open(finished[0]).read())  # if the rerun recomputed this row, the mark would vanish
    marked["predictions"][0]["frames"][0]["score"] = 0.123456
    open(finished[0], "w").write(json.dumps(marked))

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)
    assert (result["resumed_rows"], result["predicted_rows"]) == (len(finished), row_count - len(finished))
    index = index_rows(result["output_dir"])
    assert [r[4] for r in index] == ["OK"] * row_count
    contents = [payloads(result["output_dir"], r[3]) for r in index]
    assert 0.123456 in [p["videoObjectTracking"]["score"] for p in contents[marked["index"]]]
    others = [json.dumps(c) for i, c in enumerate(contents) if i != marked["index"]]
    assert len(set(others)) == 1  # every other row (same video and span) came out the same


def test_a_long_row_keeps_boxes_not_heatmaps(tmp_path, random_detector):
    from automl_video.modeling.loading import load_model

    long_video = str(tmp_path / "long.mp4")
    synth.make_long_video(long_video, seconds=60.0, fps=10, width=64, height=64)
    model = load_model(random_detector)
    plan = TrackingPrediction().rows(model, PredictionParams())
    output = np.asarray(model.predict_clips(np.zeros((1, *model.input_spec.shape), np.uint8)))[0]
    kept = plan.compact(None, output)
    assert isinstance(kept, Detections) and len(kept) <= MAX_DETECTIONS
    assert not any(np.shares_memory(array, output) for array in (kept.corners, kept.labels, kept.scores))
    result = batch_predict(
        random_detector, [write_file(tmp_path / "in.csv", f"{long_video},0,inf\n")], str(tmp_path / "out")
    )
    times = {
        f[0]
        for track in tracks_of_payloads(payloads(result.output_dir, index_rows(result.output_dir)[0][3])).values()
        for f in track
    }
    assert max(times) > 59.0 and result.video_seconds == pytest.approx(60.0, abs=0.1)
