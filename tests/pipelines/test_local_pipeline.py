"""The whole training DAG, then the batch-prediction DAG, end to end through kfp.local on real videos.

Each task is a subprocess running the real stage (real TF training, tiny budget), so this is the
slowest test module (about two minutes on 2 cores); one session-scoped run serves every assertion.
"""

import csv
import io
import json

import pytest

from automl_video import storage
from automl_video.cli import main
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


@pytest.fixture(scope="module")
def imports(synth_small, workspace) -> str:
    """synth_small's CSVs without the negative (``-``) spans: every TEST example then has exactly one
    label, so the evaluation has a confusion matrix for the KFP UI."""
    folder = workspace / "imports"
    listing = []
    for use, uri in synth_small.csvs.items():
        rows = [row for row in storage.read_text(uri).splitlines() if row and row.split(",")[1] != "-"]
        storage.write_text(str(folder / f"{use.lower()}.csv"), "\n".join(rows) + "\n")
        listing.append(f"{use},{folder / f'{use.lower()}.csv'}")
    storage.write_text(str(folder / "import.csv"), "\n".join(listing) + "\n")
    return str(folder) + "/"


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
            "run",
            "--local",
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
    }
    output_dir = summary["outputs"]["predictions"]
    assert output_dir.startswith(str(workspace / "batch-predictions"))
    assert [row[-1] == "OK" for row in read_index(output_dir)] == [True, True, True, False]


def test_a_failing_task_is_named_and_earlier_outputs_stay(workspace):
    parameters = TrainingArguments(sources=[str(workspace / "no-such-folder") + "/"]).parameters()
    expected = r"the training pipeline failed: task 'import-dataset' failed .*failed\.log.*outputs so far are under"
    with pytest.raises(PipelineRunError, match=expected):
        run_local(TRAINING_PIPELINE, parameters, str(workspace / "fail-root"), log_file=str(workspace / "failed.log"))
    log = open(workspace / "failed.log").read()
    assert "no import CSV (rows ML_USE,CSV_URI) under this prefix" in log
    assert log.count("Executing task") == 1  # no retries locally: nothing downstream ran, nothing re-ran


def test_bad_parameters_are_refused_before_running():
    with pytest.raises(ValueError, match="predictions prefix given"):
        TrainingArguments(sources=["x.csv"], predictions_prefix="out/").parameters()
    with pytest.raises(ValueError, match="no prediction input given"):
        BatchPredictionArguments(model_uri="m", inputs=[], predictions_prefix="p").parameters()
