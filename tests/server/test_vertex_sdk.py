"""Google's unmodified Vertex AI SDK (``google-cloud-aiplatform``, ``api_transport="rest"``) against a real
server on loopback whose workspace, videos and outputs are in a ``gs://`` bucket on the GCS emulator:
``VideoDataset`` (Vertex CSV and JSONL imports), ``AutoMLVideoTrainingJob`` with real (tiny) training and a
second version through ``parent_model``, ``Model`` (evaluations, versions, export) and
``BatchPredictionJob`` (``sync=True`` and ``sync=False`` + ``wait()``), then deletion.

google-cloud-aiplatform 2.7.0, the ``vertex`` extra's pin, is the newest release (``pip index versions
google-cloud-aiplatform``).
"""

import csv
import json

import fsspec
import pytest
import requests
from google.api_core import exceptions
from google.cloud import aiplatform
from google.cloud.aiplatform.v1.schema.predict.prediction_v1 import VideoClassificationPredictionResult
from google.protobuf import json_format

from automl_video.tasks.classification import synth
from tests.server.conftest import LOCATION, use_vertex, wait_until

PROJECT = "team-v"
TRAINING = ("--train-budget-minutes", "0.2")
CLASSIFICATION_SCHEMA = aiplatform.schema.dataset.ioformat.video.classification
# AutoML CSV ML_USE -> Vertex ML_USE (UNASSIGNED rows have none: the split decides).
VERTEX_ML_USE = {"TRAIN": "training", "TEST": "test", "UNASSIGNED": None}


@pytest.fixture
def gcs_videos(gcs_bucket):
    """Tiny videos in the bucket, listed as a Vertex CSV and as Vertex JSONL (same rows)."""
    made = synth.generate(
        f"{gcs_bucket}/synth", classes=2, videos_per_class=4, seconds=1.5, seed=3, width=64, height=64, fps=10
    )
    fs = fsspec.filesystem("gs", token="anon")
    csv_lines, items = [], {}
    for ml_use, uri in made.csvs.items():
        with fs.open(uri, "r") as f:
            for video, label, start, end in csv.reader(f):
                vertex_use = VERTEX_ML_USE[ml_use.value]
                csv_lines.append(",".join(([vertex_use] if vertex_use else []) + [video, label, start, end]))
                item = items.setdefault(video, {"videoGcsUri": video, "timeSegmentAnnotations": []})
                item["timeSegmentAnnotations"].append(
                    {
                        "displayName": label,
                        "startTime": f"{start}s",
                        "endTime": "Infinity" if end == "inf" else f"{end}s",
                    }
                )
                if vertex_use:
                    item["dataItemResourceLabels"] = {"aiplatform.googleapis.com/ml_use": vertex_use}
    with fs.open(f"{gcs_bucket}/import/videos.csv", "w") as f:
        f.write("\n".join(csv_lines) + "\n")
    with fs.open(f"{gcs_bucket}/import/videos.jsonl", "w") as f:
        f.write("".join(json.dumps(item) + "\n" for item in items.values()))
    return made, f"{gcs_bucket}/import/videos.csv", f"{gcs_bucket}/import/videos.jsonl"


def _prediction_lines(uris: list[str]) -> list[dict]:
    fs = fsspec.filesystem("gs", token="anon")
    lines = []
    for uri in uris:
        with fs.open(uri, "r") as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


@pytest.mark.slow
def test_the_vertex_sdk_runs_unchanged_from_dataset_to_second_version(start_server, gcs_bucket, gcs_videos):
    made, csv_uri, jsonl_uri = gcs_videos
    server = start_server(*TRAINING, "--allowed-root", gcs_bucket, workspace=f"{gcs_bucket}/workspace")
    use_vertex(server, PROJECT)

    # -- datasets from a Vertex CSV and from Vertex JSONL: the same videos --------------------------------
    from_csv = aiplatform.VideoDataset.create(
        display_name="motions csv", gcs_source=csv_uri, import_schema_uri=CLASSIFICATION_SCHEMA
    )
    from_jsonl = aiplatform.VideoDataset.create(
        display_name="motions jsonl", gcs_source=[jsonl_uri], import_schema_uri=CLASSIFICATION_SCHEMA
    )
    assert from_csv.resource_name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/datasets/")
    assert from_csv.metadata_schema_uri == aiplatform.schema.dataset.metadata.video
    assert {d.resource_name for d in aiplatform.VideoDataset.list()} == {
        from_csv.resource_name,
        from_jsonl.resource_name,
    }
    for dataset in (aiplatform.VideoDataset(d.resource_name) for d in (from_csv, from_jsonl)):
        assert int(dataset.gca_resource.data_item_count) == len(made.videos)
        assert "dataUri" not in json_format.MessageToDict(dataset.gca_resource._pb.metadata)

    # -- training: the SDK's own refusals still happen client-side ---------------------------------------
    with pytest.raises(ValueError, match="not a supported model_type"):
        aiplatform.AutoMLVideoTrainingJob(
            display_name="x", prediction_type="classification", model_type="MOBILE_JETSON_VERSATILE_1"
        )
    job = aiplatform.AutoMLVideoTrainingJob(
        display_name="motions-job", prediction_type="classification", model_type="MOBILE_VERSATILE_1"
    )
    with pytest.raises(ValueError, match="split"):
        job.run(from_csv, training_fraction_split=0.8, training_filter_split="labels.a=b", test_filter_split="-")
    # Fractions over 1: the server refuses them, and the SDK raises its exception with the server's message.
    refused = aiplatform.AutoMLVideoTrainingJob(display_name="too-much", model_type="MOBILE_VERSATILE_1")
    with pytest.raises(exceptions.BadRequest, match="fractionSplit: training fraction 0.9 \\+ test fraction 0.3"):
        refused.run(from_csv, training_fraction_split=0.9, test_fraction_split=0.3)
    model = job.run(
        from_csv,
        training_fraction_split=0.8,
        test_fraction_split=0.2,
        model_display_name="motions",
        model_version_aliases=["first"],
    )
    assert job.state == aiplatform.gapic.PipelineState.PIPELINE_STATE_SUCCEEDED
    assert model.display_name == "motions" and model.version_id == "1"
    assert set(model.version_aliases) == {"default", "first"}
    assert job.gca_resource.model_to_upload.name == model.resource_name
    assert [m.resource_name for m in aiplatform.Model.list()] == [model.resource_name]

    # -- model: evaluations in Vertex's classification metrics schema, versions, export ------------------
    evaluations = model.list_model_evaluations()
    assert len(evaluations) == 1
    evaluation = evaluations[0]
    assert evaluation.gca_resource.metrics_schema_uri.endswith("classification_metrics_1.0.0.yaml")
    metrics = evaluation.metrics
    assert 0.0 <= metrics["auPrc"] <= 1.0 and metrics["confidenceMetrics"]
    assert {s["displayName"] for s in metrics["confusionMatrix"]["annotationSpecs"]} == set(made.class_names)
    assert model.get_model_evaluation().resource_name == evaluation.resource_name
    registry = model.versioning_registry
    assert [v.version_id for v in registry.list_versions()] == ["1"]
    exported = model.export_model(export_format_id="tflite", artifact_destination=f"{gcs_bucket}/exports")
    fs = fsspec.filesystem("gs", token="anon")
    assert any(name.endswith(".tflite") for name in fs.ls(exported["artifactOutputUri"]))

    # -- batch prediction: JSONL in, Vertex JSONL out; sync, then sync=False + wait() ---------------------
    instances = f"{gcs_bucket}/predict/instances.jsonl"
    with fs.open(instances, "w") as f:
        for uri in made.videos[:3]:
            f.write(
                json.dumps(
                    {"content": uri, "mimeType": "video/mp4", "timeSegmentStart": "0s", "timeSegmentEnd": "Infinity"}
                )
                + "\n"
            )
    parameters = {"confidenceThreshold": 0.0, "maxPredictions": 2, "segmentClassification": True}
    predicted = aiplatform.BatchPredictionJob.create(
        job_display_name="predict sync",
        model_name=model.resource_name,
        instances_format="jsonl",
        gcs_source=instances,
        gcs_destination_prefix=f"{gcs_bucket}/predictions",
        model_parameters=parameters,
        sync=True,
    )
    later = aiplatform.BatchPredictionJob.create(
        job_display_name="predict async",
        model_name=f"{model.resource_name}@first",
        instances_format="jsonl",
        gcs_source=[instances],
        gcs_destination_prefix=f"{gcs_bucket}/predictions-async",
        model_parameters={**parameters, "oneSecIntervalClassification": True},
        machine_type="n1-standard-4",
        starting_replica_count=1,
        max_replica_count=2,
        labels={"team": "v"},
        sync=False,
    )
    later.wait()
    for prediction_job in (predicted, later):
        assert prediction_job.state == aiplatform.gapic.JobState.JOB_STATE_SUCCEEDED
        assert int(prediction_job.completion_stats.successful_count) == 3
        outputs = [f"gs://{blob.bucket.name}/{blob.name}" for blob in prediction_job.iter_outputs()]
        assert outputs and all(o.rsplit("/", 1)[1].startswith("predictions_") for o in outputs)
        lines = _prediction_lines(outputs)
        assert len(lines) == 3
        for line in lines:
            assert line["instance"]["content"] in made.videos[:3]
            for value in line["prediction"]:
                result = VideoClassificationPredictionResult()
                json_format.ParseDict(
                    value, VideoClassificationPredictionResult.pb(result), ignore_unknown_fields=False
                )
                assert result.display_name in made.class_names
    assert later.gca_resource.labels == {"team": "v"}
    assert later.gca_resource.dedicated_resources.max_replica_count == 2

    # -- a second version from the JSONL dataset through parent_model -----------------------------------
    second_job = aiplatform.AutoMLVideoTrainingJob(
        display_name="motions-job-2", prediction_type="classification", model_type="MOBILE_VERSATILE_1"
    )
    second = second_job.run(
        from_jsonl,
        training_fraction_split=0.8,
        test_fraction_split=0.2,
        model_display_name="motions",
        parent_model=model.resource_name,
        is_default_version=False,
        model_version_aliases=["second"],
    )
    assert second.resource_name == model.resource_name and second.version_id == "2"
    assert [v.version_id for v in registry.list_versions()] == ["1", "2"]
    assert aiplatform.Model(model.resource_name, version="second").version_id == "2"
    assert aiplatform.Model(model.resource_name).version_id == "1"  # the default stayed on version 1

    # -- references by alias, also %40-encoded, and lists ----------------------------------------------
    for reference in (f"{model.resource_name}@second", f"{model.resource_name}%40second"):
        assert requests.get(f"{server.url}/v1/{reference}", timeout=30).json()["versionId"] == "2"
    assert {j.display_name for j in aiplatform.AutoMLVideoTrainingJob.list()} >= {"motions-job", "motions-job-2"}
    assert {j.display_name for j in aiplatform.BatchPredictionJob.list()} == {"predict sync", "predict async"}

    # -- cancel: a training pipeline that has just started ends CANCELLED -----------------------------
    cancelled = aiplatform.AutoMLVideoTrainingJob(display_name="cancelled", model_type="MOBILE_VERSATILE_1")
    cancelled.run(from_csv, model_display_name="never", sync=False)
    cancelled.wait_for_resource_creation()
    cancelled.cancel()
    wait_until(
        lambda: (
            aiplatform.AutoMLVideoTrainingJob.get(cancelled.resource_name).state
            == aiplatform.gapic.PipelineState.PIPELINE_STATE_CANCELLED
        ),
        120,
        "the cancelled pipeline to end",
    )

    # -- deletion --------------------------------------------------------------------------------------
    registry.delete_version("2")
    assert [v.version_id for v in registry.list_versions()] == ["1"]
    predicted.delete()
    with pytest.raises(exceptions.NotFound):
        aiplatform.BatchPredictionJob(predicted.resource_name)
    model.delete()
    with pytest.raises(exceptions.NotFound):
        aiplatform.Model(model.resource_name)
    from_jsonl.delete()
    assert [d.resource_name for d in aiplatform.VideoDataset.list()] == [from_csv.resource_name]
    with pytest.raises(exceptions.NotFound):
        aiplatform.VideoDataset(from_jsonl.resource_name)
