"""How the detector trains: labelled frames, box-aware augmentation, the CenterNet loss, VALIDATION box mAP.

Each epoch reads the cached frames (:class:`automl_video.training.clip_cache.ClipStore`; a training
clip holds the frame twice, as its ``2T`` frames at ``T = 1``) in the shuffled order of
:func:`automl_video.training.augmentation.epoch_order`, and augments each one with its boxes: a
horizontal flip, a random zoom in or out with a shift (pixels outside the frame take its mean colour;
a box less than :data:`MIN_KEPT_FRACTION` inside the view is dropped, the others clipped), and
brightness and contrast. The targets (:func:`.boxes.encode`) are built from the moved boxes, in numpy,
one Python call per batch in a parallel ``tf.data`` map; a batch's generator is seeded by (seed,
epoch, batch), so a resumed epoch sees the same augmentations.

The loss is CenterNet's: the penalty-reduced focal loss on the heatmaps plus L1 losses on the box size
(weighted by :data:`SIZE_WEIGHT`: sizes are fractions of the frame, a few hundredths off at first) and
the centre offset at each box's centre cell, all normalized by the number of boxes. The VALIDATION
score is the box mAP at IoU 0.5 of the decoded detections (:mod:`.metrics`), the number the
benchmark's goal is stated in.
"""

import keras
import numpy as np

from automl_video.data.dataset import Dataset, Split
from automl_video.modeling.metadata import ModelType
from automl_video.tasks.base import TrainingRecipe
from automl_video.tasks.object_tracking.boxes import Detections, decode, encode
from automl_video.tasks.object_tracking.examples import FrameExample, frame_examples
from automl_video.tasks.object_tracking.metrics import HEADLINE_IOU, EvaluatedFrame, box_metrics
from automl_video.tasks.object_tracking.network import BOX_CHANNELS, OUTPUT_STRIDE, profile_of
from automl_video.training.augmentation import epoch_order
from automl_video.training.clip_cache import ClipStore, parallel_batches

SIZE_WEIGHT = 5.0
OFFSET_WEIGHT = 1.0
FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0
# Augmentation: zoom factors (above 1 zooms in), flip probability, photometric ranges.
ZOOM_RANGE = (0.75, 1.3)
FLIP_PROBABILITY = 0.5
BRIGHTNESS_DELTA = 20.0
CONTRAST_RANGE = (0.8, 1.2)
MIN_KEPT_FRACTION = 0.35
_EPSILON = 1e-4


def detector_loss(num_labels: int):
    """The loss of targets ``[B, h, w, L + 5]`` (:func:`.boxes.encode`) and outputs ``[B, h, w, L + 4]``;
    written with ``keras.ops``, so it runs on tensors in training and on numpy arrays in validation."""
    ops = keras.ops

    def loss(targets, outputs):
        targets = ops.cast(targets, "float32")
        outputs = ops.cast(outputs, "float32")
        heat = ops.clip(outputs[..., :num_labels], _EPSILON, 1 - _EPSILON)
        truth = targets[..., :num_labels]
        positive = ops.cast(truth >= 1 - 1e-6, "float32")
        centres = targets[..., num_labels + BOX_CHANNELS :]
        count = ops.maximum(ops.sum(centres), 1.0)
        focal = -ops.sum(
            positive * ops.log(heat) * (1 - heat) ** FOCAL_ALPHA
            + (1 - positive) * ops.log(1 - heat) * heat**FOCAL_ALPHA * (1 - truth) ** FOCAL_BETA
        )
        size = ops.sum(
            ops.abs(outputs[..., num_labels : num_labels + 2] - targets[..., num_labels : num_labels + 2]) * centres
        )
        offset = ops.sum(
            ops.abs(outputs[..., num_labels + 2 : num_labels + 4] - targets[..., num_labels + 2 : num_labels + 4])
            * centres
        )
        return (focal + SIZE_WEIGHT * size + OFFSET_WEIGHT * offset) / count

    return loss


def augment_frame(frame: np.ndarray, truth: Detections, rng: np.random.Generator) -> tuple[np.ndarray, Detections]:
    """One frame ``[H, W, 3]`` uint8 and its boxes, flipped, zoomed, shifted and recoloured together."""
    height, width = frame.shape[:2]
    corners = truth.corners.astype(np.float64).copy()
    if rng.random() < FLIP_PROBABILITY:
        frame = frame[:, ::-1]
        corners[:, [0, 2]] = 1.0 - corners[:, [2, 0]]
    zoom = rng.uniform(*ZOOM_RANGE)
    view = 1.0 / zoom  # the view's side, in frame fractions
    left = rng.uniform(min(0.0, 1 - view), max(0.0, 1 - view))
    top = rng.uniform(min(0.0, 1 - view), max(0.0, 1 - view))
    columns = np.floor((left + (np.arange(width) + 0.5) / width * view) * width).astype(np.int64)
    rows = np.floor((top + (np.arange(height) + 0.5) / height * view) * height).astype(np.int64)
    inside = ((rows >= 0) & (rows < height))[:, None] & ((columns >= 0) & (columns < width))[None, :]
    image = frame[np.clip(rows, 0, height - 1)][:, np.clip(columns, 0, width - 1)].astype(np.float32)
    image[~inside] = frame.reshape(-1, 3).mean(axis=0)
    contrast = rng.uniform(*CONTRAST_RANGE)
    brightness = rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA)
    image = np.clip((image - 128.0) * contrast + 128.0 + brightness, 0, 255).astype(np.uint8)
    moved = (corners - np.array([left, top, left, top])) * zoom
    clipped = np.clip(moved, 0.0, 1.0)
    area = np.prod(moved[:, 2:] - moved[:, :2], axis=1)
    kept_area = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    keep = kept_area >= MIN_KEPT_FRACTION * area
    return image, Detections(clipped[keep].astype(np.float32), truth.labels[keep], truth.scores[keep])


class DetectorTraining(TrainingRecipe):
    """Keeps the default :meth:`TrainingRecipe.calibrate` (no calibration): a box's score is a heatmap
    peak after decoding and non-maximum suppression, and whether it is right depends on the IoU
    matching of the decoded box, so a fit needs the decoder and the matcher, not the output layer's
    logits; and the Conv output layer shares its sigmoid with the box-size and offset channels, which a
    per-channel rescale must leave alone."""

    validation_metric = "box_map_50"
    validation_metric_title = "box mAP@0.5"

    def batch_size(self, model_type: ModelType) -> int:
        return profile_of(model_type).batch_size

    def examples(self, dataset: Dataset, split: Split, label_names: list[str], seed: int) -> list[FrameExample]:
        return frame_examples(dataset, split, label_names)

    def trainer(self, network, optimizer):
        num_labels = network.output.shape[-1] - BOX_CHANNELS
        network.compile(optimizer=optimizer, loss=detector_loss(num_labels))
        return network

    def batches(
        self, store: ClipStore, examples: list[FrameExample], batch_size: int, seed: int, epoch: int, min_clips: int
    ):
        import tensorflow as tf

        spec = store.spec
        num_labels = examples[0].num_labels
        grid = (spec.height // OUTPUT_STRIDE, spec.width // OUTPUT_STRIDE)
        order = epoch_order(len(examples), min_clips, seed, epoch)

        def load(batch_index: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rng = np.random.default_rng([seed, epoch, int(batch_index)])
            clips, targets = [], []
            for i in indices:
                example = examples[int(i)]
                frame = store.load(example, training=True)[0]
                image, truth = augment_frame(frame, Detections.from_targets(example.targets), rng)
                clips.append(image[None])
                targets.append(encode(truth, grid, num_labels))
            return np.stack(clips), np.stack(targets)

        def loaded(batch_index, indices):
            clips, targets = tf.numpy_function(load, [batch_index, indices], (tf.uint8, tf.float32), stateful=False)
            clips.set_shape((None, *spec.shape))
            targets.set_shape((None, *grid, num_labels + BOX_CHANNELS + 1))
            return clips, targets

        data = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
        return parallel_batches(data, loaded), len(order)

    def validate(self, scores: np.ndarray, examples: list[FrameExample]) -> tuple[float, float]:
        num_labels = scores.shape[-1] - BOX_CHANNELS
        frames = []
        targets = []
        for output, example in zip(scores, examples):
            truth = Detections.from_targets(example.targets)
            predicted = decode(output, num_labels)
            frames.append(
                EvaluatedFrame(
                    example.video_uri,
                    example.time,
                    truth,
                    np.zeros(len(truth), np.int64),
                    predicted,
                    np.zeros(len(predicted), np.int64),
                )
            )
            targets.append(encode(truth, scores.shape[1:3], num_labels))
        score = box_metrics(frames, num_labels, (HEADLINE_IOU,)).overall.at_iou(HEADLINE_IOU).mean_average_precision
        loss = float(keras.ops.convert_to_numpy(detector_loss(num_labels)(np.stack(targets), scores)))
        return score, loss
