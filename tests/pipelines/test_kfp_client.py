"""`pipeline submit` and `pipeline schedule` against a small fake KFP v2beta1 API server on loopback
(tests/kfp_fake.py): the experiment, the pipeline upload, the run and the recurring run with its cron,
as a real KFP API server would receive them."""

import json

import pytest
import yaml

from automl_video.cli import main
from automl_video_pipelines import PipelineRunError
from automl_video_pipelines.arguments import TrainingArguments
from automl_video_pipelines.cluster import ClusterTarget, submit
from tests.kfp_fake import API


def run_cli(args: list[str], capsys) -> tuple[int, dict | str]:
    status = main(args)
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if status == 0 else captured.err)


def test_submit_creates_experiment_and_run(kfp_server, capsys):
    status, result = run_cli(
        [
            "pipeline",
            "submit",
            "--host",
            kfp_server.host,
            "--json",
            "--run-name",
            "nightly",
            "--source",
            "gs://bucket/imports/import.csv",
            "--model-type",
            "MOBILE_VERSATILE_1",
            "--training-fraction",
            "0.7",
            "--test-fraction",
            "0.3",
            "--label",
            "team=vision",
            "--budget-minutes",
            "90",
            "--pipeline-root",
            "gs://bucket/root",
            "--gpu-node-label",
            "cloud.google.com/gke-accelerator=nvidia-tesla-t4",
        ],
        capsys,
    )
    assert status == 0, result
    assert result["run_id"] == "run-1" and result["experiment_id"] == "exp-1"
    assert result["run_url"] == f"{kfp_server.host}/#/runs/details/run-1"

    (experiment,) = kfp_server.of("POST", "/experiments")
    assert experiment.body["display_name"] == "automl-video"
    (run,) = kfp_server.of("POST", "/runs")
    body = run.body
    assert body["display_name"] == "nightly" and body["experiment_id"] == "exp-1"
    assert body["service_account"] == "automl-video-runner"
    assert body["runtime_config"]["pipeline_root"] == "gs://bucket/root"
    parameters = body["runtime_config"]["parameters"]
    assert parameters["sources"] == ["gs://bucket/imports/import.csv"]
    assert parameters["model_type"] == "MOBILE_VERSATILE_1"
    assert parameters["training_fraction_split"] == 0.7 and parameters["test_fraction_split"] == 0.3
    assert parameters["model_labels"] == {"team": "vision"} and parameters["budget_minutes"] == 90.0
    # The compiled DAG travels with the run, GPU settings of this cluster included.
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "automl-video-training"
    kubernetes = body["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]
    train = kubernetes["deploymentSpec"]["executors"]["exec-train-model"]
    assert train["nodeSelector"]["labels"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}


def test_schedule_uploads_the_pipeline_then_creates_a_recurring_run(kfp_server, capsys):
    args = [
        "pipeline",
        "schedule",
        "--host",
        kfp_server.host,
        "--json",
        "--cron",
        "0 30 1 * * *",
        "--source",
        "gs://bucket/imports/",
        "--serving-root",
        "gs://bucket/serving",
    ]
    status, result = run_cli(args, capsys)
    assert status == 0, result
    assert result == {
        "recurring_run_id": "recurring-1",
        "pipeline_id": "pipeline-1",
        "pipeline_version_id": "version-1",
        "experiment_id": "exp-1",
        "cron": "0 30 1 * * *",
    }
    (upload,) = kfp_server.of("POST", "/pipelines/upload")
    assert upload.query["name"] == ["automl-video-training"]
    uploaded_spec = next(yaml.safe_load_all(upload.upload["content"]))
    assert uploaded_spec["pipelineInfo"]["name"] == "automl-video-training"
    (recurring,) = kfp_server.of("POST", "/recurringruns")
    body = recurring.body
    assert body["trigger"]["cron_schedule"]["cron"] == "0 30 1 * * *"
    assert body["pipeline_version_reference"] == {"pipeline_id": "pipeline-1", "pipeline_version_id": "version-1"}
    assert int(body["max_concurrency"]) == 1 and body["no_catchup"] is True and body["mode"] == "ENABLE"
    assert body["runtime_config"]["parameters"]["sources"] == ["gs://bucket/imports/"]
    assert body["runtime_config"]["parameters"]["serving_root"] == "gs://bucket/serving"

    # Scheduling again adds a version to the existing pipeline instead of a second pipeline.
    status, result = run_cli(args, capsys)
    assert status == 0 and result["pipeline_version_id"] == "version-2"
    assert len(kfp_server.of("POST", "/pipelines/upload")) == 1
    (version_upload,) = kfp_server.of("POST", "/pipelines/upload_version")
    assert version_upload.query["pipelineid"] == ["pipeline-1"]
    assert version_upload.upload["content"] == upload.upload["content"]


def test_schedule_refuses_a_five_field_cron_before_any_request(kfp_server, capsys):
    status, error = run_cli(
        ["pipeline", "schedule", "--host", kfp_server.host, "--cron", "0 2 * * *", "--source", "gs://b/i/"], capsys
    )
    assert status == 2 and "must have 6 fields" in error
    assert kfp_server.requests == []


def test_bad_parameters_fail_before_any_request(kfp_server, capsys):
    status, error = run_cli(
        [
            "pipeline",
            "submit",
            "--host",
            kfp_server.host,
            "--source",
            "gs://b/i.csv",
            "--model-type",
            "MOBILE_CORAL_VERSATILE_1",
        ],
        capsys,
    )
    assert status == 2 and "not available for prediction_type 'classification'" in error
    status, error = run_cli(
        ["pipeline", "submit", "--host", kfp_server.host, "--source", "gs://b/i.csv", "--training-fraction", "0.8"],
        capsys,
    )
    assert status == 2 and "give both the training fraction and the test fraction" in error
    assert kfp_server.requests == []


def test_api_error_names_the_server_and_the_answer(kfp_server):
    kfp_server.fail[("POST", API + "/runs")] = 400
    target = ClusterTarget(host=kfp_server.host)
    parameters = TrainingArguments(sources=["gs://b/i.csv"]).parameters()
    with pytest.raises(PipelineRunError, match=rf"{kfp_server.host}: KFP API answered 400 .*injected failure"):
        submit(target, "training", parameters)


def test_unreachable_server_is_one_clear_error():
    target = ClusterTarget(host="http://127.0.0.1:9")  # discard port: nothing listens
    parameters = TrainingArguments(sources=["gs://b/i.csv"]).parameters()
    with pytest.raises(PipelineRunError, match="http://127.0.0.1:9: cannot reach the KFP API server"):
        submit(target, "training", parameters)
