"""The per-frame detector: a CenterNet-style network on a light depthwise-separable backbone.

Input: one uint8 frame as a 1-frame clip ``[B, 1, H, W, 3]`` (the engines' clip layout; H and W
multiples of 16). Output ``scores``: ``[B, H/4, W/4, L + 4]`` float32 in [0, 1], one cell per 4×4
pixels:

- channels ``0..L-1``: the heatmap of each label (a cell's score that an object of that label has its
  box centre there);
- ``L, L+1``: the box's width and height as fractions of the frame's;
- ``L+2, L+3``: where the centre lies inside the cell (x, y from its top-left corner, in cells).

:mod:`.decoding` turns this into boxes. Every layer is a Conv2D, DepthwiseConv2D, BatchNormalization,
ReLU6, Add, Concatenate or nearest-neighbour UpSampling2D, which TFLite runs natively and quantizes to
int8 (so the Coral types export full-integer models); all outputs share one sigmoid range, which keeps
int8 output quantization exact enough for scores and boxes alike.

The backbone has stride-4, 8 and 16 stages and a small feature pyramid that brings stride 16 back to
stride 4 (the heads need both the context of stride 16 and the resolution of stride 4: a 10-pixel
shape is two to three cells wide).
"""

import keras

from automl_video.modeling.loading import OUTPUT_LAYER
from automl_video.modeling.metadata import InputSpec, ModelType
from automl_video.modeling.video_net import BATCH_NORM_MOMENTUM, Regroup
from automl_video.tasks.base import Networks
from automl_video.tasks.object_tracking.profiles import PROFILES, DetectorProfile

OUTPUT_STRIDE = 4
BOX_CHANNELS = 4  # width, height, centre x and y inside the cell
# Initial heatmap bias: every cell starts at a score of 0.1 (CenterNet's prior), so the focal loss of
# the many empty cells does not swamp the first steps.
HEATMAP_PRIOR_BIAS = -2.19


def _conv_bn(x, channels: int, kernel: int, strides: int, name: str, relu: bool = True):
    x = keras.layers.Conv2D(channels, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _separable(x, channels: int, strides: int, name: str):
    """Depthwise 3×3 then pointwise 1×1; residual when the shape stays."""
    y = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    y = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, name=f"{name}_dw_bn")(y)
    y = keras.layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = _conv_bn(y, channels, 1, 1, f"{name}_pw", relu=strides != 1 or x.shape[-1] != channels)
    if strides == 1 and x.shape[-1] == channels:
        y = keras.layers.Add(name=f"{name}_residual")([x, y])
    return y


def _stage(x, channels: int, name: str):
    """Halve the resolution, then one residual block."""
    x = _separable(x, channels, 2, f"{name}_down")
    return _separable(x, channels, 1, f"{name}_block")


def _merge_up(coarse, fine, channels: int, name: str):
    """A feature-pyramid step: the coarse map upsampled ×2 plus the finer map projected, then smoothed."""
    up = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up")(coarse)
    lateral = _conv_bn(fine, channels, 1, 1, f"{name}_lateral", relu=False)
    merged = keras.layers.Add(name=f"{name}_add")([up, lateral])
    return _separable(keras.layers.ReLU(6.0, name=f"{name}_relu")(merged), channels, 1, f"{name}_smooth")


def profile_of(model_type: ModelType) -> DetectorProfile:
    return PROFILES[ModelType(model_type)]


class DetectorNetworks(Networks):
    def default_input_spec(self, model_type: ModelType) -> InputSpec:
        size = profile_of(model_type).input_size
        return InputSpec(num_frames=1, height=size, width=size)

    def build(self, model_type: ModelType, num_labels: int, spec: InputSpec) -> keras.Model:
        """uint8 ``[B, 1, H, W, 3]`` → float32 ``[B, H/4, W/4, num_labels + 4]`` (see the module doc)."""
        if num_labels < 1:
            raise ValueError("an object tracking model needs at least one label")
        if spec.num_frames != 1 or spec.height % 16 or spec.width % 16:
            raise ValueError(
                f"input spec {spec}: the object tracking detector takes 1 frame whose height and width are "
                "multiples of 16"
            )
        profile = profile_of(model_type)
        s4, s8, s16 = profile.stages
        frames = keras.Input(shape=spec.shape, dtype="uint8", name="frames")
        x = Regroup((spec.height, spec.width, 3), name="frame")(frames)
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(x)
        x = _conv_bn(x, profile.stem, 3, 2, "stem")
        c4 = _stage(x, s4, "stage1")
        c8 = _stage(c4, s8, "stage2")
        c16 = _stage(c8, s16, "stage3")
        neck = _conv_bn(c16, s8, 1, 1, "neck16")
        neck = _merge_up(neck, c8, s8, "neck8")
        neck = _merge_up(neck, c4, s8, "neck4")
        heat = _conv_bn(neck, s8, 3, 1, "heatmap_head")
        box = _conv_bn(neck, s8, 3, 1, "box_head")
        heads = keras.layers.Concatenate(name="heads")([heat, box])
        bias = [HEATMAP_PRIOR_BIAS] * num_labels + [0.0] * BOX_CHANNELS
        scores = keras.layers.Conv2D(
            num_labels + BOX_CHANNELS,
            1,
            activation="sigmoid",
            bias_initializer=keras.initializers.Constant(bias),
            dtype="float32",
            name=OUTPUT_LAYER,
        )(heads)
        return keras.Model(frames, scores, name=f"detector_{model_type.value.lower()}")
