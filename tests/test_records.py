"""Recording runs in the registry (automl_video.records) on a real SQLite registry: what a record step
or a CLI stage writes, once, and where; the gate's aliases; failed and cancelled runs."""

import logging
import shutil

import pytest
from google.cloud import automl_v1beta1
from google.protobuf import json_format

from automl_video import records, storage
from automl_video.data.importer import import_data
from automl_video.registry import JobState, PipelineState
from automl_video.serving import promote_if_better
from tests.prediction_support import LABELS, SPEC, publish_tiny_model


@pytest.fixture
def target(tmp_path) -> records.RecordTarget:
    return records.RecordTarget.resolve(f"sqlite:///{tmp_path / 'registry.sqlite'}", "proj", "here")


@pytest.fixture(scope="module")
def dataset_uri(synth_small, tmp_path_factory) -> str:
    uri = str(tmp_path_factory.mktemp("records") / "dataset")
    import_data([synth_small.import_csv], uri, display_name="moves")
    return uri


@pytest.fixture(scope="module")
def published_model(tmp_path_factory):
    """Copies of one published tiny model, each at a folder of its own (a model per training run)."""
    original = publish_tiny_model(tmp_path_factory.mktemp("tiny"), SPEC)

    def copy(folder) -> str:
        shutil.copytree(original, folder)
        return str(folder)

    return copy


def evaluations_file(uri: str, au_prc: float = 0.8) -> str:
    """An ``evaluations.json`` as evaluate writes it: AutoML ModelEvaluation protos, overall then per label."""
    entries = [automl_v1beta1.ModelEvaluation(classification_evaluation_metrics={"au_prc": au_prc})]
    entries += [
        automl_v1beta1.ModelEvaluation(
            annotation_spec_id=str(i + 1),
            display_name=label,
            evaluated_example_count=3,
            classification_evaluation_metrics={"au_prc": au_prc},
        )
        for i, label in enumerate(LABELS)
    ]
    storage.write_json(uri, [json_format.MessageToDict(e._pb) for e in entries])
    return uri


def test_where_records_go(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("AUTOML_VIDEO_REGISTRY_URL", f"sqlite:///{tmp_path}/env.sqlite")
    monkeypatch.setenv("AUTOML_VIDEO_PROJECT", "team")
    assert records.RecordTarget.resolve() == records.RecordTarget(f"sqlite:///{tmp_path}/env.sqlite", "team", "local")
    assert records.RecordTarget.resolve(str(tmp_path / "given.sqlite")).url == f"sqlite:///{tmp_path}/given.sqlite"
    assert records.RecordTarget.resolve("off") is None and records.RecordTarget.resolve("OFF ") is None
    # A pod with no registry configured records nothing (its home dies with it) and says so.
    monkeypatch.delenv("AUTOML_VIDEO_REGISTRY_URL")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    with caplog.at_level(logging.WARNING):
        assert records.RecordTarget.resolve() is None
    assert "automl-video-registry secret" in caplog.text
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    monkeypatch.setenv("AUTOML_VIDEO_HOME", str(tmp_path / "home"))
    assert records.RecordTarget.resolve().url == f"sqlite:///{tmp_path}/home/registry.sqlite"
    with pytest.raises(ValueError):
        records.RecordTarget.resolve("", "Not A Project")


def test_a_dataset_and_a_model_are_recorded_once(target, dataset_uri, synth_small, tmp_path, published_model):
    model_uri = published_model(tmp_path / "model")
    evaluations = evaluations_file(str(tmp_path / "evaluation" / "evaluations.json"))
    with target.recorder() as recorder:
        dataset = recorder.dataset(dataset_uri, [synth_small.import_csv])
        again = recorder.dataset(dataset_uri, [synth_small.import_csv, "more.csv"])
        assert again.name == dataset.name and again.display_name == "moves"
        assert again.metadata["importSources"] == [synth_small.import_csv, "more.csv"]
        assert again.data_item_count == len(synth_small.videos) and again.prediction_type == "classification"

        model = recorder.model(model_uri, dataset_id=dataset.resource_id)
        assert model.display_name == "tiny motion" and model.model_type == "MOBILE_VERSATILE_1"
        assert [s["display_name"] for s in model.metadata["annotationSpecs"]] == LABELS
        assert model.dataset_id == dataset.resource_id and model.project == "proj"
        # Found again by its artifact folder; its evaluations are added once, however often asked.
        same = recorder.model(model_uri, evaluations_uri=evaluations)
        assert same.versioned_name == model.versioned_name
        assert recorder.evaluations(same, evaluations) == 0
        listed = recorder.registry.list_model_evaluations(model.versioned_name).items
        assert len(listed) == 1 + len(LABELS) and listed[0].metrics["auPrc"] == pytest.approx(0.8)
        assert recorder.registry.list_models("proj", "here").items == [model]


def test_the_serving_models_batch_predictions_name_the_version_it_was_promoted_from(target, tmp_path, published_model):
    model_uri = published_model(tmp_path / "runs" / "1" / "model")
    serving_root = str(tmp_path / "serving")
    promote_if_better(model_uri, 0.9, serving_root, source_uri=model_uri)
    with target.recorder() as recorder:
        trained = recorder.model(model_uri)
        assert recorder.served_model(f"{serving_root}/current").versioned_name == trained.versioned_name
        assert recorder.served_model(model_uri).versioned_name == trained.versioned_name
        # A folder the registry has never seen becomes a model of its own.
        other = recorder.served_model(published_model(tmp_path / "elsewhere"))
        assert other.name != trained.name and other.artifact_uri.endswith("elsewhere")


def training_outputs(dataset_uri: str, model_uri: str, evaluations: str, promotion) -> records.TrainingRunOutputs:
    return records.TrainingRunOutputs(
        dataset_uri=dataset_uri,
        sources=["gs://b/imports/"],
        dataset_display_name="",
        model_uri=model_uri,
        evaluations_uri=evaluations,
        model_display_name="nightly",
        model_labels={"team": "vision"},
        promotion=promotion.to_json(),
    )


def test_scheduled_runs_add_versions_and_the_gate_moves_the_serving_alias(
    target, dataset_uri, tmp_path, published_model
):
    """Three nightly runs with a gate: promoted, promoted, not promoted."""
    serving_root = str(tmp_path / "serving")
    versions = []
    for night, au_prc in enumerate((0.7, 0.8, 0.75), start=1):
        model_uri = published_model(tmp_path / f"night-{night}" / "model")
        evaluations = evaluations_file(str(tmp_path / f"night-{night}" / "evaluations.json"), au_prc)
        promotion = promote_if_better(model_uri, au_prc, serving_root, source_uri=model_uri)
        run = records.PipelineRun("training", f"run-{night}", f"nightly-{night}", target.url)
        record = records.record_training_run(run, training_outputs(dataset_uri, model_uri, evaluations, promotion))
        assert record.recorded and record.registry == target.url
        versions.append(record.resources["model"])
    with records.RecordTarget(target.url).recorder() as recorder:
        registry = recorder.registry
        model_name = versions[0].split("@")[0]
        assert versions == [f"{model_name}@1", f"{model_name}@2", f"{model_name}@3"]
        assert registry.get_model(f"{model_name}@{records.SERVING_ALIAS}").version_id == "2"
        assert registry.get_model(model_name).version_id == "2"  # default follows the served version
        third = registry.get_model(f"{model_name}@3")
        assert third.version_aliases == [] and third.labels == {"team": "vision"}
        job = registry.get_training_pipeline(third.training_pipeline)
        assert job.state is PipelineState.PIPELINE_STATE_SUCCEEDED and job.display_name == "nightly-3"
        assert job.labels == {records.RUN_LABEL: "run-3"} and job.run_info["kfp_run_id"] == "run-3"
        assert job.model_to_upload == {"displayName": "nightly", "name": model_name, "versionId": "3"}
        # One dataset record for the one dataset folder, whatever the number of runs.
        assert len(registry.list_datasets("local", "local").items) == 1


def test_without_a_gate_every_version_is_the_default_one(target, dataset_uri, tmp_path, published_model):
    names = []
    for night in (1, 2):
        model_uri = published_model(tmp_path / f"night-{night}" / "model")
        evaluations = evaluations_file(str(tmp_path / f"night-{night}" / "evaluations.json"))
        promotion = promote_if_better(model_uri, 0.5, "")  # the gate is off: promotes nothing
        assert not promotion.promoted and promotion.pointer_uri == ""
        run = records.PipelineRun("training", f"run-{night}", "", target.url)
        outputs = training_outputs(dataset_uri, model_uri, evaluations, promotion)
        names.append(records.record_training_run(run, outputs).resources["model"])
    with records.RecordTarget(target.url).recorder() as recorder:
        assert recorder.registry.get_model(names[0].split("@")[0]).versioned_name == names[1]


def test_a_batch_prediction_run_is_recorded_with_its_counts(target, tmp_path, published_model):
    model_uri = published_model(tmp_path / "model")
    result = {
        "output_dir": "gs://b/out/prediction-1",
        "format": "jsonl",
        "total_rows": 5,
        "shard": [0, 1],
        "shard_rows": 5,
        "predicted_rows": 5,
        "resumed_rows": 0,
        "succeeded_rows": 4,
        "failed_rows": 1,
        "video_seconds": 9.0,
        "wall_seconds": 2.0,
        "work_dir": "gs://b/out/.work",
        "failures": [{"uri": "gs://b/in.jsonl", "row": 3, "message": "video not found"}],
        "started_at": 1.0,  # the merge task's timing rides along and is ignored
    }
    run = records.PipelineRun("batch-prediction", "run-7", "", target.url)
    outputs = records.BatchRunOutputs(
        model_uri, ["gs://b/in.jsonl"], "gs://b/out", {"confidenceThreshold": 0.3}, 2, result
    )
    record = records.record_batch_prediction_run(run, outputs)
    with records.RecordTarget(target.url).recorder() as recorder:
        job = recorder.registry.get_batch_prediction_job(record.resources["batch_prediction_job"])
    assert job.state is JobState.JOB_STATE_SUCCEEDED and job.display_name == "automl-video batch-prediction run-7"
    assert job.completion_stats == {"successfulCount": "4", "failedCount": "1", "incompleteCount": "0"}
    assert job.partial_failures[0].message == "gs://b/in.jsonl row 3: video not found"
    assert job.input_config == {"instancesFormat": "jsonl", "gcsSource": {"uris": ["gs://b/in.jsonl"]}}
    assert job.output_config["gcsDestination"] == {"outputUriPrefix": "gs://b/out"}
    assert job.model_parameters == {"confidenceThreshold": 0.3}
    assert job.dedicated_resources == {"startingReplicaCount": 2, "maxReplicaCount": 2}


def test_runs_that_fail_or_are_cancelled_are_recorded_so(target, dataset_uri, tmp_path, published_model):
    def end(run_id: str, state: str, pipeline: str = "training", **options) -> records.RunRecord:
        run = records.PipelineRun(pipeline, run_id, f"run {run_id}", target.url)
        return records.record_run_end(
            run, records.RunEnd(state, "Task train-model failed.", "classification", "CLOUD", **options)
        )

    assert not end("ok", "SUCCEEDED").recorded
    # Failed before anything was recorded: a FAILED training pipeline with the error.
    failed = end("early", "FAILED")
    # Training recorded, then its batch prediction failed: a FAILED batch prediction job of that version.
    model_uri = published_model(tmp_path / "model")
    evaluations = evaluations_file(str(tmp_path / "evaluations.json"))
    recorded = records.record_training_run(
        records.PipelineRun("training", "late", "run late", target.url),
        training_outputs(dataset_uri, model_uri, evaluations, promote_if_better(model_uri, 0.5, "")),
    )
    late = end("late", "FAILED", inputs=["gs://b/in.csv"], predictions_prefix="gs://b/out")
    cancelled = end(
        "stop", "CANCELLED", pipeline="batch-prediction", model_uri=model_uri, predictions_prefix="gs://b/o"
    )
    with records.RecordTarget(target.url).recorder() as recorder:
        registry = recorder.registry
        (early_job,) = failed.resources
        job = registry.get_training_pipeline(early_job)
        assert job.state is PipelineState.PIPELINE_STATE_FAILED and job.error.message == "Task train-model failed."
        assert job.labels == {records.RUN_LABEL: "early"}
        (late_job,) = late.resources
        batch = registry.get_batch_prediction_job(late_job)
        assert batch.state is JobState.JOB_STATE_FAILED
        assert f"{batch.model}@{batch.model_version_id}" == recorded.resources["model"]
        assert batch.input_config["gcsSource"] == {"uris": ["gs://b/in.csv"]}
        assert registry.get_training_pipeline(recorded.resources["training_pipeline"]).state is (
            PipelineState.PIPELINE_STATE_SUCCEEDED
        )
        (stopped,) = cancelled.resources
        stopped_job = registry.get_batch_prediction_job(stopped)
        assert stopped_job.state is JobState.JOB_STATE_CANCELLED and stopped_job.error.code == 1
