"""Training batches of clips: shuffled epochs, temporal jitter and shifts, then mixup.

Training batches get temporal jitter and random shifts (uint8 numpy, a batch per call in a parallel
tf.data map) and mixup plus brightness, whose pixel blend runs inside the training step
(:func:`blend_clips`, :class:`MixupTrainer`). There is no horizontal flip: it would turn
left→right into right→left. Validation clips are not augmented.
"""

import keras
import numpy as np

from automl_video.modeling.metadata import InputSpec
from automl_video.training.clip_cache import (
    ClipExample,
    ClipStore,
    FrameReader,
    batch_array,
    batch_loader,
    parallel_batches,
    targets_matrix,
)

# Spatial augmentation: random shifts by up to this fraction of each side; brightness moves by up to this
# fraction of the range. No horizontal flip: it would swap left→right and right→left classes.
MAX_SHIFT_FRACTION = 0.1
MAX_BRIGHTNESS_DELTA = 0.1
# Mixup (each clip blended with another, targets alike, weight ~ Beta(a, a)): with a few dozen videos a
# network otherwise memorises each video's look long before it learns how things move.
MIXUP_ALPHA = 0.4


def augment_clips(read_frames: FrameReader, count: int, spec: InputSpec, rng: np.random.Generator) -> np.ndarray:
    """Pick T of each clip's ``2T`` cached frames (one of each pair: temporal jitter) and shift each clip
    randomly.

    The shift moves a clip's content by up to :data:`MAX_SHIFT_FRACTION` of each side, the borders
    mirrored (a random crop of the clip padded symmetrically, at the evaluation scale); there is no
    flip, which would swap left and right. Only the kept frames are read, and each clip is shifted by
    copying at most four blocks of them into its place in the batch (:func:`_mirrored_shift`) rather
    than padding then cropping: 16 clips in 0.5 ms rather than 1.4 ms, the same pixels, in a
    :func:`~automl_video.training.clip_cache.batch_array` the step gets without a copy.

    Args:
        read_frames: ``read_frames(i, frame_indices, out)`` writes frames of clip ``i`` (``[2T, H, W, 3]``)
            into ``out`` (:data:`~automl_video.training.clip_cache.FrameReader`).
        count: clips in the batch.
        spec: the network input.
        rng: the batch's generator (seeded per batch, so an epoch's augmentations are the same after a
            resume).

    Returns:
        uint8 ``[count, T, H, W, 3]``.
    """
    offsets = rng.integers(0, 2, size=(count, spec.num_frames))
    pad_y, pad_x = round(spec.height * MAX_SHIFT_FRACTION), round(spec.width * MAX_SHIFT_FRACTION)
    tops = rng.integers(0, 2 * pad_y + 1, size=count)
    lefts = rng.integers(0, 2 * pad_x + 1, size=count)
    out = batch_array((count, *spec.shape))
    frames = np.empty(spec.shape, np.uint8)  # one clip's kept frames, before the shift
    for i in range(count):
        read_frames(i, np.arange(spec.num_frames) * 2 + offsets[i], frames)
        rows = _mirrored_shift(spec.height, int(tops[i]) - pad_y)
        columns = _mirrored_shift(spec.width, int(lefts[i]) - pad_x)
        for to_rows, from_rows in rows:
            for to_columns, from_columns in columns:
                out[i, :, to_rows, to_columns] = frames[:, from_rows, from_columns]
    return out


def _mirrored_shift(size: int, shift: int) -> list[tuple[slice, slice]]:
    """``(to, from)`` slices along one axis of length ``size`` that give ``x[shift : shift + size]`` of
    ``x`` mirrored at both ends (``np.pad`` ``symmetric``), for ``|shift| < size``."""
    if shift >= 0:  # the tail mirrored: x[size - 1], x[size - 2], ...
        return [
            (slice(0, size - shift), slice(shift, size)),
            (slice(size - shift, size), slice(size - 1, size - 1 - shift, -1)),
        ]
    # the head mirrored: x[-shift - 1], ..., x[0]
    return [(slice(0, -shift), slice(-shift - 1, None, -1)), (slice(-shift, size), slice(0, size + shift))]


def epoch_order(num_examples: int, min_clips: int, seed: int, epoch: int) -> np.ndarray:
    """Example indices of an epoch: shuffled passes over all examples, enough to give ``min_clips``."""
    rng = np.random.default_rng([seed, epoch])
    passes = max(1, -(-min_clips // num_examples))
    return np.concatenate([rng.permutation(num_examples) for _ in range(passes)])


def training_dataset(
    store: ClipStore,
    examples: list[ClipExample],
    batch_size: int,
    seed: int,
    epoch: int,
    min_clips: int = 0,
    mixup: bool = True,
):
    """One epoch of shuffled, augmented batches of clips, targets and sample weights, the same for the
    same (seed, epoch).

    Args:
        store: where clips come from (prepared for training).
        examples: training examples.
        batch_size: global batch size.
        seed: the run's seed.
        epoch: the epoch number (0-based); with ``seed`` it fixes order and augmentation.
        min_clips: small datasets pass over their examples several times (each time augmented anew) so
            an epoch is long enough to be worth a validation and a checkpoint.
        mixup: False for plain batches (jitter and shifts only), for a network trained directly.

    Returns:
        A ``tf.data.Dataset`` of ``((clips, weight, brightness), mixed targets, mixed sample weights)``
        batches for :class:`MixupTrainer` (see :func:`mixup_parameters`), or of ``(clips, targets,
        sample weights)`` batches; a sample weight is the examples' :attr:`ClipExample.weight`, blended
        like their targets under mixup.
    """
    import tensorflow as tf

    order = epoch_order(len(examples), min_clips, seed, epoch)
    targets = targets_matrix(examples, len(examples[0].targets))[order]
    sample_weights = np.array([e.weight for e in examples], np.float32)[order]
    load = batch_loader(
        store, examples, augment=lambda read_frames, count, rng: augment_clips(read_frames, count, store.spec, rng)
    )

    def augmented(batch_index, batch):
        indices, batch_targets, batch_weights = batch
        # Distinct stateless seeds for every batch of every epoch: augmentation (>= 0), mixup (< 0).
        first = epoch * len(order) + batch_index
        clips = load(indices, tf.stack([tf.constant(seed, tf.int64), first]))
        if not mixup:
            return clips, batch_targets, batch_weights
        weight, brightness, mixed_targets = mixup_parameters(
            batch_targets, tf.stack([tf.constant(seed, tf.int64), -1 - first])
        )
        mixed_weights = batch_weights * weight + tf.reverse(batch_weights, [0]) * (1 - weight)
        return (clips, weight, brightness), mixed_targets, mixed_weights

    data = tf.data.Dataset.from_tensor_slices((order, targets, sample_weights)).batch(batch_size).enumerate()
    return parallel_batches(data, augmented)


def mixup_parameters(targets, seed):
    """Mixup and brightness parameters of a batch, with its targets already mixed.

    Each clip is to be blended with the clip at the mirrored position of the batch (targets alike,
    weight ~ Beta(:data:`MIXUP_ALPHA`, :data:`MIXUP_ALPHA`)) and brightened by up to
    :data:`MAX_BRIGHTNESS_DELTA` of the range. The pixels are blended by :func:`blend_clips` inside the
    training step, where it runs in parallel with the model rather than in the input pipeline.

    Args:
        targets: float32 ``[B, L]``.
        seed: int64 ``[2]`` stateless seed.

    Returns:
        ``(weight [B], brightness [B] in pixel levels, mixed targets [B, L])``.
    """
    import tensorflow as tf

    size = tf.shape(targets)[:1]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    first = tf.random.stateless_gamma(size, seeds[0], MIXUP_ALPHA)
    second = tf.random.stateless_gamma(size, seeds[1], MIXUP_ALPHA)
    weight = first / tf.maximum(first + second, 1e-12)
    brightness = tf.random.stateless_uniform(size, seeds[2], -MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA) * 255.0
    mixed_targets = targets * weight[:, None] + tf.reverse(targets, [0]) * (1 - weight)[:, None]
    return weight, brightness, mixed_targets


def blend_clips(clips, weight, brightness):
    """``clips·w + reversed(clips)·(1 − w) + brightness`` per clip, back to uint8 ``[B, T, H, W, 3]``."""
    import tensorflow as tf

    per_clip = (-1, 1, 1, 1, 1)
    weight = tf.reshape(tf.cast(weight, tf.float32), per_clip)
    pixels = tf.cast(clips, tf.float32)
    mixed = pixels * weight + tf.reverse(pixels, [0]) * (1 - weight) + tf.reshape(brightness, per_clip)
    return tf.cast(tf.clip_by_value(tf.round(mixed), 0.0, 255.0), tf.uint8)


class MixupTrainer(keras.Model):
    """Trains a network on :func:`training_dataset` batches.

    The pixels of mixup are blended here, inside the compiled training step, where the work runs on all
    cores (or the accelerator) beside the model; blending in tf.data cost a sixth of the throughput on
    2 cores. Predicting goes straight to the network.
    """

    def __init__(self, network: keras.Model):
        super().__init__(name="mixup_trainer")
        self.network = network

    def call(self, clips, training=False):
        return self.network(clips, training=training)

    def train_step(self, data):
        (clips, weight, brightness), targets, sample_weights = data
        return super().train_step((blend_clips(clips, weight, brightness), targets, sample_weights))
