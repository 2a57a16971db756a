"""The action recognition networks: (2+1)D clip features under a softmax over the labels and a background class.

The softmax layer (``scores``, the one transfer learning re-initialises) has ``L + 1`` units, the first
the background; the network's output drops it, so every consumer (training, prediction, an exported
SavedModel or TFLite file) reads ``L`` per-label probabilities of an action at the clip's centre, and the
background is ``1 − sum``. Softmax rather than one sigmoid per label: the labels and the background
compete for each clip, so a clip near a jump cannot also be sure of a spin.
"""

import keras

from automl_video.modeling.loading import OUTPUT_LAYER
from automl_video.modeling.metadata import InputSpec, ModelType
from automl_video.modeling.video_net import NetworkConfig, frame_features
from automl_video.tasks.action_recognition.timeline import CLIP_SECONDS, NMS_SECONDS, STRIDE_SECONDS
from automl_video.tasks.base import Networks

NETWORKS: dict[ModelType, NetworkConfig] = {
    ModelType.MOBILE_VERSATILE_1: NetworkConfig(stem_channels=16, stages=((24, 1, 2), (48, 1, 2), (96, 1, 2))),
    ModelType.CLOUD: NetworkConfig(
        stem_channels=24, stages=((48, 1, 2), (96, 2, 2), (192, 2, 2), (256, 1, 2)), dropout=0.2
    ),
}
# One clip is a second: 8 frames see a 0.5 s action in 4 of them; CLOUD doubles frames and resolution.
DEFAULT_INPUT_SPECS: dict[ModelType, InputSpec] = {
    ModelType.MOBILE_VERSATILE_1: InputSpec(num_frames=8, height=64, width=64),
    ModelType.CLOUD: InputSpec(num_frames=16, height=112, width=112),
}
ACTION_SCORES_LAYER = "action_scores"


@keras.saving.register_keras_serializable(package="automl_video")
class WithoutBackground(keras.layers.Layer):
    """``[B, L + 1]`` → ``[B, L]``: the softmax without its first (background) column."""

    def call(self, inputs):
        return inputs[:, 1:]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] - 1)


def network_config(model_type: ModelType) -> NetworkConfig:
    """The network of a model type; ValueError for a type action recognition does not offer."""
    if model_type not in NETWORKS:
        allowed = ", ".join(t.value for t in NETWORKS)
        raise ValueError(f"model_type {model_type.value} is not available for action_recognition; use one of {allowed}")
    return NETWORKS[model_type]


class ActionNetworks(Networks):
    def default_input_spec(self, model_type: ModelType) -> InputSpec:
        network_config(model_type)
        return InputSpec(**vars(DEFAULT_INPUT_SPECS[model_type]))

    def build(self, model_type: ModelType, num_labels: int, spec: InputSpec) -> keras.Model:
        """A Keras model from uint8 ``[B, T, H, W, 3]`` clips to float32 ``[B, num_labels]`` probabilities."""
        config = network_config(model_type)
        if num_labels < 1:
            raise ValueError("an action recognition model needs at least one label")
        frames = keras.Input(shape=spec.shape, dtype="uint8", name="frames")
        # Frame features kept in time order: whether an action is *centred* in the clip (not only in it)
        # is what separates the clip on a moment from its neighbours a stride away.
        features = keras.layers.Flatten(name="frames_in_order")(frame_features(frames, config, spec))
        if config.dropout:
            features = keras.layers.Dropout(config.dropout, name="dropout")(features)
        with_background = keras.layers.Dense(num_labels + 1, activation="softmax", dtype="float32", name=OUTPUT_LAYER)(
            features
        )
        scores = WithoutBackground(dtype="float32", name=ACTION_SCORES_LAYER)(with_background)
        return keras.Model(frames, scores, name=f"{model_type.value.lower()}_actions")

    def export_postprocessing(self) -> dict:
        """How an exported model's per-clip scores become moments (what batch prediction does)."""
        return {
            "kind": "action_moments",
            "clip_seconds": CLIP_SECONDS,
            "stride_seconds": STRIDE_SECONDS,
            "nms_seconds": NMS_SECONDS,
            "steps": [
                f"cut clips of {CLIP_SECONDS:g} s centred every {STRIDE_SECONDS:g} s (each clip's frames sampled "
                "at the centres of equal sub-spans, as num_frames says); score each",
                "per label: every local maximum of the score over the clip centres is a candidate moment; move "
                "its time to the vertex of the parabola through it and its two neighbours",
                f"per label, best first: drop a candidate closer than {NMS_SECONDS:g} s to a kept one",
                "keep the moments at or above the confidence threshold, at most maxPredictions, best first",
            ],
        }
