"""Frame examples: what training, validation, evaluation and int8 calibration read of a split.

One example per labelled frame (video, time): its boxes are the frame's whole truth (a labelled frame
is exhaustively labelled), so every other pixel is a negative for every label. A frame is read as a
1-frame clip of the span ``[time, time + FRAME_SPAN)``, whose sample time shows the frame on screen
at ``time`` (the imported time is already that frame's: :meth:`.annotations.BoxRules.snap_to_frame`).
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from automl_video.data.dataset import Dataset, DatasetError, Split
from automl_video.tasks.object_tracking.annotations import FRAME_SPAN, Box
from automl_video.training.clip_cache import ClipExample

FRAME = "frame"


@dataclass
class FrameExample(ClipExample):
    """A labelled frame. ``targets`` ``[K, 5]``: per box its label index and corners (``x_min, y_min,
    x_max, y_max``, normalized); ``instance_ids`` ``[K]`` (0: none); ``num_labels`` the model's."""

    instance_ids: np.ndarray | None = None
    num_labels: int = 0

    @property
    def time(self) -> float:
        return self.start


def frame_examples(dataset: Dataset, split: Split, label_names: list[str], dataset_uri: str = "") -> list[FrameExample]:
    """One example per labelled frame of ``split`` (of a TRAIN video holding a VALIDATION stretch out:
    TRAIN the frames outside the stretch and its gaps, VALIDATION those inside), in dataset and time order.

    Raises:
        DatasetError: a box has a label that is not in ``label_names`` (names the row).
    """
    label_index = {name: i for i, name in enumerate(label_names)}
    examples = []
    for part in dataset.parts_in(split):
        video = part.video
        frames: dict[float, list[Box]] = defaultdict(list)
        box: Box
        for box in video.annotations:
            if box.label not in label_index:
                raise DatasetError(
                    f"{box.source_uri or dataset_uri} row {box.source_row}: {split} label {box.label!r} is not one "
                    f"of the model's labels ({', '.join(label_index)}); retrain on this dataset"
                )
            if part.contains(box.time, box.time + FRAME_SPAN):
                frames[box.time].append(box)
        for time in sorted(frames):
            boxes = frames[time]
            targets = np.array([[label_index[b.label], *b.corners] for b in boxes], np.float32).reshape(-1, 5)
            examples.append(
                FrameExample(
                    video.uri,
                    video.content_hash,
                    time,
                    time + FRAME_SPAN,
                    targets,
                    FRAME,
                    instance_ids=np.array([b.instance_id for b in boxes], np.int64),
                    num_labels=len(label_names),
                )
            )
    return examples
