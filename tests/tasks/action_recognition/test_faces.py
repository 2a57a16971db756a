"""Action recognition end to end through the faces, with real (tiny) training on generated videos: the
CLI's synth, the SDK on the local backend (dataset → training job → model → evaluations → export →
batch prediction), and the training DAG then its batch prediction through ``kfp.local``."""

import json
import os

import pytest

import automl_video as av
from automl_video import cli, storage
from automl_video.data import dataset as dataset_lib
from automl_video.registry.resources import IMPORT_SCHEMAS, METRICS_SCHEMAS, TRAINING_TASK_DEFINITIONS
from automl_video.times import parse_duration
from tests.tasks.action_recognition.support import checked

AR = "action_recognition"


def jsonl_instances(path, uris: list[str]) -> str:
    path.write_text("".join(json.dumps({"content": uri, "mimeType": "video/mp4"}) + "\n" for uri in uris))
    return str(path)


def checked_lines(output_files: list[str]) -> list[dict]:
    lines = [line for f in output_files if "predictions_" in f for line in storage.read_jsonl(f)]
    for line in lines:
        for element in line["prediction"]:
            checked("VideoActionRecognitionPredictionResult", element)
            assert element["timeSegmentStart"] == element["timeSegmentEnd"]
    return lines


def test_cli_synth_writes_both_imports_of_the_task(tmp_path, capsys):
    code = cli.main(
        ["synth", "--task", AR, "--output", str(tmp_path), "--classes", "2", "--videos-per-class", "1"]
        + ["--seconds", "3", "--width", "32", "--height", "32", "--json"]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["class_names"] == ["jump", "spin"] and doc["distractor_actions"] == ["dash", "pulse", "shake"]
    assert len(doc["videos"]) == 2 and os.path.exists(doc["import_jsonl"]) and os.path.exists(doc["import_csv"])


@pytest.mark.slow
def test_end_to_end_through_the_sdk_on_the_local_backend(action_synth, tmp_path):
    av.init(
        project="ar-tests",
        location="local",
        backend="local",
        staging_bucket=str(tmp_path / "staging"),
        registry_url=f"sqlite:///{tmp_path / 'registry.sqlite'}",
    )
    dataset = av.VideoDataset.create(
        display_name="actions", gcs_source=action_synth.import_jsonl, import_schema_uri=IMPORT_SCHEMAS[AR]
    )
    assert dataset.gca_resource.prediction_type == AR
    with pytest.raises(ValueError, match="not available for prediction_type 'action_recognition'"):
        av.AutoMLVideoTrainingJob("bad", prediction_type=AR, model_type="MOBILE_JETSON_VERSATILE_1")
    job = av.AutoMLVideoTrainingJob("actions-job", prediction_type=AR, model_type="MOBILE_VERSATILE_1")
    model = job.run(dataset, training_fraction_split=0.8, test_fraction_split=0.2, max_epochs=1, budget_minutes=3)
    assert job.to_dict()["trainingTaskDefinition"] == TRAINING_TASK_DEFINITIONS[AR]
    evaluations = model.list_model_evaluations()
    labels = dataset_lib.load(dataset.data_uri).label_names()
    assert evaluations[0].annotation_spec_id is None and len(evaluations) == 1 + len(labels)
    for evaluation in evaluations:
        assert evaluation.metrics_schema_uri == METRICS_SCHEMAS["videoActionRecognitionMetrics"]
        message = checked("VideoActionRecognitionMetrics", evaluation.metrics)
        assert [w.precision_window_length.seconds for w in message.video_action_metrics] == [1, 2, 3]

    exported = model.export_model("tflite", artifact_destination=str(tmp_path / "exports"))
    assert storage.exists(storage.join(exported["artifactOutputUri"], "model.tflite"))

    videos = [v.uri for v in dataset_lib.load(dataset.data_uri).videos[:3]]
    instances = jsonl_instances(tmp_path / "instances.jsonl", videos + [str(tmp_path / "missing.mp4")])
    prediction = model.batch_predict(
        job_display_name="actions-predict",
        gcs_source=instances,
        gcs_destination_prefix=str(tmp_path / "predictions"),
        max_replica_count=2,
        model_parameters={"confidenceThreshold": 0.0, "maxPredictions": 2},
    )
    assert prediction.completion_stats == {"successfulCount": "3", "failedCount": "1", "incompleteCount": "0"}
    lines = checked_lines(prediction.iter_outputs())
    assert sorted(line["instance"]["content"] for line in lines) == sorted(videos)
    assert all(1 <= len(line["prediction"]) <= 2 for line in lines)
    with pytest.raises(ValueError, match="unknown prediction parameter 'oneSecIntervalClassification'"):
        model.batch_predict(
            gcs_source=instances,
            gcs_destination_prefix=str(tmp_path / "bad"),
            model_parameters={"oneSecIntervalClassification": True},
        )


@pytest.mark.slow
def test_training_then_batch_prediction_dags_through_kfp_local(action_synth, tmp_path):
    from automl_video_pipelines import BATCH_PREDICTION_PIPELINE, TRAINING_PIPELINE
    from automl_video_pipelines.arguments import BatchPredictionArguments, TrainingArguments
    from automl_video_pipelines.local import run_local

    instances = jsonl_instances(tmp_path / "instances.jsonl", action_synth.videos[:2] + [str(tmp_path / "gone.mp4")])
    parameters = TrainingArguments(
        sources=[action_synth.import_jsonl],
        model_type="MOBILE_VERSATILE_1",
        prediction_type=AR,
        model_display_name="actions",
        budget_minutes=0.25,
        seed=1,
        serving_root=str(tmp_path / "serving"),
        prediction_inputs=[instances],
        predictions_prefix=str(tmp_path / "predictions"),
        prediction_params={"maxPredictions": 3},
        prediction_shards=2,
    ).parameters()
    run = run_local(TRAINING_PIPELINE, parameters, str(tmp_path / "root"), log_file=str(tmp_path / "training.log"))
    names = [task.name.rsplit("/", 1)[-1] for task in run.tasks]
    assert {"import-dataset", "train-model", "evaluate-model", "export-model", "promote-model"} <= set(names)
    assert names.count("batch-predict-shard") == 2

    evaluate = run.task("evaluate-model")
    [overall, *per_label] = storage.read_json(storage.join(evaluate.artifacts["evaluation"], "evaluations.json"))
    metrics = overall["videoActionRecognitionMetrics"]
    checked("VideoActionRecognitionMetrics", metrics)
    assert evaluate.parameters["Output"] == pytest.approx(metrics["videoActionMetrics"][0]["meanAveragePrecision"])
    assert evaluate.metadata["metrics"]["map_1s"] == pytest.approx(evaluate.parameters["Output"])
    assert len(per_label) == 2
    export = run.task("export-model").artifacts["exported_model"]
    assert storage.exists(storage.join(export, "saved_model.pb"))
    assert storage.read_json(storage.join(export, "input_spec.json"))["postprocessing"]["kind"] == "action_moments"
    assert run.task("promote-model").parameters["Output"] is True

    merged = run.task("merge-predictions").metadata["predictions"]
    assert (merged["succeeded_rows"], merged["failed_rows"]) == (2, 1)
    lines = checked_lines(storage.listdir(merged["output_dir"]))
    assert [line["instance"]["content"] for line in lines] == action_synth.videos[:2]
    assert all(1 <= len(line["prediction"]) <= 3 for line in lines)

    # The batch-prediction DAG on the promoted model, one shard.
    again = run_local(
        BATCH_PREDICTION_PIPELINE,
        BatchPredictionArguments(
            model_uri=str(tmp_path / "serving" / "current"),
            inputs=[instances],
            predictions_prefix=str(tmp_path / "batch"),
            prediction_params={"maxPredictions": 3},
            shards=1,
        ).parameters(),
        str(tmp_path / "root"),
        log_file=str(tmp_path / "batch.log"),
    )
    output_dir = again.task("merge-predictions").metadata["predictions"]["output_dir"]
    assert [
        parse_duration(p["timeSegmentStart"]) for p in checked_lines(storage.listdir(output_dir))[0]["prediction"]
    ] == [parse_duration(p["timeSegmentStart"]) for p in lines[0]["prediction"]]
