"""Datasets and model folders written by automl-video 0.1 (before the tasks/ layout) still load.

The fixtures under ``fixtures/v0.1`` were written by that release: a classification ``dataset.json``
(format 1, ``videos[].segments``) and a trained MOBILE_VERSATILE_1 model folder whose ``model.json``
and checkpoint use the classification-only key names (``val_au_prc``, ``best_val_au_prc``), with the
scores that release gave for fixed clips.
"""

import json
import pathlib
import shutil

import numpy as np

from automl_video.data import dataset as dataset_lib
from automl_video.data import describe, splits
from automl_video.tasks.classification.annotations import Segment
from automl_video.training.checkpoints import Checkpoints

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "v0.1"


def test_a_format_1_dataset_loads_splits_and_is_written_back_as_format_2(tmp_path):
    shutil.copy(FIXTURES / "dataset.json", tmp_path / "dataset.json")
    old = json.loads((FIXTURES / "dataset.json").read_text())

    dataset = dataset_lib.load(str(tmp_path))

    assert [v.video_id for v in dataset.videos] == [v["video_id"] for v in old["videos"]]
    first = dataset.videos[0]
    assert all(isinstance(a, Segment) for a in first.annotations)
    assert [(a.label, a.start, a.end) for a in first.annotations] == [
        (s["label"], s["start"], s["end"]) for s in old["videos"][0]["segments"]
    ]
    assert {v.split for v in dataset.videos} == {v["split"] for v in old["videos"]}
    summary = describe.describe(str(tmp_path))
    assert summary.annotation_count == sum(len(v["segments"]) for v in old["videos"])
    splits.split_dataset(str(tmp_path))  # keeps every placement, rewrites the file
    rewritten = json.loads((tmp_path / "dataset.json").read_text())
    assert rewritten["format_version"] == dataset_lib.FORMAT_VERSION == 2
    assert [v["split"] for v in rewritten["videos"]] == [v["split"] for v in old["videos"]]
    assert rewritten["videos"][0]["annotations"] == old["videos"][0]["segments"]


def test_a_0_1_model_folder_loads_and_scores_as_it_did():
    from automl_video.modeling.loading import load_model

    model = load_model(str(FIXTURES / "model"))

    training = model.metadata.training
    assert (
        training.best_validation_score
        == json.loads((FIXTURES / "model" / "model.json").read_text())["training"]["best_val_au_prc"]
    )
    assert training.history[0].validation_score == training.best_validation_score
    expected = json.loads((FIXTURES / "model" / "expected_scores.json").read_text())
    clips = np.random.default_rng(expected["seed"]).integers(0, 256, size=expected["shape"], dtype=np.uint8)
    np.testing.assert_allclose(model.predict_clips(clips), expected["scores"], rtol=1e-5, atol=1e-6)


def test_a_0_1_checkpoint_state_reads_with_the_new_names():
    state = Checkpoints(str(FIXTURES / "model")).load_state()
    old = json.loads((FIXTURES / "model" / "checkpoints" / "state.json").read_text())
    assert state.best_validation_score == old["best_val_au_prc"]
    assert state.best_validation_loss == old["best_val_loss"]
    assert state.fingerprint == old["fingerprint"]


def test_a_0_1_training_is_recognised_as_the_same_training(tmp_path):
    """The checkpoint fingerprint of 0.1 equals today's for the same dataset and settings, so an
    interrupted 0.1 training resumes instead of being refused."""
    from automl_video.modeling.metadata import InputSpec, ModelType
    from automl_video.training.engine import _fingerprint

    dataset = dataset_lib.Dataset.from_json(json.loads((FIXTURES / "dataset.json").read_text()))
    state = json.loads((FIXTURES / "model" / "checkpoints" / "state.json").read_text())
    spec = InputSpec(num_frames=4, height=32, width=32)
    assert _fingerprint(dataset, ModelType.MOBILE_VERSATILE_1, spec, 0, None, 16) == state["fingerprint"]
