"""Dense clip examples of a split: what training learns from and what VALIDATION scores.

TRAIN: clips every :data:`TRAINING_STRIDE_SECONDS` over each video, with soft targets around each
action. A clip is kept when its centre is inside a fully annotated stretch (there, a time without a
labelled action is background) or close to an action; a clip outside every stretch and far from any
action is left out, since an unlabelled action may happen there. VALIDATION: clips every
:data:`STRIDE_SECONDS` over the whole of each video, exactly as evaluation and batch prediction cut
them, each carrying its video's truth, so the VALIDATION score is mAP at the 1 s window.

A TRAIN video holding a VALIDATION stretch out (:func:`automl_video.data.splits.hold_out_stretches`)
gives TRAIN the clips wholly outside the stretch and its gaps, and VALIDATION the clips wholly inside it,
judged by the truth of the stretch alone.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from automl_video.data.dataset import WHOLE_VIDEO, Dataset, DatasetError, Split, Video, VideoPart
from automl_video.tasks.action_recognition.timeline import (
    NEAR_ACTION_TARGET,
    STRIDE_SECONDS,
    TRAINING_STRIDE_SECONDS,
    VideoTruth,
    clip_spans,
    soft_targets,
    video_truth,
)
from automl_video.training.clip_cache import ClipExample

ACTION, NEAR_ACTION, BACKGROUND = "action", "near_action", "background"
# A clip is an ACTION example when a label's target reaches this (its centre within ~0.24 s of a moment).
ACTION_TARGET = 0.5


@dataclass
class ActionClipExample(ClipExample):
    """A clip of a video with its soft targets ``[L]`` and its video's truth (for VALIDATION mAP)."""

    truth: VideoTruth | None = None

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


def truth_of(video: Video, label_index: dict[str, int], split: Split, dataset_uri: str = "") -> VideoTruth:
    """The video's truth in the model's label order.

    Raises:
        DatasetError: an action's label is not one of the model's (names the row).
    """
    for annotation in video.annotations:
        if not annotation.is_stretch and annotation.label not in label_index:
            raise DatasetError(
                f"{annotation.source_uri or dataset_uri} row {annotation.source_row}: {split} label "
                f"{annotation.label!r} is not one of the model's labels ({', '.join(label_index)}); retrain on "
                "this dataset"
            )
    return video_truth(video.uri, video.duration, video.annotations, label_index)


def split_examples(dataset: Dataset, split: Split, label_names: list[str], dataset_uri: str = "") -> list[ClipExample]:
    """TRAIN (or any split but VALIDATION): the kept training clips; VALIDATION: every prediction clip."""
    label_index = {name: i for i, name in enumerate(label_names)}
    validation = Split(split) == Split.VALIDATION
    stride = STRIDE_SECONDS if validation else TRAINING_STRIDE_SECONDS
    examples: list[ClipExample] = []
    for part in dataset.parts_in(split):
        video = part.video
        truth = truth_of(video, label_index, Split(split), dataset_uri)
        judged_by = _within(truth, part)
        for start, end in clip_spans(0.0, video.duration, stride):
            if not part.contains(start, end):
                continue
            centre = (start + end) / 2
            targets = soft_targets(centre, truth.actions, len(label_names))
            peak = float(targets.max(initial=0.0))
            if not validation and peak < NEAR_ACTION_TARGET and not truth.is_annotated(centre):
                continue
            kind = ACTION if peak >= ACTION_TARGET else NEAR_ACTION if peak >= NEAR_ACTION_TARGET else BACKGROUND
            examples.append(
                ActionClipExample(video.uri, video.content_hash, start, end, targets, kind, truth=judged_by)
            )
    return examples


def _within(truth: VideoTruth, part: VideoPart) -> VideoTruth:
    """The truth a video's part is judged by: the actions in its windows, the annotated time clipped to
    them (a clip's targets still come from the whole video's actions)."""
    if part.windows == WHOLE_VIDEO:
        return truth
    actions = tuple(a for a in truth.actions if part.contains(a.time, a.time))
    annotated = tuple(piece for start, end in truth.annotated for piece in part.pieces(start, end))
    return dataclasses.replace(truth, actions=actions, annotated=annotated)


def grouped_by_video(examples: list[ClipExample]) -> list[tuple[VideoTruth, np.ndarray]]:
    """The examples' indices per video, in time order, with the video's truth (examples in dataset order)."""
    groups: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(example.video_uri, []).append(index)
    return [
        (examples[indices[0]].truth, np.array(sorted(indices, key=lambda i: examples[i].start)))
        for indices in groups.values()
    ]
