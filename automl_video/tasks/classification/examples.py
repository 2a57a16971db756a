"""Span examples: what training, validation and evaluation score, built one way for all three.

Every video classification dataset is multi-label (as in AutoML): one example per distinct labelled
span ``(video, start, end)``, positive for the labels given to that span and a hard negative for every
other label. ``-`` spans are negative for all labels; for exhaustively labelled datasets training also
samples the spans nobody labelled as all-negative examples.

A TRAIN video holding a VALIDATION stretch out (:func:`automl_video.data.splits.hold_out_stretches`)
gives TRAIN the pieces of its spans outside the stretch and its gaps, VALIDATION those inside. A TRAIN
span at least two clips long (:func:`.annotations.training_clip_seconds`) trains as consecutive clips
across its length, each weighted so that together they weigh as one span: a 1-minute segment is seen
all along, and does not count sixty times more than a 1 s one.
"""

import dataclasses
import math

import numpy as np

from automl_video.data.dataset import Dataset, DatasetError, Split, Video
from automl_video.tasks.classification.annotations import Segment, training_clip_seconds
from automl_video.training.clip_cache import ClipExample

# Unlabelled spans of an exhaustive dataset: at most this many per labelled example of a split.
UNLABELLED_PER_LABELLED = 1.0
LABELLED, NEGATIVE, UNLABELLED = "labelled", "negative", "unlabelled"


def _span_targets(
    video: Video, split: Split, label_index: dict[str, int], dataset_uri: str
) -> dict[tuple[float, float], np.ndarray]:
    """Targets of each distinct span of a video: positive for the labels given to exactly that span."""
    spans: dict[tuple[float, float], np.ndarray] = {}
    segment: Segment
    for segment in video.annotations:
        targets = spans.setdefault((segment.start, segment.end), np.zeros(len(label_index), np.float32))
        if segment.is_negative:
            continue
        if segment.label not in label_index:
            raise DatasetError(
                f"{segment.source_uri or dataset_uri} row {segment.source_row}: {split} label {segment.label!r} "
                f"is not one of the model's labels ({', '.join(label_index)}); retrain on this dataset"
            )
        targets[label_index[segment.label]] = 1.0
    return spans


def span_examples(dataset: Dataset, split: Split, label_names: list[str], dataset_uri: str = "") -> list[ClipExample]:
    """One example per distinct labelled span of ``split`` (per piece, where a held-out VALIDATION
    stretch cuts it), in dataset order.

    Raises:
        DatasetError: a span has a label that is not in ``label_names`` (names the row).
    """
    label_index = {name: i for i, name in enumerate(label_names)}
    examples = []
    for part in dataset.parts_in(split):
        video = part.video
        for (start, end), targets in _span_targets(video, Split(split), label_index, dataset_uri).items():
            kind = LABELLED if targets.any() else NEGATIVE
            for piece_start, piece_end in part.pieces(start, end):
                examples.append(ClipExample(video.uri, video.content_hash, piece_start, piece_end, targets, kind))
    return examples


def clips_across(example: ClipExample, clip_seconds: float) -> list[ClipExample]:
    """A span at least two clips long as the ``floor(length / clip_seconds)`` equal clips that tile it,
    each of weight ``1 / count``; a shorter span as itself."""
    length = example.end - example.start
    count = math.floor(length / clip_seconds + 1e-9) if math.isfinite(length) else 1
    if count < 2:
        return [example]
    edges = np.linspace(example.start, example.end, count + 1)
    return [
        dataclasses.replace(example, start=float(start), end=float(end), weight=example.weight / count)
        for start, end in zip(edges[:-1], edges[1:])
    ]


def unlabelled_spans(video: Video, span_seconds: float) -> list[tuple[float, float]]:
    """Spans of ``span_seconds`` centred in the gaps no segment covers (gaps shorter than half are skipped)."""
    covered = sorted((s.start, s.end) for s in video.annotations)
    gaps, cursor = [], 0.0
    for start, end in covered + [(video.duration, video.duration)]:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    spans = []
    for gap_start, gap_end in gaps:
        length = gap_end - gap_start
        if length < span_seconds / 2:
            continue
        count = max(1, int(length // span_seconds))
        width = min(span_seconds, length)
        step = length / count
        for i in range(count):
            centre = gap_start + (i + 0.5) * step
            spans.append((centre - width / 2, centre + width / 2))
    return spans


def training_examples(dataset: Dataset, split: Split, label_names: list[str], seed: int = 0) -> list[ClipExample]:
    """The examples of a TRAIN or VALIDATION split, in dataset order.

    Args:
        dataset: a split dataset.
        split: TRAIN or VALIDATION.
        label_names: the model's labels in output order.
        seed: chooses which unlabelled spans are kept when an exhaustive dataset has more than needed.

    Returns:
        One example per distinct labelled span (TRAIN: per clip across a long span, weighted), then
        (exhaustive datasets only) unlabelled spans.
    """
    examples = span_examples(dataset, split, label_names)
    unlabelled = _unlabelled_examples(dataset, split, examples, len(label_names), seed) if dataset.exhaustive else []
    if Split(split) == Split.TRAIN:
        clip_seconds = training_clip_seconds([a for v in dataset.videos for a in v.annotations])
        examples = [clip for example in examples for clip in clips_across(example, clip_seconds)]
    return examples + unlabelled


def _unlabelled_examples(
    dataset: Dataset, split: Split, examples: list[ClipExample], num_labels: int, seed: int
) -> list[ClipExample]:
    """All-negative spans where nobody labelled anything, at most :data:`UNLABELLED_PER_LABELLED` per
    labelled span of ``examples``."""
    if not examples:
        return []
    span_seconds = float(np.median([e.end - e.start for e in examples]))
    unlabelled = [
        ClipExample(part.video.uri, part.video.content_hash, start, end, np.zeros(num_labels, np.float32), UNLABELLED)
        for part in dataset.parts_in(split)
        for start, end in unlabelled_spans(part.video, span_seconds)
        if part.contains(start, end)
    ]
    limit = int(len(examples) * UNLABELLED_PER_LABELLED)
    if len(unlabelled) > limit:
        keep = np.sort(np.random.default_rng([seed, 1]).choice(len(unlabelled), limit, replace=False))
        unlabelled = [unlabelled[i] for i in keep]
    return unlabelled
