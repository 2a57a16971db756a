"""Filter splits: which videos (data items) of a dataset train a model and which test it.

A filter uses the list-filter language of :mod:`automl_video.registry.filters` over these fields of
each video:

=============  ===============================================================================
``ml_use``     the ML_USE it was imported with: ``TRAIN``, ``VALIDATION``, ``TEST`` or ``UNASSIGNED``
``label``      each label of its segments (``label=car`` matches a video with any ``car`` segment)
``uri``        each URI it was imported from (``uri:"*.avi"``, ``uri:"gs://bucket/day1/*"``)
``video_id``   its ID (first 16 hex characters of its content hash)
``labels``     ``labels.aiplatform.googleapis.com/ml_use`` = ``training`` / ``validation`` / ``test``, as Vertex
               labels data items (absent for UNASSIGNED videos)
=============  ===============================================================================

A filter of ``-`` matches nothing. A video matched by both filters trains (the first of training,
validation, test applies); a video matched by neither is left out. Validation videos come from the
training set (30% of it, by the split module's stable hash order), as AutoML holds them out itself.
"""

from dataclasses import dataclass
from typing import Any

from automl_video.data import dataset as dataset_lib
from automl_video.data import splits
from automl_video.registry import filters

MATCH_NOTHING = "-"
ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"
ITEM_FIELDS = {
    "ml_use": filters.Field(filters.FieldKind.STRING, allowed=tuple(dataset_lib.MLUse)),
    "label": filters.Field(filters.FieldKind.STRING),
    "uri": filters.Field(filters.FieldKind.STRING),
    "video_id": filters.Field(filters.FieldKind.STRING),
    "labels": filters.Field(filters.FieldKind.LABELS),
}


@dataclass(frozen=True)
class DataFilter:
    """One parsed filter (``text`` as given); ``-`` matches nothing."""

    text: str
    node: Any

    @classmethod
    def parse(cls, text: object, argument: str) -> "DataFilter":
        """Raises ValueError naming ``argument`` when the filter is empty or invalid."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{argument} is empty: give a filter such as 'ml_use=TRAIN', or '-' to match nothing")
        if text.strip() == MATCH_NOTHING:
            return cls(text, None)
        try:
            node = filters.parse(text)
            filters.check_fields(node, ITEM_FIELDS)
        except ValueError as e:
            raise ValueError(f"{argument}: {e}") from None
        return cls(text, node)

    def matches(self, video: dataset_lib.Video) -> bool:
        return self.node is not None and filters.matches(self.node, data_item(video))


@dataclass(frozen=True)
class FilterSplit:
    training: DataFilter
    test: DataFilter

    def to_json(self) -> dict[str, str]:
        """Vertex ``FilterSplit`` (validation comes from the training set)."""
        return {"trainingFilter": self.training.text, "validationFilter": MATCH_NOTHING, "testFilter": self.test.text}


def data_item(video: dataset_lib.Video) -> dict[str, filters.ItemValue]:
    """The fields a filter sees for one video."""
    system_labels = {ML_USE_LABEL: video.ml_use.vertex_name} if video.ml_use.vertex_name else {}
    return {
        "ml_use": video.ml_use,
        "label": sorted(video.labels()),
        "uri": list(dict.fromkeys([video.uri, *video.uris])),
        "video_id": video.video_id,
        "labels": system_labels,
    }


def split_by_filters(dataset_uri: str, split: FilterSplit, seed: int = 0) -> splits.SplitResult:
    """Keep only the videos a filter matches, as TRAIN or TEST, then split TRAIN into TRAIN and
    VALIDATION with :func:`automl_video.data.splits.split_dataset`. Rewrites the dataset at ``dataset_uri``.

    Raises:
        ValueError: the training filter matches no video.
    """
    dataset = dataset_lib.load(dataset_uri)
    kept = []
    for video in dataset.videos:
        if split.training.matches(video):
            video.ml_use = dataset_lib.MLUse.TRAIN
        elif split.test.matches(video):
            video.ml_use = dataset_lib.MLUse.TEST
        else:
            continue
        video.unsplit()
        kept.append(video)
    if not any(v.ml_use == dataset_lib.MLUse.TRAIN for v in kept):
        raise ValueError(f"training_filter_split {split.training.text!r} matches no video of the dataset")
    dataset.videos = kept
    dataset.split_config = None
    dataset_lib.save(dataset, dataset_uri)
    return splits.split_dataset(dataset_uri, seed=seed, resplit=True)
