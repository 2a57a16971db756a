"""A stage run as a pipeline task: its result as JSON artifact metadata with its work times."""

import json

import pytest

from automl_video.stage import fraction_parameters, fractions_from_parameters, run_stage


def test_artifact_metadata_is_json_with_work_times():
    from automl_video.data.splits import SplitResult

    result = SplitResult(
        "ds", "classification", 0, None, None, {}, videos_moved=3, left_out=0, warnings=["thin label x"]
    )
    run = run_stage(lambda: result)
    metadata = run.metadata
    assert run.result is result
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["videos_moved"] == 3 and metadata["warnings"] == ["thin label x"]
    assert metadata["started_at"] == run.started_at <= metadata["finished_at"] == run.finished_at
    assert metadata["seconds"] == pytest.approx(metadata["finished_at"] - metadata["started_at"], abs=1e-3)


def test_a_result_with_to_json_is_recorded_through_it_and_arguments_pass_through():
    from automl_video.prediction.engine import PredictionResult

    def predict(output_dir, *, rows):
        return PredictionResult(output_dir, "vertex_jsonl", rows, (0, 1), rows, rows, 0, rows, 0, 2.0, 1.0, "work")

    run = run_stage(predict, "gs://b/prediction-x", rows=4)
    assert run.result.total_rows == 4
    assert run.metadata["complete"] is True and run.metadata["shard"] == [0, 1]  # to_json(), as JSON


@pytest.mark.parametrize("training, test", [(None, None), (0.7, 0.3), (0.9, 0.0)])
def test_fractions_survive_the_task_parameters(training, test):
    parameters = fraction_parameters(training, test)
    assert all(isinstance(p, float) for p in parameters)  # KFP parameters cannot be None
    assert fractions_from_parameters(*parameters) == (training, test)
