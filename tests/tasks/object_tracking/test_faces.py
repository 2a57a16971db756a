"""Object tracking through the faces: ``automl-video synth --task``, the SDK (local backend) and a real
``kfp.local`` run of the training DAG with batch prediction, on generated videos with real (tiny)
training."""

import csv
import io
import json

import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

import automl_video as av
from automl_video import cli, storage
from automl_video.registry.resources import IMPORT_SCHEMAS, METRICS_SCHEMAS, TRAINING_TASK_DEFINITIONS
from automl_video.tasks.object_tracking.synth import SynthResult

pytestmark = pytest.mark.slow

TRACKING_SCHEMA = METRICS_SCHEMAS["videoObjectTrackingEvaluationMetrics"]


def test_synth_cli_writes_both_import_formats(tmp_path, capsys):
    args = ["synth", "--task", "object_tracking", "--output", str(tmp_path / "s"), "--classes", "2"]
    args += ["--videos-per-class", "1", "--seconds", "1", "--width", "64", "--height", "64", "--json"]
    assert cli.main(args) in (0, None)
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"import_csv", "import_jsonl", "class_names", "videos", "unlabelled_video"}
    assert doc["class_names"] == ["disc", "square"] and len(doc["videos"]) == 3
    again = SynthResult(**doc)
    assert storage.read_text(again.import_csv).splitlines()[0].startswith("TRAIN,")


def test_sdk_end_to_end_on_the_local_backend(tracking_synth, tmp_path):
    av.init(
        project="tracking-sdk",
        location="local",
        backend="local",
        staging_bucket=str(tmp_path / "staging"),
        registry_url=f"sqlite:///{tmp_path / 'registry.sqlite'}",
    )
    dataset = av.VideoDataset.create(
        display_name="shapes",
        gcs_source=tracking_synth.import_jsonl,
        import_schema_uri=IMPORT_SCHEMAS["object_tracking"],
    )
    assert dataset.data_item_count == len(tracking_synth.videos)
    job = av.AutoMLVideoTrainingJob("shapes-job", prediction_type="object_tracking", model_type="MOBILE_VERSATILE_1")
    model = job.run(dataset, model_display_name="shapes-model", max_epochs=1, budget_minutes=3)
    assert job.to_dict()["trainingTaskDefinition"] == TRAINING_TASK_DEFINITIONS["object_tracking"]

    evaluations = model.list_model_evaluations()
    assert [e.annotation_spec_id for e in evaluations][0] is None and len(evaluations) == 1 + 3
    overall = evaluations[0].to_dict()
    assert overall["metricsSchemaUri"] == TRACKING_SCHEMA
    assert 0.0 <= overall["metrics"]["boundingBoxMeanAveragePrecision"] <= 1.0
    assert {e.to_dict()["displayName"] for e in evaluations[1:]} == set(tracking_synth.class_names)

    instances = tmp_path / "instances.jsonl"
    instances.write_text(
        json.dumps({"content": tracking_synth.videos[0], "mimeType": "video/mp4"})
        + "\n"
        + json.dumps({"content": str(tmp_path / "missing.mp4"), "mimeType": "video/mp4"})
        + "\n"
    )
    prediction = model.batch_predict(
        job_display_name="shapes-predict",
        gcs_source=str(instances),
        instances_format="jsonl",
        gcs_destination_prefix=str(tmp_path / "predictions"),
        model_parameters={"confidenceThreshold": 0.05, "maxPredictions": 4},
    )
    assert prediction.completion_stats == {"successfulCount": "1", "failedCount": "1", "incompleteCount": "0"}
    [predictions_file] = [o for o in prediction.iter_outputs() if "predictions_" in o]
    [line] = [json.loads(text) for text in storage.read_text(predictions_file).splitlines()]
    for track in line["prediction"]:
        assert track["displayName"] in tracking_synth.class_names and track["frames"]
    with pytest.raises(ValueError, match="unknown prediction parameter 'shotClassification'"):
        model.batch_predict(
            gcs_source=str(instances),
            gcs_destination_prefix=str(tmp_path / "bad"),
            model_parameters={"shotClassification": True},
        )


def test_training_and_batch_prediction_pipelines_through_kfp_local(tracking_synth, tmp_path):
    from automl_video_pipelines import TRAINING_PIPELINE
    from automl_video_pipelines.arguments import TrainingArguments
    from automl_video_pipelines.local import run_local

    rows = [
        f"{tracking_synth.videos[1]},0,inf",
        f"{tracking_synth.unlabelled_video},0,1",
        f"{tmp_path}/missing.mp4,0,1",
    ]
    prediction_input = tmp_path / "predict.csv"
    prediction_input.write_text("\n".join(rows) + "\n")
    parameters = TrainingArguments(
        sources=[tracking_synth.import_csv],
        prediction_type="object_tracking",
        model_type="MOBILE_VERSATILE_1",
        model_display_name="shapes",
        budget_minutes=0.25,
        seed=3,
        serving_root=str(tmp_path / "serving"),
        prediction_inputs=[str(prediction_input)],
        predictions_prefix=str(tmp_path / "predictions"),
        prediction_shards=2,
    ).parameters()
    run = run_local(TRAINING_PIPELINE, parameters, str(tmp_path / "root"), log_file=str(tmp_path / "training.log"))

    evaluate = run.task("evaluate-model")
    [overall, *_] = storage.read_json(storage.join(evaluate.artifacts["evaluation"], "evaluations.json"))
    json_format.ParseDict(overall, automl_v1beta1.ModelEvaluation.pb()(), ignore_unknown_fields=False)
    box_map = overall["videoObjectTrackingEvaluationMetrics"]["boundingBoxMetricsEntries"][9]
    assert box_map["iouThreshold"] == 0.5
    assert evaluate.parameters["Output"] == pytest.approx(box_map["meanAveragePrecision"])
    assert evaluate.metadata["metrics"]["box_map_50"] == pytest.approx(box_map["meanAveragePrecision"])
    assert storage.exists(storage.join(run.task("export-model").artifacts["exported_model"], "saved_model.pb"))
    assert run.task("promote-model").parameters["Output"] is True

    merged = run.task("merge-predictions").metadata["predictions"]
    assert (merged["total_rows"], merged["succeeded_rows"], merged["failed_rows"]) == (3, 2, 1)
    index = list(
        csv.reader(io.StringIO(storage.read_text(storage.join(merged["output_dir"], "video_object_tracking.csv"))))
    )
    assert [r[4] for r in index[:2]] == ["OK", "OK"] and "missing.mp4" in index[2][4]
    for row in index[:2]:
        for payload in json.loads(storage.read_text(storage.join(merged["output_dir"], row[3]))):
            json_format.ParseDict(payload, automl_v1beta1.AnnotationPayload.pb()(), ignore_unknown_fields=False)
