"""How action recognition trains: dense clips with soft targets, a softmax over labels and background
trained with cross-entropy, and VALIDATION mAP at the 1 s window to pick the best epoch.

No mixup (classification's blend of two clips and their targets): a clip on a moment blended with one
off it shows a faint double of the action at a target the soft targets already spread around it. On
40 videos per class of the benchmark, 300 s of training reached VALIDATION mAP@1s 0.30-0.38 with it and
0.46-0.56 without; over 10 minutes, TEST 0.697 with and 0.695 without. What the network needs is more
videos (``benchmarks/action_recognition_quality.py``), not the blend."""

import keras
import numpy as np

from automl_video.data.dataset import Dataset, Split
from automl_video.modeling.calibration import (
    AffineLogits,
    fit_temperature,
    fold_into_output_layer,
    output_logits,
    softmax,
    summarize,
)
from automl_video.modeling.metadata import Calibration, ModelType
from automl_video.tasks.action_recognition.examples import grouped_by_video, split_examples
from automl_video.tasks.action_recognition.metrics import compute_metrics, judged_moments
from automl_video.tasks.action_recognition.timeline import pick_moments
from automl_video.tasks.base import TrainingRecipe
from automl_video.training.clip_cache import ClipExample, targets_matrix

BATCH_SIZES = {ModelType.MOBILE_VERSATILE_1: 16, ModelType.CLOUD: 8}
VALIDATION_WINDOW_SECONDS = 1.0
_EPSILON = 1e-7


def soft_cross_entropy(targets, scores):
    """Cross-entropy of soft targets over the labels and the implicit background (``1 − sum``), per clip."""
    scores = keras.ops.clip(scores, _EPSILON, 1.0)
    background = keras.ops.clip(1.0 - keras.ops.sum(scores, axis=-1), _EPSILON, 1.0)
    target_background = 1.0 - keras.ops.sum(targets, axis=-1)
    return -(keras.ops.sum(targets * keras.ops.log(scores), axis=-1) + target_background * keras.ops.log(background))


class ActionTraining(TrainingRecipe):
    validation_metric = "map_1s"
    validation_metric_title = "mAP@1s"
    mixup = False

    def batch_size(self, model_type: ModelType) -> int:
        return BATCH_SIZES[model_type]

    def examples(self, dataset: Dataset, split: Split, label_names: list[str], seed: int) -> list[ClipExample]:
        return split_examples(dataset, split, label_names)

    def trainer(self, network, optimizer):
        network.compile(optimizer=optimizer, loss=soft_cross_entropy)
        return network

    def validate(self, scores: np.ndarray, examples: list[ClipExample]) -> tuple[float, float]:
        """mAP at the 1 s window of the moments picked from each VALIDATION video's clip scores, and the
        mean soft cross-entropy of the clips."""
        predicted, truths = [], []
        for truth, indices in grouped_by_video(examples):
            centres = np.array([(examples[i].start + examples[i].end) / 2 for i in indices])
            judged, true = judged_moments(truth, pick_moments(centres, scores[indices]))
            predicted += judged
            truths += true
        metrics = compute_metrics(predicted, truths, scores.shape[1])
        targets = targets_matrix(examples, scores.shape[1])
        loss = float(np.mean(np.asarray(soft_cross_entropy(targets, scores.astype(np.float32)))))
        return metrics.overall.window(VALIDATION_WINDOW_SECONDS).mean_average_precision, loss

    def calibrate(self, network, validation, examples: list[ClipExample]) -> Calibration:
        """Temperature scaling of the softmax (labels and background alike): one parameter, so it keeps
        every clip's ranking of the labels and fits on the few positive clips a VALIDATION split has.
        Per-label F1 counts clips whose soft target is above 0.5 as positives."""
        logits = output_logits(network, validation)  # [N, L + 1], the background first
        targets = targets_matrix(examples, logits.shape[1] - 1)
        scale = fit_temperature(logits, np.column_stack([1 - targets.sum(axis=1), targets]))
        affine = AffineLogits(scale=np.full(logits.shape[1], scale), offset=np.zeros(logits.shape[1]))
        fold_into_output_layer(network, affine)
        before, after = softmax(logits)[:, 1:], softmax(scale * logits)[:, 1:]
        return summarize("temperature", affine, before, after, targets > 0.5)
