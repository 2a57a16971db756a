"""Calibrated scores: fit on VALIDATION after training, folded into the output layer's weights.

Training with mixup, label smoothing of soft targets and early stopping on AU-PRC ranks well but leaves
scores under-confident: on the synthetic demo AU-PRC was 0.95 while recall at AutoML's default
threshold 0.5 was 0.65 (precision 1.0). Users read metrics and set ``score_threshold`` at 0.5, so the
scores should mean what they say there.

Both calibrations are affine maps of the output layer's logits ``z = W·x + c``:

- Platt scaling of a sigmoid label, ``sigmoid(a·z + b)``, is the same layer with column ``W' = a·W``,
  ``c' = a·c + b``;
- temperature scaling of a softmax, ``softmax(z / T)``, is the same layer with ``W / T``, ``c / T``.

So :func:`fold_into_output_layer` writes the calibration into the weights themselves, and evaluation,
batch prediction, SavedModel and TFLite exports apply it with no other code: the calibration is the
same everywhere by construction. The logits are computed exactly (a sub-model up to the output layer,
then its kernel in float64), not recovered from saturated float32 scores.

Platt's fit alone does not make 0.5 the place to cut: it minimises log-loss, not F1, and a
VALIDATION split of a handful of clips a label pulls its offset around. Two measured runs (one each,
loaded 2-core machine): on the 2-minute demo (4 labels, 28 VALIDATION examples of 5-6 positives a label)
VALIDATION F1 at 0.5 went 0.74 → 0.76 but TEST 0.79 → 0.72 (positives and negatives overlap there, so
the fit became *less* confident, scales 0.73-0.92), while the labels' best VALIDATION thresholds
(0.27-0.52) gave TEST F1 0.81; on seven real scenes (``benchmarks/real_clips.py``, CLOUD) VALIDATION F1
at 0.5 went 0.94 → 0.92 against a best F1 of 0.98. So classification keeps Platt's scale and then moves
each label's offset so that its best VALIDATION-F1 threshold falls at 0.5
(:func:`centred_on_best_thresholds`): F1 at 0.5 on VALIDATION is the best F1 there by construction.
"""

from dataclasses import dataclass

import keras
import numpy as np

from automl_video.modeling.loading import OUTPUT_LAYER
from automl_video.modeling.metadata import Calibration, LabelCalibration

# L2 pull toward the identity (scale 1, offset 0), in units of one example's log-loss: a VALIDATION
# set of a handful of clips cannot push the parameters far, a few hundred hardly feel it.
IDENTITY_PRIOR = 1.0
# The smallest scale a fit may reach: calibration never reverses (or flattens) a label's ranking.
MIN_SCALE = 1e-2
DEFAULT_THRESHOLD = 0.5
_MAX_ITERATIONS = 100
_TOLERANCE = 1e-10


@dataclass(frozen=True)
class AffineLogits:
    """Per output unit: the logit ``z`` becomes ``scale·z + offset``."""

    scale: np.ndarray  # [units]
    offset: np.ndarray  # [units]


def output_logits(network: keras.Model, data) -> np.ndarray:
    """The logits (pre-activation) ``[N, units]`` of the network's Dense output layer on ``data``."""
    layer = network.get_layer(OUTPUT_LAYER)
    features = keras.Model(network.inputs, layer.input).predict(data, verbose=0)
    kernel, bias = layer.get_weights()
    return np.asarray(features, np.float64) @ kernel.astype(np.float64) + bias.astype(np.float64)


def fold_into_output_layer(network: keras.Model, affine: AffineLogits) -> None:
    """Make the output layer compute ``activation(scale·z + offset)``: ``W' = W·scale``, ``c' = c·scale + offset``."""
    layer = network.get_layer(OUTPUT_LAYER)
    kernel, bias = layer.get_weights()
    scale, offset = affine.scale.astype(np.float64), affine.offset.astype(np.float64)
    layer.set_weights([(kernel * scale).astype(kernel.dtype), (bias * scale + offset).astype(bias.dtype)])


def fit_platt(logits: np.ndarray, positives: np.ndarray, prior: float = IDENTITY_PRIOR) -> tuple[float, float]:
    """Platt's ``(a, b)`` for one sigmoid label: ``sigmoid(a·z + b)`` fits the labels best.

    Minimises the log-loss against Platt's smoothed targets (``(N+ + 1)/(N+ + 2)`` for positives,
    ``1/(N− + 2)`` for negatives, so separable data cannot drive ``a`` to infinity) plus
    ``prior/2·((a − 1)² + b²)``, by Newton's method (the problem is convex), with ``a ≥ MIN_SCALE``.
    A label without a positive or without a negative has nothing to fit: ``(1, 0)``, the identity.
    """
    z = np.asarray(logits, np.float64)
    positive = np.asarray(positives, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return 1.0, 0.0
    t = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    params = np.array([1.0, 0.0])

    def objective(p: np.ndarray) -> float:
        u = p[0] * z + p[1]  # log-loss of sigmoid(u) against t, computed stably
        return float(np.sum(np.logaddexp(0, u) - t * u) + prior / 2 * ((p[0] - 1) ** 2 + p[1] ** 2))

    for _ in range(_MAX_ITERATIONS):
        p = 1 / (1 + np.exp(-(params[0] * z + params[1])))
        residual, weight = p - t, p * (1 - p)
        gradient = np.array([residual @ z + prior * (params[0] - 1), residual.sum() + prior * params[1]])
        hessian = np.array([[weight @ (z * z) + prior, weight @ z], [weight @ z, weight.sum() + prior]])
        step = np.linalg.solve(hessian, gradient)
        params = _line_search(objective, params, step)
        if np.abs(step).max() < _TOLERANCE:
            break
    return float(params[0]), float(params[1])


def fit_temperature(logits: np.ndarray, targets: np.ndarray, prior: float = IDENTITY_PRIOR) -> float:
    """The scale ``s = 1/T`` for which ``softmax(s·z)`` fits the (soft) ``targets`` ``[N, units]`` best.

    Minimises the cross-entropy plus ``prior/2·(s − 1)²`` by Newton's method (convex in ``s``), with
    ``s ≥ MIN_SCALE``.
    """
    z = np.asarray(logits, np.float64)
    t = np.asarray(targets, np.float64)
    params = np.array([1.0])

    def objective(p: np.ndarray) -> float:
        u = p[0] * z
        return float(np.sum(_logsumexp(u) - np.sum(t * u, axis=1)) + prior / 2 * (p[0] - 1) ** 2)

    for _ in range(_MAX_ITERATIONS):
        p = softmax(params[0] * z)
        mean = np.sum(p * z, axis=1)
        gradient = np.sum(mean - np.sum(t * z, axis=1)) + prior * (params[0] - 1)
        hessian = np.sum(np.sum(p * z * z, axis=1) - mean**2) + prior
        step = np.array([gradient / hessian])
        params = _line_search(objective, params, step)
        if abs(step[0]) < _TOLERANCE:
            break
    return float(params[0])


def _line_search(objective, params: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``params − step·f`` for the largest fraction ``f`` in 1, ½, ¼ … that does not raise the objective,
    the scale (``params[0]``) kept at least MIN_SCALE."""
    current = objective(params)
    for halvings in range(30):
        candidate = params - step / 2**halvings
        candidate[0] = max(candidate[0], MIN_SCALE)
        if objective(candidate) <= current:
            return candidate
    return params


def _logsumexp(u: np.ndarray) -> np.ndarray:
    top = u.max(axis=1)
    return top + np.log(np.sum(np.exp(u - top[:, None]), axis=1))


def sigmoid(u: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-u))


def softmax(u: np.ndarray) -> np.ndarray:
    """Over the last axis of ``[N, units]``."""
    e = np.exp(u - u.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def f1_counts(scores: np.ndarray, positives: np.ndarray, threshold: float) -> tuple[int, int, int]:
    """True positives, false positives and false negatives of ``scores ≥ threshold``."""
    predicted = scores >= threshold
    return int(np.sum(predicted & positives)), int(np.sum(predicted & ~positives)), int(np.sum(~predicted & positives))


def f1_score(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(scores: np.ndarray, positives: np.ndarray) -> float | None:
    """The threshold with the highest F1 on these scores (None without a positive).

    Candidates lie halfway between consecutive distinct scores (or at the lowest one), so a threshold
    rounded for display still splits the scores where the best F1 does; ties go to the higher threshold
    (fewer predictions for the same F1). One sort, so VALIDATION sets of any size are cheap.
    """
    if not positives.any():
        return None
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], positives[order]
    last = np.append(ranked[1:] != ranked[:-1], True)  # the last example of each distinct score
    tp, predicted = np.cumsum(hits)[last], np.flatnonzero(last) + 1
    f1 = 2 * tp / (predicted + hits.sum())  # 2·TP / (2·TP + FP + FN)
    distinct = ranked[last]
    candidates = np.append((distinct[:-1] + distinct[1:]) / 2, distinct[-1])
    return float(candidates[int(np.argmax(f1))])


def centred_on_best_thresholds(affine: AffineLogits, logits: np.ndarray, positives: np.ndarray) -> AffineLogits:
    """``affine`` (per label ``[L]``) with each label's offset moved by ``−logit(t)``, ``t`` the threshold
    with the best VALIDATION F1 of its scores ``sigmoid(scale·z + offset)``: that threshold becomes 0.5,
    the one AutoML users read metrics and set ``score_threshold`` at.

    A label without a VALIDATION positive or negative keeps its offset: with one side only, the best
    threshold is just below or above every score, which says nothing about unseen clips.
    """
    offset = affine.offset.astype(np.float64)
    for k in range(logits.shape[1]):
        label_positives = positives[:, k]
        if label_positives.all() or not label_positives.any():
            continue
        threshold = best_threshold(sigmoid(affine.scale[k] * logits[:, k] + offset[k]), label_positives)
        if threshold is not None and 0.0 < threshold < 1.0:
            offset[k] -= np.log(threshold / (1.0 - threshold))
    return AffineLogits(scale=affine.scale, offset=offset)


def summarize(
    method: str, affine: AffineLogits, before: np.ndarray, after: np.ndarray, positives: np.ndarray
) -> Calibration:
    """The :class:`Calibration` of ``[N, L]`` VALIDATION scores before and after (the labels are the last
    L units of ``affine``: a softmax's background comes first)."""
    first = affine.scale.shape[0] - before.shape[1]
    rows, totals = [], np.zeros((3, 3), int)  # before / after / at the best thresholds × (tp, fp, fn)
    for k in range(before.shape[1]):
        label_positives = positives[:, k]
        threshold = best_threshold(after[:, k], label_positives)
        counts = [
            f1_counts(before[:, k], label_positives, DEFAULT_THRESHOLD),
            f1_counts(after[:, k], label_positives, DEFAULT_THRESHOLD),
            f1_counts(after[:, k], label_positives, DEFAULT_THRESHOLD if threshold is None else threshold),
        ]
        totals += np.array(counts)
        rows.append(
            LabelCalibration(
                scale=float(affine.scale[first + k]),
                offset=float(affine.offset[first + k]),
                validation_positives=int(label_positives.sum()),
                f1_before=f1_score(*counts[0]),
                f1_after=f1_score(*counts[1]),
                best_threshold=threshold,
                best_f1=f1_score(*counts[2]),
            )
        )
    return Calibration(
        method=method,
        validation_examples=before.shape[0],
        labels=tuple(rows),
        f1_before=f1_score(*totals[0]),
        f1_after=f1_score(*totals[1]),
        best_f1=f1_score(*totals[2]),
    )


def describe(calibration: Calibration) -> str:
    """The log line of a calibration."""
    return (
        f"calibrated {len(calibration.labels)} labels on VALIDATION ({calibration.method}, "
        f"{calibration.validation_examples} examples): F1 at 0.5 {calibration.f1_before:.2f} → "
        f"{calibration.f1_after:.2f} (best F1 {calibration.best_f1:.2f} at each label's best threshold)"
    )
