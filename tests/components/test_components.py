"""The KFP components (one per stage): our image, nothing installed, typed artifacts, real runs through kfp.local."""

import inspect
import os
import subprocess
import sys

import pytest
from kfp import local

import automl_video_components as components
from automl_video import storage
from automl_video.images import CPU_IMAGE, GPU_IMAGE

GPU_COMPONENTS = {"train_model", "batch_predict_shard"}
# kfp.local warns that our image is not a "python" image; the subprocess runner does not use images.
pytestmark = pytest.mark.filterwarnings("ignore:You may be attemping to run a task:RuntimeWarning")


def all_components():
    return [getattr(components, name) for name in components.__all__]


@pytest.mark.parametrize("component", all_components(), ids=lambda c: c.name)
def test_component_runs_our_image_and_installs_nothing(component):
    container = component.component_spec.implementation.container
    expected = GPU_IMAGE if component.python_func.__name__ in GPU_COMPONENTS else CPU_IMAGE
    assert container.image == expected
    command = " ".join(container.command)
    assert "pip install" not in command and "kfp==" not in command
    source = inspect.getsource(component.python_func)
    assert "from __future__" not in source
    # The library is imported inside the body: it must exist in the image, not where the DAG is compiled.
    assert "from automl_video" in source.split('"""')[-1]


def test_stage_outputs_are_typed_artifacts():
    def outputs(component):
        specs = component.component_spec.outputs.items()
        return {name: spec.type.split("@")[0] for name, spec in specs if spec.type.startswith("system.")}

    assert outputs(components.import_dataset) == {"dataset": "system.Dataset"}
    assert outputs(components.split_dataset) == {"split": "system.Dataset"}
    assert outputs(components.train_model) == {"model": "system.Model"}
    assert components.train_model.component_spec.outputs["Output"].type == "Boolean"  # exportable: the export condition
    assert outputs(components.export_model) == {"exported_model": "system.Model"}
    assert outputs(components.evaluate_model) == {
        "evaluation": "system.Artifact",
        "metrics": "system.Metrics",
        "classification_metrics": "system.ClassificationMetrics",
        "report": "system.HTML",
    }


def test_importing_the_components_computes_nothing_and_knows_no_pipeline():
    """A bad cluster setting once broke ``import components`` (each declaration read the environment)."""
    code = (
        "import sys, automl_video_components as c; "
        "print(c.train_model.component_spec.implementation.container.image); "
        "print(sorted(m for m in sys.modules if m.startswith('automl_video_pipelines')))"
    )
    env = {**os.environ, "AUTOML_VIDEO_GPUS": "many", "AUTOML_VIDEO_GPU_IMAGE": "elsewhere/gpu:1"}
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split("\n")[:2] == [GPU_IMAGE, "[]"]


@pytest.fixture
def local_runner(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    return tmp_path / "root"


def test_import_component_imports_the_csvs_under_a_prefix(synth_small, local_runner, capsys):
    """Runs the real component through kfp.local: the prefix is listed when the task runs."""
    data_dir = os.path.dirname(synth_small.import_csv)
    task = components.import_dataset(
        sources=[data_dir + "/"], display_name="motions", exhaustive=False, max_error_fraction=0.0
    )
    dataset = task.outputs["dataset"]
    document = storage.read_json(os.path.join(dataset.path, "dataset.json"))
    assert document["display_name"] == "motions"
    assert len(document["videos"]) == len(synth_small.videos)
    assert sorted(s["display_name"] for s in document["annotation_specs"]) == sorted(synth_small.class_names)
    assert dataset.metadata["failed_rows"] == 0 and dataset.metadata["imported_rows"] > 0
    assert dataset.metadata["finished_at"] >= dataset.metadata["started_at"]


def test_import_component_failure_names_the_missing_prefix(tmp_path, local_runner, capsys):
    with pytest.raises(RuntimeError, match="import-dataset"):
        components.import_dataset(
            sources=[str(tmp_path / "nothing-here") + "/"], display_name="", exhaustive=False, max_error_fraction=0.1
        )
    assert "nothing-here/: no import CSV (rows ML_USE,CSV_URI) under this prefix" in capsys.readouterr().out
