"""The CLI stages record what they make, and `automl-video datasets|models|evaluations|jobs list|get`
shows it with the SDK's filters: real import, training (tiny), evaluation and prediction on generated
videos, into a SQLite registry of the test."""

import json

import pytest

from automl_video import records
from automl_video.cli import main

pytestmark = pytest.mark.slow  # trains a (tiny) model once for the module


def run(capsys, *args: str) -> tuple[int, object]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if status == 0 and "--json" in args else captured.out + captured.err)


@pytest.fixture(scope="module")
def stages(synth_small, tmp_path_factory):
    """dataset import → split → train → evaluate → predict through the CLI, each recording itself."""
    root = tmp_path_factory.mktemp("cli_registry")
    registry = f"sqlite:///{root / 'registry.sqlite'}"
    dataset, model = str(root / "dataset"), str(root / "model")
    predict_input = root / "predict.csv"
    predict_input.write_text("".join(f"{v},0,inf\n" for v in synth_small.videos[:3]))
    outputs = {}
    for name, args in (
        (
            "import",
            ["dataset", "import", "--source", synth_small.import_csv, "--dataset", dataset, "--display-name", "moves"],
        ),
        ("split", ["dataset", "split", "--dataset", dataset]),
        (
            "train",
            ["train", "--dataset", dataset, "--model", model, "--max-epochs", "1", "--num-frames", "4"]
            + ["--image-size", "32x32", "--batch-size", "8", "--display-name", "cli-motions", "--seed", "1"],
        ),
        ("evaluate", ["evaluate", "--model", model, "--dataset", dataset, "--output", str(root / "evaluation")]),
        ("predict", ["predict", "--model", model, "--input", str(predict_input), "--output-prefix", str(root / "out")]),
    ):
        recording = [] if name == "split" else ["--registry", registry]
        assert main(args + recording + ["--json"]) == 0, name
        outputs[name] = args
    return {"registry": registry, "root": root, "dataset": dataset, "model": model}


def test_each_stage_is_recorded_and_listed(stages, capsys):
    registry = ["--registry", stages["registry"], "--json"]
    status, datasets = run(capsys, "datasets", "list", *registry)
    assert status == 0 and [d["displayName"] for d in datasets] == ["moves"]
    assert datasets[0]["metadata"]["dataUri"] == stages["dataset"]

    status, models = run(capsys, "models", "list", *registry)
    (model,) = models
    assert model["displayName"] == "cli-motions" and model["artifactUri"] == stages["model"]
    assert model["metadata"]["datasetId"] == datasets[0]["name"].rsplit("/", 1)[-1]
    overall = [e for e in model["evaluations"] if "annotationSpecId" not in e]
    assert len(overall) == 1 and 0.0 <= overall[0]["metrics"]["auPrc"] <= 1.0
    assert len(model["evaluations"]) > 1  # one per label too

    status, jobs = run(capsys, "jobs", "list", *registry)
    states = sorted((j["name"].split("/")[-2], j["state"]) for j in jobs)
    assert states == [("batchPredictionJobs", "JOB_STATE_SUCCEEDED"), ("trainingPipelines", "PIPELINE_STATE_SUCCEEDED")]
    training = next(j for j in jobs if "/trainingPipelines/" in j["name"])
    assert training["modelToUpload"]["name"] == model["name"] and training["modelToUpload"]["versionId"] == "1"
    assert model["trainingPipeline"] == training["name"]
    batch = next(j for j in jobs if "/batchPredictionJobs/" in j["name"])
    assert batch["model"] == model["name"] and batch["completionStats"]["successfulCount"] == "3"


def test_get_filter_and_order_as_the_sdk(stages, capsys):
    registry = ["--registry", stages["registry"]]
    status, models = run(capsys, "models", "list", *registry, "--json")
    model_id = models[0]["name"].rsplit("/", 1)[-1]
    status, got = run(capsys, "models", "get", f"{model_id}@default", *registry, "--json")
    assert status == 0 and got["versionId"] == "1" and got["evaluations"] == models[0]["evaluations"]
    status, evaluations = run(
        capsys, "evaluations", "list", "--model", model_id, "--filter", "NOT annotation_spec_id:*", *registry, "--json"
    )
    assert status == 0 and len(evaluations) == 1
    status, evaluation = run(capsys, "evaluations", "get", evaluations[0]["name"], *registry, "--json")
    assert evaluation == evaluations[0]
    status, none = run(capsys, "models", "list", "--filter", 'display_name="other"', *registry, "--json")
    assert status == 0 and none == []
    status, trainings = run(
        capsys,
        "jobs",
        "list",
        "--kind",
        "training",
        "--filter",
        'state="PIPELINE_STATE_SUCCEEDED"',
        *registry,
        "--json",
    )
    assert len(trainings) == 1
    status, job = run(capsys, "jobs", "get", trainings[0]["name"], *registry, "--json")
    assert job == trainings[0]
    status, human = run(capsys, "models", "list", *registry)
    assert status == 0 and "'cli-motions'" in human and "auPrc" in human and "aliases default" in human
    status, error = run(capsys, "models", "list", "--filter", "nonsense ==", *registry)
    assert status == 2 and error.startswith("automl-video: error: ") and len(error.strip().splitlines()) == 1
    status, error = run(capsys, "datasets", "get", "999", *registry)
    assert status == 1 and "not found" in error


def test_a_failed_stage_is_recorded_failed_and_off_records_nothing(stages, synth_small, tmp_path, capsys):
    registry = ["--registry", stages["registry"]]
    status, error = run(
        capsys,
        "train",
        "--dataset",
        stages["dataset"],
        "--model",
        str(tmp_path / "m"),
        "--model-type",
        "MOBILE_CORAL_VERSATILE_1",  # a model type of object tracking: refused by the training it started
        *registry,
    )
    assert status == 2
    status, failed = run(capsys, "jobs", "list", "--filter", 'state="PIPELINE_STATE_FAILED"', *registry, "--json")
    assert len(failed) == 1 and "MOBILE_CORAL_VERSATILE_1" in failed[0]["error"]["message"]

    unrecorded = str(tmp_path / "d")
    status, _ = run(
        capsys,
        "dataset",
        "import",
        "--source",
        synth_small.import_csv,
        "--dataset",
        unrecorded,
        "--registry",
        "off",
        "--json",
    )
    assert status == 0 and "registered" not in _
    with records.RecordTarget.resolve().recorder() as recorder:  # the default registry (the session's)
        assert recorder.registry.find_dataset(recorder.project, recorder.location, unrecorded) is None
    status, error = run(capsys, "models", "list", "--registry", "off")
    assert status == 2 and "no registry to read" in error
