"""Loading trained models (any URL, only when published), scoring clips and segments, transfer learning."""

import os
import tempfile

import numpy as np
import pytest

from automl_video import storage, video
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.loading import (
    WEIGHTS_FILE,
    TrainedModel,
    copy_matching_weights,
    load_init_weights,
    load_model,
)
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, save_metadata
from automl_video.tasks.classification.network import ClassificationNetworks

TINY = InputSpec(num_frames=4, height=32, width=32)
NETWORKS = ClassificationNetworks()
build_network = NETWORKS.build
default_input_spec = NETWORKS.default_input_spec


def assert_same_layer_weights(a, b, layer: str) -> None:
    for mine, theirs in zip(a.get_layer(layer).get_weights(), b.get_layer(layer).get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def _save_model(folder: str, network, spec: InputSpec, model_type: ModelType, labels: list[str]) -> None:
    """A published model folder as training writes it (model.json, weights, _COMPLETE)."""
    with tempfile.TemporaryDirectory() as tmp:
        network.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(labels)]
        save_metadata(ModelMetadata(model_type.value, specs, spec), tmp)
        storage.publish_dir(tmp, folder)


def test_load_model_from_an_object_store_gives_the_same_scores(gcs_bucket):
    network = build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY)
    clips = np.random.default_rng(1).integers(0, 256, size=(3, *TINY.shape), dtype=np.uint8)
    folder = f"{gcs_bucket}/models/m1"
    _save_model(folder, network, TINY, ModelType.MOBILE_VERSATILE_1, ["a", "b"])

    loaded = load_model(folder)

    assert loaded.metadata.label_names == ["a", "b"]
    np.testing.assert_allclose(loaded.predict_clips(clips), network.predict_on_batch(clips), rtol=1e-5, atol=1e-6)


def test_load_model_refuses_an_unfinished_folder(tmp_path):
    network = build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY)
    folder = str(tmp_path / "m")
    _save_model(folder, network, TINY, ModelType.MOBILE_VERSATILE_1, ["a", "b"])
    storage.remove(storage.join(folder, storage.COMPLETE_MARKER))

    with pytest.raises(FileNotFoundError, match="incomplete"):
        load_model(folder)
    with pytest.raises(FileNotFoundError, match="no trained model"):
        load_model(str(tmp_path / "nothing"))


def test_predict_clips_rejects_clips_of_another_shape():
    metadata = ModelMetadata("MOBILE_VERSATILE_1", [AnnotationSpec("1", "a")], TINY)
    model = TrainedModel(metadata, build_network(ModelType.MOBILE_VERSATILE_1, 1, TINY))
    with pytest.raises(ValueError, match=r"\[B, 4, 32, 32, 3\]"):
        model.predict_clips(np.zeros((1, 8, 32, 32, 3), np.uint8))


def test_score_segment_averages_phase_shifted_clips(synth_small):
    spec = InputSpec(num_frames=4, height=32, width=32, clips_per_segment=3)
    specs = [AnnotationSpec(str(i + 1), name) for i, name in enumerate(synth_small.class_names)]
    model = TrainedModel(ModelMetadata("CLOUD", specs, spec), build_network(ModelType.CLOUD, len(specs), spec))

    with video.VideoReader(synth_small.videos[0]) as reader:
        clips = model.segment_clips(reader, 0.0, 1.2)
        score = model.score_segment(reader, 0.0, 1.2)
        dense = reader.read_clip(0.0, 1.2, InputSpec(12, 32, 32))
        centre = reader.read_clip(0.0, 1.2, InputSpec(4, 32, 32))

    assert clips.shape == (3, 4, 32, 32, 3)
    np.testing.assert_array_equal(clips[1], centre)  # the middle phase is plain centre sampling
    np.testing.assert_array_equal(clips[0], dense[0::3])
    np.testing.assert_allclose(score, model.predict_clips(clips).mean(axis=0), rtol=1e-5)
    assert score.shape == (len(specs),)


def test_init_weights_copy_every_layer_but_a_differently_sized_output():
    source = build_network(ModelType.MOBILE_VERSATILE_1, 5, TINY)
    target = build_network(ModelType.MOBILE_VERSATILE_1, 2, InputSpec(8, 48, 48))

    fresh = copy_matching_weights(source, target, "src")

    assert fresh == ["scores"]
    assert_same_layer_weights(target, source, "stem_conv")


def test_init_weights_of_another_architecture_are_a_clear_error():
    source = build_network(ModelType.CLOUD, 2, TINY)
    target = build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY)

    with pytest.raises(ValueError, match=r"init weights src: layer '\w+' has shapes"):
        copy_matching_weights(source, target, "src")


def test_init_weights_load_from_a_model_folder_with_other_labels(tmp_path):
    source = build_network(ModelType.MOBILE_VERSATILE_1, 3, TINY)
    folder = str(tmp_path / "pretrained")
    _save_model(folder, source, TINY, ModelType.MOBILE_VERSATILE_1, ["a", "b", "c"])
    target = build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY)

    load_init_weights(target, folder)

    assert_same_layer_weights(target, source, "head_temporal_conv")
    with pytest.raises(FileNotFoundError, match="init weights .*nothing: not a trained automl-video model folder"):
        load_init_weights(target, str(tmp_path / "nothing"))
