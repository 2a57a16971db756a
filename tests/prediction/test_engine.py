"""The batch prediction engine on real encoded videos: bad rows, damaged streams, shards, resume after SIGKILL, GCS."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from automl_video import cli, storage, synth
from automl_video.prediction.engine import WORK_FOLDER, PredictionError, batch_predict, merge_shards, parse_shard
from automl_video.tasks.classification.prediction import PredictionParams
from tests.prediction_support import (
    FPS,
    checked_payloads,
    legacy_rows,
    payload_spans,
    write_file,
)

ALL_TYPES = PredictionParams(shot_classification=True, one_sec_interval_classification=True)


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
    inputs = write_file(tmp_path / "in.csv", "\n".join(rows) + "\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    statuses = [r[4] for r in legacy_rows(result.output_dir)]
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
    six = checked_payloads(result.output_dir, legacy_rows(result.output_dir)[0][3])
    assert payload_spans(six, "segment") == [(2.0, 6.0)]


def test_a_stream_that_stops_decoding_early_fails_its_row(tmp_path, tiny_model, videos):
    """Half the frames are noise behind an intact index: whichever frames are needed, the row fails."""
    inputs = write_file(tmp_path / "in.csv", f"{videos['damaged']},0,inf\n")
    for name, params in (("seconds", PredictionParams(one_sec_interval_classification=True)), ("all", ALL_TYPES)):
        result = batch_predict(tiny_model, [inputs], str(tmp_path / name), params)
        [status] = [r[4] for r in legacy_rows(result.output_dir)]
        assert "decoding stopped at" in status and "before the span's end 6.000s" in status, status


def test_a_video_that_shows_one_frame_for_seconds_is_not_taken_for_a_damaged_one(tmp_path, tiny_model):
    """Variable frame rate (e.g. a screen recording): no new frame for 3 s is a still picture, not an error."""
    times = [i / FPS for i in range(45)] + [6.0]
    path = synth.make_video(
        str(tmp_path / "still.mp4"),
        lambda i: np.full((64, 64, 3), i * 5, np.uint8),
        FPS,
        num_frames=46,
        timestamps=times,
    )
    inputs = write_file(tmp_path / "in.csv", f"{path},0,inf\n")
    result = batch_predict(tiny_model, [inputs], str(tmp_path / "out"), ALL_TYPES)

    [row] = legacy_rows(result.output_dir)
    assert row[4] == "OK", row[4]
    seconds = payload_spans(checked_payloads(result.output_dir, row[3]), "1s_interval")
    assert seconds[0] == (0.0, 1.0) and len(seconds) == 7  # 0..6 and the last frame's short tail


def _output_files(output_dir: str) -> dict[str, str]:
    return {os.path.basename(f): storage.read_text(f) for f in storage.listdir(output_dir)}


def test_shards_then_merge_equal_one_unsharded_run(tmp_path, tiny_model, videos):
    rows = [
        f"{videos['six']},0,inf",
        f"{videos['four']},0,2",
        f"{videos['missing']},0,1",
        f"{videos['four']},1,4",
        f"{videos['six']},3,5",
    ]
    inputs = write_file(tmp_path / "in.csv", "\n".join(rows) + "\n")
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
    inputs = write_file(tmp_path / "in.csv", "".join(f"{videos['six']},0,inf\n" for _ in range(row_count)))
    prefix = str(tmp_path / "out")
    command = [
        sys.executable,
        "-m",
        "automl_video",
        "predict",
        "--model",
        tiny_model,
        "--input",
        inputs,
        "--output-prefix",
        prefix,
        "--one-sec",
        "--shot",
        "--json",
    ]
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
    rows = legacy_rows(result["output_dir"])
    assert [r[4] for r in rows] == ["OK"] * row_count
    assert len({r[3] for r in rows}) == row_count
    contents = [checked_payloads(result["output_dir"], r[3]) for r in rows]
    marked_row = marked["index"]
    marked_scores = [p["videoClassification"]["classificationAnnotation"]["score"] for p in contents[marked_row]]
    assert 0.123456 in marked_scores
    unmarked = [json.dumps(c) for i, c in enumerate(contents) if i != marked_row]
    assert len(set(unmarked)) == 1  # every other row (same video, same span) came out the same, once


def test_gcs_inputs_videos_and_outputs(gcs_bucket, tiny_model, videos):
    video_uri = f"{gcs_bucket}/videos/four.mp4"
    storage.write_bytes(video_uri, open(videos["four"], "rb").read())
    inputs = write_file(f"{gcs_bucket}/in/batch.csv", f"{video_uri},0,inf\n{gcs_bucket}/videos/nope.mp4,0,1\n")
    result = batch_predict(tiny_model, [inputs], f"{gcs_bucket}/predictions", ALL_TYPES)

    assert result.output_dir.startswith(f"{gcs_bucket}/predictions/prediction-tiny_motion-")
    rows = legacy_rows(result.output_dir)
    assert [r[4] for r in rows][0] == "OK" and "not found" in rows[1][4]
    payloads = checked_payloads(result.output_dir, rows[0][3])
    assert payload_spans(payloads, "segment") == [(0.0, 4.0)]
    assert storage.glob(f"{gcs_bucket}/predictions/{WORK_FOLDER}/*/rows/*") == []


def test_cli_refuses_bad_arguments_with_one_line(tmp_path, tiny_model, videos, capsys):
    csv_input = write_file(tmp_path / "in.csv", f"{videos['four']},0,1\n")
    jsonl_input = write_file(tmp_path / "in.jsonl", json.dumps({"content": videos["four"]}) + "\n")
    base = ["predict", "--model", tiny_model, "--output-prefix", str(tmp_path / "out")]
    assert cli.main(base + ["--input", csv_input, "--shard", "3/2"]) == 2
    assert "need 0 <= I < N" in capsys.readouterr().err
    assert cli.main(base + ["--input", csv_input, "--input", jsonl_input]) == 2
    assert "mix AutoML CSV and Vertex JSONL" in capsys.readouterr().err
    assert cli.main(base + ["--input", csv_input, "--score-threshold", "2"]) == 2
    assert cli.main(base + ["--input", str(tmp_path / "in.txt")]) == 2
    assert "extension" in capsys.readouterr().err
