"""Split rules on datasets built in memory (splitting reads only the dataset document, never videos).

Real imported videos are split in tests/test_import.py.
"""

import hashlib
import uuid
from collections import Counter

import pytest

from automl_video import cli
from automl_video.data import dataset as ds
from automl_video.data import splits
from automl_video.data.dataset import Dataset, Video
from automl_video.tasks.classification.annotations import Segment


def make_videos(count: int, labels: list[str], ml_use: str = "UNASSIGNED", prefix: str = "v") -> list[Video]:
    """``count`` videos whose labels cycle through ``labels`` (one labelled segment each)."""
    videos = []
    for i in range(count):
        content_hash = hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest()
        label = labels[i % len(labels)]
        videos.append(
            Video(
                video_id=content_hash[:16],
                uri=f"memory://videos/{prefix}{i}.mp4",
                content_hash=content_hash,
                duration=2.0,
                ml_use=ml_use,
                annotations=[Segment(label, 0.0, 2.0)],
            )
        )
    return videos


def make_dataset(*video_lists: list[Video]) -> Dataset:
    dataset = Dataset(display_name="in-memory")
    for videos in video_lists:
        add_videos(dataset, videos)
    return dataset


def add_videos(dataset: Dataset, videos: list[Video]) -> None:
    dataset.videos += videos
    for v in videos:
        for label in sorted(v.labels()):
            dataset.ensure_spec(label)


def saved(dataset: Dataset) -> str:
    uri = f"memory://split-tests/{uuid.uuid4().hex}"
    ds.save(dataset, uri)
    return uri


def split_of(dataset: Dataset) -> dict[str, str | None]:
    return {v.video_id: v.split for v in dataset.videos}


LABELS = ["a", "b", "c", "d", "e"]


def test_default_split_follows_automl_ratios_per_label_and_overall():
    unassigned = make_videos(1000, LABELS)
    train = make_videos(100, LABELS, "TRAIN", prefix="train")
    test = make_videos(100, LABELS, "TEST", prefix="test")
    uri = saved(make_dataset(unassigned, train, test))

    result = splits.split_dataset(uri)

    dataset = ds.load(uri)
    assert all(v.split == "TEST" for v in dataset.videos if v.ml_use == "TEST")
    assert all(v.split in ("TRAIN", "VALIDATION") for v in dataset.videos if v.ml_use == "TRAIN")
    from_unassigned = Counter(v.split for v in dataset.videos if v.ml_use == "UNASSIGNED")
    assert from_unassigned["TEST"] == 200  # 20 % of UNASSIGNED
    pool = 800 + 100
    assert result.counts["TRAIN"].videos == 630 == round(0.7 * pool)
    assert result.counts["VALIDATION"].videos == 270
    assert result.counts["TEST"].videos == 300
    assert result.left_out == 0 and result.videos_moved == 1200
    for label in LABELS:  # every label gets its share: 200 UNASSIGNED + 20 TRAIN + 20 TEST videos each
        per_split = Counter(v.split for v in dataset.videos if label in v.labels())
        assert abs(per_split["TEST"] - (20 + 40)) <= 1
        assert abs(per_split["TRAIN"] - 0.7 * (160 + 20)) <= 1
        assert abs(per_split["VALIDATION"] - 0.3 * (160 + 20)) <= 1
    assert dataset.split_config.seed == 0 and dataset.split_config.left_out == []


def test_many_tiny_labels_still_add_up_to_the_overall_ratios():
    # 100 labels of 2 videos each: no label alone can be split 80/20, but rounding is carried over.
    dataset = make_dataset(make_videos(200, [f"label_{i}" for i in range(100)]))
    assignment = splits.plan_split(dataset)
    counts = Counter(assignment.values())
    assert counts["TEST"] == 40
    assert counts["TRAIN"] + counts["VALIDATION"] == 160
    assert abs(counts["VALIDATION"] - 48) <= 1


def test_a_rare_label_on_multi_label_videos_is_stratified_first():
    common = make_videos(90, ["common"])
    rare = make_videos(10, ["common"], prefix="rare")
    for v in rare:
        v.annotations.append(Segment("rare", 0.0, 1.0))
    dataset = make_dataset(common, rare)
    assignment = splits.plan_split(dataset)
    rare_splits = Counter(assignment[v.video_id] for v in rare)
    assert rare_splits["TEST"] == 2  # 20 % of the 10 rare videos, though every one is also "common"
    assert Counter(assignment.values())["TEST"] == 20


def test_split_is_by_video_and_deterministic_for_a_seed():
    dataset = make_dataset(make_videos(300, LABELS))
    first = splits.plan_split(dataset, seed=3)
    assert set(first) == {v.video_id for v in dataset.videos}  # every video in exactly one set
    assert splits.plan_split(dataset, seed=3) == first
    other = splits.plan_split(dataset, seed=4)
    assert other != first
    assert Counter(other.values()) == Counter(first.values())  # same sizes, other videos


def test_videos_keep_their_set_when_videos_are_appended():
    dataset = make_dataset(make_videos(200, LABELS), make_videos(20, LABELS, "TRAIN", prefix="train"))
    uri = saved(dataset)
    splits.split_dataset(uri, seed=11)
    before = split_of(ds.load(uri))

    grown = ds.load(uri)
    add_videos(grown, make_videos(100, LABELS + ["new_label"], prefix="later"))
    ds.save(grown, uri)
    result = splits.split_dataset(uri)  # seed 11 is remembered

    after = split_of(ds.load(uri))
    assert {k: after[k] for k in before} == before
    assert result.seed == 11 and result.videos_moved == 100
    assert all(after[k] is not None for k in after)
    unassigned = [v for v in ds.load(uri).videos if v.ml_use == "UNASSIGNED"]
    assert Counter(v.split for v in unassigned)["TEST"] == 60  # 20 % of all 300, old and new
    assert splits.split_dataset(uri).videos_moved == 0  # splitting again changes nothing


def test_fractions_replace_the_80_20_step_and_leave_the_rest_out_for_good():
    dataset = make_dataset(make_videos(100, LABELS), make_videos(10, LABELS, "TEST", prefix="test"))
    uri = saved(dataset)

    result = splits.split_dataset(uri, training_fraction=0.5, test_fraction=0.2)

    assert result.left_out == 30
    assert result.counts["TEST"].videos == 20 + 10
    assert result.counts["TRAIN"].videos + result.counts["VALIDATION"].videos == 50
    before = split_of(ds.load(uri))
    again = splits.split_dataset(uri)  # the same fractions are remembered; left-out videos stay out
    assert split_of(ds.load(uri)) == before and again.videos_moved == 0
    assert (again.training_fraction, again.test_fraction) == (0.5, 0.2)

    resplit = splits.split_dataset(uri, seed=1, resplit=True)  # back to the 80/20 defaults
    assert resplit.left_out == 0 and resplit.counts["TEST"].videos == 30


def test_changed_settings_keep_placed_videos_and_say_so():
    uri = saved(make_dataset(make_videos(50, LABELS)))
    splits.split_dataset(uri, seed=1)
    before = split_of(ds.load(uri))
    result = splits.split_dataset(uri, seed=2)
    assert split_of(ds.load(uri)) == before
    assert any("differ from the previous split" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("training", "test", "message"),
    [
        (0.9, 0.2, "= 1.1 is more than 1"),
        (0.5, None, "give both"),
        (-0.1, 0.2, "training fraction -0.1 must be between 0 and 1"),
        (0.5, 1.5, "test fraction 1.5 must be between 0 and 1"),
    ],
)
def test_bad_fractions_are_refused(training, test, message):
    uri = saved(make_dataset(make_videos(10, LABELS)))
    before = ds.storage.read_bytes(ds.dataset_file(uri))
    with pytest.raises(ValueError, match=message):
        splits.split_dataset(uri, training_fraction=training, test_fraction=test)
    assert ds.storage.read_bytes(ds.dataset_file(uri)) == before


def test_cli_split_refuses_fractions_over_one_with_one_line(capsys):
    uri = saved(make_dataset(make_videos(10, LABELS)))
    code = cli.main(["dataset", "split", "--dataset", uri, "--training-fraction", "0.8", "--test-fraction", "0.3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1] == "automl-video: error: training fraction 0.8 + test fraction 0.3 = 1.1 is more than 1"


def test_cli_split_prints_counts_and_warns_about_thin_labels(capsys):
    videos = make_videos(100, ["plenty"]) + make_videos(5, ["scarce"], prefix="scarce")
    uri = saved(make_dataset(videos))
    assert cli.main(["dataset", "split", "--dataset", uri, "--json", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    result = __import__("json").loads(out)
    assert result["seed"] == 5
    assert sum(c["videos"] for c in result["counts"].values()) == 105
    assert any("'scarce' has" in w and "fewer than 10" in w for w in result["warnings"])
    assert not any("'plenty'" in w for w in result["warnings"])


def test_label_without_test_video_is_warned():
    dataset = make_dataset(make_videos(30, ["seen"]), make_videos(3, ["only_train"], "TRAIN", prefix="t"))
    splits.apply_split(dataset, splits.plan_split(dataset), ds.SplitConfig())
    warnings = splits.split_warnings(dataset)
    assert "label 'only_train' has no TEST video; it will not be evaluated" in warnings
    assert not any("'seen' has no TEST" in w for w in warnings)


def test_splitting_an_empty_dataset_is_refused():
    uri = saved(Dataset(display_name="empty"))
    with pytest.raises(ds.DatasetError, match="no videos to split"):
        splits.split_dataset(uri)
