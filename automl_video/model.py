"""The video classification networks, and a trained model as later stages load it.

Both model types are (2+1)D convolutional nets built only from ops that TFLite runs natively and that
quantize to int8 (Conv2D, Add, Concatenation, Reshape, Max/Mean, Dense, ReLU6): a clip
``[B, T, H, W, 3]`` has its time axis folded into the batch for the spatial 3×3 convolutions
(``[B·T, H, W, C]``) and its space folded into one axis for the temporal convolutions
(``[B, T, H·W, C]``, a ``(k, 1)`` Conv2D). Conv3D would not quantize and TimeDistributed runs about 2×
slower on CPU. Normalisation is part of the network, so every consumer (evaluate, predict, an exported
TFLite file) feeds raw uint8 frames.

What makes such a small net learn motion from a few dozen videos: a temporal convolution on the raw
pixels (frame changes) beside the pixels themselves, each block's temporal conv placed *before* its
strided spatial conv (at the finer resolution, where a moving edge shifts by a pixel or two), and
max-pooling over space (a small moving object is one strong local response, which averaging drowns).
"""
import logging
import os
import tempfile
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

from automl_video import storage  # noqa: E402
from automl_video.model_spec import InputSpec, ModelMetadata, ModelType, load_metadata  # noqa: E402
from automl_video.video import VideoReader  # noqa: E402

log = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.weights.h5"
OUTPUT_LAYER = "scores"
# Small datasets train for a few hundred steps: batch-norm statistics must follow the weights that fast.
BATCH_NORM_MOMENTUM = 0.9


@dataclass(frozen=True)
class NetworkConfig:
    """Widths of a (2+1)D net: ``stages[i]`` = (channels, blocks, stride of its first block)."""

    stem_channels: int
    stages: tuple[tuple[int, int, int], ...]
    temporal_kernel: int = 3
    motion_channels: int = 8
    dropout: float = 0.0


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


def check_classification_type(model_type: ModelType) -> ModelType:
    """The model type itself when this package can build it for classification, else ValueError."""
    if model_type not in NETWORKS:
        allowed = ", ".join(t.value for t in NETWORKS)
        raise ValueError(
            f"model_type {model_type.value} is available for object_tracking only; "
            f"classification models are one of {allowed}"
        )
    return model_type


def default_input_spec(model_type: ModelType) -> InputSpec:
    """The input a model type is trained with unless the caller chooses another."""
    spec = DEFAULT_INPUT_SPECS[check_classification_type(model_type)]
    return InputSpec(**vars(spec))


@keras.saving.register_keras_serializable(package="automl_video")
class Regroup(keras.layers.Layer):
    """Reshape to ``[-1, *shape]``: moves time into or out of the batch (Keras' Reshape keeps the batch)."""

    def __init__(self, shape: tuple[int, ...], **kwargs):
        super().__init__(**kwargs)
        self.shape = tuple(int(d) for d in shape)

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, *self.shape))

    def compute_output_shape(self, input_shape):
        return (None, *self.shape)

    def get_config(self):
        return {**super().get_config(), "shape": self.shape}


def _conv_bn_relu(x, channels: int, kernel, strides, name: str):
    x = keras.layers.Conv2D(channels, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x)


def _temporal(x, num_frames: int, temporal_kernel: int, name: str):
    """A residual temporal conv over the frames at each position (space folded into one axis)."""
    _, height, width, channels = x.shape
    rows = Regroup((num_frames, height * width, channels), name=f"{name}_to_time")(x)
    motion = _conv_bn_relu(rows, channels, (temporal_kernel, 1), 1, f"{name}_temporal")
    rows = keras.layers.Add(name=f"{name}_residual")([rows, motion])
    return Regroup((height, width, channels), name=f"{name}_to_frames")(rows)


def _block(x, channels: int, strides: int, num_frames: int, temporal_kernel: int, name: str):
    """Temporal conv at the incoming resolution (where motion is still visible), then a spatial 3×3 conv."""
    x = _temporal(x, num_frames, temporal_kernel, name)
    return _conv_bn_relu(x, channels, 3, strides, f"{name}_spatial")


def build_network(model_type: ModelType, num_labels: int, spec: InputSpec) -> keras.Model:
    """The untrained network of a model type.

    Args:
        model_type: MOBILE_VERSATILE_1 or CLOUD (object-tracking-only types are refused).
        num_labels: number of sigmoid outputs, in annotation spec order.
        spec: the clip shape ``[T, H, W, 3]`` the network takes (H and W multiples of 16 work best).

    Returns:
        A Keras model from uint8 ``[B, T, H, W, 3]`` to float32 ``[B, num_labels]`` scores in [0, 1].
    """
    config = NETWORKS[check_classification_type(model_type)]
    if num_labels < 1:
        raise ValueError("a classification model needs at least one label")
    frames = keras.Input(shape=spec.shape, dtype="uint8", name="frames")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(frames)
    pixels = Regroup((spec.num_frames, spec.height * spec.width, 3), name="pixels_over_time")(x)
    changes = keras.layers.Conv2D(
        config.motion_channels, (config.temporal_kernel, 1), padding="same", name="stem_temporal_conv"
    )(pixels)
    x = keras.layers.Concatenate(name="stem_with_changes")([pixels, changes])
    x = Regroup((spec.height, spec.width, 3 + config.motion_channels), name="fold_time")(x)
    x = _conv_bn_relu(x, config.stem_channels, 3, 2, "stem")
    for stage, (channels, blocks, stage_stride) in enumerate(config.stages, start=1):
        for index in range(blocks):
            strides = stage_stride if index == 0 else 1
            x = _block(x, channels, strides, spec.num_frames, config.temporal_kernel, f"stage{stage}_block{index + 1}")
    x = _temporal(x, spec.num_frames, config.temporal_kernel, "head")
    x = keras.layers.GlobalMaxPooling2D(name="pool_space")(x)
    x = Regroup((spec.num_frames, x.shape[-1]), name="unfold_time")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool_time")(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    scores = keras.layers.Dense(num_labels, activation="sigmoid", dtype="float32", name=OUTPUT_LAYER)(x)
    return keras.Model(frames, scores, name=model_type.value.lower())


@dataclass
class TrainedModel:
    """A trained network with what it was trained on: labels (output order) and input spec."""

    metadata: ModelMetadata
    network: keras.Model

    @property
    def input_spec(self) -> InputSpec:
        return self.metadata.input_spec

    def predict_clips(self, clips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Scores of clips.

        Args:
            clips: uint8 ``[B, T, H, W, 3]`` shaped as :attr:`input_spec`.
            batch_size: clips per forward pass.

        Returns:
            float32 ``[B, L]`` sigmoid scores, labels in ``metadata.annotation_specs`` order.
        """
        clips = np.asarray(clips)
        if clips.ndim != 5 or clips.shape[1:] != self.input_spec.shape:
            expected = ", ".join(map(str, self.input_spec.shape))
            raise ValueError(f"clips must be [B, {expected}], got {list(clips.shape)}")
        if clips.dtype != np.uint8:
            raise ValueError(f"clips must be uint8 frames, got {clips.dtype}")
        scores = [
            np.asarray(self.network.predict_on_batch(clips[i : i + batch_size]), dtype=np.float32)
            for i in range(0, len(clips), batch_size)
        ]
        return np.concatenate(scores) if scores else np.zeros((0, len(self.metadata.annotation_specs)), np.float32)

    def segment_clips(self, reader: VideoReader, start: float, end: float) -> np.ndarray:
        """The ``clips_per_segment`` clips scored for a segment: ``[N, T, H, W, 3]`` (see
        :meth:`InputSpec.segment_sampling`)."""
        spec = self.input_spec
        return spec.segment_clips(reader.read_clip(start, end, spec.segment_sampling()))

    def score_segment(self, reader: VideoReader, start: float, end: float) -> np.ndarray:
        """Scores ``[L]`` of the span ``[start, end)`` of an open video (the mean over its clips).

        Args:
            reader: the open video.
            start, end: seconds (``end`` may be ``inf``).

        Returns:
            float32 ``[L]``.
        """
        return self.predict_clips(self.segment_clips(reader, start, end)).mean(axis=0)


def load_model(model_uri: str) -> TrainedModel:
    """Load a published model folder (``model.json`` + ``weights.weights.h5``) from any URL.

    Raises:
        FileNotFoundError: no model there, or its training has not finished (no ``_COMPLETE``).
    """
    metadata = load_metadata(model_uri)
    if not storage.is_published(model_uri):
        raise FileNotFoundError(
            f"{model_uri}: the model is incomplete (training not finished: no {storage.COMPLETE_MARKER})"
        )
    network = build_network(metadata.type, len(metadata.annotation_specs), metadata.input_spec)
    load_weights(network, storage.join(model_uri, WEIGHTS_FILE))
    return TrainedModel(metadata, network)


def load_weights(network: keras.Model, weights_uri: str) -> None:
    """Load a Keras ``.weights.h5`` file from any URL (Keras needs a local file with that extension)."""
    if storage.is_local(weights_uri):
        network.load_weights(storage.local_path(weights_uri))
        return
    with tempfile.TemporaryDirectory(prefix="automl-video-") as tmp:
        path = os.path.join(tmp, WEIGHTS_FILE)
        with open(path, "wb") as f:
            f.write(storage.read_bytes(weights_uri))
        network.load_weights(path)


def copy_matching_weights(source: keras.Model, target: keras.Model, source_uri: str) -> list[str]:
    """Copy weights layer by layer (by name) where shapes agree; the output layer may differ.

    Args:
        source: a network with trained weights.
        target: the network to initialise.
        source_uri: where ``source`` came from, for error messages.

    Returns:
        Names of the target layers left at their fresh initialisation (only the output layer can be).

    Raises:
        ValueError: a layer other than the output layer has other shapes, or no layer matches.
    """
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    fresh, copied = [], 0
    for layer in target.layers:
        if not layer.weights:
            continue
        origin = by_name.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        origin_shapes = [tuple(w.shape) for w in origin.weights] if origin else None
        if origin_shapes == shapes:
            layer.set_weights(origin.get_weights())
            copied += 1
        elif layer.name == OUTPUT_LAYER:
            fresh.append(layer.name)
        else:
            raise ValueError(
                f"init weights {source_uri}: layer {layer.name!r} has shapes {origin_shapes} there but "
                f"{shapes} in this network; use weights of a model of the same model type"
            )
    if not copied:
        raise ValueError(f"init weights {source_uri}: no layer matches this network")
    return fresh


def load_init_weights(network: keras.Model, init_uri: str) -> None:
    """Start ``network`` from the weights of a trained automl-video model folder (transfer learning).

    Layers are matched by name and shape, so the source may have other labels (its output layer is
    then re-initialised) or another input size; a different architecture is a clear error.
    """
    try:
        source = load_model(init_uri)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"init weights {init_uri}: not a trained automl-video model folder ({e})") from None
    fresh = copy_matching_weights(source.network, network, init_uri)
    log.info("initialised from %s%s", init_uri, " (output layer re-initialised for other labels)" if fresh else "")
