"""The video classification networks: the (2+1)D clip features under one sigmoid per label."""

import keras

from automl_video.modeling.loading import OUTPUT_LAYER
from automl_video.modeling.metadata import InputSpec, ModelType
from automl_video.modeling.video_net import NetworkConfig, clip_features
from automl_video.tasks.base import Networks

NETWORKS: dict[ModelType, NetworkConfig] = {
    ModelType.MOBILE_VERSATILE_1: NetworkConfig(stem_channels=16, stages=((24, 1, 2), (48, 1, 2), (96, 1, 2))),
    ModelType.CLOUD: NetworkConfig(
        stem_channels=24, stages=((48, 1, 2), (96, 2, 2), (192, 2, 2), (256, 1, 2)), dropout=0.2
    ),
}

# Inputs reach the synthetic motion benchmark's AU-PRC goal within 5 CPU minutes (MOBILE_VERSATILE_1);
# CLOUD trades speed for more frames, resolution and three phase-shifted clips per segment.
DEFAULT_INPUT_SPECS: dict[ModelType, InputSpec] = {
    ModelType.MOBILE_VERSATILE_1: InputSpec(num_frames=8, height=64, width=64),
    ModelType.CLOUD: InputSpec(num_frames=16, height=128, width=128, clips_per_segment=3),
}


def network_config(model_type: ModelType) -> NetworkConfig:
    """The network of a model type; ValueError for a type classification does not offer."""
    if model_type not in NETWORKS:
        allowed = ", ".join(t.value for t in NETWORKS)
        where = "object_tracking only" if model_type.edge_device else "another prediction type"
        raise ValueError(
            f"model_type {model_type.value} is available for {where}; classification models are one of {allowed}"
        )
    return NETWORKS[model_type]


class ClassificationNetworks(Networks):
    def default_input_spec(self, model_type: ModelType) -> InputSpec:
        network_config(model_type)
        return InputSpec(**vars(DEFAULT_INPUT_SPECS[model_type]))

    def build(self, model_type: ModelType, num_labels: int, spec: InputSpec) -> keras.Model:
        """A Keras model from uint8 ``[B, T, H, W, 3]`` to float32 ``[B, num_labels]`` scores in [0, 1]."""
        config = network_config(model_type)
        if num_labels < 1:
            raise ValueError("a classification model needs at least one label")
        frames = keras.Input(shape=spec.shape, dtype="uint8", name="frames")
        features = clip_features(frames, config, spec)
        scores = keras.layers.Dense(num_labels, activation="sigmoid", dtype="float32", name=OUTPUT_LAYER)(features)
        return keras.Model(frames, scores, name=model_type.value.lower())
