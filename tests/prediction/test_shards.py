"""A batch prediction fanned out over shards: the plan, and the typed merge of the shards' records."""

import pytest

from automl_video import storage
from automl_video.prediction.engine import PredictionResult, batch_predict, merge_shards
from automl_video.prediction.shards import merge_prediction_shards, shard_indices
from automl_video.tasks.classification.prediction import PredictionParams


def test_shard_plan():
    assert shard_indices(3) == [0, 1, 2]
    with pytest.raises(ValueError, match="shard count must be at least 1"):
        shard_indices(0)


def shard_record(path, result: PredictionResult) -> str:
    """What the batch-predict-shard task writes: the result plus the task's work times."""
    storage.write_json(str(path), {**result.to_json(), "started_at": 1.0, "finished_at": 2.0, "seconds": 1.0})
    return str(path)


def finished_result(output_dir: str) -> PredictionResult:
    return PredictionResult(
        output_dir=output_dir,
        format="automl_csv",
        total_rows=3,
        shard=(0, 1),
        shard_rows=3,
        predicted_rows=3,
        resumed_rows=0,
        succeeded_rows=3,
        failed_rows=0,
        video_seconds=6.0,
        wall_seconds=1.5,
        work_dir="w",
    )


def test_single_shard_record_is_the_merged_result(tmp_path):
    record = shard_record(tmp_path / "shard.json", finished_result("gs://b/prediction-x"))
    merged = merge_prediction_shards([record], "unused", [], "unused", PredictionParams())
    assert merged.output_dir == "gs://b/prediction-x"
    assert merged == finished_result("gs://b/prediction-x")  # the typed result, not the task's record


def test_unfinished_shards_are_merged_with_the_typed_params(tmp_path, tiny_model, synth_small):  # noqa: F811
    inputs = str(tmp_path / "in.csv")
    storage.write_text(inputs, "".join(f"{video},0,1\n" for video in synth_small.videos[:3]))
    prefix = str(tmp_path / "out")
    params = PredictionParams(one_sec_interval_classification=True, max_predictions=1)
    shards = [batch_predict(tiny_model, [inputs], prefix, params, shard=(i, 2)) for i in range(2)]
    assert not any(shard.complete for shard in shards)
    records = [shard_record(tmp_path / f"shard-{i}.json", shard) for i, shard in enumerate(shards)]
    merged = merge_prediction_shards(records, tiny_model, [inputs], prefix, params)
    assert isinstance(merged, PredictionResult) and merged.complete
    assert (merged.total_rows, merged.succeeded_rows, merged.failed_rows) == (3, 3, 0)
    assert merge_shards(tiny_model, [inputs], prefix, params).output_dir == merged.output_dir  # the same run
    rows = storage.read_text(storage.join(merged.output_dir, "video_classification.csv")).splitlines()
    assert len(rows) == 3
