"""The KFP components (one per stage) and what they call besides their stage: sources, gate, records."""

import inspect
import json
import os
import shutil

import pytest
from kfp import local

import components
from automl_video import storage
from automl_video.errors import AutoMLVideoError
from automl_video.pipeline_runner import (
    SERVING_POINTER,
    ClusterSettings,
    artifact_metadata,
    expand_sources,
    merge_prediction_shards,
    promote_if_better,
    read_serving_pointer,
    shard_indices,
)

GPU_COMPONENTS = {"train_model", "batch_predict_shard"}
# kfp.local warns that our image is not a "python" image; the subprocess runner does not use images.
pytestmark = pytest.mark.filterwarnings("ignore:You may be attemping to run a task:RuntimeWarning")


def all_components():
    return [getattr(components, name) for name in components.__all__]


@pytest.mark.parametrize("component", all_components(), ids=lambda c: c.name)
def test_component_runs_our_image_and_installs_nothing(component):
    container = component.component_spec.implementation.container
    settings = ClusterSettings.from_env()
    expected = settings.gpu_image if component.python_func.__name__ in GPU_COMPONENTS else settings.cpu_image
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
    assert outputs(components.export_model) == {"exported_model": "system.Model"}
    assert outputs(components.evaluate_model) == {
        "evaluation": "system.Artifact",
        "metrics": "system.Metrics",
        "classification_metrics": "system.ClassificationMetrics",
        "report": "system.HTML",
    }


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


# -- sources ---------------------------------------------------------------------------------------


def test_prefix_finds_only_top_level_import_csvs(synth_small, tmp_path):
    data_dir = os.path.dirname(synth_small.import_csv)
    assert expand_sources([data_dir + "/"]) == [synth_small.import_csv]
    # A CSV dropped later under the prefix (in a sub-folder too) is found by the next expansion.
    later = tmp_path / "imports"
    shutil.copytree(data_dir, later / "batch-2", ignore=shutil.ignore_patterns("videos"))
    shutil.copy(synth_small.import_csv, later / "first.csv")
    assert expand_sources([str(later) + "/"]) == [str(later / "batch-2" / "import.csv"), str(later / "first.csv")]


def test_globs_and_plain_uris(synth_small):
    data_dir = os.path.dirname(synth_small.import_csv)
    globbed = expand_sources([data_dir + "/*.csv", synth_small.import_csv])
    assert globbed == sorted([*synth_small.csvs.values(), synth_small.import_csv])  # listed once
    assert expand_sources(["gs://bucket/one.csv"]) == ["gs://bucket/one.csv"]  # taken as given
    with pytest.raises(FileNotFoundError, match=r"nowhere/\*\.csv: no file matches this pattern"):
        expand_sources([data_dir + "/nowhere/*.csv"])


def test_prefix_on_an_object_store(synth_small, gcs_bucket):
    storage.write_text(f"{gcs_bucket}/imports/a/import.csv", storage.read_text(synth_small.import_csv))
    storage.write_text(f"{gcs_bucket}/imports/train.csv", storage.read_text(synth_small.csvs["TRAIN"]))
    assert expand_sources([f"{gcs_bucket}/imports/"]) == [f"{gcs_bucket}/imports/a/import.csv"]


# -- serving gate ----------------------------------------------------------------------------------


def make_model(folder, marker: str) -> str:
    """A model folder as the gate sees it: files to copy (the gate never opens the weights)."""
    storage.write_json(storage.join(str(folder), "model.json"), {"marker": marker})
    storage.write_bytes(storage.join(str(folder), "weights.weights.h5"), marker.encode() * 100)
    return str(folder)


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_gate_promotes_only_a_model_at_least_as_good(tmp_path, request, where):
    root = str(tmp_path / "serving") if where == "local" else request.getfixturevalue("gcs_bucket") + "/serving"
    first = promote_if_better(make_model(tmp_path / "m1", "first"), 0.70, root, "motions")
    assert first.promoted and first.previous_au_prc is None
    current = storage.join(root, "current")
    assert first.serving_model_uri == current
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "first"}
    assert storage.is_published(current) and storage.is_published(first.version_uri)

    worse = promote_if_better(make_model(tmp_path / "m2", "worse"), 0.69, root)
    assert not worse.promoted and worse.previous_au_prc == 0.70 and "below" in worse.reason
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "first"}
    assert read_serving_pointer(root)["au_prc"] == 0.70

    tie = promote_if_better(make_model(tmp_path / "m3", "tie"), 0.70, root, source_uri="gs://runs/m3")
    assert tie.promoted
    assert storage.read_json(storage.join(current, "model.json")) == {"marker": "tie"}
    pointer = read_serving_pointer(root)
    assert pointer["source_model_uri"] == "gs://runs/m3" and pointer["previous"]["au_prc"] == 0.70
    assert pointer["version_uri"] == tie.version_uri != first.version_uri
    assert storage.read_json(storage.join(first.version_uri, "model.json")) == {"marker": "first"}


def test_gate_refuses_a_broken_pointer(tmp_path):
    storage.write_text(str(tmp_path / SERVING_POINTER), "{not json")
    with pytest.raises(AutoMLVideoError, match=rf"{SERVING_POINTER}: not a valid serving pointer"):
        promote_if_better(make_model(tmp_path / "m", "x"), 0.5, str(tmp_path))


# -- records ---------------------------------------------------------------------------------------


def test_artifact_metadata_is_json_with_work_times():
    from automl_video.data.splits import SplitResult

    result = SplitResult("ds", "classification", 0, None, None, {}, videos_moved=3, left_out=0, warnings=["thin label x"])
    metadata = artifact_metadata(result, started_at=100.0)
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["videos_moved"] == 3 and metadata["warnings"] == ["thin label x"]
    assert metadata["started_at"] == 100.0 and metadata["seconds"] == pytest.approx(metadata["finished_at"] - 100.0)


def test_single_shard_record_is_the_merged_result(tmp_path):
    record = tmp_path / "shard.json"
    storage.write_json(str(record), {"complete": True, "output_dir": "gs://b/prediction-x", "succeeded_rows": 3})
    assert merge_prediction_shards([str(record)], "unused", [], "unused", {})["output_dir"] == "gs://b/prediction-x"


def test_shard_plan():
    assert shard_indices(3) == [0, 1, 2]
    with pytest.raises(ValueError, match="shard count must be at least 1"):
        shard_indices(0)
