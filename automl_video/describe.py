"""The summary of a dataset that ``automl-video dataset describe`` prints (counts per label and set)."""

import dataclasses
from typing import Any

from automl_video import dataset as ds
from automl_video import splits


def describe(dataset_uri: str) -> dict[str, Any]:
    """Summarise the dataset at ``dataset_uri`` as one JSON-ready document.

    Args:
        dataset_uri: folder of the dataset.

    Returns:
        ``video_count``, ``segment_count`` (``-`` segments included), ``annotation_specs`` (``id``,
        ``display_name``, ``example_count`` = segments with the label, ``video_count``), ``splits``
        (``TRAIN`` / ``VALIDATION`` / ``TEST``, each ``videos`` and ``segments``), ``failed_row_count``
        and ``partial_failures`` (at most 20, most recent import first), plus the dataset's
        ``display_name``, ``exhaustive`` flag and the number of ``unsplit_videos`` (in no set).
    """
    dataset = ds.load(dataset_uri)
    specs = []
    for spec in dataset.annotation_specs:
        labelled = [s for v in dataset.videos for s in v.segments if s.label == spec.display_name]
        specs.append({
            "id": spec.id,
            "display_name": spec.display_name,
            "example_count": len(labelled),
            "video_count": sum(spec.display_name in v.labels() for v in dataset.videos),
        })
    return {
        "display_name": dataset.display_name,
        "exhaustive": dataset.exhaustive,
        "video_count": len(dataset.videos),
        "segment_count": ds.count_segments(dataset.videos),
        "annotation_specs": specs,
        "splits": {name: dataclasses.asdict(count) for name, count in splits.split_counts(dataset).items()},
        "unsplit_videos": sum(v.split is None for v in dataset.videos),
        "failed_row_count": dataset.failed_row_count,
        "partial_failures": [dataclasses.asdict(f) for f in dataset.partial_failures[: ds.MAX_PARTIAL_FAILURES]],
    }
