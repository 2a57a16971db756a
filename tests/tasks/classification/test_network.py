"""The classification networks: shapes, TFLite-friendly ops only, refusal of object-tracking-only model types."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from automl_video.modeling.metadata import InputSpec, ModelType, parse_model_type
from automl_video.tasks.classification.network import ClassificationNetworks

TINY = InputSpec(num_frames=4, height=32, width=32)
NETWORKS = ClassificationNetworks()
build_network = NETWORKS.build
default_input_spec = NETWORKS.default_input_spec


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
        layer
        for layer in network.layers
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
