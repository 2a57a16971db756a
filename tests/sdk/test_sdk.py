"""The Vertex-style SDK on the local backend: every validation rule of the reference documentation,
and one end-to-end run (dataset → training job → model → evaluations → export → batch prediction)
with real (tiny) training on generated videos."""

import json
import os
import subprocess
import sys

import pytest

import automl_video as av
from automl_video import storage
from automl_video.data import dataset as dataset_lib
from automl_video.errors import AutoMLVideoError
from automl_video.registry import JobState, NotFoundError, PipelineState, Status
from automl_video.registry.resources import TRAINING_TASK_DEFINITIONS
from automl_video.sdk import config, data_filters

PROJECT, LOCATION = "sdk-tests", "local"
TINY = {"max_epochs": 1, "budget_minutes": 3}  # automl-video options: one epoch is enough to test the flow


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdk")
    return {"staging_bucket": str(root / "staging"), "registry_url": f"sqlite:///{root / 'registry.sqlite'}"}


@pytest.fixture(autouse=True)
def initialised(workspace):
    av.init(project=PROJECT, location=LOCATION, backend="local", **workspace)


@pytest.fixture(scope="module")
def video_dataset(workspace, synth_small):
    av.init(project=PROJECT, location=LOCATION, backend="local", **workspace)
    return av.VideoDataset.create(display_name="moves", gcs_source=synth_small.import_csv, labels={"kind": "synthetic"})


def fake_model(model_type: str = "CLOUD", **kwargs):
    """A registered model version without artifacts: enough for the checks made before any work."""
    record = config.registry().upload_model(
        PROJECT, LOCATION, display_name="fake", artifact_uri="/nowhere", model_type=model_type, **kwargs
    )
    return av.Model(record.name)


# -- package --------------------------------------------------------------------------------------


def test_importing_the_package_and_sdk_does_not_import_tensorflow():
    code = "import sys, automl_video as av; av.init; av.VideoDataset; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_package_exports_the_sdk_names_lazily_and_only_those():
    code = (
        "import sys, automl_video as av; from automl_video import storage; light = 'sqlalchemy' not in sys.modules; "
        "from automl_video import sdk; "
        "print(light, all(getattr(av, n) is getattr(sdk, n) for n in sdk.__all__), set(sdk.__all__) <= set(dir(av)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"]
    with pytest.raises(AttributeError, match="module 'automl_video' has no attribute 'Pipeline'"):
        _ = av.Pipeline


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "cloud"}, "backend 'cloud' is not one of local, kfp"),
        ({"backend": "kfp", "kfp_host": ""}, "backend 'kfp' needs kfp_host"),
        ({"project": "My Project"}, "project 'My Project' is not valid"),
    ],
)
def test_init_validates_and_keeps_the_previous_settings_on_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        av.init(**kwargs)
    assert (config.settings().project, config.settings().backend) == (PROJECT, "local")


# -- datasets -------------------------------------------------------------------------------------


def test_dataset_create_import_get_list_and_delete(video_dataset):
    assert video_dataset.data_item_count == 24
    assert video_dataset.resource_name == f"projects/{PROJECT}/locations/{LOCATION}/datasets/{video_dataset.name}"
    assert len(dataset_lib.load(video_dataset.data_uri).videos) == 24
    doc = video_dataset.to_dict()
    assert doc["metadataSchemaUri"].endswith("video_1.0.0.yaml") and doc["labels"] == {"kind": "synthetic"}

    empty = av.VideoDataset.create(display_name="empty-one")
    assert empty.data_item_count == 0 and av.VideoDataset(empty.name).resource_name == empty.resource_name
    assert [d.display_name for d in av.VideoDataset.list(filter='regex(display_name, "^empty")')] == ["empty-one"]
    assert [d.display_name for d in av.VideoDataset.list(filter="labels.kind=synthetic")] == ["moves"]
    empty.delete()
    with pytest.raises(NotFoundError):
        av.VideoDataset(empty.resource_name)
    assert av.VideoDataset.create(display_name="after").name > empty.name  # IDs are never reused


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"labels": {"Kind": "x"}}, "label 'Kind'"),
        ({"display_name": "x" * 129}, "at most 128"),
        ({"gcs_source": []}, "gcs_source must be a CSV URI or a list of them"),
        ({"gcs_source": "a.csv", "import_schema_uri": "gs://elsewhere/schema.yaml"}, "not a video import schema"),
    ],
)
def test_invalid_dataset_creation_is_refused(kwargs, message):
    before = len(av.VideoDataset.list())
    with pytest.raises(ValueError, match=message):
        av.VideoDataset.create(**{"display_name": "bad", **kwargs})
    assert len(av.VideoDataset.list()) == before


def test_a_refused_import_leaves_the_dataset_empty(tmp_path):
    bad = tmp_path / "import.csv"
    bad.write_text("TRAIN,/no/such/file.csv\n")
    dataset = av.VideoDataset.create(display_name="refused")
    with pytest.raises(AutoMLVideoError, match="no/such/file.csv"):
        dataset.import_data(str(bad))
    assert dataset.data_item_count == 0


# -- training job validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prediction_type": "object_tracking", "model_type": "TINY"}, "model_type 'TINY' is not one of"),
        ({"prediction_type": "segmentation"}, "prediction_type 'segmentation' is not one of"),
        ({"model_type": "MOBILE_CORAL_VERSATILE_1"}, "not available for prediction_type 'classification'"),
        ({"model_type": "TINY"}, "model_type 'TINY' is not one of"),
        ({"labels": {"team": "Vision"}}, "label 'team': the value contains 'V'"),
        ({"display_name": "j" * 129}, "at most 128"),
    ],
)
def test_training_job_construction_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        av.AutoMLVideoTrainingJob(**{"display_name": "job", **kwargs})


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"training_fraction_split": 0.8, "test_fraction_split": 0.3}, ValueError, "is more than 1"),
        ({"training_fraction_split": 1.2}, ValueError, "must be between 0 and 1"),
        ({"test_fraction_split": "half"}, ValueError, "must be a number"),
        (
            {"training_fraction_split": 0.8, "training_filter_split": "ml_use=TRAIN", "test_filter_split": "-"},
            ValueError,
            "not both",
        ),
        (
            {"training_filter_split": "ml_use=TRAIN"},
            ValueError,
            "need both training_filter_split and test_filter_split",
        ),
        (
            {"training_filter_split": "colour=red", "test_filter_split": "-"},
            ValueError,
            "training_filter_split: filter: unknown field 'colour'",
        ),
        (
            {"training_filter_split": "ml_use=TRAIN", "test_filter_split": "ml_use=LATER"},
            ValueError,
            "test_filter_split: filter: ml_use 'LATER' is not one of",
        ),
        ({"training_filter_split": "", "test_filter_split": "-"}, ValueError, "training_filter_split is empty"),
        ({"model_display_name": "m" * 129}, ValueError, "model_display_name"),
        ({"model_labels": {"Team": "x"}}, ValueError, "label 'Team'"),
        ({"model_id": "9lives"}, ValueError, "model_id '9lives' is not valid"),
        ({"parent_model": "424242"}, NotFoundError, "models/424242 not found"),
        ({"parent_model": "424242@2"}, ValueError, "not one of its versions"),
        ({"model_version_aliases": ["1"]}, ValueError, "looks like a version ID"),
        ({"model_version_aliases": ["Best"]}, ValueError, "must match"),
        ({"max_epochs": 0}, ValueError, "max_epochs must be an integer of at least 1"),
        ({"budget_minutes": 0}, ValueError, "budget_minutes must be more than 0"),
    ],
)
def test_run_arguments_are_validated_before_anything_is_registered(video_dataset, kwargs, error, message):
    job = av.AutoMLVideoTrainingJob("validated", model_type="MOBILE_VERSATILE_1")
    before = len(av.AutoMLVideoTrainingJob.list())
    with pytest.raises(error, match=message):
        job.run(video_dataset, **kwargs)
    assert len(av.AutoMLVideoTrainingJob.list()) == before
    assert job.state is None and not job.done()


def test_run_refuses_other_datasets_and_contradicting_default_alias(video_dataset):
    job = av.AutoMLVideoTrainingJob("validated", model_type="MOBILE_VERSATILE_1")
    with pytest.raises(ValueError, match="dataset must be a VideoDataset"):
        job.run(video_dataset.resource_name)
    parent = fake_model()
    with pytest.raises(ValueError, match="contradicts is_default_version=False"):
        job.run(video_dataset, parent_model=parent.name, is_default_version=False, model_version_aliases=["default"])


def test_a_job_that_has_not_run_cannot_be_cancelled_nor_give_a_model():
    job = av.AutoMLVideoTrainingJob("idle")
    with pytest.raises(RuntimeError, match="has not been launched"):
        job.cancel()
    with pytest.raises(RuntimeError, match="has not been launched"):
        job.get_model()


def test_get_refuses_a_pipeline_that_is_not_automl_video():
    other = config.registry().create_training_pipeline(
        PROJECT,
        LOCATION,
        display_name="custom",
        training_task_definition="gs://elsewhere/custom_task.yaml",
        training_task_inputs={},
        input_data_config={},
        model_to_upload={},
    )
    with pytest.raises(ValueError, match="is not an AutoML video training pipeline"):
        av.AutoMLVideoTrainingJob.get(other.name)


# -- filter splits -------------------------------------------------------------------------------------


def _copy_dataset(source_uri: str, target_uri: str) -> str:
    storage.write_bytes(dataset_lib.dataset_file(target_uri), storage.read_bytes(dataset_lib.dataset_file(source_uri)))
    return target_uri


def _split(training: str, test: str) -> data_filters.FilterSplit:
    return data_filters.FilterSplit(
        data_filters.DataFilter.parse(training, "training_filter_split"),
        data_filters.DataFilter.parse(test, "test_filter_split"),
    )


def test_filter_splits_assign_by_first_matching_filter(video_dataset, tmp_path):
    uri = _copy_dataset(video_dataset.data_uri, str(tmp_path / "copy"))
    # These filters leave 'right_to_left' with TEST videos only: the split refuses it (issue 19), after
    # the filters have set every kept video's ML_USE.
    with pytest.raises(dataset_lib.DatasetError, match="label 'right_to_left' has no TRAIN example"):
        data_filters.split_by_filters(uri, _split("label=left_to_right", "label=left_to_right OR label=right_to_left"))
    videos = dataset_lib.load(uri).videos
    original = dataset_lib.load(video_dataset.data_uri).videos
    left = {v.video_id for v in original if "left_to_right" in v.labels()}
    right_only = {v.video_id for v in original if "right_to_left" in v.labels() and "left_to_right" not in v.labels()}
    assert {v.video_id for v in videos if v.ml_use == "TRAIN"} == left
    assert {v.video_id for v in videos if v.ml_use == "TEST"} == right_only
    assert {v.video_id for v in videos} == left | right_only  # unmatched videos are left out


def test_filter_split_language_over_uris_ml_use_and_system_labels(video_dataset, tmp_path):
    uri = _copy_dataset(video_dataset.data_uri, str(tmp_path / "copy"))
    data_filters.split_by_filters(
        uri, _split('uri:"*/v000*.mp4" AND NOT labels.aiplatform.googleapis.com/ml_use=test', "-")
    )
    videos = dataset_lib.load(uri).videos
    expected = {
        v.video_id
        for v in dataset_lib.load(video_dataset.data_uri).videos
        if os.path.basename(v.uri).startswith("v000") and v.ml_use != "TEST"
    }
    assert {v.video_id for v in videos} == expected and not any(v.split == "TEST" for v in videos)
    with pytest.raises(ValueError, match="matches no video"):
        data_filters.split_by_filters(uri, _split("label=nothing_like_this", "-"))


# -- batch prediction validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"gcs_source": None}, "either a gcs_source or bigquery_source, but not both"),
        ({"bigquery_source": "bq://p.d.t"}, "either a gcs_source or bigquery_source, but not both"),
        ({"gcs_destination_prefix": None}, "either a gcs_destination_prefix or bigquery_destination_prefix"),
        ({"gcs_source": None, "bigquery_source": "bq://p.d.t"}, "BigQuery sources and destinations are not supported"),
        ({"instances_format": "tf-record"}, "tf-record is not an accepted instances format type"),
        ({"predictions_format": "csv"}, "csv is not an accepted prediction format type"),
        ({"gcs_source": "gs://b/in.csv"}, "is not a .jsonl file"),
        ({"model_parameters": {"confidence": 0.5}}, "unknown prediction parameter 'confidence'"),
        ({"model_parameters": {"confidenceThreshold": 2}}, "score_threshold must be between 0 and 1"),
        ({"model_parameters": {"segmentClassification": False}}, "no classification type requested"),
        ({"max_replica_count": 0}, "max_replica_count must be a positive integer"),
        (
            {"starting_replica_count": 3, "max_replica_count": 2},
            "starting_replica_count 3 is more than max_replica_count 2",
        ),
        ({"labels": {"Env": "x"}}, "label 'Env'"),
        ({"job_display_name": ""}, "job_display_name is required"),
    ],
)
def test_batch_prediction_arguments_are_validated(kwargs, message):
    model = fake_model("MOBILE_VERSATILE_1")
    arguments = {
        "job_display_name": "predict",
        "model_name": model,
        "gcs_source": "gs://b/in.jsonl",
        "gcs_destination_prefix": "gs://b/out",
        **kwargs,
    }
    before = len(av.BatchPredictionJob.list())
    with pytest.raises(ValueError, match=message):
        av.BatchPredictionJob.create(**arguments)
    assert len(av.BatchPredictionJob.list()) == before


def test_batch_prediction_needs_an_existing_model_version():
    model = fake_model()
    with pytest.raises(NotFoundError, match="no version with alias 'golden'"):
        av.BatchPredictionJob.create(
            "predict", f"{model.resource_name}@golden", gcs_source="gs://b/in.jsonl", gcs_destination_prefix="gs://b/o"
        )


def test_model_export_is_validated(tmp_path):
    cloud = fake_model("CLOUD")
    with pytest.raises(ValueError, match="is not exportable"):
        cloud.export_model("tflite", artifact_destination=str(tmp_path))
    mobile = fake_model("MOBILE_VERSATILE_1")
    assert set(mobile.supported_export_formats) == {"tf-saved-model", "tflite"}
    with pytest.raises(ValueError, match="'onnx' is not a supported export format"):
        mobile.export_model("onnx", artifact_destination=str(tmp_path))
    with pytest.raises(ValueError, match="Please provide an `artifact_destination`"):
        mobile.export_model("tflite")
    with pytest.raises(ValueError, match="container image"):
        mobile.export_model("tflite", image_destination="registry/image")
    with pytest.raises(ValueError, match="not both"):
        av.Model(f"{mobile.resource_name}@1", version="1")


# -- KFP backend (no KFP server here: the run is compiled and submitted to a closed port) --------------


def test_kfp_backend_validates_then_fails_the_job_naming_the_unreachable_server(video_dataset):
    av.init(backend="kfp", kfp_host="http://127.0.0.1:9")
    job = av.AutoMLVideoTrainingJob("on-kfp", model_type="MOBILE_VERSATILE_1")
    with pytest.raises(ValueError, match="need the local backend"):
        job.run(video_dataset, training_filter_split="ml_use=TRAIN", test_filter_split="-")
    with pytest.raises(ValueError, match="need the local backend"):
        job.run(video_dataset, max_epochs=1)
    with pytest.raises(
        RuntimeError, match="Training failed with:\nhttp://127.0.0.1:9: cannot reach the KFP API server"
    ):
        job.run(video_dataset, training_fraction_split=0.7, budget_minutes=5)
    record = job.gca_resource
    assert record.state is PipelineState.PIPELINE_STATE_FAILED and record.error.code == 3
    assert record.run_info["backend"] == "kfp" and record.run_info["stage"] == "submit"
    assert record.input_data_config["fractionSplit"] == {"trainingFraction": 0.7, "testFraction": pytest.approx(0.3)}


def test_a_prediction_outcome_becomes_the_vertex_job_fields():
    from automl_video.data.dataset import RowFailure
    from automl_video.prediction.engine import PredictionResult
    from automl_video.rpc import MAX_PARTIAL_FAILURES
    from automl_video.sdk.backends import PredictionOutcome

    failures = [RowFailure("gs://b/in.jsonl", row, "video not found") for row in range(MAX_PARTIAL_FAILURES + 5)]
    result = PredictionResult(
        "gs://b/out/prediction-x", "vertex_jsonl", 40, (0, 1), 40, 40, 0, 10, 25, 9.0, 1.0, "w", failures=failures
    )
    fields = PredictionOutcome.of(result).job_fields()
    assert fields["output_info"] == {"gcsOutputDirectory": "gs://b/out/prediction-x"}
    assert fields["completion_stats"] == {"successfulCount": "10", "failedCount": "25", "incompleteCount": "5"}
    assert len(fields["partial_failures"]) == MAX_PARTIAL_FAILURES
    assert fields["partial_failures"][3] == Status(3, "gs://b/in.jsonl row 3: video not found")


# -- end to end -------------------------------------------------------------------------------------------


def _jsonl_instances(path, uris: list[str]) -> str:
    with open(path, "w") as f:
        for uri in uris:
            f.write(
                json.dumps(
                    {"content": uri, "mimeType": "video/mp4", "timeSegmentStart": "0s", "timeSegmentEnd": "Infinity"}
                )
                + "\n"
            )
    return str(path)


@pytest.mark.slow
def test_end_to_end_on_the_local_backend(video_dataset, synth_small, tmp_path):
    # Training job → model (sync=False: the returned model waits for the job when used).
    job = av.AutoMLVideoTrainingJob("moves-job", model_type="MOBILE_VERSATILE_1", labels={"team": "vision"})
    assert job.state is None
    model = job.run(
        video_dataset,
        training_fraction_split=0.8,
        test_fraction_split=0.2,
        model_display_name="moves-model",
        model_labels={"stage": "first"},
        model_version_aliases=["first"],
        model_version_description="one epoch",
        sync=False,
        **TINY,
    )
    job.wait()
    assert job.state is PipelineState.PIPELINE_STATE_SUCCEEDED and job.done() and not job.has_failed
    assert job.start_time <= job.end_time
    assert model.resource_name == job.get_model().resource_name and model.version_id == "1"
    assert model.version_aliases == ["default", "first"] and model.labels == {"stage": "first"}
    assert model.training_job.resource_name == job.resource_name
    doc = job.to_dict()
    assert doc["inputDataConfig"] == {
        "datasetId": video_dataset.name,
        "fractionSplit": {"trainingFraction": 0.8, "testFraction": 0.2},
    }
    assert doc["modelToUpload"]["name"] == model.resource_name and doc["labels"] == {"team": "vision"}
    assert doc["trainingTaskDefinition"] == TRAINING_TASK_DEFINITIONS["classification"]
    with pytest.raises(RuntimeError, match="has already run"):
        job.run(video_dataset)
    with pytest.raises(RuntimeError, match="only a running job can be cancelled"):
        job.cancel()
    assert [j.resource_name for j in av.AutoMLVideoTrainingJob.list(filter="state=PIPELINE_STATE_SUCCEEDED")] == [
        job.resource_name
    ]

    # Evaluations: the overall one first, then one per label.
    evaluations = model.list_model_evaluations()
    labels = dataset_lib.load(video_dataset.data_uri).label_names()
    assert [e.annotation_spec_id for e in evaluations][0] is None and len(evaluations) == 1 + len(labels)
    assert {e.to_dict()["displayName"] for e in evaluations[1:]} == set(labels)
    assert 0.0 <= evaluations[0].metrics["auPrc"] <= 1.0 and evaluations[0].evaluated_example_count > 0
    assert model.get_model_evaluation().resource_name == evaluations[0].resource_name
    assert model.get_model_evaluation(evaluations[2].name).annotation_spec_id == evaluations[2].annotation_spec_id

    # Export.
    exported = model.export_model("tf-saved-model", artifact_destination=str(tmp_path / "exports"))
    assert exported["artifactOutputUri"].startswith(
        str(tmp_path / "exports" / f"model-{model.name}" / "tf-saved-model")
    )
    assert storage.exists(storage.join(exported["artifactOutputUri"], "saved_model.pb"))

    # Batch prediction through an alias, in two shards, with one missing video.
    videos = [v.uri for v in dataset_lib.load(video_dataset.data_uri).videos[:3]]
    instances = _jsonl_instances(tmp_path / "instances.jsonl", videos + [str(tmp_path / "missing.mp4")])
    prediction = av.BatchPredictionJob.create(
        job_display_name="moves-predict",
        model_name=f"{model.resource_name}@first",
        gcs_source=instances,
        gcs_destination_prefix=str(tmp_path / "predictions"),
        max_replica_count=2,
        labels={"team": "vision"},
        model_parameters={"confidenceThreshold": 0.0, "maxPredictions": 2, "oneSecIntervalClassification": True},
    )
    assert prediction.state is JobState.JOB_STATE_SUCCEEDED
    assert prediction.completion_stats == {"successfulCount": "3", "failedCount": "1", "incompleteCount": "0"}
    assert len(prediction.partial_failures) == 1 and "missing.mp4" in prediction.partial_failures[0].message
    assert prediction.output_info["gcsOutputDirectory"].startswith(
        str(tmp_path / "predictions" / "prediction-moves-model-")
    )
    outputs = prediction.iter_outputs()
    assert sorted(os.path.basename(o) for o in outputs) == ["errors_00001.jsonl", "predictions_00001.jsonl"]
    lines = [
        json.loads(line) for line in storage.read_text(next(o for o in outputs if "predictions_" in o)).splitlines()
    ]
    assert sorted(line["instance"]["content"] for line in lines) == sorted(videos)
    for line in lines:
        for kind in ("segment-classification", "one-sec-interval-classification"):
            spans = {}
            for p in line["prediction"]:
                if p["type"] == kind:
                    spans.setdefault(p["timeSegmentStart"], []).append(p)
            assert spans and all(len(found) <= 2 for found in spans.values())
    assert prediction.to_dict()["modelVersionId"] == "1"
    assert av.BatchPredictionJob(prediction.name).to_dict()["dedicatedResources"] == {"maxReplicaCount": 2}

    # submit() returns at once; AutoML CSV rows give AutoML's output files.
    rows = tmp_path / "rows.csv"
    rows.write_text(f"{videos[0]},0,inf\n")
    submitted = av.BatchPredictionJob.submit(
        job_display_name="csv-predict",
        model_name=model,
        instances_format="csv",
        gcs_source=str(rows),
        gcs_destination_prefix=str(tmp_path / "legacy"),
    )
    submitted.wait_for_completion()
    assert "video_classification.csv" in {os.path.basename(o) for o in submitted.iter_outputs()}
    every_row_fails = _jsonl_instances(tmp_path / "missing.jsonl", [str(tmp_path / "missing.mp4")])
    with pytest.raises(RuntimeError, match="Job failed with:\nall 1 instances failed"):
        model.batch_predict(gcs_source=every_row_fails, gcs_destination_prefix=str(tmp_path / "failing"))
    failed = av.BatchPredictionJob.list(filter="state=JOB_STATE_FAILED")
    assert len(failed) == 1 and failed[0].completion_stats["failedCount"] == "1"
    with pytest.raises(RuntimeError, match="Cannot read outputs until BatchPredictionJob has succeeded"):
        failed[0].iter_outputs()

    # A second version trained with filter splits; it does not take the default alias.
    second_job = av.AutoMLVideoTrainingJob("moves-job-2", model_type="MOBILE_VERSATILE_1")
    second = second_job.run(
        video_dataset,
        training_filter_split="ml_use=TRAIN OR ml_use=UNASSIGNED",
        test_filter_split="ml_use=TEST",
        parent_model=model.name,
        is_default_version=False,
        model_version_aliases=["candidate"],
        **TINY,
    )
    assert (second.resource_name, second.version_id, second.version_aliases) == (
        model.resource_name,
        "2",
        ["candidate"],
    )
    snapshot = dataset_lib.load(storage.join(second_job.gca_resource.run_info["work_uri"], "dataset"))
    assert {v.video_id for v in snapshot.videos if v.split == "TEST"} == {
        v.video_id for v in snapshot.videos if v.ml_use == "TEST"
    }
    assert second_job.to_dict()["inputDataConfig"]["filterSplit"]["testFilter"] == "ml_use=TEST"
    assert av.Model(model.resource_name).version_id == "1"
    assert av.Model(model.resource_name, version="candidate").version_id == "2"
    registry = model.versioning_registry
    assert [v.version_id for v in registry.list_versions()] == ["1", "2"]
    registry.add_version_aliases(["default"], version="2")
    assert av.Model(model.resource_name).version_id == "2"
    registry.remove_version_aliases(["first"], version="1")
    registry.delete_version("1")
    assert [v.version_id for v in registry.list_versions()] == ["2"]
    assert [m.resource_name for m in av.Model.list(filter=f"dataset_id={video_dataset.name}")] == [model.resource_name]


@pytest.mark.slow
def test_cancelling_a_running_training_job(video_dataset):
    job = av.AutoMLVideoTrainingJob("to-cancel", model_type="MOBILE_VERSATILE_1")
    pending_model = job.run(video_dataset, sync=False, **TINY)
    job.cancel()  # stops before the next stage begins
    job.wait()
    assert job.state is PipelineState.PIPELINE_STATE_CANCELLED and job.error.code == 1
    with pytest.raises(RuntimeError, match="Training failed with"):
        job.get_model()
    with pytest.raises(RuntimeError, match="Training failed with"):
        _ = pending_model.resource_name
    job.delete()
    with pytest.raises(NotFoundError):
        av.AutoMLVideoTrainingJob.get(job.resource_name)
