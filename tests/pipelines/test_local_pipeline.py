"""The whole training DAG, then the batch-prediction DAG, end to end through kfp.local on real videos,
each run recorded in the registry; a second training run over the same source prefix sees the CSVs
added to it since.

Each task is a subprocess running the real stage (real TF training, tiny budget), so this is the
slowest test module (about four minutes on 2 cores); one module-scoped run serves most assertions.
"""

import csv
import io
import json
import re

import pytest

from automl_video import records, storage
from automl_video.cli import main
from automl_video.registry import JobState, PipelineState
from automl_video.serving import read_serving_pointer
from automl_video_pipelines import BATCH_PREDICTION_PIPELINE, TRAINING_PIPELINE, PipelineRunError
from automl_video_pipelines.arguments import BatchPredictionArguments, TrainingArguments
from automl_video_pipelines.local import run_local

pytestmark = pytest.mark.slow

TRAINING_TASKS = {
    "import-dataset",
    "split-dataset",
    "train-model",
    "evaluate-model",
    "export-model",
    "promote-model",
    "plan-prediction-shards",
    "batch-predict-shard",
    "merge-predictions",
    "record-training-run",
    "record-batch-prediction",
    "record-run-end",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("local_pipeline")


@pytest.fixture(scope="module")
def prediction_input(synth_small, workspace) -> str:
    """Three real videos (one only up to 1 s) and one that does not exist (that row fails alone)."""
    videos = synth_small.videos
    rows = [f"{videos[0]},0,inf", f"{videos[7]},0,inf", f"{videos[13]},0,1", f"{workspace}/missing.mp4,0,inf"]
    uri = str(workspace / "predict.csv")
    storage.write_text(uri, "\n".join(rows) + "\n")
    return uri


def write_import(data, folder, name: str) -> None:
    """A top-level import CSV ``<name>.csv`` under ``folder`` over ``data``'s CSVs without the negative
    (``-``) spans: every TEST example then has exactly one label, so the evaluation has a confusion
    matrix for the KFP UI."""
    listing = []
    for use, uri in data.csvs.items():
        rows = [row for row in storage.read_text(uri).splitlines() if row and row.split(",")[1] != "-"]
        storage.write_text(str(folder / f"{name}-{use.lower()}.csv"), "\n".join(rows) + "\n")
        listing.append(f"{use},{folder / f'{name}-{use.lower()}.csv'}")
    storage.write_text(str(folder / f"{name}.csv"), "\n".join(listing) + "\n")


@pytest.fixture(scope="module")
def imports(synth_small, workspace) -> str:
    """A source prefix holding one import CSV over synth_small."""
    write_import(synth_small, workspace / "imports", "import")
    return str(workspace / "imports") + "/"


@pytest.fixture(scope="module")
def training_run(imports, workspace, prediction_input):
    parameters = TrainingArguments(
        sources=[imports],
        model_type="MOBILE_VERSATILE_1",
        model_display_name="motions",
        model_labels={"suite": "test"},
        budget_minutes=0.25,
        seed=3,
        serving_root=str(workspace / "serving"),
        prediction_inputs=[prediction_input],
        predictions_prefix=str(workspace / "predictions"),
        prediction_shards=2,
    ).parameters()
    return run_local(TRAINING_PIPELINE, parameters, str(workspace / "root"), log_file=str(workspace / "training.log"))


def test_every_stage_ran_once_and_shards_fanned_out(training_run):
    names = [task.name.rsplit("/", 1)[-1] for task in training_run.tasks]
    assert set(names) == TRAINING_TASKS
    assert names.count("batch-predict-shard") == 2
    assert 0.0 < training_run.stage_seconds < training_run.wall_seconds
    assert 0.0 < training_run.overhead_share < 1.0


def test_dataset_model_and_export_artifacts(training_run):
    dataset = storage.read_json(storage.join(training_run.task("split-dataset").artifacts["split"], "dataset.json"))
    assert {v["split"] for v in dataset["videos"]} >= {"TRAIN", "TEST"}
    model = training_run.task("train-model")
    assert storage.is_published(model.artifacts["model"])
    assert model.metadata["model"]["model_labels"] == {"suite": "test"}
    assert model.metadata["model"]["model_type"] == "MOBILE_VERSATILE_1"
    assert model.parameters["Output"] is True  # exportable: the export branch below ran on it
    export = training_run.task("export-model").artifacts["exported_model"]
    assert storage.exists(storage.join(export, "saved_model.pb"))
    assert storage.read_text(storage.join(export, "dict.txt")).split() == model.metadata["model"]["labels"]


def test_evaluation_feeds_kfp_metrics_and_the_report(training_run):
    evaluate = training_run.task("evaluate-model")
    evaluation = storage.read_json(storage.join(evaluate.artifacts["evaluation"], "evaluations.json"))
    overall = evaluation[0]
    au_prc = evaluate.parameters["Output"]
    assert overall["classificationEvaluationMetrics"]["auPrc"] == pytest.approx(au_prc)
    assert evaluate.metadata["metrics"]["au_prc"] == pytest.approx(au_prc)
    roc = evaluate.metadata["classification_metrics"]["confidenceMetrics"]
    assert roc and {"confidenceThreshold", "recall", "falsePositiveRate"} <= set(roc[0])
    matrix = evaluate.metadata["classification_metrics"]["confusionMatrix"]
    labels = training_run.task("train-model").metadata["model"]["labels"]
    assert [c["displayName"] for c in matrix["annotationSpecs"]] == labels
    assert sum(map(sum, (row["row"] for row in matrix["rows"]))) == overall["evaluatedExampleCount"]
    report = storage.read_text(evaluate.artifacts["report"])
    assert "<html" in report.lower() and "AU-PRC" in report


def test_gate_promoted_the_first_model(training_run, workspace):
    promotion = training_run.task("promote-model")
    assert promotion.parameters["Output"] is True
    pointer = read_serving_pointer(str(workspace / "serving"))
    assert pointer.au_prc == pytest.approx(training_run.task("evaluate-model").parameters["Output"])
    assert pointer.source_model_uri == training_run.task("train-model").artifacts["model"]
    assert storage.is_published(str(workspace / "serving" / "current"))


def read_index(output_dir: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(storage.read_text(storage.join(output_dir, "video_classification.csv")))))


def test_shards_merged_into_one_output(training_run, workspace, prediction_input):
    merged = training_run.task("merge-predictions").metadata["predictions"]
    assert merged["output_dir"].startswith(str(workspace / "predictions") + "/prediction-")
    assert merged["total_rows"] == 4 and merged["succeeded_rows"] == 3 and merged["failed_rows"] == 1
    rows = read_index(merged["output_dir"])
    assert [row[0] for row in rows] == [line.split(",")[0] for line in storage.read_text(prediction_input).split()]
    assert [row[-1] == "OK" for row in rows] == [True, True, True, False]
    assert "missing.mp4" in rows[3][-1]


def test_batch_prediction_pipeline_on_the_serving_model(training_run, workspace, prediction_input, capsys):
    """The second pipeline, from the CLI: the importer brings in <serving>/current, one shard, no merge needed."""
    status = main(
        [
            "pipeline",
            "run",  # local: what 'run' does without a flag
            "--json",
            "--pipeline",
            BATCH_PREDICTION_PIPELINE,
            "--pipeline-root",
            str(workspace / "root"),
            "--log-file",
            str(workspace / "batch.log"),
            "--model",
            str(workspace / "serving" / "current"),
            "--predict-input",
            prediction_input,
            "--predictions-prefix",
            str(workspace / "batch-predictions"),
            "--shards",
            "1",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    summary = json.loads(captured.out)
    # (the importer of <serving>/current writes no executor output of its own)
    assert {t.rsplit("/", 1)[-1] for t in summary["tasks"]} == {
        "plan-prediction-shards",
        "batch-predict-shard",
        "merge-predictions",
        "record-batch-prediction",
        "record-run-end",
    }
    output_dir = summary["outputs"]["predictions"]
    assert output_dir.startswith(str(workspace / "batch-predictions"))
    assert [row[-1] == "OK" for row in read_index(output_dir)] == [True, True, True, False]
    # Recorded as a job of the version <serving>/current was promoted from.
    with records.RecordTarget.resolve().recorder() as recorder:
        job = recorder.registry.get_batch_prediction_job(summary["registered"]["batch_prediction_job"])
        served = recorder.registry.get_model(f"{job.model}@{job.model_version_id}")
    assert served.artifact_uri == read_serving_pointer(str(workspace / "serving")).source_model_uri
    assert job.state is JobState.JOB_STATE_SUCCEEDED and job.output_info["gcsOutputDirectory"] == output_dir


def recorded(task) -> dict:
    """The registry records a record step made, read back through its artifact's metadata."""
    record = task.metadata["record"]
    assert record["recorded"], record
    return record


def test_the_training_run_is_recorded(training_run, imports):
    record = recorded(training_run.task("record-training-run"))
    with records.RecordTarget.resolve().recorder() as recorder:
        registry = recorder.registry
        job = registry.get_training_pipeline(record["training_pipeline"])
        assert job.state is PipelineState.PIPELINE_STATE_SUCCEEDED and job.start_time and job.end_time
        assert job.labels[records.RUN_LABEL] and job.run_info["kfp_run_id"]
        model = registry.get_model(record["model"])
        assert model.display_name == "motions" and model.labels == {"suite": "test"}
        assert model.artifact_uri == training_run.task("train-model").artifacts["model"]
        assert {"default", records.SERVING_ALIAS} <= set(model.version_aliases)  # the gate promoted it
        assert job.model_to_upload["name"] == model.name and job.model_to_upload["versionId"] == model.version_id
        evaluations = registry.list_model_evaluations(record["model"]).items
        overall = storage.read_json(
            storage.join(training_run.task("evaluate-model").artifacts["evaluation"], "evaluations.json")
        )
        assert len(evaluations) == len(overall)
        dataset = registry.get_dataset(record["dataset"])
        assert dataset.data_uri == training_run.task("split-dataset").artifacts["split"]
        assert dataset.metadata["importSources"] == [imports] and dataset.data_item_count > 0
        assert model.dataset_id == dataset.resource_id


def test_the_batch_prediction_of_the_training_run_is_recorded(training_run):
    record = recorded(training_run.task("record-batch-prediction"))
    trained = recorded(training_run.task("record-training-run"))["model"]
    with records.RecordTarget.resolve().recorder() as recorder:
        job = recorder.registry.get_batch_prediction_job(record["batch_prediction_job"])
    assert job.state is JobState.JOB_STATE_SUCCEEDED
    assert f"{job.model}@{job.model_version_id}" == trained
    assert job.completion_stats == {"successfulCount": "3", "failedCount": "1", "incompleteCount": "0"}
    assert (
        job.output_info["gcsOutputDirectory"]
        == training_run.task("merge-predictions").metadata["predictions"]["output_dir"]
    )
    assert len(job.partial_failures) == 1 and "missing.mp4" in job.partial_failures[0].message


def test_a_failing_task_is_named_earlier_outputs_stay_and_the_failure_is_recorded(workspace):
    parameters = TrainingArguments(
        sources=[str(workspace / "no-such-folder") + "/"], model_display_name="never-trained"
    ).parameters()
    expected = r"the training pipeline failed: task 'import-dataset' failed .*failed\.log.*outputs so far are under"
    with pytest.raises(PipelineRunError, match=expected):
        run_local(TRAINING_PIPELINE, parameters, str(workspace / "fail-root"), log_file=str(workspace / "failed.log"))
    log = re.sub(r"\x1b\[[0-9;]*m", "", open(workspace / "failed.log").read())  # kfp.local colours task names
    assert "no import CSV (rows ML_USE,CSV_URI) under this prefix" in log
    # No retries locally: nothing downstream ran, nothing re-ran; the exit task recorded the failure.
    assert log.count("Executing task") == 2 and "Executing task 'record-run-end'" in log
    with records.RecordTarget.resolve().recorder() as recorder:
        failed = recorder.registry.list_training_pipelines(
            "local", "local", filter='state="PIPELINE_STATE_FAILED"', order_by="create_time desc"
        ).items
    # kfp.local's PipelineTaskFinalStatus names only the failed group; KFP names the task and its error.
    assert failed and failed[0].error.message == "Task exit-handler-1 failed."
    assert failed[0].model_to_upload == {} and failed[0].run_info["pipeline"] == TRAINING_PIPELINE


def test_bad_parameters_are_refused_before_running():
    with pytest.raises(ValueError, match="predictions prefix given"):
        TrainingArguments(sources=["x.csv"], predictions_prefix="out/").parameters()
    with pytest.raises(ValueError, match="no prediction input given"):
        BatchPredictionArguments(model_uri="m", inputs=[], predictions_prefix="p").parameters()
    with pytest.raises(ValueError, match="inference 'onnx' is not one of auto, keras, litert-float, litert-dynamic"):
        BatchPredictionArguments(model_uri="m", inputs=["i.csv"], predictions_prefix="p", inference="onnx").parameters()
    with pytest.raises(ValueError, match="inference 'gpu' is not one of"):
        TrainingArguments(sources=["x.csv"], prediction_inference="gpu").parameters()


def test_a_second_run_over_the_source_prefix_sees_the_new_csvs(training_run, imports, workspace, tmp_path_factory):
    """Scheduled retraining: the same parameters, new import CSVs dropped under the prefix since.

    Last in this module: the new version takes the ``default`` alias (and maybe ``serving``) from the
    first, which the tests above read.
    """
    from automl_video.tasks.classification import synth as classification_synth

    more = classification_synth.generate(
        str(tmp_path_factory.mktemp("more_videos")), classes=4, videos_per_class=2, seconds=2.0, seed=11
    )
    write_import(more, workspace / "imports", "more")
    parameters = TrainingArguments(
        sources=[imports],
        model_type="MOBILE_VERSATILE_1",
        model_display_name="motions",
        budget_minutes=0.25,
        seed=3,
        serving_root=str(workspace / "serving"),
    ).parameters()
    second = run_local(TRAINING_PIPELINE, parameters, str(workspace / "root"), log_file=str(workspace / "second.log"))

    def videos(run) -> set[str]:
        dataset = storage.read_json(storage.join(run.task("split-dataset").artifacts["split"], "dataset.json"))
        return {v["uri"] for v in dataset["videos"]}

    assert videos(second) == videos(training_run) | set(more.videos)
    first_model = recorded(training_run.task("record-training-run"))["model"]
    second_model = recorded(second.task("record-training-run"))["model"]
    # A new version of the same model; the serving alias is wherever the gate left it.
    assert second_model.split("@")[0] == first_model.split("@")[0] and second_model != first_model
    with records.RecordTarget.resolve().recorder() as recorder:
        serving = recorder.registry.get_model(f"{first_model.split('@')[0]}@{records.SERVING_ALIAS}")
    promoted = second.task("promote-model").parameters["Output"]
    assert serving.versioned_name == (second_model if promoted else first_model)
