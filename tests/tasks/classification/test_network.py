"""The networks: shapes, TFLite-friendly ops only, refusal of object-tracking-only model types, loading."""

import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from automl_video import storage, video
from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.loading import (
    WEIGHTS_FILE,
    TrainedModel,
    copy_matching_weights,
    load_init_weights,
    load_model,
)
from automl_video.modeling.metadata import InputSpec, ModelMetadata, ModelType, parse_model_type, save_metadata

from automl_video.tasks.classification.network import ClassificationNetworks

TINY = InputSpec(num_frames=4, height=32, width=32)
NETWORKS = ClassificationNetworks()
build_network = NETWORKS.build
default_input_spec = NETWORKS.default_input_spec


def assert_same_layer_weights(a, b, layer: str) -> None:
    for mine, theirs in zip(a.get_layer(layer).get_weights(), b.get_layer(layer).get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def _layer_classes(network) -> set[str]:
    return {type(layer).__name__ for layer in network.layers}


@pytest.mark.parametrize("model_type", [ModelType.MOBILE_VERSATILE_1, ModelType.CLOUD])
def test_network_maps_uint8_clips_to_one_score_per_label(model_type):
    network = build_network(model_type, num_labels=3, spec=TINY)
    clips = np.random.default_rng(0).integers(0, 256, size=(2, *TINY.shape), dtype=np.uint8)

    scores = np.asarray(network.predict_on_batch(clips))

    assert network.input.dtype == "uint8"
    assert tuple(network.input.shape) == (None, *TINY.shape)
    assert scores.shape == (2, 3) and scores.dtype == np.float32
    assert np.all((scores > 0) & (scores < 1))  # sigmoid: independent labels (multi-label)


@pytest.mark.parametrize("model_type", [ModelType.MOBILE_VERSATILE_1, ModelType.CLOUD])
def test_network_is_2plus1d_from_conv2d_without_conv3d_or_time_distributed(model_type):
    network = build_network(model_type, num_labels=2, spec=TINY)
    classes = _layer_classes(network)

    assert "Conv2D" in classes
    assert not classes & {"Conv3D", "TimeDistributed", "ConvLSTM2D", "LSTM", "GRU"}
    temporal = [
        layer for layer in network.layers
        if type(layer).__name__ == "Conv2D" and layer.kernel_size[1] == 1 and layer.kernel_size[0] > 1
    ]
    assert temporal, "expected temporal (k, 1) convolutions over the frames"


def test_cloud_is_bigger_with_more_frames_and_multi_clip_inference():
    mobile, cloud = default_input_spec(ModelType.MOBILE_VERSATILE_1), default_input_spec(ModelType.CLOUD)
    assert cloud.num_frames * cloud.height * cloud.width > mobile.num_frames * mobile.height * mobile.width
    assert cloud.clips_per_segment > 1 and mobile.clips_per_segment == 1
    assert (
        build_network(ModelType.CLOUD, 2, TINY).count_params()
        > 2 * build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY).count_params()
    )


@pytest.mark.parametrize("name", [t.value for t in ModelType if t.value.startswith(("MOBILE_CORAL", "MOBILE_JETSON"))])
def test_object_tracking_only_model_types_are_refused_for_classification(name):
    with pytest.raises(ValueError, match="object_tracking"):
        parse_model_type(name, "classification")
    with pytest.raises(ValueError, match="object_tracking only"):
        build_network(ModelType(name), 2, TINY)


def test_mobile_network_converts_to_an_int8_tflite_model_of_builtin_ops():
    network = build_network(ModelType.MOBILE_VERSATILE_1, 2, TINY)
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(network)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.integers(0, 256, (1, *TINY.shape), dtype=np.uint8)] for _ in range(4)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8

    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    ops = {op["op_name"] for op in interpreter._get_ops_details()}

    assert "CONV_2D" in ops
    assert not {op for op in ops if "3D" in op or op.startswith("FLEX") or op == "CUSTOM"}


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
