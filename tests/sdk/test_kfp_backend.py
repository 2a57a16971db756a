"""The SDK's kfp backend against the fake KFP API server (tests/kfp_fake.py), whose "cluster" runs the
real serving gate the way a run with cache hits would: the model and evaluation it gates are the
artifacts an earlier run left under its own run folder, not under the new run's ID."""

import pytest
import yaml

import automl_video as av
from automl_video import storage
from automl_video.data.importer import import_data
from automl_video.data.splits import split_dataset
from automl_video.evaluation import evaluate
from automl_video.modeling.metadata import InputSpec
from automl_video.serving import promote_if_better
from automl_video.training.engine import train
from tests.kfp_fake import kfp_server  # noqa: F401  (a fixture used by name)

pytestmark = pytest.mark.slow  # trains a (tiny) model for the earlier run


@pytest.fixture(scope="module")
def earlier_run(synth_small, tmp_path_factory) -> dict:
    """The artifacts an earlier run of the training pipeline left in its run folder of the pipeline root."""
    run_folder = tmp_path_factory.mktemp("pipeline_root") / "automl-video-training-earlier-run"
    dataset = str(run_folder / "split-dataset" / "split")
    import_data([synth_small.import_csv], dataset)
    split_dataset(dataset)
    model = str(run_folder / "train-model" / "model")
    train(dataset, model, max_epochs=1, input_spec=InputSpec(num_frames=4, height=32, width=32), batch_size=8)
    evaluation = evaluate(model, dataset, str(run_folder / "evaluate-model" / "evaluation"))
    return {"model": model, "evaluations_uri": evaluation.evaluations_uri, "au_prc": evaluation.score}


@pytest.fixture
def on_kfp(kfp_server, earlier_run, synth_small, tmp_path):  # noqa: F811
    """The SDK on the kfp backend; each submitted run 'executes' as a run whose tasks up to the gate
    were cache hits: the (never cached) gate promotes the earlier run's model and names its evaluation."""
    av.init(
        project="kfp-tests",
        location="local",
        staging_bucket=str(tmp_path / "staging"),
        registry_url=f"sqlite:///{tmp_path / 'registry.sqlite'}",
        backend="kfp",
        kfp_host=kfp_server.host,
    )
    executed = []

    def execute(body: dict) -> None:
        if body["display_name"] in executed:
            return
        executed.append(body["display_name"])
        serving_root = body["runtime_config"]["parameters"]["serving_root"]
        run = earlier_run
        promote_if_better(
            run["model"],
            run["au_prc"],
            serving_root,
            "m",
            source_uri=run["model"],
            evaluations_uri=run["evaluations_uri"],
        )

    kfp_server.on_run = execute
    yield av.VideoDataset.create(display_name="moves", gcs_source=synth_small.import_csv)
    av.init(backend="local")


def submitted_spec(kfp_server) -> tuple[dict, dict]:  # noqa: F811
    (run,) = kfp_server.of("POST", "/runs")
    return run.body["runtime_config"]["parameters"], run.body["pipeline_spec"]["pipeline_spec"]


def cache_of(pipeline_spec: dict, task: str) -> bool:
    tasks = pipeline_spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    return tasks[task].get("cachingOptions", {}).get("enableCache", False)


def test_the_evaluations_of_a_run_whose_training_was_a_cache_hit_are_found(on_kfp, kfp_server, earlier_run):  # noqa: F811
    job = av.AutoMLVideoTrainingJob("cached", model_type="MOBILE_VERSATILE_1")
    model = job.run(dataset=on_kfp, model_display_name="from-cache")
    evaluations = model.list_model_evaluations()
    overall = model.get_model_evaluation()
    expected = storage.read_json(earlier_run["evaluations_uri"])
    assert len(evaluations) == len(expected) and overall.annotation_spec_id is None
    assert overall.metrics["auPrc"] == pytest.approx(earlier_run["au_prc"])
    assert job.gca_resource.run_info["kfp_run_id"] == "run-1"
    parameters, pipeline_spec = submitted_spec(kfp_server)
    # The job records itself in its own registry: the pipeline's record steps are off, caching as compiled.
    assert parameters["registry_url"] == "off"
    assert cache_of(pipeline_spec, "train-model") and not cache_of(pipeline_spec, "import-dataset")


def test_enable_caching_false_compiles_a_run_that_reuses_nothing(on_kfp, kfp_server):  # noqa: F811
    job = av.AutoMLVideoTrainingJob("uncached", model_type="MOBILE_VERSATILE_1")
    job.run(dataset=on_kfp, enable_caching=False)
    _, pipeline_spec = submitted_spec(kfp_server)
    for task in ("split-dataset", "train-model", "evaluate-model", "import-dataset"):
        assert not cache_of(pipeline_spec, task), task
    assert yaml.safe_dump(pipeline_spec).count("enableCache: true") == 0
