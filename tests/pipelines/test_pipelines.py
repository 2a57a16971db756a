"""Compiled pipelines: every pipeline compiles, loads back, and carries the GPU settings on the right tasks only."""

import os
import subprocess
import sys

import pytest
import yaml
from kfp import components

from automl_video.cli import main
from automl_video_pipelines import PIPELINE_NAMES
from automl_video_pipelines.settings import ClusterSettings

GPU_EXECUTORS = {"exec-train-model", "exec-batch-predict-shard"}
CPU_IMAGE = "registry.example/automl-video-cpu:test"
GPU_IMAGE = "registry.example/automl-video-gpu:test"
NODE_LABEL = ("pool.example.com/accelerator", "a100")
TAINT = "example.com/gpu"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    """Every pipeline compiled through the CLI with non-default cluster settings, loaded back from YAML."""
    output = tmp_path_factory.mktemp("compiled")
    status = main(
        [
            "pipeline",
            "compile",
            "--output",
            str(output),
            "--image",
            CPU_IMAGE,
            "--gpu-image",
            GPU_IMAGE,
            "--gpu-node-label",
            "=".join(NODE_LABEL),
            "--gpu-taint",
            TAINT,
            "--gpus",
            "2",
            "--retries",
            "4",
        ]
    )
    assert status == 0
    loaded = {}
    for name in PIPELINE_NAMES:
        with open(os.path.join(output, f"{name}.yaml")) as f:
            pipeline_spec, platform_spec = yaml.safe_load_all(f)
        loaded[name] = (pipeline_spec, platform_spec)
    return loaded


def executors(pipeline_spec: dict) -> dict[str, dict]:
    return pipeline_spec["deploymentSpec"]["executors"]


def tasks_by_executor(pipeline_spec: dict) -> dict[str, list[dict]]:
    """Every container task of every DAG (nested pipelines included), grouped by executor label."""
    grouped: dict[str, list[dict]] = {}
    dags = [pipeline_spec["root"]] + list(pipeline_spec["components"].values())
    for component in dags:
        for task in component.get("dag", {}).get("tasks", {}).values():
            executor = pipeline_spec["components"][task["componentRef"]["name"]].get("executorLabel")
            if executor:
                grouped.setdefault(executor, []).append(task)
    return grouped


def test_every_pipeline_compiles_and_loads_back_as_a_component(compiled, tmp_path):
    for name, (pipeline_spec, _) in compiled.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(pipeline_spec))
        component = components.load_component_from_file(str(path))
        assert component.name == pipeline_spec["pipelineInfo"]["name"] == f"automl-video-{name}"


def test_gpu_resources_only_on_train_and_predict(compiled):
    seen = set()
    for pipeline_spec, _ in compiled.values():
        for label, executor in executors(pipeline_spec).items():
            if "container" not in executor:
                continue  # the importer of the batch-prediction pipeline
            resources = executor["container"].get("resources", {})
            if label in GPU_EXECUTORS:
                seen.add(label)
                assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
                assert resources["accelerator"]["resourceCount"] == "2"
                assert resources["resourceCpuRequest"] == ClusterSettings.gpu_cpu_request
                assert executor["container"]["image"] == "{{$.inputs.parameters['pipelinechannel--gpu_image']}}"
            else:
                assert "accelerator" not in resources, label
                assert resources["resourceCpuRequest"] == ClusterSettings.cpu_request
                assert executor["container"]["image"] == "{{$.inputs.parameters['pipelinechannel--image']}}"
    assert seen == GPU_EXECUTORS


def test_gpu_node_selector_and_toleration_only_on_train_and_predict(compiled):
    for name, (pipeline_spec, platform_spec) in compiled.items():
        kubernetes = platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        container_executors = {label for label, e in executors(pipeline_spec).items() if "container" in e}
        assert set(kubernetes) == container_executors, name
        for label, config in kubernetes.items():
            if label in GPU_EXECUTORS:
                assert config["nodeSelector"]["labels"] == dict([NODE_LABEL])
                assert config["tolerations"] == [{"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}]
            else:
                assert "nodeSelector" not in config and "tolerations" not in config, (name, label)
            # Every task reads the storage settings of k8s/, and runs without them.
            assert config["configMapAsEnv"][0]["configMapName"] == "automl-video-config"
            assert config["configMapAsEnv"][0]["optional"] is True
            assert config["secretAsVolume"][0]["optional"] is True


def test_images_are_run_parameters_defaulting_to_the_compiled_ones(compiled):
    for pipeline_spec, _ in compiled.values():
        parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
        assert parameters["image"]["defaultValue"] == CPU_IMAGE
        assert parameters["gpu_image"]["defaultValue"] == GPU_IMAGE


def test_every_task_retries_and_installs_nothing(compiled):
    for pipeline_spec, _ in compiled.values():
        for label, tasks in tasks_by_executor(pipeline_spec).items():
            executor = executors(pipeline_spec)[label]
            if "container" not in executor:
                continue
            command = " ".join(executor["container"]["command"])
            assert "pip install" not in command and "kfp==" not in command, label
            for task in tasks:
                assert task["retryPolicy"]["maxRetryCount"] == 4, label


def test_training_pipeline_parameters_mirror_the_vertex_job(compiled):
    pipeline_spec, _ = compiled["training"]
    parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    for name in (
        "model_type",
        "training_fraction_split",
        "test_fraction_split",
        "model_display_name",
        "model_labels",
        "budget_minutes",
        "serving_root",
        "prediction_inputs",
        "predictions_prefix",
        "prediction_shards",
        "prediction_inference",
    ):
        assert name in parameters, name
    assert parameters["model_type"]["defaultValue"] == "CLOUD"
    assert parameters["prediction_inference"]["defaultValue"] == "auto"
    assert "defaultValue" not in parameters["sources"]  # required


def dag_of(pipeline_spec: dict, task: dict) -> dict:
    return pipeline_spec["components"][task["componentRef"]["name"]]["dag"]["tasks"]


def test_training_dag_branches(compiled):
    """Everything runs inside an exit handler whose exit task records a failed run. Export only when
    the train task reports an exportable model (``ModelType.exportable``, decided at run time: the DAG
    names no model type), prediction only with a prefix and after the run is recorded; the gate runs
    always (without a serving root it promotes nothing) so the record step can follow it."""
    pipeline_spec, _ = compiled["training"]
    root_tasks = pipeline_spec["root"]["dag"]["tasks"]
    assert set(root_tasks) == {"exit-handler-1", "record-run-end"}
    assert root_tasks["record-run-end"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert root_tasks["record-run-end"]["dependentTasks"] == ["exit-handler-1"]
    tasks = dag_of(pipeline_spec, root_tasks["exit-handler-1"])
    assert set(tasks) == {
        "import-dataset",
        "split-dataset",
        "train-model",
        "evaluate-model",
        "promote-model",
        "record-training-run",
        "condition-2",
        "condition-3",
    }
    conditions = {
        next(iter(dag_of(pipeline_spec, task))): task["triggerPolicy"]["condition"]
        for name, task in tasks.items()
        if name.startswith("condition-")
    }
    assert conditions["export-model"] == "inputs.parameter_values['pipelinechannel--train-model-Output'] == true"
    export_branch = next(task for task in tasks.values() if task["taskInfo"]["name"] == "exportable")
    assert export_branch["inputs"]["parameters"]["pipelinechannel--train-model-Output"] == {
        "taskOutputParameter": {"outputParameterKey": "Output", "producerTask": "train-model"}
    }
    assert "train-model" in export_branch["dependentTasks"]
    train_outputs = pipeline_spec["components"]["comp-train-model"]["outputDefinitions"]["parameters"]
    assert train_outputs == {"Output": {"parameterType": "BOOLEAN"}}
    assert not any("CLOUD" in condition for condition in conditions.values())
    assert conditions["automl-video-predict-shards"] == (
        "inputs.parameter_values['pipelinechannel--predictions_prefix'] != ''"
    )
    predict_branch = next(task for task in tasks.values() if task["taskInfo"]["name"] == "predict")
    assert "record-training-run" in predict_branch["dependentTasks"]
    assert tasks["evaluate-model"]["dependentTasks"] == ["split-dataset", "train-model"]
    assert set(tasks["promote-model"]["dependentTasks"]) == {"evaluate-model", "train-model"}
    assert set(tasks["record-training-run"]["dependentTasks"]) == {
        "evaluate-model",
        "promote-model",
        "split-dataset",
        "train-model",
    }


def container_tasks(pipeline_spec: dict) -> dict[str, dict]:
    """Every task of every DAG by its path (``exit-handler-1/condition-3/…/merge-predictions``)."""
    found = {}

    def walk(dag: dict, prefix: str) -> None:
        for name, task in dag.get("tasks", {}).items():
            found[prefix + name] = task
            component = pipeline_spec["components"][task["componentRef"]["name"]]
            if "dag" in component:
                walk(component["dag"], f"{prefix}{name}/")

    walk(pipeline_spec["root"]["dag"], "")
    return found


# Tasks whose outputs depend on their inputs alone: KFP may reuse them. Every other task reads or
# writes outside state (sources matched at run time, the serving pointer, predictions, the registry).
PURE_TASKS = {"split-dataset", "train-model", "evaluate-model", "export-model", "plan-prediction-shards"}
SIDE_EFFECT_TASKS = {
    "import-dataset",
    "promote-model",
    "record-training-run",
    "record-run-end",
    "batch-predict-shard",
    "merge-predictions",
    "record-batch-prediction",
    "importer",
    "automl-video-predict-shards",
}


@pytest.mark.parametrize("caching", [True, False], ids=["cache", "no-cache"])
def test_no_task_reading_outside_state_is_cached(caching, tmp_path):
    """Read task by task from the compiled YAML: with caching on (the default, as `--cache` asks) only
    the pure tasks cache; with `--no-cache` none does."""
    flag = "--cache" if caching else "--no-cache"
    assert main(["pipeline", "compile", "--output", str(tmp_path), flag]) == 0
    seen = set()
    for name in PIPELINE_NAMES:
        with open(tmp_path / f"{name}.yaml") as f:
            pipeline_spec, _ = yaml.safe_load_all(f)
        for path, task in container_tasks(pipeline_spec).items():
            task_name = path.rsplit("/", 1)[-1]
            if task_name.startswith(("exit-handler-", "condition-", "for-loop-")):
                continue  # groups: no container of their own
            cached = task.get("cachingOptions", {}).get("enableCache", False)
            assert task_name in PURE_TASKS | SIDE_EFFECT_TASKS, (
                f"{name}: {path} is neither pure nor known to read outside state"
            )
            assert cached == (caching and task_name in PURE_TASKS), (name, path, cached)
            seen.add(task_name)
    assert seen == PURE_TASKS | SIDE_EFFECT_TASKS


def test_caching_defaults_on_and_follows_the_environment(monkeypatch):
    assert ClusterSettings.from_env().enable_caching is True
    monkeypatch.setenv("AUTOML_VIDEO_ENABLE_CACHING", "false")
    assert ClusterSettings.from_env().enable_caching is False
    assert ClusterSettings.from_env(enable_caching=True).enable_caching is True
    monkeypatch.setenv("AUTOML_VIDEO_ENABLE_CACHING", "sometimes")
    with pytest.raises(ValueError, match="AUTOML_VIDEO_ENABLE_CACHING='sometimes' is not a valid bool"):
        ClusterSettings.from_env()


def test_the_batch_pipeline_imports_its_model_afresh_every_run(compiled):
    pipeline_spec, _ = compiled["batch-prediction"]
    importer = executors(pipeline_spec)["exec-importer"]["importer"]
    assert importer["reimport"] is True


def test_record_steps_get_the_run_id_and_the_registry(compiled):
    """Every record step gets KFP's run ID and name and the run's registry_url; the registry secret
    of k8s/ is read into every task (optional)."""
    for pipeline_spec, platform_spec in compiled.values():
        parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
        assert parameters["registry_url"]["defaultValue"] == ""
        for path, task in container_tasks(pipeline_spec).items():
            if path.rsplit("/", 1)[-1].startswith("record-"):
                inputs = task["inputs"]["parameters"]
                assert inputs["run_id"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}", path
                assert inputs["run_name"]["runtimeValue"]["constant"] == "{{$.pipeline_job_name}}", path
                assert "registry_url" in inputs, path
        for label, config in platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"].items():
            secret_env = config["secretAsEnv"][0]
            assert secret_env["secretName"] == "automl-video-registry" and secret_env["optional"] is True, label
            assert secret_env["keyToEnv"] == [
                {"secretKey": "AUTOML_VIDEO_REGISTRY_URL", "envVar": "AUTOML_VIDEO_REGISTRY_URL"}
            ]


def test_batch_prediction_fans_out_and_collects(compiled):
    pipeline_spec, _ = compiled["batch-prediction"]
    shards_dag = pipeline_spec["components"]["comp-automl-video-predict-shards"]["dag"]
    (loop_name,) = [name for name in shards_dag["tasks"] if name.startswith("for-loop-")]
    loop = shards_dag["tasks"][loop_name]
    assert loop["parameterIterator"]["items"]["inputParameter"] == "pipelinechannel--plan-prediction-shards-Output"
    merge_input = shards_dag["tasks"]["merge-predictions"]["inputs"]["artifacts"]["shards"]
    assert merge_input["taskOutputArtifact"] == {
        "outputArtifactKey": "pipelinechannel--batch-predict-shard-shard",
        "producerTask": loop_name,
    }
    assert "importer" in executors(pipeline_spec)["exec-importer"]
    assert pipeline_spec["root"]["inputDefinitions"]["parameters"]["inference"]["defaultValue"] == "auto"
    loop_tasks = pipeline_spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    shard_inputs = loop_tasks["batch-predict-shard"]["inputs"]["parameters"]
    assert shard_inputs["inference"]["componentInputParameter"] == "pipelinechannel--inference"


def test_typed_artifacts_of_the_evaluation(compiled):
    pipeline_spec, _ = compiled["training"]
    outputs = pipeline_spec["components"]["comp-evaluate-model"]["outputDefinitions"]
    kinds = {name: spec["artifactType"]["schemaTitle"] for name, spec in outputs["artifacts"].items()}
    assert kinds == {
        "evaluation": "system.Artifact",
        "metrics": "system.Metrics",
        "classification_metrics": "system.ClassificationMetrics",
        "report": "system.HTML",
    }
    assert outputs["parameters"]["Output"]["parameterType"] == "NUMBER_DOUBLE"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTOML_VIDEO_GPU_NODE_LABEL", "")
    monkeypatch.setenv("AUTOML_VIDEO_RETRIES", "0")
    monkeypatch.setenv("AUTOML_VIDEO_GPU_IMAGE", GPU_IMAGE)
    settings = ClusterSettings.from_env(gpus=3)
    assert settings.gpu_node_selector is None and settings.retries == 0
    assert settings.gpu_image == GPU_IMAGE and settings.gpus == 3
    monkeypatch.setenv("AUTOML_VIDEO_GPUS", "many")
    with pytest.raises(ValueError, match="AUTOML_VIDEO_GPUS='many' is not a valid int"):
        ClusterSettings.from_env()


def test_no_node_selector_and_no_retries_when_configured_off(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOML_VIDEO_GPU_NODE_LABEL", "")
    monkeypatch.setenv("AUTOML_VIDEO_RETRIES", "0")
    assert main(["pipeline", "compile", "--output", str(tmp_path)]) == 0
    with open(tmp_path / "training.yaml") as f:
        pipeline_spec, platform_spec = yaml.safe_load_all(f)
    train = platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train-model"]
    assert "nodeSelector" not in train and train["tolerations"]
    assert all("retryPolicy" not in t for tasks in tasks_by_executor(pipeline_spec).values() for t in tasks)


def test_bad_gpu_node_label_is_refused(capsys):
    assert main(["pipeline", "compile", "--output", "unused", "--gpu-node-label", "no-equals-sign"]) == 2
    assert "must be key=value" in capsys.readouterr().err


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_SH = os.path.join(REPO, "build.sh")


def run_build(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["bash", BUILD_SH, *args], capture_output=True, text=True, env=env)


def test_build_script_compiles_pipelines_for_the_images_it_names(tmp_path):
    built = run_build(
        "--pipelines-only", "--registry", "registry.example/team", "--tag", "1.2.3", "--output", str(tmp_path)
    )
    assert built.returncode == 0, built.stderr
    with open(tmp_path / "training.yaml") as f:
        pipeline_spec, _ = yaml.safe_load_all(f)
    parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["image"]["defaultValue"] == "registry.example/team/automl-video-cpu:1.2.3"
    assert parameters["gpu_image"]["defaultValue"] == "registry.example/team/automl-video-gpu:1.2.3"


def test_build_script_without_a_container_engine_says_so(tmp_path):
    built = run_build("--engine", "no-such-engine", "--output", str(tmp_path))
    assert built.returncode == 3
    assert "container engine 'no-such-engine' is not installed or not running" in built.stderr
    assert (tmp_path / "batch-prediction.yaml").exists()  # pipelines are compiled first, engine or not
    assert run_build("--no-such-option").returncode == 2
    wrong = run_build("--images", "tpu", "--output", str(tmp_path))
    assert wrong.returncode == 2 and "--images takes cpu, gpu or cpu,gpu, not 'tpu'" in wrong.stderr
    usage = run_build("--help").stdout
    for option in ("--base-image IMAGE", "--build-flag FLAG", "--images cpu,gpu", "docker|podman|buildah"):
        assert option in usage, option
