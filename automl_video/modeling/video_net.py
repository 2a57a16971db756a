"""(2+1)D convolutional building blocks for clip networks, shared by the tasks that score clips.

Every block is built only from ops that TFLite runs natively and that quantize to int8 (Conv2D, Add,
Concatenation, Reshape, Max/Mean, Dense, ReLU6): a clip ``[B, T, H, W, 3]`` has its time axis folded
into the batch for the spatial 3×3 convolutions (``[B·T, H, W, C]``) and its space folded into one axis
for the temporal convolutions (``[B, T, H·W, C]``, a ``(k, 1)`` Conv2D). Conv3D would not quantize and
TimeDistributed runs about 2× slower on CPU. Normalisation is part of the network, so every consumer
(evaluate, predict, an exported TFLite file) feeds raw uint8 frames.

What makes such a small net learn motion from a few dozen videos: a temporal convolution on the raw
pixels (frame changes) beside the pixels themselves, each block's temporal conv placed *before* its
strided spatial conv (at the finer resolution, where a moving edge shifts by a pixel or two), and
max-pooling over space (a small moving object is one strong local response, which averaging drowns).
"""

from dataclasses import dataclass

import keras

from automl_video.modeling.metadata import InputSpec

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


def frame_features(frames, config: NetworkConfig, spec: InputSpec):
    """One feature vector per frame ``[B, T, C]`` of uint8 clips ``frames`` ``[B, T, H, W, 3]`` (a Keras
    tensor): pixels and their changes over time through the (2+1)D stages, space max-pooled. A head that
    must know *when* in the clip something happens reads these; :func:`clip_features` averages them."""
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
    return Regroup((spec.num_frames, x.shape[-1]), name="unfold_time")(x)


def clip_features(frames, config: NetworkConfig, spec: InputSpec):
    """One feature vector ``[B, C]`` per uint8 clip ``frames`` ``[B, T, H, W, 3]`` (a Keras tensor):
    :func:`frame_features` averaged over time, and ``config.dropout`` applied before whatever head the
    task puts on top."""
    x = keras.layers.GlobalAveragePooling1D(name="pool_time")(frame_features(frames, config, spec))
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    return x
