"""The object tracking model types as profiles: the detector's input size and widths, and what it exports to.

AutoML offers six model types for object tracking; here each is a size/latency point of one detector
family (:mod:`.network`), no TensorFlow needed to read them:

========================== ======== ========================== ===========================================
model type                 input    widths (stem, s4, s8, s16)  exports
========================== ======== ========================== ===========================================
CLOUD                      160×160  24, 32, 64, 128             none (serves in the cloud)
MOBILE_VERSATILE_1         128×128  16, 24, 48, 96              SavedModel; TFLite float, dynamic, int8
MOBILE_CORAL_VERSATILE_1   128×128  16, 24, 48, 96              TFLite int8 (full-integer: Edge TPU ready)
MOBILE_CORAL_LOW_LATENCY_1 96×96    16, 16, 32, 64              TFLite int8 (full-integer: Edge TPU ready)
MOBILE_JETSON_VERSATILE_1  160×160  24, 32, 64, 128             SavedModel (for TF-TRT); TFLite float
MOBILE_JETSON_LOW_LATENCY_1 128×128 16, 16, 32, 64              SavedModel (for TF-TRT); TFLite float
========================== ======== ========================== ===========================================

The Edge TPU runs only full-integer models, so the Coral types export as int8 TFLite (calibrated on the
dataset's TRAIN frames; run ``edgetpu_compiler`` on it, which is not part of automl-video). A Jetson
runs float models on its GPU (TensorRT converts the SavedModel), so its types offer no int8.
Multiply-adds per frame (convolutions of one forward pass, counted from the built networks, 3 labels)
and parameters: CLOUD and JETSON_VERSATILE 148 M and 140 k; VERSATILE and CORAL_VERSATILE 54 M and 81 k;
JETSON_LOW_LATENCY 26 M and 38 k; CORAL_LOW_LATENCY 14 M and 38 k.
"""

from dataclasses import dataclass

from automl_video.modeling.metadata import ALL_EXPORTS, QUANTIZATIONS, ModelType


@dataclass(frozen=True)
class DetectorProfile:
    """One model type's detector: square input side, channels of the stem and the stride 4/8/16 stages
    (the neck and heads use the stride-8 width), and training clips per step."""

    input_size: int
    stem: int
    stages: tuple[int, int, int]
    batch_size: int


_VERSATILE = DetectorProfile(input_size=128, stem=16, stages=(24, 48, 96), batch_size=16)
_LARGE = DetectorProfile(input_size=160, stem=24, stages=(32, 64, 128), batch_size=8)
_LOW_LATENCY = DetectorProfile(input_size=96, stem=16, stages=(16, 32, 64), batch_size=16)

PROFILES: dict[ModelType, DetectorProfile] = {
    ModelType.CLOUD: _LARGE,
    ModelType.MOBILE_VERSATILE_1: _VERSATILE,
    ModelType.MOBILE_CORAL_VERSATILE_1: _VERSATILE,
    ModelType.MOBILE_CORAL_LOW_LATENCY_1: _LOW_LATENCY,
    ModelType.MOBILE_JETSON_VERSATILE_1: _LARGE,
    ModelType.MOBILE_JETSON_LOW_LATENCY_1: DetectorProfile(input_size=128, stem=16, stages=(16, 32, 64), batch_size=16),
}

_EDGE_TPU = {"tflite": ("int8",)}
_JETSON = {"tf-saved-model": ("none",), "tflite": tuple(q for q in QUANTIZATIONS if q != "int8")}
EXPORTS: dict[ModelType, dict[str, tuple[str, ...]]] = {
    ModelType.CLOUD: {},
    ModelType.MOBILE_VERSATILE_1: ALL_EXPORTS,
    ModelType.MOBILE_CORAL_VERSATILE_1: _EDGE_TPU,
    ModelType.MOBILE_CORAL_LOW_LATENCY_1: _EDGE_TPU,
    ModelType.MOBILE_JETSON_VERSATILE_1: _JETSON,
    ModelType.MOBILE_JETSON_LOW_LATENCY_1: _JETSON,
}
