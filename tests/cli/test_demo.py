"""`automl-video demo` end to end (a small one): the whole training DAG through kfp.local on generated
videos, recorded in the default registry, so that `automl-video models list --json` shows the model
and its evaluations right after; the tasks' progress shows on stderr while they run."""

import json
import re

import pytest

from automl_video.cli import main

pytestmark = pytest.mark.slow  # one whole pipeline run, about a minute on 2 cores


def test_after_the_demo_models_list_shows_the_model_and_its_evaluations(tmp_path, capsys):
    demo = ["demo", "--output", str(tmp_path / "demo"), "--classes", "2", "--videos-per-class", "4"]
    demo += ["--seconds", "1", "--budget-minutes", "0.2", "--shards", "2", "--json"]  # 2: parallel tasks
    assert main(demo) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    # While train-model ran, its epochs showed on stderr (the task output itself went to the log file).
    epochs = re.findall(r"INFO train-model: epoch (\d+)/\d+: loss .* clips/s, .*budget left \d+s, ETA", captured.err)
    assert epochs and epochs[0] == "1"
    assert re.search(r"INFO evaluate-model: evaluate: \d+/\d+ .* segments/s", captured.err)
    assert re.search(r"INFO batch-predict-shard: predict: model loaded in [\d.]+s", captured.err)
    assert re.search(r"INFO train-model: train: finished in [\d.]+s", captured.err)
    # kfp.local's own lines, parallel shards' included, are its plain status lines: no colour codes, no
    # outputs dumped (those are in the log file).
    assert "\x1b[" not in captured.err and " root: " not in captured.err
    assert captured.err.count("Task 'batch-predict-shard' finished with status SUCCESS") == 2
    registered = summary["registered"]
    assert registered["registry"] and "@" in registered["model"]

    # The registry of the tests' environment is the default one, as ~/.automl-video is a user's.
    assert main(["models", "list", "--filter", 'display_name="demo-motions-model"', "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    model = next(m for m in models if f"{m['name']}@{m['versionId']}" == registered["model"])
    assert model["labels"] == {"origin": "automl-video-demo"}
    assert model["artifactUri"] == summary["outputs"]["model"]
    assert "serving" in model["versionAliases"]  # the demo's gate promoted its first model
    overall = [e for e in model["evaluations"] if "annotationSpecId" not in e]
    assert len(overall) == 1 and overall[0]["metrics"]["auPrc"] == pytest.approx(summary["evaluation"]["score"])
    assert len(model["evaluations"]) == 1 + 2  # overall and one per label

    assert main(["jobs", "list", "--filter", f'labels.kfp-run-id="{_run_label(model, capsys)}"', "--json"]) == 0
    kinds = sorted(j["name"].split("/")[-2] for j in json.loads(capsys.readouterr().out))
    assert kinds == ["batchPredictionJobs", "trainingPipelines"]


def _run_label(model: dict, capsys) -> str:
    assert main(["jobs", "get", model["trainingPipeline"], "--json"]) == 0
    return json.loads(capsys.readouterr().out)["labels"]["kfp-run-id"]
