"""The summary of a dataset that ``automl-video dataset describe`` prints (counts per label and set)."""

from dataclasses import dataclass

from automl_video.data import dataset as ds
from automl_video.data import splits
from automl_video.data.dataset import RowFailure, Split
from automl_video.rpc import MAX_PARTIAL_FAILURES


@dataclass
class LabelCount:
    """One annotation spec: how many annotations give it, in how many videos."""

    id: str
    display_name: str
    example_count: int
    video_count: int


@dataclass
class DatasetSummary:
    """What ``describe`` reports; ``partial_failures`` are at most 20, the most recent import's first."""

    display_name: str
    prediction_type: str
    exhaustive: bool
    video_count: int
    annotation_count: int  # every annotation, those naming no label (e.g. ``-`` segments) included
    annotation_specs: list[LabelCount]
    splits: dict[Split, splits.SplitCount]
    unsplit_videos: int  # in no set
    failed_row_count: int
    partial_failures: list[RowFailure]
    held_out_labels: list[splits.HeldOutLabel]  # validated on held-out stretches of TRAIN videos


def describe(dataset_uri: str) -> DatasetSummary:
    """Summarise the dataset at ``dataset_uri``."""
    dataset = ds.load(dataset_uri)
    specs = []
    for spec in dataset.annotation_specs:
        labelled = [a for v in dataset.videos for a in v.annotations if a.spec_name == spec.display_name]
        specs.append(
            LabelCount(
                id=spec.id,
                display_name=spec.display_name,
                example_count=len(labelled),
                video_count=sum(spec.display_name in v.labels() for v in dataset.videos),
            )
        )
    return DatasetSummary(
        display_name=dataset.display_name,
        prediction_type=dataset.prediction_type,
        exhaustive=dataset.exhaustive,
        video_count=len(dataset.videos),
        annotation_count=ds.count_annotations(dataset.videos),
        annotation_specs=specs,
        splits=splits.split_counts(dataset),
        unsplit_videos=sum(v.split is None for v in dataset.videos),
        failed_row_count=dataset.failed_row_count,
        partial_failures=dataset.partial_failures[:MAX_PARTIAL_FAILURES],
        held_out_labels=splits.held_out_labels(dataset),
    )
